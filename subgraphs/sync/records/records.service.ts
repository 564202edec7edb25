import { randomUUID } from "node:crypto";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsImport from "ajv-formats";
import equal from "fast-deep-equal";
import type { Principal } from "../../../kernel/auth.js";
import { flushOrConflict } from "../../../kernel/db.js";
import type { PubSub } from "../../../kernel/pubsub/pubsub.js";
import { SyncRun, SyncRunKind, SyncRunStatus } from "../sync-log/sync-run.entity.js";
import { Collection } from "./collection.entity.js";
import { RecordErrors } from "./records.errors.js";
import { ConflictStrategy, type CreateCollectionInput, type PullResult, type PushChangesInput, type PushResult, type RejectedRow } from "./records.types.js";

export const MAX_PUSH_ROWS = 500;
export const MAX_PULL_LIMIT = 1000;
export const MAX_PULL_COLLECTIONS = 50;
export const MAX_DOCUMENT_BYTES = 64 * 1024;
const NAME = /^[A-Za-z0-9_.-]{1,100}$/;
/** Channel that wakes a tenant's live streams when its records change (each stream then reads from its own cursor). */
export const recordsChannel = (tenantId: string) => `records.changed:${tenantId}`;
/** A stream re-reads at least this often even without a wake-up, so a dropped pub/sub message only delays a change. */
export const STREAM_POLL_MS = 5_000;

const addFormats = addFormatsImport as unknown as (ajv: Ajv2020) => Ajv2020;

type Doc = Record<string, unknown>;
interface Current {
  id: string;
  data: Doc;
  deleted: boolean;
  version: number;
}

/** A document as clients see it: the stored body plus `_deleted`. */
const asDocument = (c: Pick<Current, "data" | "deleted">): Doc => ({ ...c.data, _deleted: c.deleted });

/**
 * Collections, push and pull. Every statement names the caller's tenant explicitly (raw SQL is not covered by the
 * ORM's tenant filter); the tenant always comes from the verified principal.
 */
export class RecordsService {
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(
    readonly orm: MikroORM,
    readonly pubsub: PubSub,
  ) {}

  async createCollection(em: EntityManager, principal: Principal, input: CreateCollectionInput): Promise<Collection> {
    if (!NAME.test(input.name)) throw RecordErrors.badCollectionName();
    const retention = input.tombstoneRetentionDays ?? 30;
    if (!Number.isInteger(retention) || retention < 1 || retention > 3650) throw RecordErrors.badRetention();
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
      tenantId: principal.tenantId,
      name: input.name,
      jsonSchema: input.jsonSchema ?? null,
      tombstoneRetentionDays: retention,
    });
    await flushOrConflict(em, RecordErrors.collectionExists);
    return collection;
  }

  private validatorFor(collection: Collection): ValidateFunction | null {
    if (!collection.jsonSchema) return null;
    let v = this.validators.get(collection.id);
    if (!v) this.validators.set(collection.id, (v = compileSchema(collection.jsonSchema)));
    return v;
  }

  /**
   * Applies a batch of compare-and-set rows in ONE transaction: valid rows are applied or reported as conflicts,
   * invalid ones rejected with a code; the push's SyncRun commits with it. With clientId + mutationId the stored
   * answer is returned for a retry instead of applying twice.
   */
  async push(em: EntityManager, principal: Principal, input: PushChangesInput): Promise<PushResult> {
    if (input.rows.length > MAX_PUSH_ROWS) throw RecordErrors.tooManyRows(MAX_PUSH_ROWS);
    const idempotent = input.clientId != null || input.mutationId != null;
    if (idempotent && !(validKey(input.clientId) && validKey(input.mutationId))) throw RecordErrors.badIdempotency();
    const collection = NAME.test(input.collection) ? await em.findOne(Collection, { name: input.collection }) : null;
    if (!collection) throw RecordErrors.unknownCollection(input.collection);
    const strategy = input.strategy ?? ConflictStrategy.SERVER_WINS;

    // Validation first: one bad row never fails or blocks the others.
    const rejected: RejectedRow[] = [];
    const valid: { index: number; id: string; assumed: Doc | null; next: Doc; deleted: boolean }[] = [];
    const seen = new Set<string>();
    const validate = this.validatorFor(collection);
    input.rows.forEach((row, index) => {
      const doc = row.newDocumentState;
      const id = typeof doc?.id === "string" ? doc.id : null;
      const reject = (code: string, message: string) => rejected.push({ index, id, code, message });
      if (!id || id.length > 200) return reject("BAD_USER_INPUT", "document needs a string `id` of 1–200 characters");
      if (seen.has(id)) return reject("BAD_USER_INPUT", "the same id appears twice in one push");
      const { _deleted, ...body } = doc;
      const deleted = _deleted === true;
      if (_deleted !== undefined && typeof _deleted !== "boolean") return reject("BAD_USER_INPUT", "`_deleted` must be a boolean");
      if (Buffer.byteLength(JSON.stringify(body)) > MAX_DOCUMENT_BYTES) return reject("BAD_USER_INPUT", `document larger than ${MAX_DOCUMENT_BYTES} bytes`);
      if (!deleted && validate && !validate(body)) {
        const e = validate.errors?.[0];
        return reject("SCHEMA_VIOLATION", `${e?.instancePath || "/"} ${e?.message ?? "does not match the collection's schema"}`);
      }
      seen.add(id);
      valid.push({ index, id, assumed: row.assumedMasterState ?? null, next: body, deleted });
    });

    const tenantId = principal.tenantId;
    let replayed: PushResult | null = null;
    const result = await em.transactional(async (tx) => {
      const conn = tx.getConnection();
      const ctx = tx.getTransactionContext();
      const run = (sql: string, params: unknown[] = []) => conn.execute(sql, params, "all", ctx) as Promise<any[]>;
      if (idempotent) {
        await run("select pg_advisory_xact_lock(hashtext(?))", [`push:${tenantId}:${input.clientId}:${input.mutationId}`]);
        const stored = await run("select result from sync.push_receipt where tenant_id = ? and client_id = ? and mutation_id = ?", [tenantId, input.clientId, input.mutationId]);
        if (stored.length) {
          replayed = { ...(stored[0].result as PushResult), replayed: true };
          return replayed;
        }
      }
      // The tenant's sequence row is locked first, before any record: every writer takes locks in the same order
      // (no deadlock between a writer holding a record and one holding the sequence), and commit order = seq order.
      await run("insert into sync.tenant_seq (tenant_id, value) values (?, 0) on conflict (tenant_id) do update set value = sync.tenant_seq.value", [tenantId]);
      const ids = valid.map((v) => v.id);
      const rows = ids.length
        ? await run(`select id, data, deleted, version from sync.record where tenant_id = ? and collection = ? and id in (${ids.map(() => "?").join(",")}) for update`, [tenantId, collection.name, ...ids])
        : [];
      const current = new Map<string, Current>(rows.map((r) => [r.id as string, { id: r.id, data: parseJson(r.data), deleted: r.deleted, version: r.version }]));

      const conflicts: Doc[] = [];
      const writes: { id: string; data: Doc; deleted: boolean; created: boolean }[] = [];
      for (const v of valid) {
        const cur = current.get(v.id);
        const curDoc = cur ? asDocument(cur) : null;
        const nextDoc = { ...v.next, _deleted: v.deleted };
        if (sameDoc(v.assumed, curDoc) || !curDoc || strategy === ConflictStrategy.CLIENT_WINS) {
          writes.push({ id: v.id, data: v.next, deleted: v.deleted, created: !cur });
          continue;
        }
        if (strategy === ConflictStrategy.MERGE) {
          const merged = mergeThreeWay(v.assumed ?? {}, nextDoc, curDoc);
          if (merged) {
            const { _deleted, ...body } = merged;
            const mergedBody = { ...body, id: v.id };
            if (_deleted !== true && validate && !validate(mergedBody)) {
              rejected.push({ index: v.index, id: v.id, code: "SCHEMA_VIOLATION", message: "the merged document does not match the collection's schema" });
            } else {
              writes.push({ id: v.id, data: mergedBody, deleted: _deleted === true, created: false });
            }
            continue;
          }
        }
        conflicts.push(curDoc);
      }

      if (writes.length) {
        const seqRows = await run(
          "insert into sync.tenant_seq (tenant_id, value) values (?, ?) on conflict (tenant_id) do update set value = sync.tenant_seq.value + excluded.value returning value",
          [tenantId, writes.length],
        );
        const end = BigInt(seqRows[0].value);
        const first = end - BigInt(writes.length) + 1n;
        const now = new Date();
        const params: unknown[] = [];
        const values = writes.map((w, i) => {
          params.push(tenantId, collection.name, w.id, JSON.stringify(w.data), w.deleted, (first + BigInt(i)).toString(), now, input.clientId ?? null, principal.userId);
          return "(?, ?, ?, ?::jsonb, ?, 1, ?::bigint, ?, ?, ?)";
        });
        await run(
          `insert into sync.record (tenant_id, collection, id, data, deleted, version, seq, updated_at, origin_client_id, origin_user_id) values ${values.join(",")}
           on conflict (tenant_id, collection, id) do update set data = excluded.data, deleted = excluded.deleted, version = sync.record.version + 1,
           seq = excluded.seq, updated_at = excluded.updated_at, origin_client_id = excluded.origin_client_id, origin_user_id = excluded.origin_user_id`,
          params,
        );
      }
      const answer: PushResult = { conflicts, rejected: [...rejected].sort((a, b) => a.index - b.index), applied: writes.length, replayed: false };
      // The push's entry in the sync log commits with the push.
      tx.create(SyncRun, {
        id: randomUUID(),
        tenantId,
        kind: SyncRunKind.PUSH,
        status: rejected.length || conflicts.length ? SyncRunStatus.PARTIAL : SyncRunStatus.SUCCEEDED,
        triggeredById: principal.userId,
        processed: input.rows.length,
        created: writes.filter((w) => w.created && !w.deleted).length,
        updated: writes.filter((w) => !w.created && !w.deleted).length,
        deleted: writes.filter((w) => w.deleted).length,
        conflicts: conflicts.length,
        failed: rejected.length,
        startedAt: new Date(),
        finishedAt: new Date(),
      });
      if (idempotent) {
        await run("insert into sync.push_receipt (tenant_id, client_id, mutation_id, result, created_at) values (?, ?, ?, ?::jsonb, ?)", [
          tenantId,
          input.clientId,
          input.mutationId,
          JSON.stringify(answer),
          new Date(),
        ]);
      }
      return answer;
    });
    if (!replayed && result.applied > 0) await this.pubsub.publish(recordsChannel(tenantId), { tenantId });
    return result;
  }

  /** Changes after a checkpoint, in commit order, at most `limit`; full pages while more exist. */
  async pull(em: EntityManager, principal: Principal, collections: string[], checkpoint: string | null | undefined, limit: number): Promise<PullResult & { items: { collection: string; document: Doc }[] }> {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PULL_LIMIT) throw RecordErrors.badLimit(MAX_PULL_LIMIT);
    const names = [...new Set(collections)];
    if (!names.length || names.length > MAX_PULL_COLLECTIONS) throw RecordErrors.badCollections(MAX_PULL_COLLECTIONS);
    const bad = names.find((n) => !NAME.test(n));
    if (bad) throw RecordErrors.unknownCollection(bad);
    const known = await em.find(Collection, { name: { $in: names } });
    const missing = names.find((n) => !known.some((c) => c.name === n));
    if (missing) throw RecordErrors.unknownCollection(missing);
    const after = checkpoint ? decodeCheckpoint(checkpoint, principal.tenantId) : 0n;
    const rows = (await em
      .getConnection()
      .execute(
        `select collection, id, data, deleted, seq from sync.record where tenant_id = ? and collection in (${names.map(() => "?").join(",")}) and seq > ?::bigint order by seq limit ?`,
        [principal.tenantId, ...names, after.toString(), limit + 1],
        "all",
      )) as { collection: string; id: string; data: unknown; deleted: boolean; seq: string }[];
    const page = rows.slice(0, limit);
    const items = page.map((r) => ({ collection: r.collection, document: asDocument({ data: parseJson(r.data), deleted: r.deleted }) }));
    const last = page.at(-1);
    return {
      documents: items.map((i) => i.document),
      items,
      checkpoint: last ? encodeCheckpoint(principal.tenantId, BigInt(last.seq)) : (checkpoint ?? null),
      hasMore: rows.length > limit,
    };
  }
}

/**
 * A live stream of change batches after a checkpoint. Pub/sub only wakes it; every batch is read from the database
 * after this stream's own cursor (plus a periodic re-read), so dropped messages or reconnects never lose a change.
 */
export async function watchRecords(
  service: RecordsService,
  pubsub: PubSub,
  em: () => EntityManager,
  principal: Principal,
  collections: string[],
  checkpoint: string | null,
): Promise<AsyncGenerator<{ documents: Doc[]; checkpoint: string }>> {
  // Validates the arguments (and the checkpoint's tenant) before anything is subscribed.
  await service.pull(em(), principal, collections, checkpoint, 1);
  const wakeups = await pubsub.subscribe<{ tenantId: string }>(recordsChannel(principal.tenantId));
  const signal: { wake: (() => void) | null; pending: boolean } = { wake: null, pending: true }; // read the backlog at start
  void (async () => {
    for await (const _ of wakeups) {
      signal.pending = true;
      signal.wake?.();
    }
  })();
  return (async function* () {
    let cursor = checkpoint;
    try {
      for (;;) {
        if (!signal.pending) {
          await new Promise<void>((resolve) => {
            signal.wake = resolve;
            setTimeout(resolve, STREAM_POLL_MS).unref();
          });
          signal.wake = null;
        }
        signal.pending = false;
        for (;;) {
          const page = await service.pull(em(), principal, collections, cursor, 500);
          if (page.documents.length) {
            cursor = page.checkpoint;
            yield { documents: page.documents, checkpoint: cursor! };
          }
          if (!page.hasMore) break;
        }
      }
    } finally {
      await wakeups.return?.();
    }
  })();
}

/**
 * Each collection's schema compiles in its own Ajv instance: no `$id` can collide with, or `$ref` reach, another
 * tenant's schema.
 */
function compileSchema(schema: Record<string, unknown>): ValidateFunction {
  return addFormats(new Ajv2020({ allErrors: false, strict: false })).compile(schema);
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

function validKey(v: unknown): v is string {
  return typeof v === "string" && v.length >= 1 && v.length <= 200;
}

function parseJson(v: unknown): Doc {
  return (typeof v === "string" ? JSON.parse(v) : v) as Doc;
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
