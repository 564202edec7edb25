// The per-tenant hash chain over stored audit events: each event's `hash` is sha256(previous hash + canonical JSON of
// its stored fields), numbered by `chain_seq` (1, 2, ...) per tenant. Appends are serialised per tenant with a
// transaction-scoped advisory lock; verification walks a range in chain order, in chunks (bounded memory).
import { createHash } from "node:crypto";
import type { EntityManager } from "@mikro-orm/postgresql";
import { advisoryXactLock, withTransaction } from "../../../kernel/transaction.js";
import { chainLockKey, isPurged } from "../purge/purged-tenant.js";

/** The "previous hash" of a tenant's first event. */
export const GENESIS_HASH = "0".repeat(64);
const TABLE = `"audit"."audit_event"`;
const VERIFY_CHUNK = 1_000;

/** The stored fields an event's hash covers (occurredAt as stored: UTC, microseconds). */
export interface ChainedFields {
  id: string;
  tenantId: string;
  chainSeq: number;
  actorType: string;
  actorId: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  requestId: string | null;
  changes: unknown;
  metadata: unknown;
  occurredAt: string;
}

/** JSON with object keys sorted at every level (jsonb does not keep key order), `undefined` members dropped. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  const entries = Object.keys(value as Record<string, unknown>)
    .sort()
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(",")}}`;
}

export function chainHash(prevHash: string, fields: ChainedFields): string {
  return createHash("sha256").update(prevHash).update(canonicalJson(fields)).digest("hex");
}

/** A JS date as Postgres prints a timestamptz in {@link OCCURRED_AT_SQL} (microseconds; JS dates have milliseconds). */
export function occurredAtKey(date: Date): string {
  return date.toISOString().replace(/Z$/, "000Z");
}
/** SQL for `occurred_at` as a canonical UTC string with microseconds. */
export const OCCURRED_AT_SQL = `to_char("occurred_at" at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export type NewEvent = Omit<ChainedFields, "chainSeq" | "occurredAt"> & { occurredAt: Date };

/**
 * Stores one event at the head of its tenant's chain. Idempotent by id: a redelivered event (already stored) neither
 * is stored again nor extends the chain. Returns the event's position, or null when it was already there.
 */
export async function appendToChain(em: EntityManager, event: NewEvent): Promise<number | null> {
  return withTransaction(em, async (tx) => {
    await advisoryXactLock(tx, chainLockKey(event.tenantId));
    // An event that arrives after its tenant's data was erased is dropped, not stored again.
    if (await isPurged(tx, event.tenantId)) return null;
    const existing = await tx.execute<{ id: string }[]>(`select "id" from ${TABLE} where "id" = ?`, [event.id]);
    if (existing.length) return null;
    const [head] = await tx.execute<{ chain_seq: string; hash: string }[]>(
      `select "chain_seq", "hash" from ${TABLE} where "tenant_id" = ? and "chain_seq" is not null order by "chain_seq" desc limit 1`,
      [event.tenantId],
    );
    const chainSeq = head ? Number(head.chain_seq) + 1 : 1;
    const fields: ChainedFields = { ...event, chainSeq, occurredAt: occurredAtKey(event.occurredAt) };
    const hash = chainHash(head?.hash ?? GENESIS_HASH, fields);
    await tx.execute(
      `insert into ${TABLE} ("id", "tenant_id", "actor_type", "actor_id", "action", "target_type", "target_id", "request_id", "changes", "metadata", "occurred_at", "chain_seq", "hash")
       values (?, ?, ?::"audit"."actor_type", ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?::timestamptz, ?, ?)`,
      [
        event.id, event.tenantId, event.actorType, event.actorId, event.action, event.targetType, event.targetId, event.requestId,
        event.changes == null ? null : JSON.stringify(event.changes), event.metadata == null ? null : JSON.stringify(event.metadata),
        fields.occurredAt, chainSeq, hash,
      ],
    );
    return chainSeq;
  });
}

export interface ChainReport {
  ok: boolean;
  checked: number;
  firstBrokenSeq: number | null;
  firstBrokenEventId: string | null;
  reason: string | null;
}

interface ChainRow {
  id: string;
  tenant_id: string;
  chain_seq: string;
  actor_type: string;
  actor_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  request_id: string | null;
  changes: unknown;
  metadata: unknown;
  occurred_key: string;
  hash: string | null;
}

/** The action of the event a retention cut appends to the chain; its metadata names the cut (`throughSeq`, `throughHash`). */
export const RETENTION_CUT_ACTION = "audit.retention.applied";

/**
 * Verifies the tenant's chain over the events that occurred in [from, to] (all when open): every link from the first
 * such event (by chain position) to the last is recomputed from the stored fields and the previous stored hash.
 * Reports the first broken link: a changed field or hash, a missing event (a gap in the positions) or a missing
 * predecessor of the range. Where retention cut the chain, the first remaining event links to the stored boundary
 * (the last deleted event's hash), and the boundary must be the one the newest retention record in the chain names.
 */
export async function verifyChain(em: EntityManager, tenantId: string, from?: Date | null, to?: Date | null): Promise<ChainReport> {
  const [bounds] = await em.execute<{ lo: string | null; hi: string | null }[]>(
    `select min("chain_seq") as lo, max("chain_seq") as hi from ${TABLE}
     where "tenant_id" = ? and "chain_seq" is not null and "occurred_at" >= coalesce(?::timestamptz, '-infinity') and "occurred_at" <= coalesce(?::timestamptz, 'infinity')`,
    [tenantId, from ?? null, to ?? null],
  );
  const report: ChainReport = { ok: true, checked: 0, firstBrokenSeq: null, firstBrokenEventId: null, reason: null };
  if (bounds?.lo == null || bounds.hi == null) return report;
  const [boundary] = await em.execute<{ chain_seq: string; hash: string }[]>(
    `select "chain_seq", "hash" from "audit"."audit_chain_boundary" where "tenant_id" = ?`,
    [tenantId],
  );
  const cut = boundary ? Number(boundary.chain_seq) : 0;
  // Positions up to the cut were deleted by retention: the chain starts after it.
  const lo = Math.max(Number(bounds.lo), cut + 1);
  const hi = Number(bounds.hi);
  if (lo > hi) return report;
  let prevHash = GENESIS_HASH;
  if (lo > 1) {
    const [prev] = await em.execute<{ hash: string | null }[]>(`select "hash" from ${TABLE} where "tenant_id" = ? and "chain_seq" = ?`, [tenantId, lo - 1]);
    if (prev?.hash) prevHash = prev.hash;
    else if (boundary && cut === lo - 1) {
      const [record] = await em.execute<{ metadata: { throughSeq?: unknown; throughHash?: unknown } | null }[]>(
        `select "metadata" from ${TABLE} where "tenant_id" = ? and "action" = ? and "chain_seq" is not null order by "chain_seq" desc limit 1`,
        [tenantId, RETENTION_CUT_ACTION],
      );
      if (Number(record?.metadata?.throughSeq) !== cut || record?.metadata?.throughHash !== boundary.hash) {
        return { ...report, ok: false, firstBrokenSeq: lo, reason: `the retention boundary (position ${cut}) is not the cut the chain's last retention record names` };
      }
      prevHash = boundary.hash;
    } else return { ...report, ok: false, firstBrokenSeq: lo, reason: `the event before position ${lo} is missing` };
  }
  const broken = (row: ChainRow, reason: string): ChainReport => ({ ...report, ok: false, firstBrokenSeq: Number(row.chain_seq), firstBrokenEventId: row.id, reason });
  let expected = lo;
  while (expected <= hi) {
    const rows = await em.execute<ChainRow[]>(
      `select "id", "tenant_id", "chain_seq", "actor_type", "actor_id", "action", "target_type", "target_id", "request_id", "changes", "metadata",
              ${OCCURRED_AT_SQL} as occurred_key, "hash"
       from ${TABLE} where "tenant_id" = ? and "chain_seq" >= ? and "chain_seq" <= ? order by "chain_seq" limit ${VERIFY_CHUNK}`,
      [tenantId, expected, hi],
    );
    if (!rows.length) break;
    for (const row of rows) {
      const seq = Number(row.chain_seq);
      if (seq !== expected) return broken(row, `events missing before position ${seq} (expected ${expected})`);
      const fields: ChainedFields = {
        id: row.id,
        tenantId: row.tenant_id,
        chainSeq: seq,
        actorType: row.actor_type,
        actorId: row.actor_id,
        action: row.action,
        targetType: row.target_type,
        targetId: row.target_id,
        requestId: row.request_id,
        changes: row.changes,
        metadata: row.metadata,
        occurredAt: row.occurred_key,
      };
      if (chainHash(prevHash, fields) !== row.hash) return broken(row, "hash mismatch: the event or its hash was changed, or the previous link was");
      prevHash = row.hash!;
      report.checked++;
      expected++;
    }
  }
  return report;
}
