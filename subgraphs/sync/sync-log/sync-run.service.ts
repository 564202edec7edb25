import { randomUUID } from "node:crypto";
import { LockMode, type EntityManager, type FilterQuery, type MikroORM } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import type { Principal } from "../../../kernel/auth.js";
import { isUuid } from "../../../kernel/loaders.js";
import type { PubSub } from "../../../kernel/pubsub/pubsub.js";
import { publishWakeUp } from "../../../kernel/pubsub/wake-up.js";
import { forkForTenant } from "../../../kernel/tenancy.js";
import type { Topics } from "../../../kernel/topics.js";
import type { ConnectorDirectory } from "./connector-directory.js";
import { PullLog, type PullLogEntry, type PullLogOptions } from "./pull-log.js";
import { actorOf, withRunErrors } from "./sync-run.actor.js";
import { FINAL_STATUSES, SyncRun, SyncRunActorType, SyncRunKind, SyncRunStatus } from "./sync-run.entity.js";
import { SyncRunErrors } from "./sync-run.errors.js";
import {
  StatsBucket,
  type StartSyncRunInput,
  type SyncRunErrorInput,
  type SyncRunFilter,
  type SyncRunPage,
  type SyncRunProgressInput,
  type SyncStatsBucket,
} from "./sync-run.inputs.js";

type RunUpdated = Topics["sync.run.updated"];
/** One channel per run: `syncRunUpdated` subscribers only wake for their run; the payload's tenant is still checked. */
export const runChannel = (runId: string) => `sync.run.updated:${runId}`;
/** One channel per tenant: every run of the tenant that is created or changes (`syncRunsUpdated`). */
export const tenantRunsChannel = (tenantId: string) => `sync.runs.updated:${tenantId}`;

export const MAX_RUNS_PAGE = 200;
/** syncStats refuses ranges with more buckets than this (about three months of hours, ten years of days). */
export const MAX_STATS_BUCKETS: Readonly<Record<StatsBucket, number>> = { HOUR: 24 * 93, DAY: 3660 };
const BUCKET_MS: Readonly<Record<StatsBucket, number>> = { HOUR: 3_600_000, DAY: 86_400_000 };
const BUCKET_SQL: Readonly<Record<StatsBucket, { unit: string; step: string }>> = {
  HOUR: { unit: "hour", step: "1 hour" },
  DAY: { unit: "day", step: "24 hours" },
};
/** `syncRunsUpdated` re-reads the active runs it has sent this often, so a lost wake-up only delays their next state. */
export const RUNS_STREAM_POLL_MS = 5_000;
/** How long a finished run is remembered by a `syncRunsUpdated` stream, so a late duplicate event is not resent. */
const FINISHED_MEMORY_MS = 60_000;

const COUNTS = ["processed", "created", "updated", "deleted", "failed", "conflicts", "rejected"] as const;
const COLLECTION_NAME = /^[A-Za-z0-9_.-]{1,100}$/;
const MAX_RUN_COLLECTIONS = 50;
const MAX_PARAMETERS_BYTES = 8 * 1024;
const MAX_ERRORS_PER_REPORT = 100;

/** Which status may follow which: runs only move forward. */
const NEXT: Record<SyncRunStatus, SyncRunStatus[]> = {
  QUEUED: [SyncRunStatus.RUNNING, SyncRunStatus.CANCELLED, SyncRunStatus.FAILED],
  RUNNING: [SyncRunStatus.SUCCEEDED, SyncRunStatus.PARTIAL, SyncRunStatus.FAILED, SyncRunStatus.CANCELLED],
  SUCCEEDED: [],
  PARTIAL: [],
  FAILED: [],
  CANCELLED: [],
};

export interface SyncRunServiceOptions {
  logger?: Logger;
  /** Options of the pull log (batching); its `onWritten` is this service's announce. */
  pullLog?: Omit<PullLogOptions, "onWritten" | "logger">;
}

/** Sync-log operations. The caller's tenant always comes from the principal. */
export class SyncRunService {
  /** Pull entries of the log, batched off the pull path (see {@link PullLog}). */
  readonly pullLog: PullLog;
  private readonly logger?: Logger;

  constructor(
    private readonly orm: MikroORM,
    private readonly pubsub: PubSub,
    private readonly connectors: ConnectorDirectory,
    opts: SyncRunServiceOptions = {},
  ) {
    this.logger = opts.logger;
    this.pullLog = new PullLog(orm, {
      ...opts.pullLog,
      logger: opts.logger,
      onWritten: async (runs) => {
        for (const run of runs) this.announce(run);
      },
    });
  }

  /** Logs one pull (buffered; never waits, never throws). Call it after the pull has been answered. */
  logPull(entry: PullLogEntry): void {
    this.pullLog.logPull(entry);
  }

  /** Writes buffered pull entries; call on shutdown before the ORM closes. */
  close(): Promise<void> {
    return this.pullLog.close();
  }

  async find(em: EntityManager, id: string): Promise<SyncRun> {
    const run = isUuid(id) ? await em.findOne(SyncRun, { id }) : null;
    if (!run) throw SyncRunErrors.notFound(id);
    return run;
  }

  /** The tenant's runs, newest first, narrowed by `filter`, after a keyset cursor on (createdAt, id). */
  async list(em: EntityManager, principal: Principal, filter: SyncRunFilter | null | undefined, first: number, after?: string | null): Promise<SyncRunPage> {
    if (!Number.isInteger(first) || first < 1 || first > MAX_RUNS_PAGE) throw SyncRunErrors.pageSize(MAX_RUNS_PAGE);
    const where: FilterQuery<SyncRun>[] = [];
    if (filter?.kind) where.push({ kind: filter.kind });
    if (filter?.status) where.push({ status: filter.status });
    if (filter?.connectorId != null) {
      if (!isUuid(filter.connectorId)) throw SyncRunErrors.connectorMalformed("connectorId");
      where.push({ connectorId: filter.connectorId.toLowerCase() });
    }
    if (filter?.actorId != null) {
      if (!isUuid(filter.actorId)) throw SyncRunErrors.badActor();
      where.push({ triggeredById: filter.actorId.toLowerCase() });
    }
    if (filter?.clientId != null) {
      if (!validKey(filter.clientId)) throw SyncRunErrors.badClientId();
      where.push({ clientId: filter.clientId });
    }
    if (filter?.from && filter?.to && filter.from.getTime() > filter.to.getTime()) throw SyncRunErrors.badRange();
    if (filter?.from) where.push({ createdAt: { $gte: filter.from } });
    if (filter?.to) where.push({ createdAt: { $lt: filter.to } });
    if (after) {
      const c = decodeRunCursor(after, principal.tenantId);
      // The redundant `<=` bound lets the index range start at the cursor instead of filtering from the newest row.
      where.push({ createdAt: { $lte: c.createdAt } }, { $or: [{ createdAt: { $lt: c.createdAt } }, { createdAt: c.createdAt, id: { $lt: c.id } }] });
    }
    const rows = await em.find(SyncRun, where.length ? { $and: where } : {}, { orderBy: { createdAt: "desc", id: "desc" }, limit: first + 1 });
    const nodes = rows.slice(0, first);
    const last = nodes.at(-1);
    return { nodes, hasNextPage: rows.length > first, endCursor: last ? encodeRunCursor(principal.tenantId, last) : null };
  }

  /**
   * Runs created in [from, to), per UTC hour or day, computed in SQL: every bucket of the range is present (empty ones
   * with zeros), so charts have no gaps.
   */
  async stats(
    em: EntityManager,
    principal: Principal,
    args: { from: Date; to: Date; bucket: StatsBucket; kind?: SyncRunKind | null; connectorId?: string | null },
  ): Promise<SyncStatsBucket[]> {
    const { from, to, bucket } = args;
    if (from.getTime() > to.getTime()) throw SyncRunErrors.badRange();
    const width = BUCKET_MS[bucket];
    const buckets = Math.ceil((to.getTime() - Math.floor(from.getTime() / width) * width) / width);
    if (buckets > MAX_STATS_BUCKETS[bucket]) throw SyncRunErrors.tooManyBuckets(MAX_STATS_BUCKETS[bucket], bucket);
    if (args.connectorId != null && !isUuid(args.connectorId)) throw SyncRunErrors.connectorMalformed("connectorId");
    const { unit, step } = BUCKET_SQL[bucket];
    const fromIso = from.toISOString();
    const toIso = to.toISOString();
    // Raw SQL is not covered by the ORM's tenant filter: the tenant is bound explicitly.
    const params: unknown[] = [fromIso, toIso, toIso, principal.tenantId, fromIso, toIso];
    let narrow = "";
    if (args.kind) {
      narrow += " and r.kind = ?::sync.sync_run_kind";
      params.push(args.kind);
    }
    if (args.connectorId) {
      narrow += " and r.connector_id = ?";
      params.push(args.connectorId.toLowerCase());
    }
    const rows = (await em.execute(
      `with buckets as (
         select b as start from generate_series(date_trunc('${unit}', ?::timestamptz, 'UTC'), ?::timestamptz, interval '${step}') as b
         where b < ?::timestamptz
       ), runs as (
         select date_trunc('${unit}', r.created_at, 'UTC') as start, r.status, r.processed, r.created, r.updated, r.deleted, r.conflicts, r.rejected,
                coalesce(r.duration_ms::float8, extract(epoch from (r.finished_at - r.started_at)) * 1000) as duration_ms
         from sync.sync_run r
         where r.tenant_id = ? and r.created_at >= ?::timestamptz and r.created_at < ?::timestamptz${narrow}
       )
       select b.start,
              count(r.start)::int as runs,
              (count(*) filter (where r.status = 'SUCCEEDED'))::int as succeeded,
              (count(*) filter (where r.status = 'PARTIAL'))::int as partial,
              (count(*) filter (where r.status = 'FAILED'))::int as failed,
              (count(*) filter (where r.status = 'CANCELLED'))::int as cancelled,
              coalesce(sum(r.processed), 0)::float8 as processed,
              coalesce(sum(r.created), 0)::float8 as created,
              coalesce(sum(r.updated), 0)::float8 as updated,
              coalesce(sum(r.deleted), 0)::float8 as deleted,
              coalesce(sum(r.conflicts), 0)::float8 as conflicts,
              coalesce(sum(r.rejected), 0)::float8 as rejected,
              percentile_cont(0.5) within group (order by r.duration_ms) as p50,
              percentile_cont(0.95) within group (order by r.duration_ms) as p95,
              (sum(r.processed) filter (where r.duration_ms > 0)) * 1000.0 / nullif(sum(r.duration_ms) filter (where r.duration_ms > 0), 0) as rps
       from buckets b left join runs r on r.start = b.start
       group by b.start
       order by b.start`,
      params,
      "all",
    )) as Record<string, unknown>[];
    const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
    return rows.map((r) => ({
      start: new Date(r.start as string | Date),
      runs: Number(r.runs),
      succeeded: Number(r.succeeded),
      partial: Number(r.partial),
      failed: Number(r.failed),
      cancelled: Number(r.cancelled),
      processed: Number(r.processed),
      created: Number(r.created),
      updated: Number(r.updated),
      deleted: Number(r.deleted),
      conflicts: Number(r.conflicts),
      rejected: Number(r.rejected),
      p50DurationMs: num(r.p50),
      p95DurationMs: num(r.p95),
      recordsPerSecond: num(r.rps),
    }));
  }

  async start(
    em: EntityManager,
    caller: { principal: Principal; authorization?: string; requestId: string },
    input: StartSyncRunInput,
    /** Runs inside the run's transaction before it commits (the audit record). */
    beforeCommit?: (tx: EntityManager, run: SyncRun) => Promise<void>,
  ): Promise<SyncRun> {
    const { principal } = caller;
    if (input.kind === SyncRunKind.CONNECTOR && !input.connectorId) throw SyncRunErrors.connectorRequired();
    if (input.connectorId && !isUuid(input.connectorId)) throw SyncRunErrors.connectorMalformed();
    if (input.clientId != null && !validKey(input.clientId)) throw SyncRunErrors.badClientId();
    const collections = input.collections ? [...new Set(input.collections)] : [];
    if (collections.length > MAX_RUN_COLLECTIONS || collections.some((c) => !COLLECTION_NAME.test(c))) throw SyncRunErrors.badCollections(MAX_RUN_COLLECTIONS);
    if (input.parameters && Buffer.byteLength(JSON.stringify(input.parameters)) > MAX_PARAMETERS_BYTES) throw SyncRunErrors.parametersTooLarge(MAX_PARAMETERS_BYTES);
    if (input.connectorId && !(await this.connectors.exists(input.connectorId, caller))) {
      throw SyncRunErrors.connectorNotFound(input.connectorId);
    }
    const run = await em.transactional(async (tx) => {
      const run = tx.create(SyncRun, {
        id: randomUUID(),
        tenantId: principal.tenantId,
        kind: input.kind,
        connectorId: input.connectorId?.toLowerCase() ?? null,
        ...actorOf(principal),
        clientId: input.clientId ?? null,
        collections,
        parameters: input.parameters ?? null,
      });
      await tx.flush();
      await beforeCommit?.(tx, run);
      return run;
    });
    this.announce(run);
    return run;
  }

  /**
   * Opens a run for another service (the connectors service's internal call): the caller already checked the
   * connector and the actor, so nothing is asked back. QUEUED, announced like any run.
   */
  async startInternal(
    em: EntityManager,
    input: {
      id: string;
      tenantId: string;
      kind: SyncRunKind;
      connectorId: string;
      actorType: SyncRunActorType;
      actorId: string | null;
      collections: string[];
      parameters: Record<string, unknown>;
    },
  ): Promise<SyncRun> {
    const existing = await em.findOne(SyncRun, { id: input.id });
    if (existing) return existing;
    const run = em.create(SyncRun, {
      id: input.id,
      tenantId: input.tenantId,
      kind: input.kind,
      connectorId: input.connectorId.toLowerCase(),
      actorType: input.actorType,
      triggeredById: input.actorType === SyncRunActorType.USER ? input.actorId : null,
      apiKeyId: input.actorType === SyncRunActorType.API_KEY ? input.actorId : null,
      collections: [...new Set(input.collections)],
      parameters: input.parameters,
    });
    await em.flush();
    this.announce(run);
    return run;
  }

  /**
   * Applies a progress report. The run's row is locked for the read-check-write, so concurrent reports serialize:
   * counts never move backwards and exactly one report can finish a run.
   */
  async progress(em: EntityManager, id: string, input: SyncRunProgressInput, beforeCommit?: (tx: EntityManager, run: SyncRun) => Promise<void>): Promise<SyncRun> {
    if (!isUuid(id)) throw SyncRunErrors.notFound(id);
    if (input.errors) validateErrors(input.errors);
    const run = await em.transactional(async (tx) => {
      const run = await tx.findOne(SyncRun, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
      if (!run) throw SyncRunErrors.notFound(id);
      applyProgress(run, input);
      if (beforeCommit) {
        await tx.flush();
        await beforeCommit(tx, run);
      }
      return run;
    });
    this.announce(run);
    return run;
  }

  /**
   * Tells live subscribers a run was created or changed: its own channel (`syncRunUpdated`) and its tenant's
   * (`syncRunsUpdated`). Call it after the run's transaction commits (e.g. after a push). A wake-up: never waits,
   * never throws (watchers re-read on their own timer, so one lost during a Redis outage only makes them late).
   */
  announce(run: Pick<SyncRun, "id" | "tenantId" | "status">): void {
    const event: RunUpdated = { tenantId: run.tenantId, runId: run.id, status: run.status };
    publishWakeUp(this.pubsub, runChannel(run.id), event, this.logger);
    publishWakeUp(this.pubsub, tenantRunsChannel(run.tenantId), event, this.logger);
  }

  /**
   * The current state of a run, then its state after each change, until it finishes. Pub/sub only wakes the
   * stream: every emission is read from the database, and the run is re-read every {@link RUNS_STREAM_POLL_MS} while
   * no wake-up comes, so a lost message (a Redis outage) delays an update by at most that, never loses it.
   */
  async watch(principal: Principal, id: string, pollMs = RUNS_STREAM_POLL_MS): Promise<AsyncIterableIterator<SyncRun>> {
    const load = () => forkForTenant(this.orm, principal.tenantId).findOne(SyncRun, { id });
    // Subscribe before the first read so no change between the two is missed.
    const events = await this.pubsub.subscribe<RunUpdated>(runChannel(id));
    let first: SyncRun | null;
    try {
      first = isUuid(id) ? await load() : null;
    } catch (err) {
      await events.return?.();
      throw err;
    }
    if (!first) {
      await events.return?.();
      throw SyncRunErrors.notFound(id);
    }
    const stream = (async function* () {
      try {
        let last = first;
        yield last;
        if (FINAL_STATUSES.has(last.status)) return;
        // The next wake-up, or the re-read timer: a pending next() is kept across ticks (it holds the next event).
        let next: Promise<IteratorResult<RunUpdated>> | null = null;
        for (;;) {
          next ??= events.next();
          let timer: NodeJS.Timeout | undefined;
          const tick = new Promise<"tick">((resolve) => (timer = setTimeout(() => resolve("tick"), pollMs)));
          const woken = await Promise.race([next, tick]).finally(() => clearTimeout(timer));
          if (woken !== "tick") {
            next = null;
            if (woken.done) return;
            if (woken.value.tenantId !== principal.tenantId || woken.value.runId !== id) continue;
          }
          const run = await load();
          if (!run) return;
          if (fingerprint(run) === fingerprint(last)) continue;
          last = run;
          yield run;
          if (FINAL_STATUSES.has(run.status)) return;
        }
      } finally {
        await events.return?.();
      }
    })();
    // Ending the pub/sub subscription ends the wait for the next event at once.
    return interruptible(stream, async () => {
      await events.return?.();
    });
  }

  /**
   * Every run of the caller's tenant that is QUEUED or RUNNING now (oldest first), then each run's new state whenever
   * one is created or changes. A change stream of the whole tenant: every subscriber reads its own, never shared.
   * Wake-ups are coalesced (one read for a burst); the active runs already sent are re-read every
   * {@link RUNS_STREAM_POLL_MS}, so a lost wake-up delays their next state but never hides a finished run.
   */
  async watchAll(principal: Principal, pollMs = RUNS_STREAM_POLL_MS): Promise<AsyncIterableIterator<SyncRun>> {
    const tenantId = principal.tenantId;
    const em = () => forkForTenant(this.orm, tenantId);
    // Subscribe before the first read so no change between the two is missed.
    const events = await this.pubsub.subscribe<RunUpdated>(tenantRunsChannel(tenantId));
    let initial: SyncRun[];
    try {
      initial = await em().find(SyncRun, { status: { $in: [SyncRunStatus.QUEUED, SyncRunStatus.RUNNING] } }, { orderBy: { createdAt: "asc", id: "asc" } });
    } catch (err) {
      await events.return?.();
      throw err;
    }
    const signal: { pending: Set<string>; wake: (() => void) | null; ended: boolean; closed: boolean } = { pending: new Set(), wake: null, ended: false, closed: false };
    void (async () => {
      try {
        for await (const event of events) {
          if (event.tenantId !== tenantId || !isUuid(event.runId)) continue;
          signal.pending.add(event.runId.toLowerCase());
          signal.wake?.();
        }
      } catch {
        /* the pub/sub ended the subscription: end the stream */
      } finally {
        signal.ended = true;
        signal.wake?.();
      }
    })();

    /** What was last sent per run; active runs stay until they finish, finished ones for a while. */
    const sent = new Map<string, { fingerprint: string; finishedAt: number | null }>();
    const isNew = (run: SyncRun) => sent.get(run.id)?.fingerprint !== fingerprint(run);
    const remember = (run: SyncRun) => sent.set(run.id, { fingerprint: fingerprint(run), finishedAt: FINAL_STATUSES.has(run.status) ? Date.now() : null });
    const forget = () => {
      const cutoff = Date.now() - FINISHED_MEMORY_MS;
      for (const [id, s] of sent) if (s.finishedAt !== null && s.finishedAt < cutoff) sent.delete(id);
    };

    const stream = (async function* () {
      let timer: NodeJS.Timeout | undefined;
      let lastPoll = Date.now();
      try {
        for (const run of initial) {
          remember(run);
          yield run;
        }
        for (;;) {
          if (!signal.pending.size && !signal.ended) {
            await new Promise<void>((resolve) => {
              signal.wake = resolve;
              timer = setTimeout(resolve, Math.max(0, lastPoll + pollMs - Date.now()));
            });
            signal.wake = null;
            clearTimeout(timer);
          }
          if (signal.closed || (signal.ended && !signal.pending.size)) return;
          const ids = new Set(signal.pending);
          signal.pending.clear();
          if (Date.now() - lastPoll >= pollMs) {
            lastPoll = Date.now();
            for (const [id, s] of sent) if (s.finishedAt === null) ids.add(id);
            forget();
          }
          if (!ids.size) continue;
          const list = [...ids];
          const runs: SyncRun[] = [];
          for (let i = 0; i < list.length; i += 500) runs.push(...(await em().find(SyncRun, { id: { $in: list.slice(i, i + 500) } })));
          runs.sort((a, b) => a.updatedAt.getTime() - b.updatedAt.getTime() || a.createdAt.getTime() - b.createdAt.getTime());
          for (const run of runs) {
            if (!isNew(run)) continue;
            remember(run);
            yield run;
          }
        }
      } finally {
        clearTimeout(timer);
        await events.return?.();
      }
    })();
    return interruptible(stream, async () => {
      signal.closed = true;
      signal.wake?.();
      await events.return?.();
    });
  }
}

/**
 * The stream with a `return()` that also interrupts what the generator is waiting for. A native async generator
 * only handles `return()` at its next `yield`: a subscriber leaving an idle stream would otherwise keep its pub/sub
 * subscription (and timers) until the next event.
 */
function interruptible<T>(gen: AsyncGenerator<T>, interrupt: () => Promise<void>): AsyncIterableIterator<T> {
  const wrapped: AsyncIterableIterator<T> = {
    next: () => gen.next(),
    return: async (value?: unknown) => {
      await interrupt();
      return gen.return(value);
    },
    throw: async (err?: unknown) => {
      await interrupt();
      return gen.throw(err);
    },
    [Symbol.asyncIterator]: () => wrapped,
  };
  return wrapped;
}

/** What a subscriber can see change in a run (updatedAt alone misses two changes in one millisecond). */
function fingerprint(run: SyncRun): string {
  return [run.status, run.updatedAt.getTime(), ...COUNTS.map((c) => run[c]), run.errorCount, run.error ?? ""].join("|");
}

function applyProgress(run: SyncRun, input: SyncRunProgressInput): void {
  if (FINAL_STATUSES.has(run.status)) throw SyncRunErrors.finished(run.id, run.status);
  for (const field of COUNTS) {
    const value = input[field];
    if (value === undefined || value === null) continue;
    if (value < run[field]) throw SyncRunErrors.countBackwards(field);
    run[field] = value;
  }
  if (input.error !== undefined && input.error !== null) run.error = input.error.slice(0, 2000);
  if (input.currentModel !== undefined) run.currentModel = input.currentModel;
  if (input.errors?.length) Object.assign(run, withRunErrors(input.errors, run));
  if (input.status && input.status !== run.status) {
    if (!NEXT[run.status].includes(input.status)) throw SyncRunErrors.badTransition(run.status, input.status);
    run.status = input.status;
    if (input.status === SyncRunStatus.RUNNING) run.startedAt = new Date();
    if (FINAL_STATUSES.has(input.status)) {
      run.startedAt ??= new Date();
      run.finishedAt = new Date();
    }
  }
}

function validateErrors(errors: SyncRunErrorInput[]): void {
  if (errors.length > MAX_ERRORS_PER_REPORT) throw SyncRunErrors.tooManyErrors(MAX_ERRORS_PER_REPORT);
  for (const e of errors) {
    const ok =
      e.code.length >= 1 &&
      e.code.length <= 100 &&
      e.message.length >= 1 &&
      e.message.length <= 2000 &&
      (e.recordId == null || e.recordId.length <= 200) &&
      (e.collection == null || e.collection.length <= 100);
    if (!ok) throw SyncRunErrors.badError();
  }
}

function validKey(v: unknown): v is string {
  return typeof v === "string" && v.length >= 1 && v.length <= 200;
}

/** Opaque to clients: a position in one tenant's run list; another tenant's cursor is refused. */
export function encodeRunCursor(tenantId: string, run: Pick<SyncRun, "createdAt" | "id">): string {
  return Buffer.from(JSON.stringify(["runs", tenantId, run.createdAt.toISOString(), run.id])).toString("base64url");
}

export function decodeRunCursor(cursor: string, tenantId: string): { createdAt: Date; id: string } {
  try {
    if (cursor.length > 300) throw new Error();
    const [tag, owner, createdAt, id] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown[];
    const date = new Date(String(createdAt));
    if (tag !== "runs" || owner !== tenantId || typeof createdAt !== "string" || !isUuid(id) || Number.isNaN(date.getTime())) throw new Error();
    return { createdAt: date, id: id.toLowerCase() };
  } catch {
    throw SyncRunErrors.badCursor();
  }
}
