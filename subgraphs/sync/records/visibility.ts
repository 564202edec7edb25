// What one caller may see of a batch of changed records: row filters of their pull grants applied per record, and a
// record that left their view since their checkpoint turned into a removal (a tombstone with only its key).
import { RawJson } from "../../../kernel/http.js";
import type { FieldChanges } from "./history.entity.js";
import { visibleUnder, type FilterGroup } from "./access.js";
import { asDocument, parseJson, rollBack, type Doc, type Sql } from "./record-writer.js";

/** A changed record as read in seq order. */
export interface ChangedRow {
  collection: string;
  id: string;
  data: unknown;
  deleted: boolean;
  seq: string;
}

/**
 * The columns {@link ChangedRow} needs, for `select ... from sync.record`. `data` comes as its JSON text (what the
 * driver would parse anyway): a pull sends it on as text, without parsing it. (Building the whole document in SQL,
 * e.g. `(data || jsonb_build_object('_deleted', deleted))::text`, measured 2–3× slower per page.)
 */
export const CHANGED_ROW_COLUMNS = "collection, id, seq, data::text as data, deleted";

export interface VisibleChange<D = Doc> {
  collection: string;
  seq: bigint;
  document: D;
}

/**
 * A document as the raw JSON text clients receive: the stored body (jsonb's text) plus `_deleted`. Null when the body
 * is not a JSON object.
 */
export function rawDocument(data: unknown, deleted: boolean): RawJson | null {
  // jsonb's text of an object is `{}` or `{"key": value, ...}` (keys unique); `_deleted` goes last, as in asDocument.
  if (typeof data !== "string" || data.charCodeAt(0) !== 123) return null;
  // A body holding `_deleted` itself (never stored by a push, which strips it): replaced as asDocument replaces it.
  if (data.includes('"_deleted"')) return new RawJson(JSON.stringify(asDocument({ data: parseJson(data), deleted })));
  return new RawJson(data.length === 2 ? `{"_deleted": ${deleted}}` : `${data.slice(0, -1)}, "_deleted": ${deleted}}`);
}

/** Per collection: the caller's pull filters (null: every record) and the collection's key field. */
export type ViewRules = Map<string, { filters: FilterGroup[] | null; primaryKey: string }>;

/**
 * The caller's view of `rows` (all after checkpoint `after`), in order. Unfiltered collections pass everything
 * through; for filtered ones a record that no longer matches is sent as a removal only if the caller could see it at
 * `after` (its state then is rebuilt from the record's history), so nothing outside their view leaks, not even a key.
 * With `raw`, visible documents are RawJson (their text as read, never parsed unless a row filter must look inside).
 */
export async function viewOf(run: Sql, tenantId: string, rows: ChangedRow[], rules: ViewRules, after: bigint): Promise<VisibleChange[]>;
export async function viewOf(run: Sql, tenantId: string, rows: ChangedRow[], rules: ViewRules, after: bigint, opts: { raw: boolean }): Promise<VisibleChange<Doc | RawJson>[]>;
export async function viewOf(run: Sql, tenantId: string, rows: ChangedRow[], rules: ViewRules, after: bigint, opts: { raw: boolean } = { raw: false }): Promise<VisibleChange<Doc | RawJson>[]> {
  const out: (VisibleChange<Doc | RawJson> | { pending: ChangedRow; doc: Doc })[] = [];
  const lookups: ChangedRow[] = [];
  for (const row of rows) {
    const rule = rules.get(row.collection);
    if (!rule) continue;
    const raw = opts.raw ? rawDocument(row.data, row.deleted) : null;
    if (raw && rule.filters === null) {
      out.push({ collection: row.collection, seq: BigInt(row.seq), document: raw });
      continue;
    }
    const doc = asDocument({ data: parseJson(row.data), deleted: row.deleted });
    if (rule.filters === null) {
      out.push({ collection: row.collection, seq: BigInt(row.seq), document: doc });
      continue;
    }
    const { _deleted, ...body } = doc;
    if (visibleUnder(body, rule.filters)) {
      out.push({ collection: row.collection, seq: BigInt(row.seq), document: raw ?? doc });
    } else if (after > 0n) {
      lookups.push(row);
      out.push({ pending: row, doc });
    }
  }
  if (!lookups.length) return out as VisibleChange<Doc | RawJson>[];
  const seen = await visibleAt(run, tenantId, lookups, out, rules, after);
  return out.flatMap((o) => {
    if (!("pending" in o)) return [o];
    if (!seen.has(`${o.pending.collection}\u0000${o.pending.id}`)) return [];
    const pk = rules.get(o.pending.collection)!.primaryKey;
    return [{ collection: o.pending.collection, seq: BigInt(o.pending.seq), document: { [pk]: o.pending.id, _deleted: true } }];
  });
}

/** Which of `rows` the caller could see at `after`: their state then, rebuilt by rolling back later versions. */
async function visibleAt(
  run: Sql,
  tenantId: string,
  rows: ChangedRow[],
  current: ({ pending: ChangedRow; doc: Doc } | VisibleChange<unknown>)[],
  rules: ViewRules,
  after: bigint,
): Promise<Set<string>> {
  const keys = rows.map((r) => ({ c: r.collection, i: r.id }));
  const history = (await run(
    `select h.collection, h.record_id, h.operation, h.changes from sync.record_history h
       join jsonb_to_recordset(?::jsonb) as k(c text, i text) on h.collection = k.c and h.record_id = k.i
      where h.tenant_id = ? and h.seq > ?::bigint order by h.collection, h.record_id, h.seq desc`,
    [JSON.stringify(keys), tenantId, after.toString()],
  )) as { collection: string; record_id: string; operation: string; changes: unknown }[];
  const byKey = new Map<string, typeof history>();
  for (const h of history) {
    const key = `${h.collection}\u0000${h.record_id}`;
    let list = byKey.get(key);
    if (!list) byKey.set(key, (list = []));
    list.push(h);
  }
  const seen = new Set<string>();
  for (const o of current) {
    if (!("pending" in o)) continue;
    const key = `${o.pending.collection}\u0000${o.pending.id}`;
    let state: Doc = o.doc;
    let existed = true;
    for (const h of byKey.get(key) ?? []) {
      if (h.operation === "CREATE") {
        existed = false;
        break;
      }
      state = rollBack(state, (typeof h.changes === "string" ? JSON.parse(h.changes) : h.changes) as FieldChanges | null);
    }
    if (!existed || state._deleted === true) continue;
    const { _deleted, ...body } = state;
    if (visibleUnder(body, rules.get(o.pending.collection)!.filters)) seen.add(key);
  }
  return seen;
}
