import { randomUUID } from "node:crypto";
import UAParser from "ua-parser-js";
import type { EntityManager } from "./db.js";
import { AuditOutbox } from "./outbox.js";
import type { AuditRecord } from "./topics.js";
import type { ServiceContext } from "./context.js";
import type { ClientInfo } from "./request-id.js";

/** Who the client was, as every audit record carries it in `metadata` (null where unknown). */
export interface AuditClientMetadata {
  ip: string | null;
  userAgent: string | null;
  /** Browser name and version parsed from the user agent (`"Firefox 121.0"`), or null when it names none. */
  browser: string | null;
  /** Operating system name and version (`"Windows 10"`, `"iOS 17.2"`), or null when it names none. */
  os: string | null;
}

const nameAndVersion = (part: { name?: string; version?: string }): string | null =>
  part.name ? (part.version ? `${part.name} ${part.version}` : part.name) : null;

// The same few user agents come back again and again; parsing is regex work, so keep the last results.
const parsedAgents = new Map<string, Pick<AuditClientMetadata, "browser" | "os">>();
const PARSED_AGENTS_MAX = 500;

/** Parses a user agent into browser and OS (ua-parser-js); unknown parts are null. */
export function parseUserAgent(userAgent: string | null | undefined): Pick<AuditClientMetadata, "browser" | "os"> {
  if (!userAgent) return { browser: null, os: null };
  const cached = parsedAgents.get(userAgent);
  if (cached) return cached;
  const parser = new UAParser(userAgent);
  const parsed = { browser: nameAndVersion(parser.getBrowser()), os: nameAndVersion(parser.getOS()) };
  if (parsedAgents.size >= PARSED_AGENTS_MAX) parsedAgents.delete(parsedAgents.keys().next().value!);
  parsedAgents.set(userAgent, parsed);
  return parsed;
}

/** The client part of an audit record's metadata. */
export function clientMetadata(client: ClientInfo | undefined): AuditClientMetadata {
  const userAgent = client?.userAgent || null;
  return { ip: client?.ip || null, userAgent, ...parseUserAgent(userAgent) };
}

/**
 * The audit trail of the installation itself: platform operators' sign-ins, signing-key rotations and operator
 * management concern no tenant, so they are recorded under this reserved chain id (the nil UUID, which no tenant can
 * have: tenant ids are random v4 UUIDs). It is an ordinary hash chain (verifiable like any tenant's) that only
 * platform operators can read; tenant callers are always scoped to their own tenant id.
 */
export const PLATFORM_AUDIT_TRAIL = "00000000-0000-0000-0000-000000000000";

export type AuditInput = Pick<AuditRecord, "action"> & Partial<Omit<AuditRecord, "action" | "id" | "occurredAt">>;

/** Writes a record into the caller's outbox (default: an `audit_outbox` row through `em`, in its transaction if any). */
export type AuditOutboxWriter = (em: EntityManager, record: AuditRecord) => Promise<void>;

const writeToOutbox: AuditOutboxWriter = async (em, record) => {
  const at = new Date(record.occurredAt);
  // A native insert (no flush of the caller's pending changes), on the caller's transaction when it is in one.
  await em.insert(AuditOutbox, { id: record.id, tenantId: record.tenantId, payload: record, createdAt: at, attempts: 0, nextAttemptAt: at, deliveredAt: null });
};

/**
 * Records audit events into the emitting service's transactional outbox (kernel/outbox.ts) through the caller's
 * EntityManager: inside the caller's transaction when `ctx.em` is in one (the event commits with the change, or
 * not at all), otherwise as its own statement. The service's relay delivers the outbox to the audit subgraph; the
 * recorder publishes nothing itself.
 */
export class AuditRecorder {
  private readonly listeners = new Set<() => void>();
  private readonly write: AuditOutboxWriter;

  constructor(opts: { write?: AuditOutboxWriter } = {}) {
    this.write = opts.write ?? writeToOutbox;
  }

  /** Called after each record (the relay wakes up rather than waiting for its poll). Returns an unsubscribe. */
  onRecorded(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Records an action performed by the caller of `ctx` (tenant, actor and request id come from the context). */
  async record(
    ctx: Pick<ServiceContext, "principal" | "platform" | "requestId" | "serviceActor" | "em"> & { client?: ClientInfo },
    input: AuditInput,
  ): Promise<void> {
    const record = buildAuditRecord(ctx, input);
    if (!record) return;
    // A failed write fails the caller's operation (and rolls back its transaction): nothing unaudited commits.
    await this.write(ctx.em, record);
    for (const listener of this.listeners) listener();
  }
}

/** The record `ctx` and `input` describe, or null when it concerns no tenant (platform-only actions are not kept). */
export function buildAuditRecord(
  ctx: Pick<ServiceContext, "principal" | "platform" | "requestId" | "serviceActor"> & { client?: ClientInfo },
  input: AuditInput,
): AuditRecord | null {
  const tenantId = input.tenantId ?? ctx.principal?.tenantId;
  if (!tenantId) return null;
  const actor = ctx.principal ?? ctx.platform;
  return {
    id: randomUUID(),
    tenantId,
    actorType:
      input.actorType ??
      (!actor ? (ctx.serviceActor ? "SERVICE" : "ANONYMOUS") : actor.kind === "platform" ? "PLATFORM_USER" : actor.kind === "api_key" ? "API_KEY" : "USER"),
    actorId: input.actorId ?? actor?.userId ?? null,
    action: input.action,
    targetType: input.targetType ?? null,
    targetId: input.targetId ?? null,
    requestId: ctx.requestId,
    changes: input.changes ?? null,
    metadata: auditMetadata(ctx, actor === undefined, input.metadata),
    occurredAt: new Date().toISOString(),
  };
}

/**
 * An audit record's metadata: the caller's keys, plus the client (ip, user agent, parsed browser and OS) when the
 * context knows one, plus the service name when the installation itself acted. Keys the caller set win (a caller may
 * know the client better than the context, e.g. the gateway's API key exchange).
 */
export function auditMetadata(
  ctx: { client?: ClientInfo; serviceActor?: string },
  anonymous: boolean,
  metadata: Record<string, unknown> | null | undefined,
): Record<string, unknown> | null {
  const out: Record<string, unknown> = {};
  const ip = typeof metadata?.ip === "string" ? metadata.ip : ctx.client?.ip;
  const userAgent = typeof metadata?.userAgent === "string" ? metadata.userAgent : ctx.client?.userAgent;
  if (ctx.client || ip || userAgent) Object.assign(out, clientMetadata({ ip, userAgent }));
  Object.assign(out, metadata ?? {});
  if (ctx.serviceActor && anonymous) out.service = ctx.serviceActor;
  return Object.keys(out).length ? out : null;
}
