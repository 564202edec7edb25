// The one write path of records: every change (push, conflict resolution, connector run) takes the tenant's sequence
// lock, gets the next seq values, upserts the records and writes their history, inside the caller's transaction.
// Statements carry whole batches as one JSON parameter (jsonb_to_recordset), so a batch costs a fixed number of round
// trips whatever its size.
import equal from "fast-deep-equal";
import type { EntityManager } from "@mikro-orm/postgresql";
import { boundSql, type Sql } from "../../../kernel/db.js";
import type { SyncRunActorType } from "../sync-log/sync-run.entity.js";
import { RecordOperation, type FieldChanges } from "./history.entity.js";

export type Doc = Record<string, unknown>;

/** A record as stored: the document body (without `_deleted`), the deleted flag and the version. */
export interface StoredRecord {
  id: string;
  data: Doc;
  deleted: boolean;
  version: number;
}

/** Runs SQL inside the current transaction. */
export type { Sql };

/** Who and what wrote a change (kept on the record and in its history). */
export interface WriteOrigin {
  actorType: `${SyncRunActorType}`;
  actorId: string | null;
  clientId: string | null;
  runId: string | null;
}

export interface RecordWrite {
  id: string;
  data: Doc;
  deleted: boolean;
  /** The stored record this write replaces (null: new). */
  prev: StoredRecord | null;
}

/** A transaction's SQL runner (bind parameters). */
export function sqlIn(tx: EntityManager): Sql {
  return boundSql(tx);
}

/** A document as clients see it: the stored body plus `_deleted`. */
export const asDocument = (r: Pick<StoredRecord, "data" | "deleted">): Doc => ({ ...r.data, _deleted: r.deleted });

export function parseJson(v: unknown): Doc {
  return (typeof v === "string" ? JSON.parse(v) : v) as Doc;
}

/**
 * Locks the tenant's sequence row; held to commit. Every writer takes it first, before any record: commit order is
 * seq order (a puller can never skip a change) and writers never deadlock on each other's records.
 */
export async function lockTenantSequence(run: Sql, tenantId: string): Promise<void> {
  await run("insert into sync.tenant_seq (tenant_id, value) values (?, 0) on conflict (tenant_id) do update set value = sync.tenant_seq.value", [tenantId]);
}

/** The stored records among `ids`, locked for update (call after {@link lockTenantSequence}). */
export async function loadForUpdate(run: Sql, tenantId: string, collection: string, ids: string[]): Promise<Map<string, StoredRecord>> {
  if (!ids.length) return new Map();
  const rows = await run(
    "select id, data, deleted, version from sync.record where tenant_id = ? and collection = ? and id = any(array(select jsonb_array_elements_text(?::jsonb))) for update",
    [tenantId, collection, JSON.stringify(ids)],
  );
  return new Map(rows.map((r) => [r.id as string, { id: r.id, data: parseJson(r.data), deleted: r.deleted, version: r.version }]));
}

/** Top-level field changes from `before` to `after` (with `_deleted` as a field), or null when nothing changed. */
export function diffFields(before: Doc, after: Doc): FieldChanges | null {
  const changes: FieldChanges = {};
  let any = false;
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const b = before[key];
    const a = after[key];
    if (equal(a, b)) continue;
    changes[key] = { ...(b === undefined ? {} : { b }), ...(a === undefined ? {} : { a }) };
    any = true;
  }
  return any ? changes : null;
}

/** Puts back the `before` values of `changes` (one version rolled back). */
export function rollBack(state: Doc, changes: FieldChanges | null | undefined): Doc {
  if (!changes) return state;
  const out = { ...state };
  for (const [key, c] of Object.entries(changes)) {
    if (Object.prototype.hasOwnProperty.call(c, "b")) out[key] = c.b;
    else delete out[key];
  }
  return out;
}

/**
 * Reserves `count` consecutive seq values; returns the first. Takes the tenant's sequence lock if the caller has not
 * (the same row lock as {@link lockTenantSequence}), so a writer may start with it instead.
 */
async function reserveSeq(run: Sql, tenantId: string, count: number): Promise<bigint> {
  const rows = await run(
    "insert into sync.tenant_seq (tenant_id, value) values (?, ?) on conflict (tenant_id) do update set value = sync.tenant_seq.value + excluded.value returning value",
    [tenantId, count],
  );
  return BigInt(rows[0].value) - BigInt(count) + 1n;
}

/**
 * Every record's versions as one history, for use as a FROM item: the history rows, and the creation of each record
 * still at version 1 written since creations are kept on the record row (origin_actor_type set), which has no history
 * row until the record's first change (see {@link insertNew}). Filters on its columns reach both branches.
 */
export const RECORD_VERSIONS = `(select h.tenant_id, h.collection, h.record_id, h.version, h.seq, h.operation, h.changes, h.at, h.actor_type, h.actor_id, h.client_id, h.sync_run_id
     from sync.record_history h
   union all
   select r.tenant_id, r.collection, r.id, 1, r.seq, 'CREATE'::sync.record_operation, null::jsonb, r.updated_at, r.origin_actor_type, r.origin_user_id, r.origin_client_id, r.origin_run_id
     from sync.record r where r.version = 1 and r.origin_actor_type is not null)`;

/**
 * Inserts the documents a client believes are new — in one statement, without reading first. Ids that already exist
 * are left untouched and returned as not inserted, for the caller to settle as conflicts (their reserved seq values are
 * simply skipped: pullers only need seq order, not contiguity). Takes the tenant's sequence lock first if the caller has
 * not. `text`, when given, is `JSON.stringify(data)` already made (sent as is).
 *
 * A creation's history is the record row itself (its origin columns say who, when, from which client or run) until
 * the record's first change, which writes it out as the version-1 history row (see {@link applyWrites});
 * {@link RECORD_VERSIONS} reads both as one history. Writing it eagerly was half of an ingest batch's statement time.
 */
export async function insertNew(
  run: Sql,
  tenantId: string,
  collection: string,
  docs: { id: string; data: Doc; text?: string }[],
  origin: WriteOrigin,
  now = new Date(),
): Promise<Set<string>> {
  if (!docs.length) return new Set();
  // The batch as one JSON array, assembled from each document's text (the documents are not serialised again).
  const rows = `[${docs.map((d) => `{"id":${JSON.stringify(d.id)},"data":${d.text ?? JSON.stringify(d.data)}}`).join(",")}]`;
  // One statement: `s` reserves the batch's seq values (taking the tenant's sequence lock, before any record is
  // written: every row of `r` needs it), then the records are inserted in order with seq = first + position.
  const inserted = await run(
    `with s as (insert into sync.tenant_seq (tenant_id, value) values (?, ?) on conflict (tenant_id) do update set value = sync.tenant_seq.value + excluded.value
                returning value - ? as base),
          r as (select r.id, r.data, s.base + r.ord as seq from s, rows from (jsonb_to_recordset(?::jsonb) as (id text, data jsonb)) with ordinality as r(id, data, ord))
     insert into sync.record (tenant_id, collection, id, data, deleted, version, seq, updated_at, origin_client_id, origin_user_id, origin_run_id, origin_actor_type)
     select ?::uuid, ?, r.id, r.data, false, 1, r.seq, ?::timestamptz, ?, ?::uuid, ?::uuid, ? from r
     on conflict (tenant_id, collection, id) do nothing returning id`,
    [tenantId, docs.length, docs.length, rows, tenantId, collection, now.toISOString(), origin.clientId, origin.actorId, origin.runId, origin.actorType],
  );
  return new Set(inserted.map((r) => r.id as string));
}

/**
 * Writes `writes` (distinct ids, locks held) as the next versions: one seq each in order, history rows beside them,
 * in one statement. Returns the seq of the last write. A creation (version 1) writes no history row: the record row
 * keeps who made it until its first change, when that version-1 row is written out from the row as it was (the
 * statement's snapshot: before this write replaces it).
 */
export async function applyWrites(run: Sql, tenantId: string, collection: string, writes: RecordWrite[], origin: WriteOrigin, now = new Date()): Promise<bigint> {
  if (!writes.length) return 0n;
  const first = await reserveSeq(run, tenantId, writes.length);
  const rows = writes.map((w, i) => {
    const operation = !w.prev ? RecordOperation.CREATE : w.deleted && !w.prev.deleted ? RecordOperation.DELETE : RecordOperation.UPDATE;
    return {
      id: w.id,
      data: w.data,
      deleted: w.deleted,
      version: (w.prev?.version ?? 0) + 1,
      seq: (first + BigInt(i)).toString(),
      op: operation,
      changes: w.prev ? diffFields(asDocument(w.prev), asDocument(w)) : null,
    };
  });
  const at = now.toISOString();
  await run(
    `with r as (select * from jsonb_to_recordset(?::jsonb) as r(id text, data jsonb, deleted boolean, version int, seq bigint, op text, changes jsonb)),
          created as (insert into sync.record_history (tenant_id, collection, record_id, version, seq, operation, changes, at, actor_type, actor_id, client_id, sync_run_id)
                      select c.tenant_id, c.collection, c.id, 1, c.seq, 'CREATE', null, c.updated_at, c.origin_actor_type, c.origin_user_id, c.origin_client_id, c.origin_run_id
                        from sync.record c join r on c.id = r.id
                       where c.tenant_id = ? and c.collection = ? and c.version = 1 and c.origin_actor_type is not null
                      on conflict do nothing),
          up as (insert into sync.record (tenant_id, collection, id, data, deleted, version, seq, updated_at, origin_client_id, origin_user_id, origin_run_id, origin_actor_type)
                 select ?::uuid, ?, r.id, r.data, r.deleted, r.version, r.seq, ?::timestamptz, ?, ?::uuid, ?::uuid, ? from r
                 on conflict (tenant_id, collection, id) do update set data = excluded.data, deleted = excluded.deleted, version = excluded.version,
                   seq = excluded.seq, updated_at = excluded.updated_at, origin_client_id = excluded.origin_client_id,
                   origin_user_id = excluded.origin_user_id, origin_run_id = excluded.origin_run_id, origin_actor_type = excluded.origin_actor_type)
     insert into sync.record_history (tenant_id, collection, record_id, version, seq, operation, changes, at, actor_type, actor_id, client_id, sync_run_id)
     select ?::uuid, ?, r.id, r.version, r.seq, r.op::sync.record_operation, r.changes, ?::timestamptz, ?, ?::uuid, ?, ?::uuid from r where r.version > 1`,
    [
      JSON.stringify(rows),
      tenantId,
      collection,
      tenantId,
      collection,
      at,
      origin.clientId,
      origin.actorId,
      origin.runId,
      origin.actorType,
      tenantId,
      collection,
      at,
      origin.actorType,
      origin.actorId,
      origin.clientId,
      origin.runId,
    ],
  );
  return first + BigInt(writes.length) - 1n;
}
