/**
 * Typed live-event topics. Every payload carries its tenant so subscribers can check it per event.
 * Payloads are wake-up signals (ids, not state): readers load the current state themselves.
 */
export interface Topics {
  /** A sync run changed (status or counts). */
  "sync.run.updated": { tenantId: string; runId: string; status: string };
  /** A tenant's roles, grants or role assignments changed: services that cache callers' grants drop that tenant's. */
  "grants.changed": { tenantId: string };
}
export type Topic = keyof Topics;

/**
 * An audit event as emitted by the service that performed the action: kept in that service's `audit_outbox` and
 * posted by its relay to the audit subgraph (kernel/outbox.ts), which stores it idempotently by `id`.
 */
export interface AuditRecord {
  id: string;
  tenantId: string;
  actorType: "USER" | "API_KEY" | "PLATFORM_USER" | "SERVICE" | "ANONYMOUS";
  actorId: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  requestId: string | null;
  /** Field-level changes; secrets are never included. */
  changes: Record<string, { before?: unknown; after?: unknown }> | null;
  metadata: Record<string, unknown> | null;
  occurredAt: string;
}
