/**
 * Typed live-event topics. Every payload carries its tenant so subscribers can check it per event.
 * Payloads are wake-up signals (ids, not state): readers load the current state themselves.
 */
export interface Topics {
  /** A sync run changed (status or counts). */
  "sync.run.updated": { tenantId: string; runId: string; status: string };
  /** An auditable action happened; the audit service stores it (idempotently, by `id`). */
  "audit.recorded": AuditRecord;
  /** A tenant's roles, grants or role assignments changed: services that cache callers' grants drop that tenant's. */
  "grants.changed": { tenantId: string };
}
export type Topic = keyof Topics;

/** An audit event as emitted by the service that performed the action. */
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
