// A collection's current records as pages in id order, for people looking at the data (the dashboard's Records page,
// API consumers): what pull would deliver, as a table rather than a change feed. Same rules as pull: the caller's
// tenant only, canPull on the collection, and their row filters (a record they cannot pull is never listed, counted
// or named, not even in a cursor).
import type { EntityManager } from "@mikro-orm/postgresql";
import { boundSql, type Sql } from "../../../kernel/db.js";
import { RawJson } from "../../../kernel/http.js";
import { visibleUnder, type Caller, type FilterGroup } from "./access.js";
import { parseJson } from "./record-writer.js";
import { RecordErrors } from "./records.errors.js";
import { MAX_ID_LENGTH, type RecordsService } from "./records.service.js";
import type { CollectionRecord, RecordPage } from "./records.types.js";

/**
 * Largest page: the gateway's largest list size (it prices bigger pages as this one), so an export reads a
 * collection in few requests without any page costing more than the cost limit allows.
 */
export const MAX_RECORDS_PAGE = 500;
/** Longest search text: a substring to look for, not a document. */
export const MAX_SEARCH_LENGTH = 200;
/** `totalCount` counts at most this many matches (then it is null): a count stays one bounded index scan. */
export const MAX_COUNTED = 10_000;
/** Records looked at per statement when row filters decide visibility (only the fields the filters read are fetched). */
const PROBE_BATCH = 2_000;

export interface ListRecordsArgs {
  collection: string;
  search?: string | null;
  first: number;
  after?: string | null;
}

/** Opaque cursor: base64url of `[tenantId, collection, id]`, so it is refused by any other tenant or collection. */
function encodeCursor(tenantId: string, collection: string, id: string): string {
  return Buffer.from(JSON.stringify([tenantId, collection, id])).toString("base64url");
}

function decodeCursor(cursor: string, tenantId: string, collection: string): string {
  try {
    const parts = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (
      Array.isArray(parts) &&
      parts.length === 3 &&
      parts[0] === tenantId &&
      parts[1] === collection &&
      typeof parts[2] === "string" &&
      parts[2].length >= 1 &&
      parts[2].length <= MAX_ID_LENGTH &&
      !parts[2].includes("\u0000")
    ) {
      return parts[2];
    }
  } catch {
    // falls through
  }
  throw RecordErrors.badCursor();
}

/** `text` as a LIKE pattern matching it anywhere, its own `\`, `%` and `_` taken literally. */
export const containsPattern = (text: string): string => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** One row of a listing statement. */
interface ListedRow {
  id: string;
  /** The document's JSON text (sent on as it is: never parsed unless a row filter must look inside). */
  data: string;
  version: number;
  updated_at: Date | string;
  origin_client_id: string | null;
  origin_user_id: string | null;
  origin_run_id: string | null;
  actor_type: string | null;
}

/**
 * The columns of {@link ListedRow} and the table: the record, and the actor type of its current version (on the row
 * for versions written since it is kept there, else from its history). A subquery per row, not a join: it is always
 * one primary-key lookup, whatever the planner thinks of the tables' sizes (a join planned on stale statistics
 * scanned the collection's whole history for each row).
 */
const LISTED_FROM = `r.id, r.data::text as data, r.version, r.updated_at, r.origin_client_id, r.origin_user_id, r.origin_run_id,
   coalesce(r.origin_actor_type, (select h.actor_type from sync.record_history h
     where h.tenant_id = r.tenant_id and h.collection = r.collection and h.record_id = r.id and h.version = r.version)) as actor_type
   from sync.record r`;

/** A listed record; its document goes out as the stored JSON text (kernel/http.ts splices it into the response). */
const toNode = (r: ListedRow): CollectionRecord => ({
  id: r.id,
  document: (r.data.charCodeAt(0) === 123 /* { */ ? new RawJson(r.data) : parseJson(r.data)) as unknown as Record<string, unknown>,
  version: r.version,
  updatedAt: new Date(r.updated_at),
  actorType: r.actor_type,
  actorId: r.origin_user_id,
  clientId: r.origin_client_id,
  syncRunId: r.origin_run_id,
}) as CollectionRecord;

/**
 * A page of the collection's current (not deleted) records in id order, optionally only those whose id or a
 * top-level string or number value contains `search` (case-insensitive). `first` is 1 to {@link MAX_RECORDS_PAGE}.
 * Errors: BAD_USER_INPUT (first, search, a cursor of another list, an unknown collection), FORBIDDEN without canPull.
 */
export async function listRecords(em: EntityManager, records: RecordsService, caller: Caller, args: ListRecordsArgs): Promise<RecordPage> {
  const { first } = args;
  if (!Number.isInteger(first) || first < 1 || first > MAX_RECORDS_PAGE) throw RecordErrors.badFirst(MAX_RECORDS_PAGE);
  const search = args.search ?? "";
  if (search.length > MAX_SEARCH_LENGTH) throw RecordErrors.badSearch(MAX_SEARCH_LENGTH);
  const tenantId = caller.principal.tenantId;
  const afterId = args.after ? decodeCursor(args.after, tenantId, args.collection) : null;
  const collection = await records.collection(em, args.collection);
  const access = (await records.grants.grantsFor(caller)).on(collection.name);
  if (!access.canPull) throw RecordErrors.cannotPull(collection.name);

  const run = boundSql(em);
  const matching = (after: string | null) => {
    let sql = "r.tenant_id = ? and r.collection = ? and not r.deleted";
    const params: unknown[] = [tenantId, collection.name];
    if (after !== null) {
      sql += " and r.id > ?";
      params.push(after);
    }
    if (search) {
      // The id, or any top-level string or number value (numbers as their JSON text).
      sql += ` and (r.id ilike ? escape '\\' or exists (select 1 from jsonb_each(r.data) e
                 where jsonb_typeof(e.value) in ('string', 'number') and e.value #>> '{}' ilike ? escape '\\'))`;
      const pattern = containsPattern(search);
      params.push(pattern, pattern);
    }
    return { sql, params };
  };

  const page =
    access.pullFilters === null
      ? await unfilteredPage(run, matching, afterId, first)
      : await filteredPage(run, matching, afterId, first, access.pullFilters);
  const last = page.nodes.at(-1)?.id ?? afterId;
  return {
    nodes: page.nodes,
    endCursor: last === null ? null : encodeCursor(tenantId, collection.name, last),
    hasNextPage: page.hasNextPage,
    // Counted only for callers who see every record: a count must not include rows hidden from them.
    countMatching:
      access.pullFilters === null
        ? async () => {
            const where = matching(null);
            const [row] = (await run(`select count(*)::int as n from (select 1 from sync.record r where ${where.sql} limit ${MAX_COUNTED + 1}) s`, where.params)) as { n: number }[];
            return row.n > MAX_COUNTED ? null : row.n;
          }
        : undefined,
  } as RecordPage;
}

type Matching = (after: string | null) => { sql: string; params: unknown[] };

/** Every record is visible: one statement, one row more than the page to know whether another follows. */
async function unfilteredPage(run: Sql, matching: Matching, afterId: string | null, first: number): Promise<{ nodes: CollectionRecord[]; hasNextPage: boolean }> {
  const where = matching(afterId);
  const rows = (await run(`select ${LISTED_FROM} where ${where.sql} order by r.id limit ?`, [...where.params, first + 1])) as ListedRow[];
  return { nodes: rows.slice(0, first).map(toNode), hasNextPage: rows.length > first };
}

/**
 * Row filters decide visibility (in JavaScript, exactly as pull applies them): records are looked at in id order by
 * the fields the filters read only (their top-level keys: a dot path reads the same value from that projection), until
 * the page and one more visible record are found or the records end. Then the page's records are read whole and
 * checked again (one may have changed in between: it is left out). The scan has no bound but the collection: a
 * cursor must never point at a record the caller cannot see, so a page cannot end on one.
 */
async function filteredPage(
  run: Sql,
  matching: Matching,
  afterId: string | null,
  first: number,
  filters: FilterGroup[],
): Promise<{ nodes: CollectionRecord[]; hasNextPage: boolean }> {
  if (!filters.length) return { nodes: [], hasNextPage: false }; // no group: nothing is visible
  const keys = JSON.stringify([...new Set(filters.flatMap((g) => g.filters.map((f) => f.field.split(".")[0])))]);
  const visible: string[] = [];
  let hasNextPage = false;
  let position = afterId;
  scan: for (;;) {
    const where = matching(position);
    const rows = (await run(
      `select r.id, (select jsonb_object_agg(e.key, e.value) from jsonb_each(r.data) e
                      where e.key = any(array(select jsonb_array_elements_text(?::jsonb))))::text as probe
         from sync.record r where ${where.sql} order by r.id limit ?`,
      [keys, ...where.params, PROBE_BATCH],
    )) as { id: string; probe: string | null }[];
    for (const r of rows) {
      if (!visibleUnder(r.probe ? (JSON.parse(r.probe) as Record<string, unknown>) : {}, filters)) continue;
      if (visible.length === first) {
        hasNextPage = true;
        break scan;
      }
      visible.push(r.id);
    }
    if (rows.length < PROBE_BATCH) break;
    position = rows[rows.length - 1].id;
  }
  if (!visible.length) return { nodes: [], hasNextPage };
  const where = matching(null);
  const rows = (await run(`select ${LISTED_FROM} where ${where.sql} and r.id = any(array(select jsonb_array_elements_text(?::jsonb))) order by r.id`, [
    ...where.params,
    JSON.stringify(visible),
  ])) as ListedRow[];
  const nodes: CollectionRecord[] = [];
  for (const r of rows) {
    if (visibleUnder(parseJson(r.data), filters)) nodes.push(toNode(r));
  }
  return { nodes, hasNextPage };
}
