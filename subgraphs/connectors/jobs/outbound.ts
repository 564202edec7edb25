// Outbound write-back (issue 5): what clients push to a collection mapped OUTBOUND or BOTH is written to the remote
// system — Odoo create/write/unlink, Moodle course/user/enrolment create/update/delete — through the connector's
// ConnectorSource.
//
// A loop in every connectors process with workers: about once a second, and at once when the sync service announces
// a tenant's records changed, it takes each enabled OUTBOUND/BOTH mapping under a PostgreSQL advisory lock (one
// replica writes a mapping at a time) and reads the collection's changes after the mapping's cursor (sync's internal
// API: latest state per record, in seq order, with the connector of the run that last wrote it). Changes written by
// this connector's own inbound runs are skipped (they came from the remote: writing them back would echo). For the
// rest: a record linked to a remote record (RemoteLink) is updated, or removed when deleted; an unlinked one is
// created and the new remote id linked to the record, so the next inbound run updates the same record instead of
// creating a twin. A deleted record that was never linked needs nothing.
//
// Runs and errors. A batch that writes anything is a SyncRun in the sync log (kind CONNECTOR, actor CONNECTOR,
// parameters { direction: "OUTBOUND", collection, model }) with counts and per-record errors (code REMOTE_<KIND>, or
// BAD_FIELD_VALUE for a document value the field map cannot convert), SUCCEEDED or PARTIAL. Permanent refusals
// (VALIDATION, NOT_FOUND, PERMISSION, a create that may or may not have happened) are recorded and skipped.
// Transient ones (UNAVAILABLE, TIMEOUT, RATE_LIMITED) and AUTH (the connector's credentials, not the record) stop the
// batch without moving the cursor past the failing change; it is retried with exponential backoff, in the same run.
// After `giveUpAfter` (5) failed attempts in a row the run ends FAILED (or PARTIAL) with the reason, and the changes
// keep being retried in later runs.
//
// Crashes. The cursor, links, counts and unreported errors are saved in one transaction after every change, so a
// crash re-sends at most the change in flight: updates and removes are idempotent. A create is not: before sending
// one, the mapping records it as pending. If the process dies after the remote created the record but before its
// link was stored (or the remote's answer was lost: Odoo's UnconfirmedRemoteError, a Moodle create that timed out),
// the next attempt finds the pending create and, where the remote has a field to mark it — Odoo res.partner `ref`,
// Moodle course and user `idnumber`, set to the record id on every create unless the field map uses that field —
// searches for it first and links what it finds instead of creating again. Where there is no such field, the change
// is recorded as REMOTE_UNCONFIRMED and skipped rather than risk a duplicate (Moodle enrolments need no mark: enrolling
// again is harmless). The open run is saved too, so a crashed batch's run is continued and finished by the next one.
// An inbound run that read a new remote record in the moment between its create and its link stored it under its
// remote id: when the link is stored, that twin is deleted from the collection.
import { randomUUID } from "node:crypto";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import { boundSql } from "../../../kernel/db.js";
import type { PubSub } from "../../../kernel/pubsub/pubsub.js";
import { forkForTenant } from "../../../kernel/tenancy.js";
import { withSessionAdvisoryLock } from "../../../kernel/transaction.js";
import { Connector, ConnectorKind } from "../connector/connector.entity.js";
import { ConnectorMapping, SyncDirection, type OutboundState } from "../mapping/mapping.entity.js";
import { MoodleSource } from "../moodle/moodle.source.js";
import { UnconfirmedRemoteError } from "../odoo/odoo.client.js";
import { OdooSource } from "../odoo/odoo.source.js";
import { isRemoteError, RemoteErrorKind, type RemoteError } from "../remote/remote.errors.js";
import type { ConnectorSource } from "../remote/source.js";
import { RemoteLink } from "./connector-run.entity.js";
import { changedFields, FieldValueError, mapRecord, remoteFieldsOf, remoteStateOf, toRemoteFields } from "./field-map.js";
import { SyncApiError, type RecordChange, type RunError, type SyncApi } from "./sync-api.js";
import type { SourceFactory } from "./sync-job.js";

export interface OutboundOptions {
  /** Pause between passes when nothing is pending (ms). */
  intervalMs?: number;
  /** Changes read per call to the sync service (1..1000). */
  pageSize?: number;
  /** First wait after a failed attempt (ms), doubled per failure up to `maxBackoffMs`. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** How long one mapping may keep a pass before the others get their turn (ms). */
  passBudgetMs?: number;
  /** Failed attempts in a row after which the open run ends FAILED with the reason (the changes are still retried). */
  giveUpAfter?: number;
}

export interface OutboundDeps {
  orm: MikroORM;
  sync: SyncApi;
  sources: SourceFactory;
  logger: Logger;
  /** Wake-ups when a tenant's records change (the sync service publishes them). */
  pubsub?: PubSub;
}

const DEFAULTS: Required<OutboundOptions> = {
  intervalMs: 1_000,
  pageSize: 200,
  minBackoffMs: 1_000,
  maxBackoffMs: 60_000,
  passBudgetMs: 10_000,
  giveUpAfter: 5,
};

const WAKE_DEBOUNCE_MS = 50;

/** Report progress to the sync log at least this often while a batch writes (and at once after an error). */
const REPORT_EVERY = 25;
const REPORT_INTERVAL_MS = 1_000;

/** The sync service's wake-up channel of a tenant's records (subgraphs/sync/records/records.service.ts). */
const recordsChannel = (tenantId: string) => `records.changed:${tenantId}`;

/**
 * Remote fields that identify a record created by Tributary (set to the record id on create, searched after a create
 * whose outcome is unknown). Only used when the mapping's field map does not write the field itself.
 */
const CREATE_MARKS: Record<ConnectorKind, Record<string, { field: string; maxLength: number }>> = {
  [ConnectorKind.ODOO]: { "res.partner": { field: "ref", maxLength: 200 } },
  [ConnectorKind.MOODLE]: { course: { field: "idnumber", maxLength: 100 }, user: { field: "idnumber", maxLength: 100 } },
};
/** Models whose create can simply be repeated (Moodle: enrolling an enrolled user changes nothing). */
const IDEMPOTENT_CREATES: Record<ConnectorKind, ReadonlySet<string>> = {
  [ConnectorKind.ODOO]: new Set(),
  [ConnectorKind.MOODLE]: new Set(["enrolment"]),
};
/**
 * Refusals of the record itself after which the collection takes the remote's state back (retrying the same write cannot
 * succeed). PERMISSION is left out: it is usually the connector's setup (a token without the function), fixed there.
 */
const REFUSED: ReadonlySet<RemoteErrorKind> = new Set([RemoteErrorKind.VALIDATION, RemoteErrorKind.NOT_FOUND]);
/** Odoo's log-access and computed fields: read by inbound mappings, never written (Odoo ignores or refuses them). */
const ODOO_NOT_WRITTEN = new Set(["id", "write_date", "create_date", "write_uid", "create_uid", "display_name", "__last_update"]);

const freshState = (): OutboundState => ({ runId: null, counts: { processed: 0, created: 0, updated: 0, deleted: 0, failed: 0 }, unreported: [], pendingCreate: null });

/** The outbound loop of one process (start/stop with the service). */
export class OutboundWriter {
  private readonly options: Required<OutboundOptions>;
  private readonly abort = new AbortController();
  private readonly backoff = new Map<string, { until: number; delayMs: number; failures: number }>();
  private readonly watched = new Map<string, AsyncIterableIterator<unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<void> | undefined;
  private again = false;
  private stopped = true;

  constructor(
    private readonly deps: OutboundDeps,
    options: OutboundOptions = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Runs a pass now (or right after the current one). */
  wake(): void {
    if (this.stopped) return;
    if (this.current) this.again = true;
    else this.schedule(0);
  }

  /** Stops the loop: remote calls in flight are aborted (their changes are sent again by the next pass anywhere). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort.abort(new Error("the connectors service is stopping"));
    await this.current?.catch(() => undefined);
    for (const it of this.watched.values()) await it.return?.().catch(() => undefined);
    this.watched.clear();
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.pass(), ms);
    this.timer.unref?.();
  }

  private async pass(): Promise<void> {
    if (this.stopped || this.current) return;
    this.again = false;
    this.current = this.tick().catch((err: unknown) => this.deps.logger.error({ err }, "outbound pass failed"));
    await this.current;
    this.current = undefined;
    // Woken meanwhile (or a mapping has more): soon, with a short pause so a burst of pushes makes one pass.
    if (!this.stopped) this.schedule(this.again ? WAKE_DEBOUNCE_MS : this.options.intervalMs);
  }

  /** One pass over every enabled OUTBOUND/BOTH mapping of every tenant. */
  private async tick(): Promise<void> {
    const mappings: { id: string; tenant_id: string }[] = await boundSql(this.deps.orm.em.fork())(
      `select id, tenant_id from connectors.connector_mapping where enabled and direction in ('OUTBOUND', 'BOTH') order by created_at, id`,
    );
    // Wake-ups only make the loop prompter: without them (pub/sub down) it still polls.
    await this.watch(new Set(mappings.map((m) => m.tenant_id))).catch((err: unknown) => this.deps.logger.warn({ err }, "outbound wake-ups unavailable"));
    for (const m of mappings) {
      if (this.stopped) return;
      const wait = this.backoff.get(m.id);
      if (wait && wait.until > Date.now()) continue;
      try {
        const outcome = await withMappingLock(this.deps.orm, m.id, () => this.runMapping(m.tenant_id, m.id));
        if (outcome === "more") this.again = true;
      } catch (err) {
        if (this.stopped) return;
        // The sync service or the database failed (the remote's failures are handled in the batch): later.
        this.deps.logger.warn({ err, mappingId: m.id }, "outbound batch stopped: retried later");
        this.failed(m.id);
      }
    }
  }

  /** A failed attempt: the mapping waits (exponential backoff) before its next one. */
  private failed(mappingId: string): number {
    const prev = this.backoff.get(mappingId);
    const delayMs = prev ? Math.min(prev.delayMs * 2, this.options.maxBackoffMs) : this.options.minBackoffMs;
    const failures = (prev?.failures ?? 0) + 1;
    this.backoff.set(mappingId, { until: Date.now() + delayMs, delayMs, failures });
    return failures;
  }

  /** Subscribes to the records wake-ups of every tenant with an outbound mapping (and drops the others). */
  private async watch(tenants: Set<string>): Promise<void> {
    const pubsub = this.deps.pubsub;
    if (!pubsub) return;
    for (const [tenantId, it] of this.watched) {
      if (tenants.has(tenantId)) continue;
      this.watched.delete(tenantId);
      await it.return?.().catch(() => undefined);
    }
    for (const tenantId of tenants) {
      if (this.watched.has(tenantId) || this.stopped) continue;
      const it = await pubsub.subscribe<unknown>(recordsChannel(tenantId));
      this.watched.set(tenantId, it);
      void (async () => {
        try {
          for await (const _ of it) this.wake();
        } catch (err) {
          this.deps.logger.debug({ err, tenantId }, "outbound wake-ups ended");
        }
        if (this.watched.get(tenantId) === it) this.watched.delete(tenantId);
      })();
    }
  }

  /** Writes one mapping's pending changes (under its lock). "more": it stopped at its budget with more to do. */
  private async runMapping(tenantId: string, mappingId: string): Promise<"idle" | "more"> {
    const em = forkForTenant(this.deps.orm, tenantId);
    const mapping = await em.findOne(ConnectorMapping, { id: mappingId });
    if (!mapping || !mapping.enabled || mapping.direction === SyncDirection.INBOUND) return "idle";
    const connector = await em.findOne(Connector, { id: mapping.connectorId });
    if (!connector) return "idle";
    const batch = new OutboundBatch(this.deps, em, connector, mapping, this.abort.signal, this.options);
    const result = await batch.run();
    if (this.stopped) return "idle";
    if (typeof result === "object") {
      // Retried for long: the open run ends with the reason (the next attempt opens a new one).
      if (this.failed(mappingId) % this.options.giveUpAfter === 0) {
        await batch.giveUp(result.retry).catch((err: unknown) => this.deps.logger.warn({ err, mappingId }, "outbound run not ended"));
      }
      return "idle";
    }
    this.backoff.delete(mappingId);
    return result;
  }
}

/** Runs `fn` while holding the mapping's session advisory lock on a dedicated connection; undefined if it is held. */
function withMappingLock<T>(orm: MikroORM, mappingId: string, fn: () => Promise<T>): Promise<T | undefined> {
  return withSessionAdvisoryLock(orm, `tributary:outbound:${mappingId}`, fn);
}

type Outcome =
  | { kind: "created"; remoteId: string; state: Record<string, string> }
  | { kind: "updated"; remoteId: string; state: Record<string, string> }
  | { kind: "deleted"; remoteId: string }
  | { kind: "nothing" }
  | { kind: "failed"; error: RunError };

/** One pass of one mapping: pages of changes, written in order, saved after each. */
class OutboundBatch {
  private state: OutboundState;
  private after: string | null;
  private source: ConnectorSource | undefined;
  private sinceReport = 0;
  /** The cursor moved past skipped changes and is not saved yet. */
  private unsaved = false;
  private reportedAt = 0;
  private readonly log: Logger;
  private readonly mark: { field: string; maxLength: number } | null;

  constructor(
    private readonly deps: OutboundDeps,
    private readonly em: EntityManager,
    private readonly connector: Connector,
    private readonly mapping: ConnectorMapping,
    private readonly signal: AbortSignal,
    private readonly options: Required<OutboundOptions>,
  ) {
    this.state = mapping.outbound ? structuredClone(mapping.outbound) : freshState();
    this.after = mapping.outboundAfter;
    this.log = deps.logger.child({ connectorId: connector.id, mappingId: mapping.id, model: mapping.remoteModel });
    const mark = CREATE_MARKS[connector.kind]?.[mapping.remoteModel];
    this.mark = mark && !mapping.fieldMap.some((m) => m.remote === mark.field) ? mark : null;
  }

  async run(): Promise<"idle" | "more" | { retry: unknown }> {
    const deadline = Date.now() + this.options.passBudgetMs;
    // A batch cut short (crash, stop, failure): continue its run and report what it stored but did not report.
    if (this.state.runId) {
      await this.resumeRun();
      await this.report(true);
    }
    for (;;) {
      const page = await this.deps.sync.changes({
        tenantId: this.mapping.tenantId,
        collection: this.mapping.collection,
        after: this.after,
        limit: this.options.pageSize,
      });
      for (const change of page.changes) {
        const outcome = this.signal.aborted ? { retry: this.signal.reason } : await this.handle(change);
        if (typeof outcome === "object") {
          if (this.unsaved) await this.save();
          // Stopping: what was stored is reported by whichever batch continues the run.
          if (!this.signal.aborted) await this.report(true);
          return outcome;
        }
      }
      // Echoes skipped since the last write: their position is saved once per page.
      if (this.unsaved) await this.save();
      if (!page.hasMore) break;
      if (Date.now() > deadline) {
        await this.report(true);
        return "more";
      }
    }
    await this.finishRun();
    return "idle";
  }

  /** One change: skipped (an echo, nothing to do), written and saved, or a reason to stop and retry. */
  private async handle(change: RecordChange): Promise<"skipped" | "written" | { retry: unknown }> {
    const pending = this.state.pendingCreate?.recordId === change.id ? this.state.pendingCreate : null;
    // This connector's own inbound writes came from the remote: writing them back would echo.
    if (change.originConnectorId === this.connector.id && !pending) return this.skip(change);
    const link = await this.em.findOne(RemoteLink, { mappingId: this.mapping.id, recordId: change.id }, { orderBy: { remoteId: "asc" } });
    if (change.deleted && !link && !pending) return this.skip(change);
    // A change of no mapped field (against the remote's known state) has nothing to send: no run for it.
    if (link && !pending && !change.deleted && this.unchanged(change, link)) return this.skip(change);
    await this.ensureRun();
    let outcome: Outcome;
    try {
      outcome = await this.write(change, link, pending);
    } catch (err) {
      if (this.signal.aborted) return { retry: this.signal.reason };
      const failed = this.permanent(change, err);
      if (!failed) {
        // Retried later: a create whose outcome is unknown stays pending only if the remote can be searched for it.
        if (this.state.pendingCreate && !this.state.pendingCreate.key) {
          this.state.pendingCreate = null;
          await this.save();
        }
        this.log.info({ recordId: change.id, err: describe(err) }, "outbound write failed: retried later");
        return { retry: err };
      }
      outcome = failed;
      // The remote refused this write for good: the collection takes the remote's state back, so every client
      // converges (the run keeps the per-record error).
      if (isRemoteError(err) && !(err instanceof UnconfirmedRemoteError) && REFUSED.has(err.kind)) await this.converge(change, link);
    }
    await this.commit(change, outcome);
    return "written";
  }

  /**
   * Writes the remote record's current state into the collection as a new version of the refused record (a
   * tombstone when the remote has none: a refused create, a record deleted or archived there). Stored as this
   * connector's write, so it is not sent back. Best effort: if the remote cannot be read now, the next inbound run
   * corrects the record.
   */
  private async converge(change: RecordChange, link: RemoteLink | null): Promise<void> {
    const fieldMap = this.mapping.fieldMap;
    try {
      const source = await this.sourceOf();
      const remoteId = link?.remoteId ?? null;
      const [current] = remoteId ? await source.read(this.mapping.remoteModel, [remoteId], { fields: remoteFieldsOf(fieldMap), signal: this.signal }) : [];
      const live = !!current && current.fields.active !== false;
      const data = live ? mapRecord(current.fields, fieldMap) : null;
      await this.deps.sync.ingest(this.state.runId!, {
        tenantId: this.mapping.tenantId,
        collection: this.mapping.collection,
        upserts: data ? [{ id: change.id, data }] : [],
        deletes: data ? [] : [change.id],
      });
      const sql = boundSql(this.em);
      if (remoteId && data) {
        let state: Record<string, string> | null = null;
        try {
          state = remoteStateOf(toRemoteFields(data, fieldMap));
        } catch (err) {
          if (!(err instanceof FieldValueError)) throw err;
        }
        await sql("update connectors.remote_link set remote_state = ?::jsonb where mapping_id = ? and remote_id = ?", [JSON.stringify(state), this.mapping.id, remoteId]);
      } else if (remoteId) {
        await sql("delete from connectors.remote_link where mapping_id = ? and remote_id = ?", [this.mapping.id, remoteId]);
      }
      this.log.info({ recordId: change.id, remoteId, restored: data ? "remote state" : "tombstone" }, "outbound: refused write, the collection takes the remote's state");
    } catch (err) {
      if (this.signal.aborted) return;
      this.log.warn({ recordId: change.id, err: describe(err) }, "outbound: refused write, the remote's state could not be restored now");
    }
  }

  private unchanged(change: RecordChange, link: RemoteLink): boolean {
    if (!link.remoteState) return false;
    try {
      return Object.keys(changedFields(this.fieldsOf(change.data), link.remoteState)).length === 0;
    } catch {
      return false; // a value the field map cannot convert: reported by the write path
    }
  }

  private skip(change: RecordChange): "skipped" {
    this.after = change.seq;
    this.unsaved = true;
    return "skipped";
  }

  /** Sends one change to the remote. */
  private async write(change: RecordChange, link: RemoteLink | null, pending: OutboundState["pendingCreate"]): Promise<Outcome> {
    const model = this.mapping.remoteModel;
    const source = await this.sourceOf();
    // A create of this record may have happened (crash, lost answer): find it before anything else.
    let remoteId = link?.remoteId ?? null;
    if (!remoteId && pending) {
      if (pending.key) remoteId = await this.findMarked(source, pending.key);
      else if (!IDEMPOTENT_CREATES[this.connector.kind].has(model)) {
        return {
          kind: "failed",
          error: this.error(change.id, "REMOTE_UNCONFIRMED", "a create of this record was interrupted and may have happened; push the record again to retry it"),
        };
      }
    }
    if (change.deleted) {
      if (!remoteId) return { kind: "nothing" };
      await source.remove(model, remoteId, this.signal);
      return { kind: "deleted", remoteId };
    }
    const fields = this.fieldsOf(change.data);
    const state = remoteStateOf(fields);
    if (remoteId && link) {
      // Only what the client changed against the remote state last read or written: a field the document merely
      // carries is never sent (it would overwrite a change made remotely since, or store a value Moodle re-formats).
      const changed = changedFields(fields, link.remoteState);
      if (!Object.keys(changed).length) return { kind: "nothing" };
      await source.update(model, remoteId, changed, this.signal);
      return { kind: "updated", remoteId, state: { ...link.remoteState, ...state } };
    }
    if (remoteId) {
      // Found by its mark after an interrupted create: bring it to the record's latest state, then link it.
      await source.update(model, remoteId, fields, this.signal);
      return { kind: "created", remoteId, state };
    }
    const key = this.mark && change.id.length <= this.mark.maxLength ? change.id : null;
    this.state.pendingCreate = { recordId: change.id, key };
    await this.save();
    const sent = key && this.mark ? { ...fields, [this.mark.field]: key } : fields;
    const created = await source.create(model, sent, this.signal);
    return { kind: "created", remoteId: created, state: remoteStateOf(sent) };
  }

  /** The failure of a change that retrying cannot fix, as its run error; null when it should be retried. */
  private permanent(change: RecordChange, err: unknown): Outcome | null {
    if (err instanceof FieldValueError) return { kind: "failed", error: this.error(change.id, "BAD_FIELD_VALUE", err.message) };
    if (!isRemoteError(err)) throw err;
    if (err instanceof UnconfirmedRemoteError) {
      // Sent, answer lost: searched for next time when it can be, else recorded (never sent blindly again).
      if (this.state.pendingCreate?.key) return null;
      return { kind: "failed", error: this.error(change.id, `REMOTE_${err.kind}`, `${err.message} (the record may have been created; push it again to retry)`) };
    }
    if (err.transient || err.kind === RemoteErrorKind.AUTH) return null;
    return { kind: "failed", error: this.error(change.id, `REMOTE_${err.kind}`, err.message) };
  }

  private error(recordId: string, code: string, message: string): RunError & { recordId: string; collection: string } {
    return { recordId, collection: this.mapping.collection, code, message: `${this.mapping.remoteModel}: ${message}`.slice(0, 2000) };
  }

  /** The record's mapped fields as the remote takes them. */
  private fieldsOf(doc: Record<string, unknown>): Record<string, unknown> {
    const fields = toRemoteFields(doc, this.mapping.fieldMap);
    if (this.connector.kind === ConnectorKind.ODOO) for (const f of ODOO_NOT_WRITTEN) delete fields[f];
    return fields;
  }

  /** The remote record carrying `key` in the create mark field (null: none). */
  private async findMarked(source: ConnectorSource, key: string): Promise<string | null> {
    const mark = this.mark!;
    if (source instanceof OdooSource) {
      const ids = await source.client.search(this.mapping.remoteModel, [[mark.field, "=", key]], {
        limit: 1,
        order: "id asc",
        context: { active_test: false },
        signal: this.signal,
      });
      return ids.length ? String(ids[0]) : null;
    }
    if (source instanceof MoodleSource) {
      if (this.mapping.remoteModel === "course") {
        const { courses } = await source.client.getCoursesByField("idnumber", key, this.signal);
        return courses.length ? String(courses[0]!.id) : null;
      }
      const { users } = await source.client.getUsers([{ key: "idnumber", value: key }], this.signal);
      return users.length ? String(users[0]!.id) : null;
    }
    return null;
  }

  /** Stores a change's outcome with the cursor (one transaction): links, counts, errors, the pending create. */
  private async commit(change: RecordChange, outcome: Outcome): Promise<void> {
    const c = this.state.counts;
    c.processed++;
    if (outcome.kind === "created") c.created++;
    if (outcome.kind === "updated") c.updated++;
    if (outcome.kind === "deleted") c.deleted++;
    if (outcome.kind === "failed") {
      c.failed++;
      this.state.unreported.push(outcome.error as OutboundState["unreported"][number]);
    }
    if (this.state.pendingCreate?.recordId === change.id) this.state.pendingCreate = null;
    this.after = change.seq;
    let twin: string | null = null;
    await this.em.transactional(async (tx) => {
      const sql = boundSql(tx);
      if (outcome.kind === "created") {
        // An inbound run that read the new remote record before this link existed stored it under its remote id:
        // that record is a twin of this one (removed below, once the link points here).
        const [prev] = await sql("select record_id from connectors.remote_link where mapping_id = ? and remote_id = ? for update", [this.mapping.id, outcome.remoteId]);
        if (prev && prev.record_id !== change.id) twin = prev.record_id as string;
        await sql(
          `insert into connectors.remote_link (mapping_id, remote_id, record_id, tenant_id, seen_by_run_id, remote_state) values (?, ?, ?, ?, null, ?::jsonb)
           on conflict (mapping_id, remote_id) do update set record_id = excluded.record_id, remote_state = excluded.remote_state`,
          [this.mapping.id, outcome.remoteId, change.id, this.mapping.tenantId, JSON.stringify(outcome.state)],
        );
      }
      if (outcome.kind === "updated") {
        await sql("update connectors.remote_link set remote_state = ?::jsonb where mapping_id = ? and remote_id = ?", [
          JSON.stringify(outcome.state),
          this.mapping.id,
          outcome.remoteId,
        ]);
      }
      if (outcome.kind === "deleted") {
        await sql("delete from connectors.remote_link where mapping_id = ? and remote_id = ?", [this.mapping.id, outcome.remoteId]);
      }
      await this.saveWith(sql);
    });
    if (twin && this.state.runId) {
      await this.deps.sync.ingest(this.state.runId, { tenantId: this.mapping.tenantId, collection: this.mapping.collection, upserts: [], deletes: [twin] });
      this.log.info({ recordId: change.id, twin }, "outbound: removed the twin an inbound run made of a new remote record");
    }
    this.sinceReport++;
    await this.report(outcome.kind === "failed");
  }

  /** Saves the cursor and state. */
  private async save(): Promise<void> {
    await this.saveWith(boundSql(this.em));
  }

  private async saveWith(sql: ReturnType<typeof boundSql>): Promise<void> {
    this.unsaved = false;
    const idle = !this.state.runId && !this.state.pendingCreate;
    await sql("update connectors.connector_mapping set outbound_after = ?, outbound = ?::jsonb where id = ? and tenant_id = ?", [
      this.after,
      idle ? null : JSON.stringify(this.state),
      this.mapping.id,
      this.mapping.tenantId,
    ]);
  }

  private async sourceOf(): Promise<ConnectorSource> {
    this.source ??= await this.deps.sources(this.connector);
    return this.source;
  }

  // ---- the run in the sync log ---------------------------------------------------------------------------------

  private runBody(id: string) {
    return {
      id,
      tenantId: this.mapping.tenantId,
      connectorId: this.connector.id,
      actorType: "CONNECTOR" as const,
      actorId: null,
      collections: [this.mapping.collection],
      parameters: { direction: "OUTBOUND", collection: this.mapping.collection, model: this.mapping.remoteModel, mappingId: this.mapping.id },
    };
  }

  /** Opens the batch's run before its first write (saved first, so a crash leaves it to be continued, not lost). */
  private async ensureRun(): Promise<void> {
    if (this.state.runId) return;
    this.state = { ...freshState(), pendingCreate: this.state.pendingCreate, runId: randomUUID() };
    await this.save();
    await this.deps.sync.startRun(this.runBody(this.state.runId!));
    await this.deps.sync.progress(this.state.runId!, { tenantId: this.mapping.tenantId, status: "RUNNING", currentModel: this.mapping.remoteModel });
    this.reportedAt = Date.now();
  }

  /** The saved run of an interrupted batch: continued, unless it already ended (then the next write opens another). */
  private async resumeRun(): Promise<void> {
    const view = await this.deps.sync.startRun(this.runBody(this.state.runId!));
    if (["SUCCEEDED", "PARTIAL", "FAILED", "CANCELLED"].includes(view.status)) {
      this.state = { ...freshState(), pendingCreate: this.state.pendingCreate };
      await this.save();
      return;
    }
    if (view.status === "QUEUED") {
      await this.deps.sync.progress(this.state.runId!, { tenantId: this.mapping.tenantId, status: "RUNNING", currentModel: this.mapping.remoteModel });
    }
  }

  /** Counts and new errors to the run (errors at once; counts every few changes or second, or when `now`). */
  private async report(now: boolean): Promise<void> {
    const runId = this.state.runId;
    if (!runId) return;
    const errors = this.state.unreported;
    if (!now && !errors.length && this.sinceReport < REPORT_EVERY && Date.now() - this.reportedAt < REPORT_INTERVAL_MS) return;
    for (let i = 0; i < Math.max(errors.length, 1); i += 100) {
      await this.deps.sync.progress(runId, {
        tenantId: this.mapping.tenantId,
        ...this.state.counts,
        currentModel: this.mapping.remoteModel,
        ...(errors.length ? { errors: errors.slice(i, i + 100) } : {}),
      });
    }
    this.sinceReport = 0;
    this.reportedAt = Date.now();
    if (errors.length) {
      this.state.unreported = [];
      await this.save();
    }
  }

  /** Ends the batch's run: SUCCEEDED, or PARTIAL when some changes were refused. */
  private async finishRun(status?: string, error?: string): Promise<void> {
    const runId = this.state.runId;
    if (!runId) return;
    await this.report(true);
    const final = status ?? (this.state.counts.failed > 0 ? "PARTIAL" : "SUCCEEDED");
    try {
      await this.deps.sync.progress(runId, { tenantId: this.mapping.tenantId, ...this.state.counts, status: final, currentModel: null, ...(error ? { error } : {}) });
    } catch (err) {
      // Already ended (a crash after this call and before the state below was saved).
      if (!(err instanceof SyncApiError && err.status === 409)) throw err;
    }
    this.log.info({ runId, status: final, ...this.state.counts }, "outbound run finished");
    this.state = { ...freshState(), pendingCreate: this.state.pendingCreate };
    await this.save();
  }

  /** After repeated failed attempts: the open run ends with the reason; the changes are retried in later runs. */
  async giveUp(reason: unknown): Promise<void> {
    if (!this.state.runId) return;
    const anything = this.state.counts.processed > 0;
    const message = `${describe(reason)}; the remaining changes of ${this.mapping.collection} wait and are retried`.slice(0, 2000);
    await this.finishRun(anything ? "PARTIAL" : "FAILED", message);
  }
}

function describe(err: unknown): string {
  if (isRemoteError(err)) return `${(err as RemoteError).kind}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
