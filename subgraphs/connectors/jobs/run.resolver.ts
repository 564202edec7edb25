import { Arg, Authorized, Ctx, ID, Mutation, Resolver } from "type-graphql";
import { Audited } from "../../../kernel/audit-policy.js";
import { requirePrincipal } from "../../../kernel/auth.js";
import { loadConnector } from "../connector/connector.resolver.js";
import type { ConnectorsContext } from "../context.js";
import { StartSyncOptions } from "./run.inputs.js";
import { SyncRunRef } from "./sync-run.ref.js";

const PERM_RUN = "connector:run";

@Resolver()
export class RunResolver {
  @Authorized(PERM_RUN)
  @Audited("sync.started")
  @Mutation(() => SyncRunRef, {
    description: "Queues a connector run (a QUEUED SyncRun); watch it with syncRunUpdated. CONFLICT (reason SYNC_ALREADY_RUNNING) while a run of the same model is queued or running.",
  })
  async startSync(
    @Arg("connectorId", () => ID) connectorId: string,
    @Arg("options", () => StartSyncOptions, { nullable: true }) options: StartSyncOptions | null,
    @Ctx() ctx: ConnectorsContext,
  ): Promise<SyncRunRef> {
    const principal = requirePrincipal(ctx);
    const connector = await loadConnector(ctx, connectorId);
    // The run's job state and its audit event commit together.
    const runId = await ctx.runs.start(ctx.em, connector, options, { type: principal.kind === "api_key" ? "API_KEY" : "USER", id: principal.userId }, (tx, id) =>
      ctx.audit.record({ ...ctx, em: tx }, { action: "sync.started", targetType: "SyncRun", targetId: id, metadata: { connectorId, options: options ? { ...options } : {} } }),
    );
    return { id: runId };
  }

  @Authorized(PERM_RUN)
  @Audited("sync.cancelled")
  @Mutation(() => SyncRunRef, { description: "Stops a connector run: a queued run ends at once, a running one after its current page (status CANCELLED)." })
  async cancelSync(@Arg("runId", () => ID) runId: string, @Ctx() ctx: ConnectorsContext): Promise<SyncRunRef> {
    requirePrincipal(ctx);
    await ctx.runs.cancel(ctx.em, runId, (tx) => ctx.audit.record({ ...ctx, em: tx }, { action: "sync.cancelled", targetType: "SyncRun", targetId: runId }));
    return { id: runId };
  }
}
