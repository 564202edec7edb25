import type { MikroORM } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import { isUuid } from "../../../kernel/loaders.js";
import type { PubSub } from "../../../kernel/pubsub/pubsub.js";
import type { AuditRecord } from "../../../kernel/topics.js";
import { ActorType } from "../audit-event/audit-event.entity.js";
import { appendToChain } from "../chain/chain.js";

/**
 * Stores audit records published by the other services. Idempotent by record id, so several audit replicas (each
 * receiving every Redis message) and redeliveries store each event once, appended to its tenant's hash chain.
 */
export async function startAuditIngest(orm: MikroORM, pubsub: PubSub, logger: Logger): Promise<() => Promise<void>> {
  const records = await pubsub.subscribe<AuditRecord>("audit.recorded");
  const done = (async () => {
    for await (const record of records) {
      try {
        await store(orm, record);
      } catch (err) {
        logger.error({ err, auditId: record?.id, action: record?.action }, "audit record not stored");
      }
    }
  })();
  return async () => {
    await records.return?.();
    await done;
  };
}

async function store(orm: MikroORM, r: AuditRecord): Promise<void> {
  if (!isUuid(r.id) || !isUuid(r.tenantId) || typeof r.action !== "string") throw new Error("malformed audit record");
  const occurredAt = new Date(r.occurredAt);
  if (Number.isNaN(occurredAt.getTime())) throw new Error("malformed audit record: occurredAt");
  // Serialised per tenant and idempotent by id: a redelivered record does not extend the chain.
  await appendToChain(orm.em.fork(), {
    id: r.id,
    tenantId: r.tenantId,
    actorType: (Object.values(ActorType) as string[]).includes(r.actorType) ? r.actorType : ActorType.SERVICE,
    actorId: isUuid(r.actorId) ? r.actorId : null,
    action: r.action.slice(0, 100),
    targetType: r.targetType?.slice(0, 100) ?? null,
    targetId: r.targetId?.slice(0, 100) ?? null,
    requestId: r.requestId?.slice(0, 128) ?? null,
    changes: r.changes ?? null,
    metadata: r.metadata ?? null,
    occurredAt,
  });
}
