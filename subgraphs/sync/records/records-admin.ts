// Conflicts kept by the MANUAL strategy, record history and client devices: the parts of the sync engine people look
// at and steer, beside the push/pull hot path.
import { LockMode } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/postgresql";
import { isUuid } from "../../../kernel/loaders.js";
import { publishWakeUp } from "../../../kernel/pubsub/wake-up.js";
import { visibleUnder, type Caller, type CollectionAccess } from "./access.js";
import { Conflict, ConflictResolution, ConflictStatus } from "./conflict.entity.js";
import { RecordOperation, type FieldChanges } from "./history.entity.js";
import { applyWrites, asDocument, loadForUpdate, lockTenantSequence, parseJson, RECORD_VERSIONS, rollBack, sqlIn, type Doc } from "./record-writer.js";
import { RecordErrors } from "./records.errors.js";
import { recordsChannel, writeActorOf, type RecordsService } from "./records.service.js";
import { RecordHistoryEntry, type ConflictPage, type RecordHistoryPage, type SyncClientPage } from "./records.types.js";
import { SyncClient } from "./sync-client.entity.js";

export const MAX_PAGE = 200;

function checkFirst(first: number): void {
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw RecordErrors.badFirst(MAX_PAGE);
}

/** Opaque keyset cursors: base64url of a JSON array. */
const encodeCursor = (parts: unknown[]) => Buffer.from(JSON.stringify(parts)).toString("base64url");
function decodeCursor<T extends unknown[]>(cursor: string, check: (parts: unknown[]) => parts is T): T {
  try {
    const parts = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (Array.isArray(parts) && check(parts)) return parts;
  } catch {
    // falls through
  }
  throw RecordErrors.badCursor();
}
/** A cursor's time must be one PostgreSQL stores (years 1–9999). */
const storableDate = (v: unknown): v is string => {
  if (typeof v !== "string") return false;
  const t = Date.parse(v);
  if (Number.isNaN(t)) return false;
  const year = new Date(t).getUTCFullYear();
  return year >= 1 && year <= 9999;
};
const isDateAndId = (p: unknown[]): p is [string, string] => p.length === 2 && storableDate(p[0]) && typeof p[1] === "string" && p[1].length <= 200;
const isDateAndUuid = (p: unknown[]): p is [string, string] => isDateAndId(p) && isUuid(p[1]);
const isVersion = (p: unknown[]): p is [number] => p.length === 1 && Number.isInteger(p[0]) && (p[0] as number) > 0;

// ---- conflicts -----------------------------------------------------------------------------------------------------

/** Conflicts in collections the caller may pull, of records inside their pull filters; newest first. */
export async function listConflicts(
  em: EntityManager,
  records: RecordsService,
  caller: Caller,
  args: { collection?: string | null; status: ConflictStatus; first: number; after?: string | null },
): Promise<ConflictPage> {
  checkFirst(args.first);
  if (args.collection) await records.collection(em, args.collection);
  const grants = await records.grants.grantsFor(caller);
  const where: Record<string, unknown> = { status: args.status };
  if (args.collection) where.collection = args.collection;
  if (args.after) {
    const [at, id] = decodeCursor(args.after, isDateAndUuid);
    where.$or = [{ createdAt: { $lt: new Date(at) } }, { createdAt: new Date(at), id: { $lt: id } }];
  }
  const nodes: Conflict[] = [];
  let hasNextPage = false;
  let lastScanned: Conflict | undefined;
  // Conflicts the caller may not see are skipped; read on until the page is full, at most MAX_CONFLICT_SCAN rows
  // (then the page ends early, its cursor after the last row looked at).
  scan: for (let offset = 0; offset < MAX_CONFLICT_SCAN; offset += MAX_PAGE) {
    const rows = await em.find(Conflict, where, { orderBy: { createdAt: "desc", id: "desc" }, limit: MAX_PAGE, offset });
    for (const c of rows) {
      if (!maySee(c, grants.on(c.collection))) {
        lastScanned = c;
        continue;
      }
      if (nodes.length === args.first) {
        hasNextPage = true;
        break scan;
      }
      nodes.push(c);
      lastScanned = c;
    }
    if (rows.length < MAX_PAGE) break;
    if (offset + MAX_PAGE >= MAX_CONFLICT_SCAN) hasNextPage = true;
  }
  const last = hasNextPage && nodes.length < args.first ? lastScanned : nodes.at(-1);
  return { nodes, endCursor: last ? encodeCursor([last.createdAt.toISOString(), last.id]) : null, hasNextPage };
}

/** Rows a conflict listing looks at per request, at most. */
const MAX_CONFLICT_SCAN = 2_000;

/** A conflict is shown only to callers who may pull its collection and see every state it holds. */
function maySee(c: Conflict, access: CollectionAccess): boolean {
  return access.canPull && [c.clientState, c.serverState, c.base].every((doc) => doc == null || visibleUnder(stripDeleted(doc), access.pullFilters));
}

/**
 * Settles an open conflict: KEEP_SERVER writes nothing; KEEP_CLIENT and CUSTOM write a new version (checked like a
 * push: schema, push filters), so every puller and stream sees the outcome. Resolving twice is CONFLICT.
 */
export async function resolveConflict(
  em: EntityManager,
  records: RecordsService,
  caller: Caller,
  id: string,
  resolution: ConflictResolution,
  document: Doc | null | undefined,
  /** Runs inside the transaction before it commits (the audit record). */
  beforeCommit?: (tx: EntityManager, conflict: Conflict) => Promise<void>,
): Promise<Conflict> {
  const tenantId = caller.principal.tenantId;
  if (!isUuid(id)) throw RecordErrors.conflictNotFound(id);
  const grants = await records.grants.grantsFor(caller);
  let wrote = false;
  const conflict = await em.transactional(async (tx) => {
    const run = sqlIn(tx);
    await lockTenantSequence(run, tenantId);
    const c = await tx.findOne(Conflict, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    const access = c ? grants.on(c.collection) : null;
    if (!c || !access?.canPush || !maySee(c, access)) throw RecordErrors.conflictNotFound(id);
    if (c.status !== ConflictStatus.OPEN) throw RecordErrors.conflictResolved();
    const collection = await records.collection(tx, c.collection);
    let chosen: Doc | null = null;
    if (resolution === ConflictResolution.KEEP_CLIENT) chosen = c.clientState;
    if (resolution === ConflictResolution.CUSTOM) {
      if (!document) throw RecordErrors.documentRequired();
      chosen = { ...document, [collection.primaryKey]: c.documentId };
    }
    if (chosen) {
      const checked = records.checkDocument(collection, chosen);
      if ("code" in checked) throw RecordErrors.badResolution(checked.code, checked.message);
      const current = (await loadForUpdate(run, tenantId, collection.name, [c.documentId])).get(c.documentId) ?? null;
      if (current && !current.deleted && !visibleUnder(current.data, access.pushFilters)) throw RecordErrors.badResolution("ROW_FILTER", "the stored record is outside the records you may push");
      if (!checked.deleted && !visibleUnder(checked.body, access.pushFilters)) throw RecordErrors.badResolution("ROW_FILTER", "the document is outside the records you may push");
      const next = { data: checked.body, deleted: checked.deleted };
      if (!current || JSON.stringify(asDocument(current)) !== JSON.stringify(asDocument(next))) {
        await applyWrites(run, tenantId, collection.name, [{ id: c.documentId, ...next, prev: current }], {
          actorType: writeActorOf(caller),
          actorId: caller.principal.userId,
          clientId: null,
          runId: null,
        });
        wrote = true;
      }
    }
    c.status = ConflictStatus.RESOLVED;
    c.resolution = resolution;
    c.resolvedAt = new Date();
    c.resolvedById = caller.principal.userId;
    await tx.flush();
    await beforeCommit?.(tx, c);
    return c;
  });
  if (wrote) publishWakeUp(records.pubsub, recordsChannel(tenantId), { tenantId });
  return conflict;
}

// ---- history -------------------------------------------------------------------------------------------------------

/**
 * A record's versions, newest first, with the fields each changed. Needs pull access to the collection; a caller with
 * row filters sees the history only of records currently inside them.
 */
export async function recordHistory(
  em: EntityManager,
  records: RecordsService,
  caller: Caller,
  args: { collection: string; id: string; first: number; after?: string | null },
): Promise<RecordHistoryPage> {
  checkFirst(args.first);
  const collection = await records.collection(em, args.collection);
  const access = (await records.grants.grantsFor(caller)).on(collection.name);
  if (!access.canPull) throw RecordErrors.cannotPull(collection.name);
  const tenantId = caller.principal.tenantId;
  const run = (sql: string, params: unknown[]) => em.execute(sql, params, "all") as Promise<any[]>;
  const [current] = await run("select data, deleted from sync.record where tenant_id = ? and collection = ? and id = ?", [tenantId, collection.name, args.id]);
  if (!current || (access.pullFilters !== null && !visibleUnder(parseJson(current.data), access.pullFilters))) throw RecordErrors.recordNotFound(collection.name, args.id);
  const before = args.after ? decodeCursor(args.after, isVersion)[0] : 2 ** 31 - 1;
  const rows = (await run(
    `select version, operation, changes, at, actor_type, actor_id, client_id, sync_run_id from ${RECORD_VERSIONS} v
      where tenant_id = ? and collection = ? and record_id = ? and version < ? order by version desc limit ?`,
    [tenantId, collection.name, args.id, before, args.first + 1],
  )) as { version: number; operation: RecordOperation; changes: unknown; at: Date; actor_type: string; actor_id: string | null; client_id: string | null; sync_run_id: string | null }[];
  const page = rows.slice(0, args.first);
  const nodes: RecordHistoryEntry[] = [];
  for (const r of page) {
    let changes = (typeof r.changes === "string" ? JSON.parse(r.changes) : r.changes) as FieldChanges | null;
    if (r.operation === RecordOperation.CREATE) changes = await createdState(run, tenantId, collection.name, args.id, asDocument({ data: parseJson(current.data), deleted: current.deleted }));
    nodes.push(Object.assign(new RecordHistoryEntry(), {
      version: r.version,
      operation: r.operation,
      at: new Date(r.at),
      changes: Object.entries(changes ?? {}).map(([field, c]) => ({ field, before: c.b ?? null, after: c.a ?? null })),
      actorType: r.actor_type,
      actorId: r.actor_id,
      clientId: r.client_id,
      syncRunId: r.sync_run_id,
    }));
  }
  const last = page.at(-1);
  return { nodes, endCursor: last ? encodeCursor([last.version]) : null, hasNextPage: rows.length > args.first };
}

/** A CREATE's fields: the current state with every later version rolled back (creates store no copy of the document). */
async function createdState(run: (sql: string, params: unknown[]) => Promise<any[]>, tenantId: string, collection: string, id: string, current: Doc): Promise<FieldChanges> {
  const later = await run("select changes from sync.record_history where tenant_id = ? and collection = ? and record_id = ? and version > 1 order by version desc", [tenantId, collection, id]);
  let state = current;
  for (const h of later) state = rollBack(state, (typeof h.changes === "string" ? JSON.parse(h.changes) : h.changes) as FieldChanges | null);
  const { _deleted, ...body } = state;
  return Object.fromEntries(Object.entries(body).map(([k, v]) => [k, { a: v }]));
}

// ---- client devices ------------------------------------------------------------------------------------------------

export async function listClients(em: EntityManager, records: RecordsService, args: { first: number; after?: string | null }): Promise<SyncClientPage> {
  checkFirst(args.first);
  await records.flushClients();
  const where: Record<string, unknown> = {};
  if (args.after) {
    const [at, id] = decodeCursor(args.after, isDateAndId);
    where.$or = [{ lastSeenAt: { $lt: new Date(at) } }, { lastSeenAt: new Date(at), clientId: { $lt: id } }];
  }
  const rows = await em.find(SyncClient, where, { orderBy: { lastSeenAt: "desc", clientId: "desc" }, limit: args.first + 1 });
  const nodes = rows.slice(0, args.first);
  const last = nodes.at(-1);
  return { nodes, endCursor: last ? encodeCursor([last.lastSeenAt.toISOString(), last.clientId]) : null, hasNextPage: rows.length > args.first };
}

/**
 * Makes a device start over: its stored checkpoint and push answers are forgotten, and its older checkpoints get
 * CHECKPOINT_EXPIRED until it pulls from the start.
 */
export async function resetClient(
  em: EntityManager,
  records: RecordsService,
  tenantId: string,
  clientId: string,
  /** Runs inside the transaction before it commits (the audit record). */
  beforeCommit?: (tx: EntityManager) => Promise<void>,
): Promise<SyncClient> {
  await records.flushClients();
  return em.transactional(async (tx) => {
    const client = await tx.findOne(SyncClient, { clientId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!client) throw RecordErrors.clientNotFound(clientId);
    client.resetPending = true;
    client.resetAt = new Date();
    client.lastCheckpoint = null;
    client.lastMutationId = null;
    await sqlIn(tx)("delete from sync.push_receipt where tenant_id = ? and client_id = ?", [tenantId, clientId]);
    await tx.flush();
    await beforeCommit?.(tx);
    return client;
  });
}

function stripDeleted(doc: Doc): Doc {
  const { _deleted, ...body } = doc;
  return body;
}
