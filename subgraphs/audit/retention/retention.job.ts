// Audit retention (issue 6): each tenant's events older than its retention (its plan's default, or the override set
// with `setAuditRetention`; the tenants service owns both and serves the effective days at an internal endpoint) are
// deleted by a scheduled job, in bounded batches. Each batch deletes a prefix of the tenant's hash chain under the
// chain's lock, moves the stored boundary (the last deleted event's position and hash) and appends an
// `audit.retention.applied` event naming that boundary, all in one transaction: what remains verifies from the
// boundary, and a boundary moved by hand no longer matches the chain's own record of the cut.
import { randomUUID } from "node:crypto";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import { AUDIT_RETENTION_PATH, internalHeaders } from "../../../kernel/internal-auth.js";
import { advisoryXactLock, withTransaction, type TxEntityManager } from "../../../kernel/transaction.js";
import { ActorType } from "../audit-event/audit-event.entity.js";
import { RETENTION_CUT_ACTION, appendToChain } from "../chain/chain.js";
import { chainLockKey, isPurged } from "../purge/purged-tenant.js";

/** Path of the tenants service's internal endpoint listing each kept tenant's effective retention. */
const TABLE = `"audit"."audit_event"`;

export interface RetentionPolicy {
  tenantId: string;
  /** Events that occurred more than this many days ago are deleted. */
  days: number;
}

export interface RetentionOptions {
  /** Events deleted per transaction (the tenant's chain is locked meanwhile: ingest for it waits). */
  batchSize?: number;
  /** "Now" for the cutoff (tests). */
  now?: Date;
  logger?: Logger;
}

export interface RetentionResult {
  tenantId: string;
  deleted: number;
  /** Chain position of the last deleted event after this run (the boundary), if any was deleted. */
  throughSeq: number | null;
}

/**
 * Applies each policy: deletes the tenant's events that occurred before `now - days`, in batches. The chain is cut as a
 * prefix (by position): an expired event that follows a still-kept one (delivered late) waits until that one expires,
 * so the boundary is always a single position. Events stored before the chain existed (no position) are deleted by
 * time alone.
 */
export async function applyRetention(orm: MikroORM, policies: readonly RetentionPolicy[], opts: RetentionOptions = {}): Promise<RetentionResult[]> {
  const now = opts.now ?? new Date();
  const results: RetentionResult[] = [];
  for (const policy of policies) {
    if (!Number.isInteger(policy.days) || policy.days < 1) continue;
    const cutoff = new Date(now.getTime() - policy.days * 86_400_000);
    try {
      const result = await cutTenant(orm, policy.tenantId, cutoff, policy.days, opts.batchSize ?? 2_000);
      if (result.deleted) opts.logger?.info({ tenantId: policy.tenantId, ...result, retentionDays: policy.days }, "audit retention applied");
      results.push({ tenantId: policy.tenantId, ...result });
    } catch (err) {
      opts.logger?.error({ err, tenantId: policy.tenantId }, "audit retention failed for a tenant; retried on the next run");
    }
  }
  return results;
}

async function cutTenant(orm: MikroORM, tenantId: string, cutoff: Date, days: number, batchSize: number): Promise<{ deleted: number; throughSeq: number | null }> {
  let deleted = 0;
  let throughSeq: number | null = null;
  for (;;) {
    const batch = await withTransaction(orm.em.fork(), (tx) => cutBatch(tx, tenantId, cutoff, days, batchSize));
    deleted += batch.deleted;
    if (batch.throughSeq !== null) throughSeq = batch.throughSeq;
    if (!batch.more) break;
  }
  // Events from before the chain existed have no position: they go by time only, in batches too.
  for (;;) {
    const rows = await orm.em.fork().execute<{ id: string }[]>(
      `delete from ${TABLE} where "id" in (select "id" from ${TABLE} where "tenant_id" = ? and "chain_seq" is null and "occurred_at" < ?::timestamptz limit ${Math.trunc(batchSize)}) returning "id"`,
      [tenantId, cutoff.toISOString()],
    );
    deleted += rows.length;
    if (rows.length < batchSize) break;
  }
  return { deleted, throughSeq };
}

/** One batch: the expired prefix of the chain's first `batchSize` events, deleted with the boundary moved and the cut recorded. */
async function cutBatch(tx: TxEntityManager, tenantId: string, cutoff: Date, days: number, batchSize: number): Promise<{ deleted: number; throughSeq: number | null; more: boolean }> {
  await advisoryXactLock(tx, chainLockKey(tenantId));
  if (await isPurged(tx, tenantId)) return { deleted: 0, throughSeq: null, more: false };
  const rows = await tx.execute<{ chain_seq: string; hash: string; expired: boolean }[]>(
    `select "chain_seq", "hash", "occurred_at" < ?::timestamptz as expired from ${TABLE}
     where "tenant_id" = ? and "chain_seq" is not null order by "chain_seq" limit ${Math.trunc(batchSize)}`,
    [cutoff.toISOString(), tenantId],
  );
  let n = 0;
  while (n < rows.length && rows[n]!.expired) n++;
  if (n === 0) return { deleted: 0, throughSeq: null, more: false };
  const last = rows[n - 1]!;
  const deleted = await tx.execute<{ id: string }[]>(
    `delete from ${TABLE} where "tenant_id" = ? and "chain_seq" is not null and "chain_seq" <= ? returning "id"`,
    [tenantId, last.chain_seq],
  );
  await tx.execute(
    `insert into "audit"."audit_chain_boundary" ("tenant_id", "chain_seq", "hash", "cut_at") values (?, ?, ?, now())
     on conflict ("tenant_id") do update set "chain_seq" = excluded."chain_seq", "hash" = excluded."hash", "cut_at" = excluded."cut_at"`,
    [tenantId, last.chain_seq, last.hash],
  );
  // The cut is itself an event of the chain: it names the boundary, so a boundary changed by hand is detected.
  await appendToChain(tx, {
    id: randomUUID(),
    tenantId,
    actorType: ActorType.SERVICE,
    actorId: null,
    action: RETENTION_CUT_ACTION,
    targetType: "AuditTrail",
    targetId: tenantId,
    requestId: null,
    changes: null,
    metadata: { service: "audit-retention", retentionDays: days, cutoff: cutoff.toISOString(), deleted: deleted.length, throughSeq: Number(last.chain_seq), throughHash: last.hash },
    occurredAt: new Date(),
  });
  return { deleted: deleted.length, throughSeq: Number(last.chain_seq), more: n === rows.length && rows.length === batchSize };
}

/** Reads the effective retention of every kept tenant from the tenants service. Throws when it cannot (nothing is deleted then). */
export function tenantsRetentionPolicies(tenantsBaseUrl: string, internalSecret: string, timeoutMs = 10_000): () => Promise<RetentionPolicy[]> {
  const url = new URL(AUDIT_RETENTION_PATH, tenantsBaseUrl).toString();
  return async () => {
    const res = await fetch(url, { headers: internalHeaders(internalSecret), signal: AbortSignal.timeout(timeoutMs) });
    if (res.status !== 200) throw new Error(`tenants answered ${res.status} for ${AUDIT_RETENTION_PATH}`);
    const body = (await res.json()) as { tenants?: unknown };
    if (!Array.isArray(body.tenants)) throw new Error(`unexpected answer from ${AUDIT_RETENTION_PATH}`);
    return body.tenants.filter(
      (p): p is RetentionPolicy => typeof p?.tenantId === "string" && Number.isInteger(p?.days) && p.days >= 1,
    );
  };
}

/**
 * Runs retention every `intervalMs` (and once shortly after start); a run that cannot read the policies deletes
 * nothing and logs. Returns `run` (a run now, with the tenants service's policies), `runWith` (given policies) and `stop`.
 */
export function scheduleRetention(
  orm: MikroORM,
  policies: () => Promise<RetentionPolicy[]>,
  logger: Logger,
  opts: { intervalMs?: number; firstRunMs?: number; batchSize?: number } = {},
): {
  run(now?: Date): Promise<RetentionResult[]>;
  runWith(list: RetentionPolicy[], opts?: { now?: Date; batchSize?: number }): Promise<RetentionResult[]>;
  stop(): Promise<void>;
} {
  // Runs in this process are sequential (a run asked for while one is going starts after it, with fresh policies);
  // replicas are safe too: each batch holds the tenant's chain lock.
  let last: Promise<unknown> = Promise.resolve();
  let busy = 0;
  const enqueue = (source: () => Promise<RetentionPolicy[]>, now?: Date, batchSize = opts.batchSize): Promise<RetentionResult[]> => {
    busy++;
    const next = last
      .catch(() => undefined)
      .then(async () => applyRetention(orm, await source(), { now, batchSize, logger }))
      .finally(() => void busy--);
    last = next;
    return next;
  };
  const run = (now?: Date) => enqueue(policies, now);
  const tick = () => {
    if (busy) return;
    void run().catch((err) => logger.warn({ err: String(err) }, "audit retention run skipped"));
  };
  const first = setTimeout(tick, opts.firstRunMs ?? 30_000);
  const timer = setInterval(tick, opts.intervalMs ?? 3_600_000);
  first.unref();
  timer.unref();
  return {
    run,
    runWith: (list, o = {}) => enqueue(async () => list, o.now, o.batchSize),
    async stop() {
      clearTimeout(first);
      clearInterval(timer);
      await last.catch(() => undefined);
    },
  };
}
