import { createHash, randomUUID } from "node:crypto";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsImport from "ajv-formats";
import equal from "fast-deep-equal";
import type { Logger } from "pino";
import { boundSql, flushOrConflict } from "../../../kernel/db.js";
import { RawJson } from "../../../kernel/http.js";
import type { PubSub } from "../../../kernel/pubsub/pubsub.js";
import { publishWakeUp } from "../../../kernel/pubsub/wake-up.js";
import { forkUnscoped } from "../../../kernel/tenancy.js";
import { advisoryXactLock, withTransaction } from "../../../kernel/transaction.js";
import { actorOf, withRunErrors } from "../sync-log/sync-run.actor.js";
import { SyncRun, SyncRunKind, SyncRunStatus } from "../sync-log/sync-run.entity.js";
import { visibleUnder, type Caller, type CallerGrants, type CollectionAccess, type GrantsDirectory } from "./access.js";
import { Collection } from "./collection.entity.js";
import { Conflict } from "./conflict.entity.js";
import { applyWrites, asDocument, insertNew, loadForUpdate, lockTenantSequence, sqlIn, type Doc, type RecordWrite, type Sql, type WriteOrigin } from "./record-writer.js";
import { RecordErrors } from "./records.errors.js";
import { ConflictStrategy, type CreateCollectionInput, type PullResult, type PushChangesInput, type PushResult, type RejectedRow } from "./records.types.js";
import { CHANGED_ROW_COLUMNS, rawDocument, viewOf, type ChangedRow, type ViewRules } from "./visibility.js";

export const MAX_PUSH_ROWS = 500;
export const MAX_PULL_LIMIT = 1000;
export const MAX_PULL_COLLECTIONS = 50;
export const MAX_DOCUMENT_BYTES = 64 * 1024;
/** How deep a pushed document may nest: the document is level 1, each nested object or array one more. */
export const MAX_DOCUMENT_DEPTH = 64;
export const MAX_ID_LENGTH = 200;
/** A filtered pull reads at most this many changes per request looking for a full page (then returns what it has). */
const MAX_SCAN_ROWS = 20_000;
const NAME = /^[A-Za-z0-9_.-]{1,100}$/;
const FIELD = /^[A-Za-z_][A-Za-z0-9_]{0,99}$/;
/** Channel that wakes a tenant's live streams when its records change (each stream then reads from its own cursor). */
export const recordsChannel = (tenantId: string) => `records.changed:${tenantId}`;
/** A stream re-reads at least this often even without a wake-up, so a dropped pub/sub message only delays a change. */
export const STREAM_POLL_MS = 5_000;

const addFormats = addFormatsImport as unknown as (ajv: Ajv2020) => Ajv2020;

/** One pull, for the sync log (written in batches by the log, never in the pull's path). */
export interface PullLogEntry {
  caller: Caller;
  clientId: string | null;
  collections: string[];
  documents: number;
  durationMs: number;
}

/**
 * What a pull read: the visible changes with their collections, where to continue, whether more exist. With the
 * `raw` option documents are RawJson (the JSON text as stored, `_deleted` added), which the response carries as is.
 */
export interface PullPageResult<D = Doc> extends Omit<PullResult, "documents"> {
  documents: D[];
  items: { collection: string; document: D }[];
}

/** What a push reads of its collection. */
type PushCollection = Pick<Collection, "id" | "name" | "jsonSchema" | "primaryKey" | "conflictStrategy">;

/** An internal page of visible changes; `cursor` is the last seq read (it moves past invisible changes too). */
interface ChangePage<D = Doc> {
  items: { collection: string; document: D; seq: bigint }[];
  cursor: bigint;
  hasMore: boolean;
}

/** Who writes, for records and their history: the same actor the sync log names. */
export const writeActorOf = (caller: Caller): WriteOrigin["actorType"] => actorOf(caller.principal).actorType;

/**
 * Collections, push and pull. Every statement names the caller's tenant explicitly (raw SQL is not covered by the
 * ORM's tenant filter); the tenant always comes from the verified principal. Access comes from the caller's collection
 * grants (asked of the tenants service): push and pull need canPush / canPull, and row filters apply to every record.
 */
export class RecordsService {
  private readonly validators = new Map<string, { schema: string; validate: ValidateFunction }>();

  /** Pull pages read ahead (see ReadAhead). */
  readonly readAhead = new ReadAhead();

  constructor(
    readonly orm: MikroORM,
    readonly pubsub: PubSub,
    readonly grants: GrantsDirectory,
    private readonly logger: Logger,
    private readonly hooks: { onPulled?: (entry: PullLogEntry) => void; onPushed?: (run: SyncRun) => void } = {},
  ) {}

  async createCollection(em: EntityManager, tenantId: string, input: CreateCollectionInput): Promise<Collection> {
    if (!NAME.test(input.name)) throw RecordErrors.badCollectionName();
    const retention = input.tombstoneRetentionDays ?? 30;
    if (!Number.isInteger(retention) || retention < 1 || retention > 3650) throw RecordErrors.badRetention();
    const primaryKey = input.primaryKey ?? "id";
    if (!FIELD.test(primaryKey)) throw RecordErrors.badPrimaryKey();
    if (input.jsonSchema) {
      const unsafe = unsafeSchemaKeyword(input.jsonSchema);
      if (unsafe) throw RecordErrors.badSchema(`\`${unsafe}\` is not allowed (regular expressions and schema references can be abused to stall the server)`);
      try {
        compileSchema(input.jsonSchema);
      } catch (e) {
        throw RecordErrors.badSchema((e as Error).message.slice(0, 300));
      }
    }
    if (await em.findOne(Collection, { name: input.name })) throw RecordErrors.collectionExists();
    const collection = em.create(Collection, {
      id: randomUUID(),
      tenantId,
      name: input.name,
      jsonSchema: input.jsonSchema ?? null,
      tombstoneRetentionDays: retention,
      primaryKey,
      conflictStrategy: input.conflictStrategy ?? ConflictStrategy.SERVER_WINS,
    });
    await flushOrConflict(em, RecordErrors.collectionExists);
    return collection;
  }

  /** The collection named `name`, or BAD_USER_INPUT naming it. */
  async collection(em: EntityManager, name: string): Promise<Collection> {
    const collection = NAME.test(name) ? await em.findOne(Collection, { name }) : null;
    if (!collection) throw RecordErrors.unknownCollection(name);
    return collection;
  }

  /**
   * What a push needs of its collection, as a plain row of the caller's tenant (no entity is built and tracked per
   * push), or BAD_USER_INPUT naming it.
   */
  private async pushCollection(em: EntityManager, tenantId: string, name: string): Promise<PushCollection> {
    const rows = NAME.test(name)
      ? ((await boundSql(em)(
          `select id, name, json_schema as "jsonSchema", primary_key as "primaryKey", conflict_strategy as "conflictStrategy" from sync.collection where tenant_id = ? and name = ?`,
          [tenantId, name],
        )) as PushCollection[])
      : [];
    if (!rows.length) throw RecordErrors.unknownCollection(name);
    return rows[0];
  }

  validatorFor(collection: Pick<Collection, "id" | "jsonSchema">): ValidateFunction | null {
    if (!collection.jsonSchema) return null;
    // Each request loads a fresh Collection: compare the schema's text, not the object, and compile once per version.
    const text = JSON.stringify(collection.jsonSchema);
    const cached = this.validators.get(collection.id);
    if (cached && cached.schema === text) return cached.validate;
    const validate = compileSchema(collection.jsonSchema, false);
    if (this.validators.size > 5_000) this.validators.clear();
    this.validators.set(collection.id, { schema: text, validate });
    return validate;
  }

  /**
   * Checks a document a client sends: its key (the collection's primary key field, a string of 1–200 characters),
   * `_deleted`, size and the collection's JSON Schema. Returns the body without `_deleted`, or a rejection.
   */
  checkDocument(
    collection: Pick<Collection, "id" | "jsonSchema" | "primaryKey">,
    doc: Doc,
    validate: ValidateFunction | null = this.validatorFor(collection),
  ): { id: string; body: Doc; deleted: boolean; text: string } | { code: string; message: string; id: string | null } {
    // Depth first, without recursion: everything after (JSON.stringify, deep equality, JSON Schema) recurses.
    if (nestsDeeperThan(doc, MAX_DOCUMENT_DEPTH)) {
      const key = doc?.[collection.primaryKey];
      return { code: "BAD_USER_INPUT", message: `document nests deeper than ${MAX_DOCUMENT_DEPTH} levels`, id: validKey(key) ? key : null };
    }
    const key = doc?.[collection.primaryKey];
    const id = typeof key === "string" ? key : null;
    if (!id || id.length > MAX_ID_LENGTH) {
      return { code: "BAD_USER_INPUT", message: `document needs a string \`${collection.primaryKey}\` of 1–${MAX_ID_LENGTH} characters`, id: null };
    }
    const { _deleted, ...body } = doc;
    if (_deleted !== undefined && typeof _deleted !== "boolean") return { code: "BAD_USER_INPUT", message: "`_deleted` must be a boolean", id };
    // The body's JSON text: its size, and what is stored (a batch is sent as these texts, not serialised again).
    const text = JSON.stringify(body);
    const unstorable = unstorableText(text, body);
    if (unstorable) return { code: "BAD_USER_INPUT", message: `document ${unstorable}`, id };
    if (Buffer.byteLength(text) > MAX_DOCUMENT_BYTES) return { code: "BAD_USER_INPUT", message: `document larger than ${MAX_DOCUMENT_BYTES} bytes`, id };
    const deleted = _deleted === true;
    if (!deleted && validate && !validate(body)) {
      const e = validate.errors?.[0];
      return { code: "SCHEMA_VIOLATION", message: `${e?.instancePath || "/"} ${e?.message ?? "does not match the collection's schema"}`, id };
    }
    return { id, body, deleted, text };
  }

  /**
   * Applies a batch of compare-and-set rows in ONE transaction: valid rows are applied, reported as conflicts (or, with
   * MANUAL, kept as open conflicts), or rejected with a code; the push's SyncRun commits with it. With clientId +
   * mutationId the stored answer is returned for a retry instead of applying twice.
   */
  async push(em: EntityManager, caller: Caller, input: PushChangesInput): Promise<PushResult> {
    const { principal } = caller;
    const started = Date.now();
    if (input.rows.length > MAX_PUSH_ROWS) throw RecordErrors.tooManyRows(MAX_PUSH_ROWS);
    const idempotent = input.clientId != null || input.mutationId != null;
    if (idempotent && !(validKey(input.clientId) && validKey(input.mutationId))) throw RecordErrors.badIdempotency();
    const collection = await this.pushCollection(em, principal.tenantId, input.collection);
    const access = (await this.grants.grantsFor(caller)).on(collection.name);
    if (!access.canPush) throw RecordErrors.cannotPush(collection.name);
    const strategy = input.strategy ?? collection.conflictStrategy;

    // Validation first: one bad row never fails or blocks the others.
    const rejected: RejectedRow[] = [];
    const valid: { index: number; id: string; assumed: Doc | null; assumedText: string; next: Doc; deleted: boolean; text: string }[] = [];
    const seen = new Set<string>();
    const validate = this.validatorFor(collection);
    input.rows.forEach((row, index) => {
      const checked = this.checkDocument(collection, row.newDocumentState, validate);
      if ("code" in checked) return rejected.push({ index, ...checked });
      if (seen.has(checked.id)) return rejected.push({ index, id: checked.id, code: "BAD_USER_INPUT", message: "the same id appears twice in one push" });
      if (!checked.deleted && !visibleUnder(checked.body, access.pushFilters)) {
        return rejected.push({ index, id: checked.id, code: "ROW_FILTER", message: "the document is outside the records you may push" });
      }
      const assumed = row.assumedMasterState ?? null;
      let assumedText = "null";
      if (assumed !== null) {
        // Only compared with the server's state, but kept with a MANUAL conflict: it must be storable too.
        const deep = nestsDeeperThan(assumed, MAX_DOCUMENT_DEPTH);
        if (!deep) assumedText = JSON.stringify(assumed);
        const problem = deep ? `nests deeper than ${MAX_DOCUMENT_DEPTH} levels` : unstorableText(assumedText, assumed);
        if (problem) return rejected.push({ index, id: checked.id, code: "BAD_USER_INPUT", message: `assumedMasterState ${problem}` });
      }
      seen.add(checked.id);
      valid.push({ index, id: checked.id, assumed, assumedText, next: checked.body, deleted: checked.deleted, text: checked.text });
    });

    // What this push asks, for its receipt: a reused clientId + mutationId must ask the same to be a replay.
    const fingerprint = idempotent ? pushFingerprint(input, valid) : null;
    const tenantId = principal.tenantId;
    const runId = randomUUID();
    const origin: WriteOrigin = { actorType: writeActorOf(caller), actorId: principal.userId, clientId: input.clientId ?? null, runId };
    let replayed = false;
    let createdRun: SyncRun | null = null;
    const result = await withTransaction(em, async (tx) => {
      const run = sqlIn(tx);
      if (idempotent) {
        await advisoryXactLock(tx, `push:${tenantId}:${input.clientId}:${input.mutationId}`);
        const stored = await run("select result, user_id, fingerprint from sync.push_receipt where tenant_id = ? and client_id = ? and mutation_id = ?", [
          tenantId,
          input.clientId,
          input.mutationId,
        ]);
        if (stored.length) {
          // A receipt answers only the one who pushed: another user (a shared device, a guessed pair) must not read
          // that push's conflicts and server states, which their own row filters may hide.
          if (stored[0].user_id !== null && stored[0].user_id !== principal.userId) throw RecordErrors.mutationIdTaken();
          // The same pair for another request (a device whose counter restarted): applying nothing and answering
          // "applied" would lose its changes silently. (Receipts from before fingerprints match any request.)
          if (stored[0].fingerprint !== null && stored[0].fingerprint !== fingerprint) throw RecordErrors.mutationIdReused();
          replayed = true;
          const answer = (typeof stored[0].result === "string" ? JSON.parse(stored[0].result) : stored[0].result) as PushResult;
          return Object.assign({ manualConflicts: [], syncRunId: null }, answer, { replayed: true }) as PushResult;
        }
      }
      // Rows the client believes are new are inserted straight away (the common case: ingest); only ids that turn
      // out to exist, and rows based on a known state, are read and settled one by one. The tenant's sequence lock
      // comes first either way: insertNew's reservation takes it, or it is taken here.
      const fresh = valid.filter((v) => v.assumed === null && !v.deleted);
      if (!fresh.length) await lockTenantSequence(run, tenantId);
      const inserted = await insertNew(
        run,
        tenantId,
        collection.name,
        fresh.map((v) => ({ id: v.id, data: v.next, text: v.text })),
        origin,
      );
      const rest = inserted.size ? valid.filter((v) => !inserted.has(v.id)) : valid;
      const current = await loadForUpdate(run, tenantId, collection.name, rest.map((v) => v.id));

      const conflicts: Doc[] = [];
      const manual: Conflict[] = [];
      const writes: RecordWrite[] = [];
      let unchanged = 0; // rows equal to the server's state: accepted, nothing to write
      for (const v of rest) {
        const cur = current.get(v.id) ?? null;
        // A tombstone keeps the body its deleter sent: show it back only to callers who may see that body.
        const curDoc = !cur
          ? null
          : cur.deleted && !(access.canPull && visibleUnder(cur.data, access.pullFilters))
            ? { [collection.primaryKey]: v.id, _deleted: true }
            : asDocument(cur);
        // A record outside the caller's reach can be neither changed nor shown back to them.
        if (cur && !cur.deleted && (!visibleUnder(cur.data, access.pushFilters) || !access.canPull || !visibleUnder(cur.data, access.pullFilters))) {
          rejected.push({ index: v.index, id: v.id, code: "ROW_FILTER", message: "the stored record is outside the records you may push" });
          continue;
        }
        const nextDoc = { ...v.next, _deleted: v.deleted };
        // Already the server's state (a repeated push, or a client that saw the change come back): a no-op success
        // whatever the strategy and the assumed state. Never a conflict, never an open MANUAL conflict.
        if (curDoc && equal(curDoc, nextDoc)) {
          unchanged++;
          continue;
        }
        if (!curDoc || sameDoc(v.assumed, curDoc) || strategy === ConflictStrategy.CLIENT_WINS) {
          // Deleting what the server never had stores a bare tombstone: nothing unchecked is kept.
          if (!cur && v.deleted) writes.push({ id: v.id, data: { [collection.primaryKey]: v.id }, deleted: true, prev: null });
          else writes.push({ id: v.id, data: v.next, deleted: v.deleted, prev: cur });
          continue;
        }
        if (strategy === ConflictStrategy.MERGE) {
          const merged = mergeThreeWay(v.assumed ?? {}, nextDoc, curDoc);
          if (merged) {
            const { _deleted, ...body } = merged;
            const mergedBody = { ...body, [collection.primaryKey]: v.id };
            if (_deleted !== true && validate && !validate(mergedBody)) {
              rejected.push({ index: v.index, id: v.id, code: "SCHEMA_VIOLATION", message: "the merged document does not match the collection's schema" });
            } else if (_deleted !== true && !visibleUnder(mergedBody, access.pushFilters)) {
              rejected.push({ index: v.index, id: v.id, code: "ROW_FILTER", message: "the merged document is outside the records you may push" });
            } else {
              writes.push({ id: v.id, data: mergedBody, deleted: _deleted === true, prev: cur });
            }
            continue;
          }
        }
        if (strategy === ConflictStrategy.MANUAL) {
          manual.push(
            tx.create(Conflict, {
              id: randomUUID(),
              tenantId,
              collection: collection.name,
              documentId: v.id,
              base: v.assumed,
              clientState: nextDoc,
              serverState: curDoc,
              clientId: input.clientId ?? null,
              createdById: principal.userId,
            }),
          );
          continue;
        }
        conflicts.push(curDoc);
      }

      await applyWrites(run, tenantId, collection.name, writes, origin);
      rejected.sort((a, b) => a.index - b.index);
      // Asked for: the server's state of each rejected row (a tombstone when there is none, or none the caller may
      // see), so a client that keeps what it pushed (RxDB) replaces it through its conflict handler and converges.
      const converge = input.rejectedAsConflicts ? await this.statesOfRejected(run, tenantId, collection, access, valid, rejected) : [];
      const answer: PushResult = {
        conflicts: converge.length ? [...conflicts, ...converge] : conflicts,
        rejected,
        applied: inserted.size + writes.length + unchanged,
        replayed: false,
        manualConflicts: manual.map((c) => c.id),
        syncRunId: runId,
      };
      // The push's entry in the sync log commits with the push (inserted directly: nothing else is left to flush).
      const finished = new Date();
      createdRun = tx.create(
        SyncRun,
        {
          id: runId,
          tenantId,
          kind: SyncRunKind.PUSH,
          status: rejected.length || conflicts.length || manual.length ? SyncRunStatus.PARTIAL : SyncRunStatus.SUCCEEDED,
          ...actorOf(principal),
          clientId: input.clientId ?? null,
          collections: [collection.name],
          parameters: { strategy, rows: input.rows.length, ...(input.mutationId ? { mutationId: input.mutationId } : {}) },
          processed: input.rows.length,
          created: inserted.size + writes.filter((w) => !w.prev && !w.deleted).length,
          updated: writes.filter((w) => w.prev && !w.deleted).length,
          deleted: writes.filter((w) => w.deleted).length,
          conflicts: conflicts.length + manual.length,
          rejected: rejected.length,
          failed: 0,
          ...withRunErrors(rejected.map((r) => ({ recordId: r.id, collection: collection.name, code: r.code, message: r.message }))),
          startedAt: new Date(started),
          finishedAt: finished,
          durationMs: finished.getTime() - started,
        },
        { persist: false },
      );
      await tx.insert(createdRun);
      // The receipt (exactly-once) and the device's row, in one statement when there are both.
      const receipt = idempotent ? { clientId: input.clientId!, mutationId: input.mutationId!, result: JSON.stringify(answer), fingerprint: fingerprint! } : null;
      if (input.clientId) await touchClient(run, tenantId, input.clientId, principal.userId, { mutationId: input.mutationId ?? null }, receipt);
      else if (receipt) await run(`${RECEIPT_INSERT} select 1`, [tenantId, receipt.clientId, receipt.mutationId, principal.userId, receipt.result, receipt.fingerprint]);
      return answer;
    });
    if (!replayed) {
      // Wake-ups only (streams re-read on their own timer): the answer never waits for them, nor for Redis.
      if (result.applied > 0) publishWakeUp(this.pubsub, recordsChannel(tenantId), { tenantId }, this.logger);
      if (createdRun) this.hooks.onPushed?.(createdRun);
    }
    return result;
  }

  /**
   * The current state of each rejected row's record as the caller may see it — a bare tombstone `{ [primaryKey]: id,
   * _deleted: true }` when there is none or it is outside their view — once per id, except ids another row of the push
   * settled (applied or conflicting). Rows without a valid id have no record to name.
   */
  private async statesOfRejected(
    run: Sql,
    tenantId: string,
    collection: PushCollection,
    access: Pick<CollectionAccess, "canPull" | "pullFilters">,
    valid: { index: number; id: string }[],
    rejected: RejectedRow[],
  ): Promise<Doc[]> {
    const rejectedIndexes = new Set(rejected.map((r) => r.index));
    const settled = new Set(valid.filter((v) => !rejectedIndexes.has(v.index)).map((v) => v.id));
    const ids = [...new Set(rejected.map((r) => r.id).filter((id): id is string => id != null && !settled.has(id)))];
    if (!ids.length) return [];
    const current = await loadForUpdate(run, tenantId, collection.name, ids);
    return ids.map((id) => {
      const cur = current.get(id);
      return cur && access.canPull && visibleUnder(cur.data, access.pullFilters) ? asDocument(cur) : { [collection.primaryKey]: id, _deleted: true };
    });
  }

  /**
   * Checks a pull's arguments and the caller's access: the collections (1–50, known, each pullable), the limit and the
   * checkpoint (this tenant's, not expired by a device reset). Returns the view rules and the position to read after.
   */
  async preparePull(
    em: EntityManager,
    caller: Caller,
    collections: string[],
    checkpoint: string | null | undefined,
    limit: number,
    clientId?: string | null,
  ): Promise<{ rules: ViewRules; names: string[]; after: bigint }> {
    const { names, after } = pullArguments(caller, collections, checkpoint, limit, clientId);
    // Only names and keys are needed: read as plain rows (no entities to build per pull), for the caller's tenant.
    const [known, grants] = await Promise.all([
      boundSql(em)(
        "select name, primary_key as \"primaryKey\" from sync.collection where tenant_id = ? and name = any(array(select jsonb_array_elements_text(?::jsonb)))",
        [caller.principal.tenantId, JSON.stringify(names)],
      ) as Promise<Pick<Collection, "name" | "primaryKey">[]>,
      this.grants.grantsFor(caller),
    ]);
    const rules = this.checkPullable(names, known, grants);
    if (clientId) await this.checkClient(em, caller, clientId, checkpoint ?? null);
    return { rules, names, after };
  }

  /** The view rules of `names`: BAD_USER_INPUT for one that is not a collection, FORBIDDEN for one not pullable. */
  private checkPullable(names: string[], known: Pick<Collection, "name" | "primaryKey">[], grants: CallerGrants): ViewRules {
    const missing = names.find((n) => !known.some((c) => c.name === n));
    if (missing) throw RecordErrors.unknownCollection(missing);
    return rulesFor(known, grants);
  }

  /** Changes after a checkpoint, in commit order, at most `limit`; full pages while more exist. */
  async pull(em: EntityManager, caller: Caller, collections: string[], checkpoint: string | null | undefined, limit: number, clientId?: string | null): Promise<PullPageResult>;
  async pull(
    em: EntityManager,
    caller: Caller,
    collections: string[],
    checkpoint: string | null | undefined,
    limit: number,
    clientId: string | null | undefined,
    opts: { raw: true },
  ): Promise<PullPageResult<Doc | RawJson>>;
  async pull(
    em: EntityManager,
    caller: Caller,
    collections: string[],
    checkpoint: string | null | undefined,
    limit: number,
    clientId?: string | null,
    opts: { raw: boolean } = { raw: false },
  ): Promise<PullPageResult<Doc | RawJson>> {
    const started = Date.now();
    const tenantId = caller.principal.tenantId;
    const { names, after } = pullArguments(caller, collections, checkpoint, limit, clientId);
    const grants = await this.grants.grantsFor(caller);
    // One statement reads the collections (keys, purge horizons) and the first changes, in one snapshot; then the
    // checks run in the order preparePull makes them (nothing read is returned when one fails).
    const run: Sql = boundSql(em);
    const filtered = names.some((n) => grants.on(n).pullFilters !== null);
    let page: { items: { collection: string; document: Doc | RawJson }[]; cursor: bigint; hasMore: boolean };
    if (opts.raw && !filtered) {
      // No row filter: the page comes as its documents' JSON text, ready to send (see readRawPage), read ahead by the
      // previous page's pull when that one had more (see ReadAhead).
      const fast = (await this.readAhead.take(run, tenantId, names, after, limit)) ?? (await readRawPage(run, tenantId, names, after, limit));
      const rules = this.checkPullable(names, fast.meta.map(([name, primaryKey]) => ({ name, primaryKey })), grants);
      if (clientId) await this.checkClient(em, caller, clientId, checkpoint ?? null);
      if (fast.page && after > 0n && after < fast.horizon) throw RecordErrors.checkpointExpired("deletions older than this checkpoint have been purged");
      if (fast.page?.hasMore) this.readAhead.start(boundSql(this.orm.em.fork()), tenantId, names, fast.page.cursor, limit);
      page = fast.page ?? (await this.readLoop(run, tenantId, rules, names, after, limit, opts));
    } else {
      const rows = (await run(
        `select ${CHANGED_ROW_COLUMNS}, ${COLLECTION_META} as meta
           from sync.record where tenant_id = ? and collection = any(array(select jsonb_array_elements_text(?::jsonb))) and seq > ?::bigint order by seq limit ?`,
        [tenantId, JSON.stringify(names), tenantId, JSON.stringify(names), after.toString(), batchSize(limit, filtered) + 1],
      )) as (ChangedRow & { meta: string | null })[];
      let meta: [string, string, string][];
      if (rows.length) meta = JSON.parse(rows[0].meta ?? "[]");
      else {
        // Nothing changed: the collections alone (read after the changes, so their horizons are as fresh).
        const found = (await run(
          "select name, primary_key, purged_through_seq::text as horizon from sync.collection where tenant_id = ? and name = any(array(select jsonb_array_elements_text(?::jsonb)))",
          [tenantId, JSON.stringify(names)],
        )) as { name: string; primary_key: string; horizon: string }[];
        meta = found.map((c) => [c.name, c.primary_key, c.horizon]);
      }
      const rules = this.checkPullable(names, meta.map(([name, primaryKey]) => ({ name, primaryKey })), grants);
      if (clientId) await this.checkClient(em, caller, clientId, checkpoint ?? null);
      page = await this.readLoop(run, tenantId, rules, names, after, limit, opts, { rows, horizon: maxHorizon(meta) });
    }
    const items = page.items.map((i) => ({ collection: i.collection, document: i.document }));
    const next = page.cursor > after ? encodeCheckpoint(caller.principal.tenantId, page.cursor) : (checkpoint ?? null);
    this.hooks.onPulled?.({ caller, clientId: clientId ?? null, collections: names, documents: items.length, durationMs: Date.now() - started });
    if (clientId) this.clients.note(caller.principal.tenantId, clientId, caller.principal.userId, next);
    return { documents: items.map((i) => i.document), items, checkpoint: next, hasMore: page.hasMore };
  }

  /**
   * Reads the caller's visible changes after `after` in seq order: up to `limit` documents, scanning on past changes
   * they cannot see (bounded). Then checks the checkpoint against purged tombstones — after the read, so a purge that
   * commits in between is always noticed.
   */
  async readChanges(em: EntityManager, tenantId: string, rules: ViewRules, names: string[], after: bigint, limit: number): Promise<ChangePage>;
  async readChanges(em: EntityManager, tenantId: string, rules: ViewRules, names: string[], after: bigint, limit: number, opts: { raw: boolean }): Promise<ChangePage<Doc | RawJson>>;
  async readChanges(em: EntityManager, tenantId: string, rules: ViewRules, names: string[], after: bigint, limit: number, opts = { raw: false }): Promise<ChangePage<Doc | RawJson>> {
    return this.readLoop(boundSql(em), tenantId, rules, names, after, limit, opts);
  }

  /**
   * {@link readChanges}, optionally starting with a first batch already read (`batchSize(limit, filtered) + 1` rows
   * after `after`) together with the purge horizon of the same snapshot.
   */
  private async readLoop(
    run: Sql,
    tenantId: string,
    rules: ViewRules,
    names: string[],
    after: bigint,
    limit: number,
    opts: { raw: boolean },
    first?: { rows: ChangedRow[]; horizon: bigint },
  ): Promise<ChangePage<Doc | RawJson>> {
    const filtered = [...rules.values()].some((r) => r.filters !== null);
    const items: ChangePage<Doc | RawJson>["items"] = [];
    let cursor = after;
    let hasMore = false;
    let scanned = 0;
    const batch = batchSize(limit, filtered);
    let pending = first;
    // The horizon seen in the snapshot of the last read, if that read carried it.
    let horizon: bigint | null = null;
    read: for (;;) {
      let rows: ChangedRow[];
      if (pending) {
        ({ rows, horizon } = pending);
        pending = undefined;
      } else {
        horizon = null;
        rows = (await run(
          `select ${CHANGED_ROW_COLUMNS} from sync.record where tenant_id = ? and collection = any(array(select jsonb_array_elements_text(?::jsonb))) and seq > ?::bigint order by seq limit ?`,
          [tenantId, JSON.stringify(names), cursor.toString(), batch + 1],
        )) as ChangedRow[];
      }
      const more = rows.length > batch;
      const slice = more ? rows.slice(0, batch) : rows;
      for (const v of await viewOf(run, tenantId, slice, rules, after, opts)) {
        if (items.length === limit) {
          // Full page and this change does not fit: the checkpoint stays on the last change returned.
          cursor = items[items.length - 1].seq;
          hasMore = true;
          break read;
        }
        items.push(v);
      }
      if (slice.length) cursor = BigInt(slice[slice.length - 1].seq);
      scanned += slice.length;
      if (!more) break;
      if (items.length === limit || scanned >= MAX_SCAN_ROWS) {
        hasMore = true;
        break;
      }
    }
    if (after > 0n) {
      if (horizon === null) {
        const [row] = (await run(
          "select coalesce(max(purged_through_seq), 0) as horizon from sync.collection where tenant_id = ? and name = any(array(select jsonb_array_elements_text(?::jsonb)))",
          [tenantId, JSON.stringify(names)],
        )) as { horizon: string }[];
        horizon = BigInt(row.horizon);
      }
      if (after < horizon) throw RecordErrors.checkpointExpired("deletions older than this checkpoint have been purged");
    }
    return { items, cursor, hasMore };
  }

  // ---- devices -------------------------------------------------------------------------------------------------

  /** Pull bookkeeping of devices, written in batches (never in the pull's path). */
  readonly clients = new ClientNotes();

  /** Refuses a reset device's old checkpoints; a pull from the start clears the reset. */
  private async checkClient(em: EntityManager, caller: Caller, clientId: string, checkpoint: string | null): Promise<void> {
    const tenantId = caller.principal.tenantId;
    const rows = (await em
      .execute("select reset_pending from sync.sync_client where tenant_id = ? and client_id = ?", [tenantId, clientId], "all")) as { reset_pending: boolean }[];
    if (!rows[0]?.reset_pending) return;
    if (checkpoint) throw RecordErrors.checkpointExpired("this device was reset: pull again from the start (checkpoint null)");
    await em.execute("update sync.sync_client set reset_pending = false where tenant_id = ? and client_id = ?", [tenantId, clientId], "run");
  }

  /** Writes the buffered device notes (called on a timer and at shutdown). */
  async flushClients(): Promise<void> {
    const notes = this.clients.drain();
    if (!notes.length) return;
    try {
      await this.orm.em.execute(
        `insert into sync.sync_client (tenant_id, client_id, user_id, last_checkpoint, last_seen_at, last_pull_at, reset_pending)
         select n.tenant_id, n.client_id, n.user_id, n.checkpoint, n.at, n.at, false
           from jsonb_to_recordset(?::jsonb) as n(tenant_id uuid, client_id text, user_id uuid, checkpoint text, at timestamptz)
         on conflict (tenant_id, client_id) do update set user_id = excluded.user_id,
           last_checkpoint = coalesce(excluded.last_checkpoint, sync.sync_client.last_checkpoint),
           last_seen_at = greatest(sync.sync_client.last_seen_at, excluded.last_seen_at), last_pull_at = excluded.last_pull_at`,
        [JSON.stringify(notes)],
        "run",
      );
    } catch (err) {
      this.logger.warn({ err, notes: notes.length }, "device notes not written");
    }
  }

  // ---- tombstones ----------------------------------------------------------------------------------------------

  /**
   * Deletes tombstones older than their collection's retention (with their history), in batches, and raises the
   * collection's purge horizon: checkpoints before it get CHECKPOINT_EXPIRED. Returns how many were purged.
   */
  async purgeTombstones(now = new Date()): Promise<number> {
    const em = forkUnscoped(this.orm);
    const collections = (await em.execute("select tenant_id, name, tombstone_retention_days from sync.collection", [], "all")) as {
      tenant_id: string;
      name: string;
      tombstone_retention_days: number;
    }[];
    let purged = 0;
    for (const c of collections) {
      const cutoff = new Date(now.getTime() - c.tombstone_retention_days * 86_400_000);
      for (;;) {
        const n = await em.transactional(async (tx) => {
          const run = sqlIn(tx);
          const gone = (await run(
            `delete from sync.record where ctid in (select ctid from sync.record where tenant_id = ? and collection = ? and deleted and updated_at < ? limit 5000)
             returning id, seq`,
            [c.tenant_id, c.name, cutoff],
          )) as { id: string; seq: string }[];
          if (!gone.length) return 0;
          await run("delete from sync.record_history where tenant_id = ? and collection = ? and record_id = any(array(select jsonb_array_elements_text(?::jsonb)))", [
            c.tenant_id,
            c.name,
            JSON.stringify(gone.map((g) => g.id)),
          ]);
          const max = gone.reduce((m, g) => (BigInt(g.seq) > m ? BigInt(g.seq) : m), 0n);
          await run("update sync.collection set purged_through_seq = greatest(purged_through_seq, ?::bigint) where tenant_id = ? and name = ?", [max.toString(), c.tenant_id, c.name]);
          return gone.length;
        });
        purged += n;
        if (n < 5000) break;
      }
    }
    if (purged) this.logger.info({ purged }, "tombstones purged");
    return purged;
  }
}

/** Checks a pull's arguments (before anything is read): limit, collection names, client id, checkpoint. */
function pullArguments(caller: Caller, collections: string[], checkpoint: string | null | undefined, limit: number, clientId: string | null | undefined): { names: string[]; after: bigint } {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PULL_LIMIT) throw RecordErrors.badLimit(MAX_PULL_LIMIT);
  const names = [...new Set(collections)];
  if (!names.length || names.length > MAX_PULL_COLLECTIONS) throw RecordErrors.badCollections(MAX_PULL_COLLECTIONS);
  const bad = names.find((n) => !NAME.test(n));
  if (bad) throw RecordErrors.unknownCollection(bad);
  if (clientId != null && !validKey(clientId)) throw RecordErrors.badClientId();
  return { names, after: checkpoint ? decodeCheckpoint(checkpoint, caller.principal.tenantId) : 0n };
}

/** The highest purge horizon among collection rows `[name, primaryKey, horizon]`. */
const maxHorizon = (meta: [string, string, string][]) => meta.reduce((max, [, , h]) => (BigInt(h) > max ? BigInt(h) : max), 0n);

/** The collections' `[name, primaryKey, purge horizon]` as JSON text; parameters tenant, names (JSON array). */
const COLLECTION_META = `(select json_agg(json_build_array(c.name, c.primary_key, c.purged_through_seq::text) order by c.name)::text from sync.collection c
          where c.tenant_id = ? and c.name = any(array(select jsonb_array_elements_text(?::jsonb))))`;

/** What {@link readRawPage} reads: the collections (also as their JSON text), the tenant's seq counter, the page. */
interface RawPage {
  meta: [string, string, string][];
  metaText: string;
  head: string | null;
  horizon: bigint;
  page: { items: { collection: string; document: RawJson }[]; cursor: bigint; hasMore: boolean } | null;
}

/**
 * A page of an unfiltered pull in one statement and one row: the bodies' JSON text joined by newlines (JSON text from
 * PostgreSQL never holds a raw newline), their seqs, deleted flags and collections, and the collections' keys and purge
 * horizons of the same snapshot. The driver then parses a handful of values instead of five per change, and no document
 * is parsed or serialised in JavaScript (`_deleted` is added to the text). The aggregates take the rows in the order
 * the subquery reads them (seq order; sorting again inside each aggregate doubled the statement's time), which the
 * seqs confirm. `page` is null when they don't, or a stored body is not a JSON object: the general path then reads.
 */
async function readRawPage(run: Sql, tenantId: string, names: string[], after: bigint, limit: number): Promise<RawPage> {
  const namesJson = JSON.stringify(names);
  const [row] = (await run(
    `select count(*)::int as n, string_agg(seq::text, ',') as seqs, string_agg(data::text, E'\\n') as documents,
        string_agg(case when deleted then '1' else '0' end, '') as deleted, ${names.length > 1 ? "string_agg(collection, E'\\n')" : "null::text"} as collections,
        ${COLLECTION_META} as meta, (select value::text from sync.tenant_seq where tenant_id = ?) as head
       from (select seq, collection, data, deleted from sync.record
              where tenant_id = ? and collection = any(array(select jsonb_array_elements_text(?::jsonb))) and seq > ?::bigint order by seq limit ?) page`,
    [tenantId, namesJson, tenantId, tenantId, namesJson, after.toString(), limit + 1],
  )) as { n: number; seqs: string | null; documents: string | null; deleted: string | null; collections: string | null; meta: string | null; head: string | null }[];
  const metaText = row.meta ?? "[]";
  const meta = JSON.parse(metaText) as [string, string, string][];
  const horizon = maxHorizon(meta);
  const none = { meta, metaText, head: row.head, horizon, page: null };
  if (!row.n) return { ...none, page: { items: [], cursor: after, hasMore: false } };
  const seqs = (row.seqs ?? "").split(",");
  const bodies = (row.documents ?? "").split("\n");
  const deleted = row.deleted ?? "";
  const collections = names.length > 1 ? (row.collections ?? "").split("\n") : null;
  if (seqs.length !== row.n || bodies.length !== row.n || deleted.length !== row.n || (collections && collections.length !== row.n)) return none;
  for (let i = 1; i < seqs.length; i++) if (!seqAfter(seqs[i], seqs[i - 1])) return none;
  const kept = Math.min(row.n, limit);
  const items: { collection: string; document: RawJson }[] = new Array(kept);
  for (let i = 0; i < kept; i++) {
    const document = rawDocument(bodies[i], deleted.charCodeAt(i) === 49 /* "1" */);
    if (!document) return none;
    items[i] = { collection: collections ? collections[i] : names[0], document };
  }
  return { ...none, page: { items, cursor: BigInt(seqs[kept - 1]), hasMore: row.n > limit } };
}

/**
 * Read-ahead of unfiltered pull pages. A device catching up pulls page after page, each asking for the changes after
 * the last one's cursor; while the gateway and the device handle one page, PostgreSQL (another core) reads the next,
 * so the next pull does not wait for it. A page read ahead is used only when nothing it depends on has changed since
 * its snapshot: the tenant's seq counter (every record write bumps it in its transaction, so a write that committed
 * since would show) and its collections' keys and purge horizons, checked by one small statement. Anything else the
 * pull checks (the caller's grants, their device's reset) is checked for the pull itself as before. Unfiltered pages
 * hold no caller-specific data, so any caller allowed to pull the collections may take one. Bounded: at most
 * MAX_ENTRIES pages, each kept for TTL_MS and taken once.
 */
export class ReadAhead {
  static readonly MAX_ENTRIES = 32;
  static readonly TTL_MS = 10_000;
  private readonly pages = new Map<string, { at: number; page: Promise<RawPage | null> }>();
  /** Pages taken / read ahead / dropped as stale: for tests and the benchmark. */
  readonly stats = { started: 0, taken: 0, stale: 0 };

  private static key(tenantId: string, names: string[], after: bigint, limit: number): string {
    return `${tenantId}\u0000${names.join("\u0000")}\u0000${after}\u0000${limit}`;
  }

  /** Starts reading the page after `after` on its own connection (`run`), unless one is kept already or the cache is full. */
  start(run: Sql, tenantId: string, names: string[], after: bigint, limit: number): void {
    const now = Date.now();
    for (const [k, v] of this.pages) if (now - v.at > ReadAhead.TTL_MS) this.pages.delete(k);
    const key = ReadAhead.key(tenantId, names, after, limit);
    if (this.pages.has(key) || this.pages.size >= ReadAhead.MAX_ENTRIES) return;
    this.stats.started++;
    this.pages.set(key, { at: now, page: readRawPage(run, tenantId, names, after, limit).catch(() => null) });
  }

  /** Resolves when every page being read ahead has been read (for tests). */
  async idle(): Promise<void> {
    await Promise.all([...this.pages.values()].map((p) => p.page));
  }

  /** The page read ahead for exactly this read, when still what a read now would give; else undefined (read it now). */
  async take(run: Sql, tenantId: string, names: string[], after: bigint, limit: number): Promise<RawPage | undefined> {
    const key = ReadAhead.key(tenantId, names, after, limit);
    const kept = this.pages.get(key);
    if (!kept) return undefined;
    this.pages.delete(key);
    if (Date.now() - kept.at > ReadAhead.TTL_MS) return undefined;
    const page = await kept.page;
    if (!page) return undefined;
    const [now] = (await run(
      `select (select value::text from sync.tenant_seq where tenant_id = ?) as head, ${COLLECTION_META} as meta`,
      [tenantId, tenantId, JSON.stringify(names)],
    )) as { head: string | null; meta: string | null }[];
    if (now.head !== page.head || (now.meta ?? "[]") !== page.metaText) {
      this.stats.stale++;
      return undefined;
    }
    this.stats.taken++;
    return page;
  }
}

/** Whether seq `a` is after seq `b` (decimal text of positive integers, no leading zeros). */
const seqAfter = (a: string, b: string) => a.length > b.length || (a.length === b.length && a > b);

/** Changes read per statement: a page, or twice that when row filters may hide some (bounded by MAX_PULL_LIMIT). */
const batchSize = (limit: number, filtered: boolean) => (filtered ? Math.min(MAX_PULL_LIMIT, limit * 2) : limit);

/** Per collection: the caller's pull rules; FORBIDDEN for any they cannot pull. */
export function rulesFor(collections: Pick<Collection, "name" | "primaryKey">[], grants: CallerGrants): ViewRules {
  const rules: ViewRules = new Map();
  for (const c of collections) {
    const access = grants.on(c.name);
    if (!access.canPull) throw RecordErrors.cannotPull(c.name);
    rules.set(c.name, { filters: access.pullFilters, primaryKey: c.primaryKey });
  }
  return rules;
}

/** Latest pull position per device, kept in memory until the next flush. */
class ClientNotes {
  private notes = new Map<string, { tenant_id: string; client_id: string; user_id: string; checkpoint: string | null; at: string }>();

  note(tenantId: string, clientId: string, userId: string, checkpoint: string | null): void {
    if (this.notes.size > 50_000) return; // a flood of device ids must not grow memory without bound
    this.notes.set(`${tenantId}\u0000${clientId}`, { tenant_id: tenantId, client_id: clientId, user_id: userId, checkpoint, at: new Date().toISOString() });
  }

  drain() {
    const out = [...this.notes.values()];
    this.notes = new Map();
    return out;
  }
}

/** A push's stored answer (its exactly-once receipt); parameters tenant, client, mutation, user, result (JSON), fingerprint. */
const RECEIPT_INSERT =
  "with receipt as (insert into sync.push_receipt (tenant_id, client_id, mutation_id, user_id, result, fingerprint, created_at) values (?, ?, ?, ?, ?::jsonb, ?, now()))";

/**
 * SHA-256 of what a push asks (collection, strategy, options, each row's assumed and new state as JSON text; the valid
 * rows' texts are the ones validation wrote already). A retry sends the same request, so the same fingerprint.
 */
function pushFingerprint(input: PushChangesInput, valid: { index: number; assumedText: string; text: string; deleted: boolean }[]): string {
  const hash = createHash("sha256").update(JSON.stringify(input.rejectedAsConflicts ? [input.collection, input.strategy ?? null, true] : [input.collection, input.strategy ?? null]));
  const byIndex = new Map(valid.map((v) => [v.index, v]));
  input.rows.forEach((row, index) => {
    const v = byIndex.get(index);
    // JSON text holds no raw newline or tab: the separators keep rows and states apart.
    if (v) hash.update(`\n${v.assumedText}\t${v.text}\t${v.deleted}`);
    else {
      let text: string;
      try {
        text = JSON.stringify(row);
      } catch {
        text = "unserialisable"; // a rejected row nested too deep for JSON.stringify
      }
      hash.update(`\n${text}`);
    }
  });
  return hash.digest("hex");
}

/** Records a device's push in its row (inside the push's transaction), with the push's receipt if it has one. */
async function touchClient(
  run: Sql,
  tenantId: string,
  clientId: string,
  userId: string,
  push: { mutationId: string | null },
  receipt: { clientId: string; mutationId: string; result: string; fingerprint: string } | null = null,
): Promise<void> {
  await run(
    `${receipt ? `${RECEIPT_INSERT} ` : ""}insert into sync.sync_client (tenant_id, client_id, user_id, last_mutation_id, last_seen_at, last_push_at, reset_pending) values (?, ?, ?, ?, now(), now(), false)
     on conflict (tenant_id, client_id) do update set user_id = excluded.user_id, last_mutation_id = coalesce(excluded.last_mutation_id, sync.sync_client.last_mutation_id),
       last_seen_at = now(), last_push_at = now()`,
    [...(receipt ? [tenantId, receipt.clientId, receipt.mutationId, userId, receipt.result, receipt.fingerprint] : []), tenantId, clientId, userId, push.mutationId],
  );
}

/**
 * Each collection's schema compiles in its own Ajv instance: no `$id` can collide with, or `$ref` reach, another
 * tenant's schema.
 */
function compileSchema(schema: Record<string, unknown>, validateSchema = true): ValidateFunction {
  // validateSchema: false for schemas already checked when their collection was created (skips the meta-schema).
  return addFormats(new Ajv2020({ allErrors: false, strict: false, validateSchema })).compile(schema);
}

/** Keywords refused in tenant schemas: user-supplied regular expressions (ReDoS) and cross-schema references. */
const UNSAFE_KEYWORDS = new Set(["pattern", "patternProperties", "$id", "$ref", "$dynamicRef", "$anchor", "$dynamicAnchor"]);
export function unsafeSchemaKeyword(value: unknown, depth = 0): string | null {
  if (depth > 64) return "nesting deeper than 64";
  if (Array.isArray(value)) {
    for (const v of value) {
      const bad = unsafeSchemaKeyword(v, depth + 1);
      if (bad) return bad;
    }
    return null;
  }
  if (value && typeof value === "object") {
    for (const [key, v] of Object.entries(value)) {
      if (UNSAFE_KEYWORDS.has(key)) return key;
      if (key === "format" && v === "regex") return "format: regex";
      const bad = unsafeSchemaKeyword(v, depth + 1);
      if (bad) return bad;
    }
  }
  return null;
}

/** Whether a JSON value nests deeper than `max` (the value itself is level 1), measured without recursion. */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  if (value === null || typeof value !== "object") return false;
  const stack: [object, number][] = [[value, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (depth > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (child !== null && typeof child === "object") stack.push([child, depth + 1]);
  }
  return false;
}

/** `\u0000` as JSON.stringify writes U+0000, not preceded by an escaping backslash (`\\u0000` is a backslash and text). */
const NUL_IN_JSON = /(?<!\\)(?:\\\\)*\\u0000/;

/**
 * Why PostgreSQL could not store a JSON value (its JSON.stringify text `text`): a NUL character or an unpaired UTF-16
 * surrogate in a string or key; else null. JSON.stringify escapes both, so a text without such escapes needs no walk.
 */
function unstorableText(text: string, value: unknown): string | null {
  if (text.includes("\\u0000") && NUL_IN_JSON.test(text)) return "holds the NUL character (U+0000), which cannot be stored";
  if (text.includes("\\ud") && !wellFormed(value)) return "holds a string with an unpaired UTF-16 surrogate (not valid JSON text for storage)";
  return null;
}

/** Whether every string (and key) in a JSON value is well-formed UTF-16: PostgreSQL refuses lone surrogates. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
function wellFormed(value: unknown, depth = 0): boolean {
  if (typeof value === "string") return !LONE_SURROGATE.test(value);
  if (depth > 100 || value === null || typeof value !== "object") return true;
  if (Array.isArray(value)) return value.every((v) => wellFormed(v, depth + 1));
  for (const [key, v] of Object.entries(value)) if (LONE_SURROGATE.test(key) || !wellFormed(v, depth + 1)) return false;
  return true;
}

export function validKey(v: unknown): v is string {
  return typeof v === "string" && v.length >= 1 && v.length <= 200;
}

/** RxDB's assumed-state check: the client saw exactly what the server has (absent = null). */
function sameDoc(assumed: Doc | null, current: Doc | null): boolean {
  if (!assumed || !current) return !assumed && !current;
  return equal({ _deleted: false, ...assumed }, { _deleted: false, ...current });
}

/**
 * Field-level three-way merge of top-level fields: a field the client changed (vs the base) wins unless the server
 * changed it too, differently; then the row is a conflict (null).
 */
export function mergeThreeWay(base: Doc, mine: Doc, theirs: Doc): Doc | null {
  const merged: Doc = {};
  for (const key of new Set([...Object.keys(base), ...Object.keys(mine), ...Object.keys(theirs)])) {
    const b = base[key];
    const m = mine[key];
    const t = theirs[key];
    if (equal(m, b)) {
      if (t !== undefined) merged[key] = t;
    } else if (equal(t, b) || equal(m, t)) {
      if (m !== undefined) merged[key] = m;
    } else {
      return null;
    }
  }
  return merged;
}

/** Opaque to clients: the tenant's sequence position, bound to the tenant so another tenant's checkpoint is refused. */
export function encodeCheckpoint(tenantId: string, seq: bigint): string {
  return Buffer.from(JSON.stringify([tenantId.slice(0, 8), seq.toString()])).toString("base64url");
}

export function decodeCheckpoint(checkpoint: string, tenantId: string): bigint {
  try {
    const [owner, seq] = JSON.parse(Buffer.from(checkpoint, "base64url").toString("utf8")) as [string, string];
    if (owner !== tenantId.slice(0, 8) || !/^\d{1,18}$/.test(seq)) throw new Error();
    return BigInt(seq);
  } catch {
    throw RecordErrors.badCheckpoint();
  }
}

