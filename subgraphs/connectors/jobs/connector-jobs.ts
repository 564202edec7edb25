// The durable job queue of connector runs: pg-boss on the connectors service's own PostgreSQL (schema
// `connectors_jobs`). Chosen over BullMQ because Tributary's one hard dependency is PostgreSQL: the embedded default
// has no Redis, and with pg-boss a job is as durable as the data it works on (same database, same backups). Any
// number of connectors replicas share the queue (SKIP LOCKED); a worker that dies stops heartbeating and its job is
// retried with backoff, resuming from the run's stored cursor; after the last retry the job goes to a dead-letter
// queue whose handler marks the run FAILED. Scheduled syncs are pg-boss cron schedules (one per mapping), so only
// one replica starts each occurrence.
import type { MikroORM } from "@mikro-orm/postgresql";
import { PgBoss, type JobWithMetadata } from "pg-boss";
import type { Logger } from "pino";
import { forkForTenant } from "../../../kernel/tenancy.js";
import { ConnectorRun } from "./connector-run.entity.js";
import { finish, RetryLater, runConnectorJob, type JobDeps } from "./sync-job.js";

export const RUN_QUEUE = "connector-run";
const DEAD_QUEUE = "connector-run-dead";
export const SCHEDULE_QUEUE = "connector-schedule";
/** Every minute: start the reconciliations that are due (settings.reconcileEveryMinutes), on one replica. */
const RECONCILE_SWEEP_QUEUE = "connector-reconcile-sweep";

export interface RunJobData {
  tenantId: string;
  runId: string;
}

export interface ScheduleJobData {
  tenantId: string;
  connectorId: string;
  mappingId: string;
}

/**
 * Takeover of a killed worker's run, by default: its heartbeat (every 5 s) stops, the run's job is failed once its
 * heartbeat is 10 s old (pg-boss' minimum), which a supervision pass (every 2 s, on any connectors process, workers or
 * not) notices, the retry waits 1–2 s, and a worker polling every second picks it up: 5–15 s after the kill. pg-boss'
 * own defaults (30 s heartbeat in our old settings, 60 s monitor interval, 10 s retry delay) made it 50–95 s.
 */
export const JOB_DEFAULTS = { heartbeatSeconds: 10, superviseIntervalSeconds: 2, retryDelaySeconds: 1, retryLimit: 8, pollingIntervalSeconds: 1 } as const;

export interface ConnectorJobsOptions {
  databaseUrl: string;
  /** Runs executed at once by this process (0: this process only enqueues). */
  workers: number;
  /** A worker silent for this long (crashed) loses its job, which is retried (>= 10; default 10). */
  heartbeatSeconds?: number;
  /** How often pg-boss looks for jobs whose worker went silent (its supervise and monitor intervals; default 2). */
  superviseIntervalSeconds?: number;
  /** Retries of a run after a transient failure or a crash (default 8: with the backoff, about 4–8 minutes in all). */
  retryLimit?: number;
  /** First retry delay (s), doubled per retry, with jitter (default 1: a crashed run is taken over at once). */
  retryDelaySeconds?: number;
  /** Idle polling for new jobs (s; default 1); NOTIFY wakes workers sooner. */
  pollingIntervalSeconds?: number;
  /** How often cron schedules are evaluated (s, 1–45; default 30, tests use 1 with second-level crons). */
  cronIntervalSeconds?: number;
  /** Cron of the sweep that starts due reconciliations (default every minute; null: none in this process). */
  reconcileSweepCron?: string | null;
}

export class ConnectorJobs {
  private boss?: PgBoss;
  private readonly retryLimit: number;

  constructor(
    private readonly options: ConnectorJobsOptions,
    private readonly deps: JobDeps & { onScheduled?: (data: ScheduleJobData) => Promise<void>; onReconcileSweep?: () => Promise<void> },
  ) {
    this.retryLimit = options.retryLimit ?? JOB_DEFAULTS.retryLimit;
  }

  async start(): Promise<void> {
    const boss = new PgBoss({
      connectionString: this.options.databaseUrl,
      schema: "connectors_jobs",
      max: 4,
      application_name: "tributary-connectors-jobs",
      superviseIntervalSeconds: this.options.superviseIntervalSeconds ?? JOB_DEFAULTS.superviseIntervalSeconds,
      // Heartbeat failures are found by the monitor pass, which runs at most this often (pg-boss' default: 60 s).
      monitorIntervalSeconds: this.options.superviseIntervalSeconds ?? JOB_DEFAULTS.superviseIntervalSeconds,
      cronMonitorIntervalSeconds: this.options.cronIntervalSeconds ?? 30,
      cronWorkerIntervalSeconds: Math.min(5, this.options.cronIntervalSeconds ?? 5),
    });
    boss.on("error", (err: unknown) => this.deps.logger.warn({ err }, "job queue error"));
    await boss.start();
    this.boss = boss;
    await boss.createQueue(DEAD_QUEUE, { retryLimit: 3, retryDelay: 5, retryBackoff: true });
    const runQueue = {
      retryLimit: this.retryLimit,
      retryDelay: this.options.retryDelaySeconds ?? JOB_DEFAULTS.retryDelaySeconds,
      retryBackoff: true,
      retryDelayMax: 600,
      heartbeatSeconds: this.options.heartbeatSeconds ?? JOB_DEFAULTS.heartbeatSeconds,
      expireInSeconds: 24 * 3600,
      deadLetter: DEAD_QUEUE,
    };
    await boss.createQueue(RUN_QUEUE, runQueue);
    // createQueue keeps an existing queue's settings: apply this version's (an upgrade from 30 s heartbeats).
    await boss.updateQueue(RUN_QUEUE, runQueue);
    await boss.createQueue(SCHEDULE_QUEUE, { retryLimit: 2, retryDelay: 30 });
    await boss.createQueue(RECONCILE_SWEEP_QUEUE, { retryLimit: 0 });
    const sweep = this.options.reconcileSweepCron === undefined ? "* * * * *" : this.options.reconcileSweepCron;
    if (sweep) await boss.schedule(RECONCILE_SWEEP_QUEUE, sweep, {}, { key: "sweep", tz: "UTC" });
    if (this.options.workers <= 0) return;
    const polling = { pollingIntervalSeconds: this.options.pollingIntervalSeconds ?? JOB_DEFAULTS.pollingIntervalSeconds };
    // includeMetadata: the job's output says why its previous attempt ended (a lost heartbeat: the worker died).
    await boss.work(RUN_QUEUE, { ...polling, localConcurrency: this.options.workers, includeMetadata: true }, async ([job]: JobWithMetadata<RunJobData>[]) => this.execute(job!));
    await boss.work<RunJobData>(DEAD_QUEUE, polling, async ([job]) => this.bury(job!));
    await boss.work<ScheduleJobData>(SCHEDULE_QUEUE, polling, async ([job]) => {
      await this.deps.onScheduled?.(job!.data);
    });
    await boss.work(RECONCILE_SWEEP_QUEUE, polling, async () => {
      await this.deps.onReconcileSweep?.();
    });
  }

  /** Queues a run (after its SyncRun exists); `startAfterSeconds` delays it (webhook hints wait for their commit). */
  async enqueue(data: RunJobData, options: { startAfterSeconds?: number } = {}): Promise<void> {
    await this.queue().send(RUN_QUEUE, data, options.startAfterSeconds ? { startAfter: options.startAfterSeconds } : {});
  }

  /** Starts (or replaces) the cron schedule of a mapping; null removes it. */
  async schedule(mappingId: string, cron: string | null, data: ScheduleJobData): Promise<void> {
    if (cron) await this.queue().schedule(SCHEDULE_QUEUE, cron, data, { key: mappingId, tz: "UTC" });
    else await this.queue().unschedule(SCHEDULE_QUEUE, mappingId);
  }

  async stop(): Promise<void> {
    // Running jobs stop at the next page boundary on the next start (their heartbeat ends; the retry resumes them).
    await this.boss?.stop({ graceful: true, timeout: 10_000, close: true }).catch((err: unknown) => this.deps.logger.warn({ err }, "job queue stop"));
    this.boss = undefined;
  }

  private queue(): PgBoss {
    if (!this.boss) throw new Error("connector job queue not started");
    return this.boss;
  }

  private async execute(job: JobWithMetadata<RunJobData>): Promise<void> {
    const { tenantId, runId } = job.data;
    const lastAttempt = job.retryCount >= this.retryLimit;
    // pg-boss failed the previous attempt because its worker stopped heartbeating: this is a takeover.
    const lostWorker = job.retryCount > 0 && (job.output as { value?: { message?: unknown } } | null)?.value?.message === "job heartbeat timeout";
    if (lostWorker) this.deps.logger.warn({ runId, attempt: job.retryCount + 1 }, "connector run resumed: its worker stopped responding");
    try {
      await runConnectorJob(this.deps, tenantId, runId, { lastAttempt, signal: job.signal, lostWorker });
    } catch (err) {
      if (!(err instanceof RetryLater)) this.deps.logger.error({ err, runId, attempt: job.retryCount }, "connector run attempt failed");
      throw err; // pg-boss retries with backoff, then dead-letters
    }
  }

  /** A run whose retries are spent: FAILED, locks released. */
  private async bury(job: { data: RunJobData }): Promise<void> {
    const em = forkForTenant(this.deps.orm, job.data.tenantId);
    const run = await em.findOne(ConnectorRun, { id: job.data.runId });
    if (!run || ["SUCCEEDED", "PARTIAL", "FAILED", "CANCELLED"].includes(run.status)) return;
    await finish(this.deps, em, run, "FAILED", `the run failed after ${run.attempts} attempts (remote or sync unavailable); it can be started again and will continue from its cursor`);
  }
}
