import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import express, { type Express } from "express";
import type { Logger } from "pino";
import { requireInternalCaller } from "../../../kernel/internal-auth.js";
import { isUuid } from "../../../kernel/loaders.js";
import { AUDIT_EVENTS_PATH, type AuditBatchResult } from "../../../kernel/outbox.js";
import type { AuditRecord } from "../../../kernel/topics.js";
import { ActorType } from "../audit-event/audit-event.entity.js";
import { appendToChain, type NewEvent } from "../chain/chain.js";
import { AuditRecorder } from "../../../kernel/audit.js";

/** Records per POST the endpoint accepts (the relays send 100 by default). */
export const MAX_AUDIT_BATCH = 1_000;

/**
 * The internal endpoint the other services' outbox relays post to (`{ events: AuditRecord[] }`). It stores the batch
 * in order and answers 200 only once every record is stored (or was already: idempotent by id, so a redelivered batch
 * stores nothing twice nor extends the chain). Records that can never be stored (malformed) are named in `rejected`;
 * anything else failing answers 5xx and the relay retries the whole batch.
 */
export function mountAuditIngest(app: Express, opts: { orm: MikroORM; logger: Logger; secret: string }): void {
  // Forged events would defeat the chain's purpose: only services holding the service secret may post.
  const guard = requireInternalCaller(opts.secret);
  app.post(AUDIT_EVENTS_PATH, guard, express.json({ limit: "16mb" }), async (req, res) => {
    const events: unknown = req.body?.events;
    if (!Array.isArray(events) || events.length > MAX_AUDIT_BATCH) {
      res.status(400).json({ error: `expected { events: [...] } with at most ${MAX_AUDIT_BATCH} records` });
      return;
    }
    try {
      res.json(await ingestAuditBatch(opts.orm, events as AuditRecord[], opts.logger));
    } catch (err) {
      opts.logger.error({ err, records: events.length }, "audit batch not stored");
      if (!res.headersSent) res.status(503).json({ error: "audit batch not stored" });
    }
  });
}

/** Stores a batch in order (each tenant's chain is extended in the batch's order). Throws if a store fails. */
export async function ingestAuditBatch(orm: MikroORM, events: AuditRecord[], logger: Logger): Promise<AuditBatchResult> {
  const result: AuditBatchResult = { stored: [], rejected: [] };
  for (const record of events) {
    const problem = malformed(record);
    if (problem) {
      const id = typeof record?.id === "string" ? record.id : String(record?.id);
      logger.error({ auditId: id, action: record?.action, problem }, "malformed audit record rejected");
      result.rejected.push({ id, reason: problem });
      continue;
    }
    await store(orm, record);
    result.stored.push(record.id);
  }
  return result;
}

function malformed(r: AuditRecord | null | undefined): string | null {
  if (!r || typeof r !== "object") return "not an object";
  if (!isUuid(r.id) || !isUuid(r.tenantId) || typeof r.action !== "string") return "id, tenantId and action are required";
  if (Number.isNaN(new Date(r.occurredAt).getTime())) return "occurredAt is not a time";
  return null;
}

async function store(orm: MikroORM, r: AuditRecord): Promise<void> {
  // Serialised per tenant and idempotent by id: a redelivered record does not extend the chain.
  await appendToChain(orm.em.fork(), eventOf(r));
}

/** The event a (well-formed) record describes, with its fields cut to the stored sizes. */
export function eventOf(r: AuditRecord): NewEvent {
  return {
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
    occurredAt: new Date(r.occurredAt),
  };
}

/**
 * The audit service's own recorder: what this service records (platform reads of a tenant's trail, retention cuts)
 * is appended to the tenant's chain directly, through the caller's EntityManager (in its transaction when it has
 * one). A failed append fails the caller: a read that cannot be recorded is refused.
 */
export function directAuditRecorder(): AuditRecorder {
  return new AuditRecorder({ write: async (em, record) => void (await appendToChain(em as EntityManager, eventOf(record))) });
}
