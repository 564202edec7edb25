// One connector run, as a job worker executes it. The run reads each model page by page from the remote (through its
// ConnectorSource), maps records to documents, writes them through the sync service (which skips what did not
// change), and after every stored page saves where it is — so a crashed or retried job resumes from its cursor and a
// page read twice writes nothing twice. Progress (counts, current model, rate) is reported to the sync log after each
// page; `cancelSync` is honoured at the next page. Full runs end with a reconciliation: linked records the run did
// not see (hard-deleted remotely) and archived records are deleted from the collection.
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import { forkForTenant } from "../../../kernel/tenancy.js";
import { Connector, ConnectorHealth } from "../connector/connector.entity.js";
import { ConnectorMapping, SyncDirection } from "../mapping/mapping.entity.js";
import { isRemoteError, RemoteError, RemoteErrorKind } from "../remote/remote.errors.js";
import type { ConnectorSource, RemoteRecord, SourceCursor, SourcePage } from "../remote/source.js";
import { ConnectorModelLock, ConnectorRun, RemoteLink, type ModelProgress } from "./connector-run.entity.js";
import { FieldValueError, mapRecord, remoteFieldsOf, remoteStateOf, toRemoteFields } from "./field-map.js";
import { SyncApiError, type RunError, type SyncApi } from "./sync-api.js";

/** Builds the source of a connector (decrypting its credentials); throws a RemoteError AUTH when none are set. */
export type SourceFactory = (connector: Connector) => Promise<ConnectorSource>;

export interface JobDeps {
  orm: MikroORM;
  sync: SyncApi;
  sources: SourceFactory;
  logger: Logger;
  /** After a run ended (committed): follow-up runs asked for meanwhile (webhooks). */
  afterFinish?: (run: ConnectorRun) => Promise<void>;
}

/** The note a resumed run gets in its sync-log errors when its previous worker stopped heartbeating (crashed, killed). */
export const WORKER_LOST = "WORKER_LOST";

/** Thrown to make the queue retry the job later (a transient remote or sync failure). */
export class RetryLater extends Error {}

const RECONCILE_CHUNK = 1_000;
/** Records a run reads ahead of its writes (at least two pages). */
const READ_AHEAD_RECORDS = 10_000;
/**
 * Pages smaller than this that were read while the previous write was under way are written together, up to this
 * many records (larger pages are written one by one: measured at Odoo 18's pace, 1,000-record writes kept the remote
 * busier than merged writes of 2,000 or 5,000).
 */
const WRITE_BATCH_RECORDS = 1_000;
/** How often a run's counts reach the sync log (and its live subscribers) while pages are written. */
const PROGRESS_EVERY_MS = 250;

/** Runs (or resumes) the run `runId`. `lastAttempt`: transient failures are final now (no retry left). */
export async function runConnectorJob(deps: JobDeps, tenantId: string, runId: string, opts: { lastAttempt: boolean; signal?: AbortSignal; lostWorker?: boolean }): Promise<void> {
  const em = forkForTenant(deps.orm, tenantId);
  const run = await em.findOne(ConnectorRun, { id: runId });
  if (!run) return;
  // Ended here but maybe not in the sync log (a crash between the two): say it again (the log ignores a repeat).
  if (isFinal(run.status)) return reportFinal(deps, run);
  if (run.cancelRequested) return finish(deps, em, run, "CANCELLED", null);
  run.attempts++;
  const first = run.status === "QUEUED";
  run.status = "RUNNING";
  await em.flush();
  if (first) await reportProgress(deps, run, { status: "RUNNING" });
  // A takeover says so in the run's log entry (its errors: a run-level note without a record).
  else if (opts.lostWorker) {
    await reportProgress(deps, run, { errors: [{ code: WORKER_LOST, message: `the worker running this run stopped responding; resumed from its cursor on another worker (attempt ${run.attempts})` }] });
  }

  const connector = await em.findOne(Connector, { id: run.connectorId });
  if (!connector) return finish(deps, em, run, "FAILED", "the connector was deleted");
  const mappings = new Map((await em.find(ConnectorMapping, { connectorId: connector.id })).map((m) => [m.remoteModel, m]));
  let source: ConnectorSource;
  try {
    source = await deps.sources(connector);
  } catch (err) {
    return finish(deps, em, run, "FAILED", describe(err));
  }
  const log = deps.logger.child({ runId, connectorId: connector.id });
  const modelErrors: RunError[] = [];

  for (const progress of run.progress) {
    if (progress.done) continue;
    const mapping = mappings.get(progress.model);
    if (!mapping) {
      modelErrors.push({ code: "MAPPING_REMOVED", message: `the mapping of ${progress.model} was removed during the run` });
      progress.done = true;
      continue;
    }
    try {
      const outcome = await runModel(deps, em, run, mapping, progress, source, opts.signal);
      if (outcome === "cancelled") return finish(deps, em, run, "CANCELLED", null);
      if (outcome === "limit") break;
    } catch (err) {
      if (isRemoteError(err) && err.transient && !opts.lastAttempt) {
        log.warn({ model: progress.model, kind: err.kind }, "remote unavailable: the run will resume from its cursor");
        await markHealth(em, connector, ConnectorHealth.DEGRADED, err);
        throw new RetryLater(err.message);
      }
      if (err instanceof SyncApiError && err.code === "NOT_FOUND") {
        modelErrors.push({ collection: mapping.collection, code: "COLLECTION_NOT_FOUND", message: err.message });
      } else if (isRemoteError(err)) {
        modelErrors.push({ collection: mapping.collection, code: `REMOTE_${err.kind}`, message: `${progress.model}: ${err.kind}: ${err.message}`.slice(0, 2000) });
        await markHealth(em, connector, err.transient ? ConnectorHealth.UNREACHABLE : ConnectorHealth.DEGRADED, err);
      } else {
        throw err;
      }
      progress.done = true;
      await em.flush();
    }
  }
  if (modelErrors.length) {
    run.counts.failed += modelErrors.length;
    await reportProgress(deps, run, { errors: modelErrors });
  }
  const anyStored = run.counts.created + run.counts.updated + run.counts.deleted + run.counts.processed > 0;
  const status = modelErrors.length && !anyStored && modelErrors.length >= run.progress.length ? "FAILED" : run.counts.failed > 0 ? "PARTIAL" : "SUCCEEDED";
  if (status !== "FAILED") await markHealth(em, connector, ConnectorHealth.HEALTHY, null);
  return finish(deps, em, run, status, status === "FAILED" ? modelErrors.map((e) => e.message).join("; ").slice(0, 2000) : null);
}

async function runModel(
  deps: JobDeps,
  em: EntityManager,
  run: ConnectorRun,
  mapping: ConnectorMapping,
  progress: ModelProgress,
  source: ConnectorSource,
  signal?: AbortSignal,
): Promise<"done" | "cancelled" | "limit"> {
  const { options } = run;
  if (options.reconcile) return reconcileModel(deps, em, run, mapping, progress, source, signal);
  const full = options.full;
  // Incremental runs continue from the mapping's cursor unless told where to start (since) or forced.
  let cursor = (progress.cursor ?? (full || options.force || options.since ? null : mapping.cursor)) as SourceCursor | null;
  // `force` re-reads everything: no cursor, and no start time unless one is given.
  const since = options.since ? new Date(options.since) : options.force ? null : mapping.incrementalSince;
  const fields = remoteFieldsOf(mapping.fieldMap);
  await reportProgress(deps, run, { currentModel: progress.model });

  // A pipeline of three stages running at once: a reader keeps reading pages from the remote (up to
  // READ_AHEAD_RECORDS ahead of the writes, so the remote never waits on us while there is room), a writer writes
  // what has been read to the collection — every page buffered when it gets to them, as one write of up to
  // WRITE_BATCH_RECORDS records when pages are smaller (the batch grows when writing falls behind reading) — with
  // up to two writes in flight, and bookkeeping (links, cursor, counts, progress report) runs strictly in page
  // order and stores a batch's cursor (its last page's) only after its records and links: a crash resumes from a page
  // whose records are all written (re-reading a page writes nothing twice). Snapshots, not the live entity, are
  // written, so what is stored never runs ahead of the cursor. Cancellation is checked before every write.
  type Read = { records: RemoteRecord[]; cursor: SourceCursor | null; done: boolean };
  const buffer: Read[] = [];
  let buffered = 0;
  // Shared by the reader and the writer (an object: both change it).
  const state: { end: "done" | "limit" | null; error: { error: unknown } | null; stop: boolean; wakeWriter: (() => void) | null; wakeReader: (() => void) | null } = {
    end: null,
    error: null,
    stop: false,
    wakeWriter: null,
    wakeReader: null,
  };
  const readAhead = Math.max(READ_AHEAD_RECORDS, 2 * options.batchSize);
  const writeCap = Math.max(options.batchSize, WRITE_BATCH_RECORDS);
  const reader = (async () => {
    let from = cursor;
    let issued = run.counts.processed; // records read so far (maxRecords counts these)
    try {
      for (;;) {
        while (buffered >= readAhead && !state.stop) await new Promise<void>((resolve) => (state.wakeReader = resolve));
        if (state.stop) return;
        if (options.maxRecords !== null && issued >= options.maxRecords) {
          state.end = "limit";
          return;
        }
        const room = options.maxRecords === null ? options.batchSize : Math.min(options.batchSize, options.maxRecords - issued);
        const page = await source.readPage(progress.model, from, { pageSize: options.batchSize, full, since, fields, signal });
        if (state.stop) return;
        const records = page.records.slice(0, room);
        // A page cut by maxRecords keeps the old cursor: the next run reads the rest of it again (and skips what it has).
        const truncated = records.length < page.records.length;
        issued += records.length;
        buffer.push({ records, cursor: truncated ? null : page.cursor, done: page.done && !truncated });
        buffered += records.length;
        state.wakeWriter?.();
        if (truncated) {
          state.end = "limit";
          return;
        }
        if (page.done) {
          state.end = "done";
          return;
        }
        from = page.cursor;
      }
    } catch (error) {
      state.error = { error };
    } finally {
      state.wakeWriter?.();
    }
  })();
  const stopReader = () => {
    state.stop = true;
    state.wakeReader?.();
  };

  let lastReport = 0;
  let bookkeeping: Promise<void> = Promise.resolve();
  const pipeline: { failure: { error: unknown } | null } = { failure: null };
  const settle = async () => {
    await bookkeeping;
    if (pipeline.failure) throw pipeline.failure.error;
  };
  for (;;) {
    if (pipeline.failure) {
      stopReader();
      throw pipeline.failure.error;
    }
    while (!buffer.length && state.end === null && !state.error) await new Promise<void>((resolve) => (state.wakeWriter = resolve));
    state.wakeWriter = null;
    if (await cancelRequested(em, run.id)) {
      stopReader();
      await settle();
      return "cancelled";
    }
    if (!buffer.length) {
      await settle();
      if (state.error) throw state.error.error;
      break;
    }
    // Every page read so far, up to writeCap records (at least one page).
    const batch: Read[] = [];
    let size = 0;
    while (buffer.length && (!batch.length || size + buffer[0]!.records.length <= writeCap)) {
      const item = buffer.shift()!;
      batch.push(item);
      size += item.records.length;
    }
    buffered -= size;
    state.wakeReader?.();
    // A record changed during the run can come twice (its second read is the newer): keep its last read.
    const latest = new Map<string, RemoteRecord>();
    for (const item of batch) {
      for (const r of item.records) {
        latest.delete(r.remoteId);
        latest.set(r.remoteId, r);
      }
    }
    const records = [...latest.values()];
    const last = batch[batch.length - 1]!;
    const batchCursor = last.cursor ?? batch[batch.length - 2]?.cursor ?? null;
    const pageDone = last.done;
    // Up to two batches are written at once (their statements serialise on the tenant's sequence lock; their HTTP
    // and JSON work overlaps); their bookkeeping still runs strictly in order.
    const write = writePage(deps, em, run, mapping, records);
    write.catch(() => undefined); // awaited by the bookkeeping below; a failure is raised from there
    const previous = bookkeeping;
    bookkeeping = previous
      .then(async () => {
        if (pipeline.failure) return;
        const { result: stored, links } = await write;
        run.counts.processed += size;
        run.counts.created += stored.created;
        run.counts.updated += stored.updated;
        run.counts.deleted += stored.deleted;
        run.counts.failed += stored.failed.length;
        const snapshot = { counts: { ...run.counts }, cursor: batchCursor };
        const errors = stored.failed.map((f) => ({ recordId: f.id, collection: mapping.collection, code: f.code, message: f.message }));
        await storeLinks(em, run, mapping, links);
        if (snapshot.cursor) progress.cursor = snapshot.cursor;
        progress.done = pageDone;
        await em.execute("update connectors.connector_run set counts = ?::jsonb, progress = ?::jsonb where id = ?", [
          JSON.stringify(snapshot.counts),
          JSON.stringify(run.progress),
          run.id,
        ]);
        if (snapshot.cursor && !options.dryRun && !full) {
          mapping.cursor = snapshot.cursor;
          await em.execute("update connectors.connector_mapping set cursor = ?::jsonb where id = ?", [JSON.stringify(snapshot.cursor), mapping.id]);
        }
        // Live progress at most every PROGRESS_EVERY_MS (errors and the model's last page at once): each report is a
        // transaction and a broadcast in the sync service.
        if (errors.length || pageDone || Date.now() - lastReport >= PROGRESS_EVERY_MS) {
          lastReport = Date.now();
          await reportProgress(deps, run, { currentModel: progress.model, errors }, snapshot.counts);
        }
      })
      .catch((error: unknown) => {
        pipeline.failure ??= { error };
      });
    // At most two writes in flight: the batch before this one must be fully stored first.
    await previous;
  }
  await reader;
  if (state.end === "limit") return "limit";
  await settle();
  if (full && !progress.reconciled) {
    const removed = await reconcile(deps, em, run, mapping);
    run.counts.deleted += removed;
    progress.reconciled = true;
    await em.flush();
    await reportProgress(deps, run, {});
  }
  if (full && !options.dryRun) {
    // The next incremental run starts where this full run started (changes made during it are read again).
    mapping.cursor = null;
    mapping.incrementalSince = run.createdAt;
    await em.flush();
  }
  return "done";
}

/** Maps and writes one page; returns the sync service's answer and the links to store (remote id = record id unless linked otherwise). */
async function writePage(deps: JobDeps, em: EntityManager, run: ConnectorRun, mapping: ConnectorMapping, records: RemoteRecord[]) {
  const remoteIds = [...new Set(records.map((r) => r.remoteId))];
  // Plain rows, not entities: a page's links never sit in the unit of work (each flush would diff them all).
  const linkRows: { remote_id: string; record_id: string }[] = remoteIds.length
    ? await em.execute(
        "select remote_id, record_id from connectors.remote_link where mapping_id = ? and remote_id in (select jsonb_array_elements_text(?::jsonb))",
        [mapping.id, JSON.stringify(remoteIds)],
      )
    : [];
  const linked = new Map(linkRows.map((l) => [l.remote_id, l.record_id]));
  const upserts: { id: string; data: Record<string, unknown>; isNew?: boolean }[] = [];
  const deletes: string[] = [];
  const seen = new Set<string>();
  // Mappings that write back keep the state read here on the link: outbound sends only what a client changed.
  const states = mapping.direction === SyncDirection.INBOUND ? null : new Map<string, Record<string, string> | null>();
  for (const r of records) {
    if (seen.has(r.remoteId)) continue;
    seen.add(r.remoteId);
    const recordId = linked.get(r.remoteId) ?? r.remoteId;
    // Archived remotely (Odoo active = false): gone from the collection until it is unarchived.
    if (r.fields.active === false) deletes.push(recordId);
    else {
      const data = mapRecord(r.fields, mapping.fieldMap);
      upserts.push({ id: recordId, data, ...(linked.has(r.remoteId) ? {} : { isNew: true }) });
      states?.set(r.remoteId, stateOf(data, mapping));
    }
  }
  const result = await deps.sync.ingest(run.id, {
    tenantId: run.tenantId,
    collection: mapping.collection,
    upserts,
    deletes,
    dryRun: run.options.dryRun,
    force: run.options.force,
  });
  if (run.options.dryRun) return { result, links: { live: [], gone: [] } };
  const failed = new Set(result.failed.map((f) => f.id));
  const live = records
    .filter((r) => r.fields.active !== false && !failed.has(linked.get(r.remoteId) ?? r.remoteId))
    .map((r) => ({ remoteId: r.remoteId, recordId: linked.get(r.remoteId) ?? r.remoteId, state: states?.get(r.remoteId) ?? null, version: r.version ?? null }));
  const gone = records.filter((r) => r.fields.active === false).map((r) => r.remoteId);
  return { result, links: { live, gone } };
}

/** The remote state outbound compares a client's change with (null when the document cannot be converted back). */
function stateOf(doc: Record<string, unknown>, mapping: ConnectorMapping): Record<string, string> | null {
  try {
    return remoteStateOf(toRemoteFields(doc, mapping.fieldMap));
  } catch (err) {
    if (err instanceof FieldValueError) return null;
    throw err;
  }
}

type LiveLink = { remoteId: string; recordId: string; state: Record<string, string> | null; version?: string | null };

async function storeLinks(em: EntityManager, run: ConnectorRun, mapping: ConnectorMapping, links: { live: LiveLink[]; gone: string[] }): Promise<void> {
  await upsertLinks(em, run, mapping, links.live);
  if (links.gone.length) await em.nativeDelete(RemoteLink, { mappingId: mapping.id, remoteId: { $in: links.gone } });
}

async function cancelRequested(em: EntityManager, runId: string): Promise<boolean> {
  const rows: { cancel_requested: boolean }[] = await em.execute("select cancel_requested from connectors.connector_run where id = ?", [runId]);
  return rows[0]?.cancel_requested === true;
}

async function upsertLinks(em: EntityManager, run: ConnectorRun, mapping: ConnectorMapping, links: LiveLink[]): Promise<void> {
  if (!links.length) return;
  await em.execute(
    `insert into connectors.remote_link (mapping_id, remote_id, record_id, tenant_id, seen_by_run_id, remote_state, remote_version)
     select ?::uuid, l.remote_id, l.record_id, ?::uuid, ?::uuid, l.state, l.remote_version
       from jsonb_to_recordset(?::jsonb) as l(remote_id text, record_id text, state jsonb, remote_version text)
     on conflict (mapping_id, remote_id) do update
       set seen_by_run_id = excluded.seen_by_run_id, remote_state = excluded.remote_state, remote_version = excluded.remote_version`,
    [mapping.id, run.tenantId, run.id, JSON.stringify(links.map((l) => ({ remote_id: l.remoteId, record_id: l.recordId, state: l.state, remote_version: l.version ?? null })))],
  );
}

/** Summaries per reconciliation page (two columns per record: cheap to read, about 10 pages per 100,000 records). */
const SUMMARY_PAGE = 10_000;

type ReconcileCursor = { mode: "reconcile"; after: string | null };

/**
 * A reconciliation run of one model: page through the remote's `(id, change stamp)` summaries of live records by id
 * range, compare each range with the links stored for it (remote id and the stamp stored with the record), and re-read
 * only the records that differ: a stamp that changed or a record never stored (a transaction that committed behind
 * the incremental window, a failed write-back), and stored records the remote no longer has live (read again by id:
 * archived ones come back with `active: false` and are removed like in any run, missing ones were hard-deleted). The
 * cursor (the range's end) is stored after each range, so a resumed run continues there; the incremental cursor is
 * left alone.
 */
async function reconcileModel(
  deps: JobDeps,
  em: EntityManager,
  run: ConnectorRun,
  mapping: ConnectorMapping,
  progress: ModelProgress,
  source: ConnectorSource,
  signal?: AbortSignal,
): Promise<"done" | "cancelled" | "limit"> {
  if (!source.versions || !source.readByIds) throw new RemoteError(RemoteErrorKind.VALIDATION, `${source.kind} sources cannot reconcile ${progress.model}`);
  const fields = remoteFieldsOf(mapping.fieldMap);
  const dryRun = run.options.dryRun;
  let after = (progress.cursor as ReconcileCursor | null)?.after ?? null;
  await reportProgress(deps, run, { currentModel: progress.model });
  for (;;) {
    if (await cancelRequested(em, run.id)) return "cancelled";
    const page = await source.versions(progress.model, after, { pageSize: SUMMARY_PAGE, signal });
    const upTo = page.done ? null : page.last;
    const stored: { remote_id: string; remote_version: string | null }[] = await em.execute(
      `select remote_id, remote_version from connectors.remote_link
        where mapping_id = ? and remote_id ~ '^[0-9]{1,18}$' and (remote_id)::bigint > ? and (?::bigint is null or (remote_id)::bigint <= ?::bigint)`,
      [mapping.id, after === null ? 0 : Number(after), upTo, upTo],
    );
    const storedVersion = new Map(stored.map((l) => [l.remote_id, l.remote_version]));
    const live = new Set<string>();
    const differ: string[] = [];
    for (const e of page.entries) {
      live.add(e.remoteId);
      if (storedVersion.get(e.remoteId) !== e.version) differ.push(e.remoteId);
    }
    for (const l of stored) if (!live.has(l.remote_id)) differ.push(l.remote_id);
    const errors: RunError[] = [];
    for (let i = 0; i < differ.length; i += run.options.batchSize) {
      const ids = differ.slice(i, i + run.options.batchSize);
      const records = await source.readByIds(progress.model, ids, { fields, signal });
      const { result, links } = await writePage(deps, em, run, mapping, records);
      await storeLinks(em, run, mapping, links);
      // Ids the remote no longer has at all: hard-deleted there.
      const returned = new Set(records.map((r) => r.remoteId));
      const vanished = ids.filter((id) => !returned.has(id) && storedVersion.has(id));
      let removed = 0;
      if (vanished.length) {
        const rows: { remote_id: string; record_id: string }[] = await em.execute(
          "select remote_id, record_id from connectors.remote_link where mapping_id = ? and remote_id in (select jsonb_array_elements_text(?::jsonb))",
          [mapping.id, JSON.stringify(vanished)],
        );
        const gone = await deps.sync.ingest(run.id, { tenantId: run.tenantId, collection: mapping.collection, upserts: [], deletes: rows.map((r) => r.record_id), dryRun });
        removed = gone.deleted;
        if (!dryRun) await em.nativeDelete(RemoteLink, { mappingId: mapping.id, remoteId: { $in: vanished } });
      }
      run.counts.processed += records.length;
      run.counts.created += result.created;
      run.counts.updated += result.updated;
      run.counts.deleted += result.deleted + removed;
      run.counts.failed += result.failed.length;
      errors.push(...result.failed.map((f) => ({ recordId: f.id, collection: mapping.collection, code: f.code, message: f.message })));
    }
    after = page.last ?? after;
    progress.cursor = { mode: "reconcile", after } satisfies ReconcileCursor;
    progress.done = page.done;
    await em.execute("update connectors.connector_run set counts = ?::jsonb, progress = ?::jsonb where id = ?", [
      JSON.stringify(run.counts),
      JSON.stringify(run.progress),
      run.id,
    ]);
    await reportProgress(deps, run, { currentModel: progress.model, errors });
    if (page.done) break;
  }
  if (!dryRun) {
    mapping.reconciledAt = new Date();
    await em.execute("update connectors.connector_mapping set reconciled_at = now() where id = ?", [mapping.id]);
  }
  return "done";
}

/** Full runs: linked records this run did not see are gone remotely. Returns how many were deleted (or would be). */
async function reconcile(deps: JobDeps, em: EntityManager, run: ConnectorRun, mapping: ConnectorMapping): Promise<number> {
  let removed = 0;
  let after = "";
  for (;;) {
    const stale = await em.find(
      RemoteLink,
      { mappingId: mapping.id, remoteId: { $gt: after }, $or: [{ seenByRunId: { $ne: run.id } }, { seenByRunId: null }] },
      { orderBy: { remoteId: "asc" }, limit: RECONCILE_CHUNK },
    );
    if (!stale.length) break;
    after = stale[stale.length - 1]!.remoteId;
    const result = await deps.sync.ingest(run.id, {
      tenantId: run.tenantId,
      collection: mapping.collection,
      upserts: [],
      deletes: stale.map((l) => l.recordId),
      dryRun: run.options.dryRun,
    });
    removed += result.deleted;
    if (!run.options.dryRun) await em.nativeDelete(RemoteLink, { mappingId: mapping.id, remoteId: { $in: stale.map((l) => l.remoteId) } });
  }
  return removed;
}

async function reportProgress(
  deps: JobDeps,
  run: ConnectorRun,
  extra: { status?: string; currentModel?: string | null; errors?: RunError[] },
  counts: ConnectorRun["counts"] = run.counts,
): Promise<void> {
  const errors = extra.errors?.length ? extra.errors : undefined;
  // At most 100 errors per report (the sync log's limit): send them in slices.
  for (let i = 0; i < (errors?.length ?? 1); i += 100) {
    await deps.sync.progress(run.id, {
      tenantId: run.tenantId,
      ...counts,
      ...(extra.status ? { status: extra.status } : {}),
      ...(extra.currentModel !== undefined ? { currentModel: extra.currentModel } : {}),
      ...(errors ? { errors: errors.slice(i, i + 100) } : {}),
    });
  }
}

/** Ends a run: its final state in the sync log first, then (one transaction here) the job state, locks and mappings. */
/**
 * Ends a run: first here, in one transaction (job state, model locks released, mappings' last run), then in the sync
 * log — so whoever sees the run end there can start the next one at once and reads the mappings' final figures. A
 * crash between the two is repaired by the job's retry, which reports the end again.
 */
export async function finish(deps: JobDeps, em: EntityManager, run: ConnectorRun, status: string, error: string | null): Promise<void> {
  await em.transactional(async (tx) => {
    const fresh = await tx.findOneOrFail(ConnectorRun, { id: run.id });
    fresh.status = status;
    fresh.error = error;
    fresh.finishedAt = new Date();
    fresh.counts = run.counts;
    fresh.progress = run.progress;
    await tx.nativeDelete(ConnectorModelLock, { runId: run.id });
    const models = run.options.models;
    const mappings = await tx.find(ConnectorMapping, { connectorId: run.connectorId, remoteModel: { $in: models } });
    const linkCounts: { mapping_id: string; n: number }[] = await tx.execute(
      "select mapping_id, count(*)::int as n from connectors.remote_link where mapping_id::text in (select jsonb_array_elements_text(?::jsonb)) group by mapping_id",
      [JSON.stringify(mappings.map((m) => m.id))],
    );
    for (const m of mappings) {
      m.lastRunId = run.id;
      m.lastRunStatus = status;
      m.lastRunAt = new Date();
      m.recordCount = Number(linkCounts.find((r) => r.mapping_id === m.id)?.n ?? 0);
    }
  });
  run.status = status;
  run.error = error;
  await reportFinal(deps, run);
  deps.logger.info({ runId: run.id, status, ...run.counts }, "connector run finished");
  await deps.afterFinish?.(run).catch((err: unknown) => deps.logger.warn({ err, runId: run.id }, "follow-up run not started"));
}

async function reportFinal(deps: JobDeps, run: ConnectorRun): Promise<void> {
  try {
    await deps.sync.progress(run.id, { tenantId: run.tenantId, ...run.counts, status: run.status, currentModel: null, ...(run.error ? { error: run.error } : {}) });
  } catch (err) {
    // Already final there (reported before a crash): nothing to repair.
    if (!(err instanceof SyncApiError && err.status === 409)) throw err;
  }
}

async function markHealth(em: EntityManager, connector: Connector, health: ConnectorHealth, err: RemoteError | null): Promise<void> {
  connector.health = health;
  connector.lastError = err ? `${err.kind}: ${err.message}`.slice(0, 2000) : null;
  await em.flush();
}

function describe(err: unknown): string {
  return isRemoteError(err) ? `${err.kind}: ${err.message}` : err instanceof Error ? err.message : String(err);
}

const isFinal = (s: string) => s === "SUCCEEDED" || s === "PARTIAL" || s === "FAILED" || s === "CANCELLED";
