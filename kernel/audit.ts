import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { PubSub } from "./pubsub/pubsub.js";
import type { AuditRecord } from "./topics.js";
import type { ServiceContext } from "./context.js";

export type AuditInput = Pick<AuditRecord, "action"> & Partial<Omit<AuditRecord, "action" | "id" | "occurredAt">>;

/**
 * Emits audit records to the audit service over the `audit.recorded` topic.
 * Delivery is best-effort here; the transactional outbox (audit issue) makes it lossless.
 */
export class AuditRecorder {
  constructor(private readonly pubsub: PubSub, private readonly logger: Logger) {}

  /** Records an action performed by the caller of `ctx` (tenant, actor and request id come from the context). */
  async record(ctx: Pick<ServiceContext, "principal" | "platform" | "requestId" | "serviceActor">, input: AuditInput): Promise<void> {
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
      metadata: ctx.serviceActor && !actor ? { ...(input.metadata ?? {}), service: ctx.serviceActor } : (input.metadata ?? null),
      occurredAt: new Date().toISOString(),
    };
    try {
      await this.pubsub.publish("audit.recorded", record);
    } catch (err) {
      this.logger.error({ err, action: record.action }, "audit record not delivered");
    }
  }
}
