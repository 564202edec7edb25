import type { Logger } from "pino";
import { AuditRecorder } from "../../kernel/audit.js";
import type { ServiceConfig } from "../../kernel/config.js";
import type { PubSub } from "../../kernel/pubsub/pubsub.js";
import { jwksVerifier, startSubgraph, type RunningSubgraph } from "../../kernel/service.js";
import type { SyncContext } from "./context.js";
import { migrations } from "./migrations/index.js";
import { buildSyncSchema, entities } from "./schema.js";
import { SyncRunService } from "./sync-log/sync-run.service.js";

export const SYNC_DEFAULT_PORT = 4102;

/** Starts the sync subgraph. */
export function startSync(config: ServiceConfig, deps: { logger: Logger; pubsub: PubSub }): Promise<RunningSubgraph> {
  const audit = new AuditRecorder(deps.pubsub, deps.logger);
  let syncRuns!: SyncRunService;
  return startSubgraph<SyncContext>({
    name: "sync",
    config,
    ...deps,
    database: { schema: "sync", entities, migrations },
    buildSchema: buildSyncSchema,
    beforeServe: async (orm) => {
      syncRuns = new SyncRunService(orm, deps.pubsub);
    },
    verifier: () => jwksVerifier(config),
    extend: (base) => ({ ...base, audit, syncRuns }),
  });
}
