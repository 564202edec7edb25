// Starting and cancelling connector runs: shared by `startSync`, cron schedules and webhooks.
import { randomUUID } from "node:crypto";
import { UniqueConstraintViolationException } from "@mikro-orm/core";
import { LockMode, type EntityManager } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import { isUuid } from "../../../kernel/loaders.js";
import { appError, ErrorCode, Errors } from "../../../kernel/errors.js";
import type { Connector } from "../connector/connector.entity.js";
import { ConnectorMapping, SyncDirection } from "../mapping/mapping.entity.js";
import type { ConnectorJobs } from "./connector-jobs.js";
import { ConnectorModelLock, ConnectorRun, type RunOptions } from "./connector-run.entity.js";
import type { StartSyncOptions } from "./run.inputs.js";
import { finish, type JobDeps } from "./sync-job.js";
import type { SyncApi } from "./sync-api.js";

export const DEFAULT_BATCH_SIZE = 500;
const MAX_BATCH_SIZE = 5_000;
const MAX_RECORDS = 10_000_000;

export const RunErrors = {
  notFound: (id: string) => Errors.notFound("SyncRun", id),
  alreadyRunning: (model: string, runId: string) =>
    appError(ErrorCode.CONFLICT, `a run of ${model} is already queued or running (${runId}); cancel it or wait`, { reason: "SYNC_ALREADY_RUNNING", runId, model }),
  finished: (id: string, status: string) => appError(ErrorCode.CONFLICT, `run ${id} already ended (${status})`, { reason: "RUN_FINISHED", status }),
  badOption: (name: string, why: string) => Errors.badInput(`options.${name} ${why}`, `options.${name}`),
  nothingToRun: () => Errors.badInput("the connector has no enabled INBOUND or BOTH mapping to run", "options.models"),
  unknownModel: (model: string) => Errors.badInput(`the connector has no enabled inbound mapping of "${model.slice(0, 200)}"`, "options.models"),
};

export interface RunActor {
  type: "USER" | "API_KEY" | "CONNECTOR";
  id: string | null;
}

export class ConnectorRuns {
  constructor(
    private readonly jobs: ConnectorJobs,
    private readonly sync: SyncApi,
    private readonly jobDeps: () => JobDeps,
    private readonly logger: Logger,
  ) {}

  /** Queues a run of `connector` (its SyncRun is QUEUED when this returns). */
  async start(
    em: EntityManager,
    connector: Connector,
    input: StartSyncOptions | null | undefined,
    actor: RunActor,
    /** Runs in the transaction that takes the run's locks, before it commits (the audit record). */
    beforeCommit?: (tx: EntityManager, runId: string) => Promise<void>,
    /** Delays the run's start (webhook hints: the notifying transaction commits after its call). */
    queue: { startAfterSeconds?: number } = {},
  ): Promise<string> {
    const mappings = await em.find(ConnectorMapping, { connectorId: connector.id, enabled: true, direction: { $in: [SyncDirection.INBOUND, SyncDirection.BOTH] } });
    const options = checkOptions(input, mappings);
    // Moodle users and enrolments have no change stamps (every incremental run already compares them by content).
    if (options.reconcile && connector.kind !== "ODOO") throw RunErrors.badOption("reconcile", "is for Odoo connectors");
    const id = randomUUID();
    const collections = mappings.filter((m) => options.models.includes(m.remoteModel)).map((m) => m.collection);
    try {
      await em.transactional(async (tx) => {
        for (const model of options.models) tx.create(ConnectorModelLock, { connectorId: connector.id, model, runId: id, tenantId: connector.tenantId });
        tx.create(ConnectorRun, {
          id,
          tenantId: connector.tenantId,
          connectorId: connector.id,
          options,
          progress: options.models.map((model) => ({ model, cursor: null, done: false, reconciled: false })),
        });
        await tx.flush();
        await beforeCommit?.(tx, id);
      });
    } catch (err) {
      if (!(err instanceof UniqueConstraintViolationException)) throw err;
      const held = await em.fork().find(ConnectorModelLock, { connectorId: connector.id, model: { $in: options.models } });
      throw RunErrors.alreadyRunning(held[0]?.model ?? options.models[0]!, held[0]?.runId ?? "unknown");
    }
    try {
      await this.sync.startRun({
        id,
        tenantId: connector.tenantId,
        connectorId: connector.id,
        actorType: actor.type,
        actorId: actor.id,
        collections,
        parameters: { ...options },
      });
      await this.jobs.enqueue({ tenantId: connector.tenantId, runId: id }, queue);
    } catch (err) {
      this.logger.error({ err, runId: id }, "connector run could not be queued");
      // Nothing may stay locked by a run that will never execute.
      const run = await em.fork().findOne(ConnectorRun, { id });
      if (run) await finish(this.jobDeps(), em.fork(), run, "FAILED", "the run could not be queued").catch(() => em.fork().nativeDelete(ConnectorModelLock, { runId: id }));
      throw Errors.upstreamUnavailable("sync");
    }
    return id;
  }

  /** Asks a run to stop: a queued run ends at once, a running one at its next page. */
  async cancel(em: EntityManager, runId: string, beforeCommit?: (tx: EntityManager) => Promise<void>): Promise<void> {
    if (!isUuid(runId)) throw RunErrors.notFound(runId);
    const run = await em.transactional(async (tx) => {
      const run = await tx.findOne(ConnectorRun, { id: runId }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
      if (!run) throw RunErrors.notFound(runId);
      if (run.finishedAt) throw RunErrors.finished(runId, run.status);
      run.cancelRequested = true;
      await tx.flush();
      await beforeCommit?.(tx);
      return run;
    });
    if (run.status === "QUEUED") {
      await finish(this.jobDeps(), em.fork(), run, "CANCELLED", null);
    }
  }
}

function checkOptions(input: StartSyncOptions | null | undefined, mappings: ConnectorMapping[]): RunOptions {
  const batchSize = input?.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) throw RunErrors.badOption("batchSize", `must be 1 to ${MAX_BATCH_SIZE}`);
  const maxRecords = input?.maxRecords ?? null;
  if (maxRecords !== null && (!Number.isInteger(maxRecords) || maxRecords < 1 || maxRecords > MAX_RECORDS)) throw RunErrors.badOption("maxRecords", `must be 1 to ${MAX_RECORDS}`);
  const since = input?.since ?? null;
  if (since && (Number.isNaN(since.getTime()) || since.getTime() > Date.now() + 60_000)) throw RunErrors.badOption("since", "must be a time in the past");
  if (since && input?.full) throw RunErrors.badOption("since", "cannot be combined with full (a full run reads everything)");
  const reconcile = input?.reconcile ?? false;
  if (reconcile) {
    for (const [name, set] of [["full", input?.full], ["since", input?.since], ["force", input?.force], ["maxRecords", input?.maxRecords]] as const) {
      if (set) throw RunErrors.badOption("reconcile", `cannot be combined with ${name}`);
    }
  }
  const available = mappings.map((m) => m.remoteModel);
  if (!available.length) throw RunErrors.nothingToRun();
  const models = input?.models?.length ? [...new Set(input.models)] : available;
  for (const m of models) if (!available.includes(m)) throw RunErrors.unknownModel(m);
  return {
    full: input?.full ?? false,
    since: since ? since.toISOString() : null,
    dryRun: input?.dryRun ?? false,
    maxRecords,
    batchSize,
    force: input?.force ?? false,
    models,
    ...(reconcile ? { reconcile: true } : {}),
  };
}
