import type { EntityManager } from "@mikro-orm/postgresql";
import DataLoader from "dataloader";
import { Arg, Authorized, Ctx, FieldResolver, Float, ID, Int, Mutation, Query, Resolver, Root, Subscription } from "type-graphql";
import { Audited } from "../../../kernel/audit-policy.js";
import { requirePrincipal } from "../../../kernel/auth.js";
import { isUuid } from "../../../kernel/loaders.js";
import type { SyncContext } from "../context.js";
import { ConnectorRef, UserRef } from "./refs.js";
import { runDurationMs, runRecordsPerSecond, SyncRun, SyncRunKind } from "./sync-run.entity.js";
import { SyncRunErrors } from "./sync-run.errors.js";
import { StartSyncRunInput, StatsBucket, SyncRunFilter, SyncRunPage, SyncRunProgressInput, SyncStatsBucket } from "./sync-run.inputs.js";

const PERM_RUN = "connector:run";
const PERM_PULL = "sync:pull";

@Resolver(() => SyncRun)
export class SyncRunResolver {
  @Authorized(PERM_PULL)
  @Query(() => SyncRun)
  syncRun(@Arg("id", () => ID) id: string, @Ctx() ctx: SyncContext): Promise<SyncRun> {
    return ctx.syncRuns.find(ctx.em, id);
  }

  @Authorized(PERM_PULL)
  @Query(() => SyncRunPage, { description: "The caller's tenant's runs, newest first, in pages (keyset cursor)." })
  syncRuns(
    @Ctx() ctx: SyncContext,
    @Arg("filter", () => SyncRunFilter, { nullable: true }) filter: SyncRunFilter | null,
    @Arg("first", () => Int, { defaultValue: 50, description: "1 to 200" }) first: number,
    @Arg("after", () => String, { nullable: true, description: "endCursor of the previous page" }) after?: string | null,
  ): Promise<SyncRunPage> {
    return ctx.syncRuns.list(ctx.em, requirePrincipal(ctx), filter, first, after);
  }

  @Authorized(PERM_PULL)
  @Query(() => [SyncStatsBucket], {
    description: "Runs created in [from, to) per UTC hour or day, every bucket present (empty ones with zeros), for charts.",
  })
  syncStats(
    @Ctx() ctx: SyncContext,
    @Arg("from", () => Date) from: Date,
    @Arg("to", () => Date) to: Date,
    @Arg("bucket", () => StatsBucket, { description: "At most 2,232 HOUR or 3,660 DAY buckets" }) bucket: StatsBucket,
    @Arg("kind", () => SyncRunKind, { nullable: true }) kind?: SyncRunKind | null,
    @Arg("connectorId", () => ID, { nullable: true }) connectorId?: string | null,
  ): Promise<SyncStatsBucket[]> {
    return ctx.syncRuns.stats(ctx.em, requirePrincipal(ctx), { from, to, bucket, kind, connectorId });
  }

  @Authorized(PERM_RUN)
  @Audited("sync.run.started")
  @Mutation(() => SyncRun, { description: "Opens a run in the sync log (QUEUED)." })
  async startSyncRun(@Arg("input", () => StartSyncRunInput) input: StartSyncRunInput, @Ctx() ctx: SyncContext): Promise<SyncRun> {
    // The run and its audit event commit together.
    return ctx.syncRuns.start(ctx.em, { ...ctx, principal: requirePrincipal(ctx) }, input, (tx, run) =>
      ctx.audit.record({ ...ctx, em: tx }, { action: "sync.run.started", targetType: "SyncRun", targetId: run.id, metadata: { kind: run.kind, connectorId: run.connectorId } }),
    );
  }

  @Authorized(PERM_RUN)
  @Audited("sync.run.status_changed")
  @Mutation(() => SyncRun, { description: "Reports a run's progress or final status; live subscribers see it at once." })
  async updateSyncRunProgress(
    @Arg("id", () => ID) id: string,
    @Arg("input", () => SyncRunProgressInput) input: SyncRunProgressInput,
    @Ctx() ctx: SyncContext,
  ): Promise<SyncRun> {
    // A status change and its audit event commit together.
    return ctx.syncRuns.progress(
      ctx.em,
      id,
      input,
      input.status
        ? (tx, run) => ctx.audit.record({ ...ctx, em: tx }, { action: "sync.run.status_changed", targetType: "SyncRun", targetId: run.id, changes: { status: { after: run.status } } })
        : undefined,
    );
  }

  @Authorized(PERM_PULL)
  @Subscription(() => SyncRun, {
    description: "A run's current state, then every change until it finishes.",
    subscribe: ({ args, context }) => (context as SyncContext).syncRuns.watch(requirePrincipal(context as SyncContext), args.id as string),
  })
  syncRunUpdated(@Arg("id", () => ID) _id: string, @Root() run: SyncRun): SyncRun {
    return run;
  }

  @Authorized(PERM_PULL)
  @Subscription(() => SyncRun, {
    description: "Every run of the tenant that is QUEUED or RUNNING now, then each run's new state whenever one is created or changes.",
    subscribe: ({ context }) => (context as SyncContext).syncRuns.watchAll(requirePrincipal(context as SyncContext)),
  })
  syncRunsUpdated(@Root() run: SyncRun): SyncRun {
    return run;
  }

  @FieldResolver(() => Int, { nullable: true, description: "finishedAt − startedAt (for an entry of several pulls, their summed time); null until finished" })
  durationMs(@Root() run: SyncRun): number | null {
    return runDurationMs(run);
  }

  @FieldResolver(() => Float, { nullable: true, description: "Records processed per second: of durationMs once finished, of the time so far while running; null before it starts" })
  recordsPerSecond(@Root() run: SyncRun): number | null {
    return runRecordsPerSecond(run);
  }

  @FieldResolver(() => ConnectorRef, { nullable: true, description: "Resolved by the connectors service" })
  connector(@Root() run: SyncRun): ConnectorRef | null {
    return run.connectorId ? { id: run.connectorId } : null;
  }

  @FieldResolver(() => UserRef, { nullable: true, description: "Who started the run; resolved by the tenants service" })
  triggeredBy(@Root() run: SyncRun): UserRef | null {
    return run.triggeredById ? { id: run.triggeredById } : null;
  }
}

/** Most runs listed under one connector (`Connector.syncRuns(first)`); older ones are paged with `syncRuns(filter)`. */
export const MAX_CONNECTOR_RUNS = 100;

@Resolver(() => ConnectorRef)
export class ConnectorSyncRunsResolver {
  @Authorized(PERM_PULL)
  @FieldResolver(() => [SyncRun], { description: "This connector's latest runs, newest first (all of them: syncRuns(filter: { connectorId }) pages)." })
  syncRuns(
    @Root() connector: ConnectorRef,
    @Ctx() ctx: SyncContext,
    @Arg("first", () => Int, { defaultValue: 20, description: `1 to ${MAX_CONNECTOR_RUNS}` }) first: number,
  ): Promise<SyncRun[]> {
    const principal = requirePrincipal(ctx);
    if (!Number.isInteger(first) || first < 1 || first > MAX_CONNECTOR_RUNS) throw SyncRunErrors.pageSize(MAX_CONNECTOR_RUNS);
    return ctx.loaders.custom(`Connector.syncRuns.${first}`, (em) => latestRunsLoader(em, principal.tenantId, first)).load(connector.id);
  }
}

/**
 * Each connector's latest `first` runs, for all connectors of a request in two statements: the ids by one index walk
 * per connector (tenant, connector, created_at), then the runs.
 */
function latestRunsLoader(em: EntityManager, tenantId: string, first: number): DataLoader<string, SyncRun[]> {
  return new DataLoader<string, SyncRun[]>(async (keys) => {
    const valid = [...new Set(keys.filter(isUuid).map((k) => k.toLowerCase()))];
    const ids = valid.length
      ? ((await em.execute(
          `select r.id from unnest(?::uuid[]) as c(id)
             cross join lateral (select id from sync.sync_run where tenant_id = ? and connector_id = c.id order by created_at desc, id desc limit ?) r`,
          [`{${valid.join(",")}}`, tenantId, first],
          "all",
        )) as { id: string }[])
      : [];
    const runs = ids.length ? await em.find(SyncRun, { id: { $in: ids.map((r) => r.id) } }, { orderBy: { createdAt: "desc", id: "desc" } }) : [];
    const groups = new Map<string, SyncRun[]>(keys.map((k) => [k.toLowerCase(), []]));
    for (const run of runs) if (run.connectorId) groups.get(run.connectorId.toLowerCase())?.push(run);
    return keys.map((k) => groups.get(k.toLowerCase())!);
  });
}

/** Federation entry points; the tenant filter makes foreign ids resolve to null. */
export function resolveSyncRunReference(ref: { id: string }, ctx: SyncContext): Promise<SyncRun | null> {
  requirePrincipal(ctx);
  return ctx.loaders.byId(SyncRun).load(ref.id);
}
export function resolveConnectorRefReference(ref: { id: string }, ctx: SyncContext): ConnectorRef {
  requirePrincipal(ctx);
  return { id: ref.id };
}
