import { randomUUID } from "node:crypto";
import { LockMode, type EntityManager, type MikroORM } from "@mikro-orm/postgresql";
import type { Principal } from "../../../kernel/auth.js";
import { isUuid } from "../../../kernel/loaders.js";
import type { PubSub } from "../../../kernel/pubsub/pubsub.js";
import { forkForTenant } from "../../../kernel/tenancy.js";
import type { Topics } from "../../../kernel/topics.js";
import { FINAL_STATUSES, SyncRun, SyncRunKind, SyncRunStatus } from "./sync-run.entity.js";
import type { ConnectorDirectory } from "./connector-directory.js";
import { SyncRunErrors } from "./sync-run.errors.js";
import type { StartSyncRunInput, SyncRunProgressInput } from "./sync-run.inputs.js";

type RunUpdated = Topics["sync.run.updated"];
/** One channel per run: subscribers only wake for their run; the payload's tenant is still checked per event. */
export const runChannel = (runId: string) => `sync.run.updated:${runId}`;

export const MAX_RUNS_PAGE = 200;
const COUNTS = ["processed", "created", "updated", "deleted", "failed", "conflicts"] as const;

/** Which status may follow which: runs only move forward. */
const NEXT: Record<SyncRunStatus, SyncRunStatus[]> = {
  QUEUED: [SyncRunStatus.RUNNING, SyncRunStatus.CANCELLED, SyncRunStatus.FAILED],
  RUNNING: [SyncRunStatus.SUCCEEDED, SyncRunStatus.PARTIAL, SyncRunStatus.FAILED, SyncRunStatus.CANCELLED],
  SUCCEEDED: [],
  PARTIAL: [],
  FAILED: [],
  CANCELLED: [],
};

/** Sync-log operations. The caller's tenant always comes from the principal. */
export class SyncRunService {
  constructor(
    private readonly orm: MikroORM,
    private readonly pubsub: PubSub,
    private readonly connectors: ConnectorDirectory,
  ) {}

  async find(em: EntityManager, id: string): Promise<SyncRun> {
    const run = isUuid(id) ? await em.findOne(SyncRun, { id }) : null;
    if (!run) throw SyncRunErrors.notFound(id);
    return run;
  }

  list(em: EntityManager, limit: number, status?: SyncRunStatus | null): Promise<SyncRun[]> {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_RUNS_PAGE) throw SyncRunErrors.limit(MAX_RUNS_PAGE);
    return em.find(SyncRun, status ? { status } : {}, { orderBy: { createdAt: "desc", id: "desc" }, limit });
  }

  async start(
    em: EntityManager,
    caller: { principal: Principal; authorization?: string; requestId: string },
    input: StartSyncRunInput,
  ): Promise<SyncRun> {
    const { principal } = caller;
    if (input.kind === SyncRunKind.CONNECTOR && !input.connectorId) throw SyncRunErrors.connectorRequired();
    if (input.connectorId && !isUuid(input.connectorId)) throw SyncRunErrors.connectorMalformed();
    if (input.connectorId && !(await this.connectors.exists(input.connectorId, caller))) {
      throw SyncRunErrors.connectorNotFound(input.connectorId);
    }
    const run = em.create(SyncRun, {
      id: randomUUID(),
      tenantId: principal.tenantId,
      kind: input.kind,
      connectorId: input.connectorId?.toLowerCase() ?? null,
      triggeredById: principal.userId,
    });
    await em.flush();
    await this.announce(run);
    return run;
  }

  /**
   * Applies a progress report. The run's row is locked for the read-check-write, so concurrent reports serialize:
   * counts never move backwards and exactly one report can finish a run.
   */
  async progress(em: EntityManager, id: string, input: SyncRunProgressInput): Promise<SyncRun> {
    if (!isUuid(id)) throw SyncRunErrors.notFound(id);
    const run = await em.transactional(async (tx) => {
      const run = await tx.findOne(SyncRun, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
      if (!run) throw SyncRunErrors.notFound(id);
      applyProgress(run, input);
      return run;
    });
    await this.announce(run);
    return run;
  }

  private announce(run: SyncRun): Promise<void> {
    const event: RunUpdated = { tenantId: run.tenantId, runId: run.id, status: run.status };
    return this.pubsub.publish(runChannel(run.id), event);
  }

  /**
   * The current state of a run, then its state after each change, until it finishes. Pub/sub only wakes the
   * stream: every emission is read from the database, so a lost message delays an update but never loses it.
   */
  async watch(principal: Principal, id: string): Promise<AsyncGenerator<SyncRun>> {
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
    return (async function* () {
      try {
        let last = first;
        yield last;
        if (FINAL_STATUSES.has(last.status)) return;
        for await (const event of events) {
          if (event.tenantId !== principal.tenantId || event.runId !== id) continue;
          const run = await load();
          if (!run) return;
          if (run.updatedAt.getTime() === last.updatedAt.getTime() && run.status === last.status) continue;
          last = run;
          yield run;
          if (FINAL_STATUSES.has(run.status)) return;
        }
      } finally {
        await events.return?.();
      }
    })();
  }
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
