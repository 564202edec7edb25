// Records written by connector runs (issue 5): the remote system is the source of the fields it maps, so an inbound
// record is merged over the stored document (fields the mapping does not carry are kept), written as a new version only
// when something changed (re-reading a page after a crash, or an overlap window, writes nothing twice), validated
// against the collection's JSON Schema (a failing record is reported, the others are written), and deleted when the
// remote lost it. Everything goes through the one write path (record-writer.ts): sequence lock, seq order, history
// with the run as origin, and a wake-up for live streams.
import equal from "fast-deep-equal";
import type { MikroORM } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import type { PubSub } from "../../../kernel/pubsub/pubsub.js";
import { publishWakeUp } from "../../../kernel/pubsub/wake-up.js";
import { forkForTenant } from "../../../kernel/tenancy.js";
import { applyWrites, insertNew, lockTenantSequence, parseJson, sqlIn, type Doc, type RecordWrite, type Sql, type StoredRecord, type WriteOrigin } from "../records/record-writer.js";
import { MAX_DOCUMENT_BYTES, recordsChannel, validKey, type RecordsService } from "../records/records.service.js";

/** Records per ingest call (a connector page). */
export const MAX_INGEST_RECORDS = 5_000;

export interface IngestInput {
  tenantId: string;
  runId: string;
  collection: string;
  /**
   * Documents as the mapping produced them (`id` is the record id). `isNew`: the caller has never linked this record
   * (first sight of a remote record): it is inserted straight away, without reading first; if it exists after all it
   * is merged like the others.
   */
  upserts: { id: string; data: Doc; isNew?: boolean }[];
  /** Record ids the remote no longer has (hard-deleted or archived there). */
  deletes: string[];
  /** Report what would change; write nothing. */
  dryRun?: boolean;
  /** Write a new version even when the merged document equals the stored one (clients receive it again). */
  force?: boolean;
}

export interface IngestResult {
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
  failed: { id: string; code: string; message: string }[];
}

export class IngestError extends Error {
  constructor(
    readonly code: "NOT_FOUND" | "BAD_USER_INPUT",
    message: string,
  ) {
    super(message);
  }
}

export async function ingestConnectorRecords(orm: MikroORM, records: RecordsService, pubsub: PubSub, logger: Logger, input: IngestInput): Promise<IngestResult> {
  if (input.upserts.length + input.deletes.length > MAX_INGEST_RECORDS) throw new IngestError("BAD_USER_INPUT", `at most ${MAX_INGEST_RECORDS} records per call`);
  const em = forkForTenant(orm, input.tenantId);
  const collection = await records.collection(em, input.collection).catch(() => {
    throw new IngestError("NOT_FOUND", `collection ${input.collection} not found`);
  });
  const pk = collection.primaryKey;
  const result: IngestResult = { created: 0, updated: 0, deleted: 0, unchanged: 0, failed: [] };
  const upserts = new Map<string, Doc>();
  const assumedNew = new Set<string>();
  for (const u of input.upserts) {
    if (!validKey(u.id)) {
      result.failed.push({ id: String(u.id).slice(0, 200), code: "BAD_ID", message: "record ids are 1–200 characters" });
      continue;
    }
    upserts.set(u.id, u.data);
    if (u.isNew) assumedNew.add(u.id);
  }
  const deletes = input.deletes.filter((id) => validKey(id) && !upserts.has(id));
  const validate = records.validatorFor(collection);
  const origin: WriteOrigin = { actorType: "CONNECTOR", actorId: null, clientId: null, runId: input.runId };
  /** A document's problem (size, schema), or null. */
  const problem = (id: string, doc: Doc, text = JSON.stringify(doc)): IngestResult["failed"][number] | null => {
    if (Buffer.byteLength(text) > MAX_DOCUMENT_BYTES) return { id, code: "DOCUMENT_TOO_LARGE", message: `the document is over ${MAX_DOCUMENT_BYTES} bytes` };
    if (validate && !validate(doc)) {
      const detail = (validate.errors ?? []).slice(0, 3).map((e) => `${e.instancePath || "/"} ${e.message}`).join("; ");
      return { id, code: "SCHEMA_VIOLATION", message: `the record does not match the collection's schema: ${detail}`.slice(0, 2000) };
    }
    return null;
  };

  let wrote = false;
  await em.transactional(async (tx) => {
    const run = sqlIn(tx);
    await lockTenantSequence(run, input.tenantId);
    // First sight of remote records (the bulk of a first full run): one insert with their history, no read.
    let inserted = new Set<string>();
    if (assumedNew.size && !input.dryRun) {
      const fresh: { id: string; data: Doc; text: string }[] = [];
      for (const id of assumedNew) {
        const doc = { ...upserts.get(id)!, [pk]: id };
        const text = JSON.stringify(doc); // measured, then sent as is (not serialised again)
        const bad = problem(id, doc, text);
        if (bad) {
          result.failed.push(bad);
          upserts.delete(id);
        } else fresh.push({ id, data: doc, text });
      }
      inserted = await insertNew(run, input.tenantId, collection.name, fresh, origin);
      result.created += inserted.size;
      if (inserted.size) wrote = true;
    }
    const ids = [...upserts.keys()].filter((id) => !inserted.has(id)).concat(deletes);
    const current = await lockExisting(run, input.tenantId, collection.name, ids);
    const writes: RecordWrite[] = [];
    for (const [id, data] of upserts) {
      if (inserted.has(id)) continue;
      const cur = current.get(id) ?? null;
      const merged: Doc = { ...(cur && !cur.deleted ? cur.data : {}), ...data, [pk]: id };
      if (cur && !cur.deleted && !input.force && equal(cur.data, merged)) {
        // Written by this very run before it was interrupted (the page is read again after a crash): counted as what
        // it was then, so a resumed run's counts are those of an uninterrupted one.
        if (cur.originRunId === input.runId) {
          if (cur.version === 1) result.created++;
          else result.updated++;
        } else result.unchanged++;
        continue;
      }
      const bad = problem(id, merged);
      if (bad) {
        result.failed.push(bad);
        continue;
      }
      writes.push({ id, data: merged, deleted: false, prev: cur });
      if (!cur || cur.deleted) result.created++;
      else result.updated++;
    }
    for (const id of deletes) {
      const cur = current.get(id);
      if (!cur || cur.deleted) {
        if (cur?.deleted && cur.originRunId === input.runId) result.deleted++; // deleted by this run before a crash
        else result.unchanged++;
        continue;
      }
      writes.push({ id, data: cur.data, deleted: true, prev: cur });
      result.deleted++;
    }
    if (input.dryRun || !writes.length) return;
    await applyWrites(run, input.tenantId, collection.name, writes, origin);
    wrote = true;
  });
  if (wrote) publishWakeUp(pubsub, recordsChannel(input.tenantId), { tenantId: input.tenantId }, logger);
  return result;
}

/**
 * The stored records among `ids`, locked (after the sequence lock). A join on the id list keeps the plan an index
 * lookup per id whatever the table's statistics say (`= any(array(...))` was seen to take hundreds of ms while the
 * table grew during a large ingest).
 */
async function lockExisting(run: Sql, tenantId: string, collection: string, ids: string[]): Promise<Map<string, StoredRecord & { originRunId: string | null }>> {
  if (!ids.length) return new Map();
  const rows = await run(
    `select r.id, r.data, r.deleted, r.version, r.origin_run_id from jsonb_array_elements_text(?::jsonb) as k(id)
       join sync.record r on r.tenant_id = ? and r.collection = ? and r.id = k.id for update of r`,
    [JSON.stringify(ids), tenantId, collection],
  );
  return new Map(rows.map((r) => [r.id as string, { id: r.id, data: parseJson(r.data), deleted: r.deleted, version: r.version, originRunId: r.origin_run_id ?? null }]));
}
