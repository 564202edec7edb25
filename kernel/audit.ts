import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import UAParser from "ua-parser-js";
import type { PubSub } from "./pubsub/pubsub.js";
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

export type AuditInput = Pick<AuditRecord, "action"> & Partial<Omit<AuditRecord, "action" | "id" | "occurredAt">>;

/**
 * Emits audit records to the audit service over the `audit.recorded` topic.
 * Delivery is best-effort here; the transactional outbox (audit issue) makes it lossless.
 */
export class AuditRecorder {
  constructor(private readonly pubsub: PubSub, private readonly logger: Logger) {}

  /** Records an action performed by the caller of `ctx` (tenant, actor and request id come from the context). */
  async record(
    ctx: Pick<ServiceContext, "principal" | "platform" | "requestId" | "serviceActor"> & { client?: ClientInfo },
    input: AuditInput,
  ): Promise<void> {
    const tenantId = input.tenantId ?? ctx.principal?.tenantId;
    if (!tenantId) return;
    const actor = ctx.principal ?? ctx.platform;
    const record: AuditRecord = {
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
    try {
      await this.pubsub.publish("audit.recorded", record);
    } catch (err) {
      this.logger.error({ err, action: record.action }, "audit record not delivered");
    }
  }
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
