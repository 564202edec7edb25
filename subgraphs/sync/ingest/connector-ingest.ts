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
import { forkForTenant } from "../../../kernel/tenancy.js";
import { applyWrites, loadForUpdate, lockTenantSequence, sqlIn, type Doc, type RecordWrite, type WriteOrigin } from "../records/record-writer.js";
import { MAX_DOCUMENT_BYTES, recordsChannel, validKey, type RecordsService } from "../records/records.service.js";

/** Records per ingest call (a connector page). */
export const MAX_INGEST_RECORDS = 5_000;

export interface IngestInput {
  tenantId: string;
  runId: string;
  collection: string;
  /** Documents as the mapping produced them (`id` is the record id). */
  upserts: { id: string; data: Doc }[];
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
  for (const u of input.upserts) {
    if (!validKey(u.id)) {
      result.failed.push({ id: String(u.id).slice(0, 200), code: "BAD_ID", message: "record ids are 1–200 characters" });
      continue;
    }
    upserts.set(u.id, u.data);
  }
  const deletes = input.deletes.filter((id) => validKey(id) && !upserts.has(id));
  const ids = [...upserts.keys(), ...deletes];
  const validate = records.validatorFor(collection);
  const origin: WriteOrigin = { actorType: "CONNECTOR", actorId: null, clientId: null, runId: input.runId };

  let wrote = false;
  await em.transactional(async (tx) => {
    const run = sqlIn(tx);
    await lockTenantSequence(run, input.tenantId);
    const current = await loadForUpdate(run, input.tenantId, collection.name, ids);
    const writes: RecordWrite[] = [];
    for (const [id, data] of upserts) {
      const cur = current.get(id) ?? null;
      const merged: Doc = { ...(cur && !cur.deleted ? cur.data : {}), ...data, [pk]: id };
      if (cur && !cur.deleted && !input.force && equal(cur.data, merged)) {
        result.unchanged++;
        continue;
      }
      if (Buffer.byteLength(JSON.stringify(merged)) > MAX_DOCUMENT_BYTES) {
        result.failed.push({ id, code: "DOCUMENT_TOO_LARGE", message: `the document is over ${MAX_DOCUMENT_BYTES} bytes` });
        continue;
      }
      if (validate && !validate(merged)) {
        const detail = (validate.errors ?? []).slice(0, 3).map((e) => `${e.instancePath || "/"} ${e.message}`).join("; ");
        result.failed.push({ id, code: "SCHEMA_VIOLATION", message: `the record does not match the collection's schema: ${detail}`.slice(0, 2000) });
        continue;
      }
      writes.push({ id, data: merged, deleted: false, prev: cur });
      if (!cur || cur.deleted) result.created++;
      else result.updated++;
    }
    for (const id of deletes) {
      const cur = current.get(id);
      if (!cur || cur.deleted) {
        result.unchanged++;
        continue;
      }
      writes.push({ id, data: cur.data, deleted: true, prev: cur });
      result.deleted++;
    }
    if (input.dryRun || !writes.length) return;
    await applyWrites(run, input.tenantId, collection.name, writes, origin);
    wrote = true;
  });
  if (wrote) await pubsub.publish(recordsChannel(input.tenantId), { tenantId: input.tenantId }).catch((err: unknown) => logger.warn({ err }, "records wake-up not published"));
  return result;
}
