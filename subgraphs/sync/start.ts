import type { Logger } from "pino";
import { AuditRecorder } from "../../kernel/audit.js";
import type { ServiceConfig } from "../../kernel/config.js";
import type { PubSub } from "../../kernel/pubsub/pubsub.js";
import { jwksVerifier, startSubgraph, tenantsRevocations, type RunningSubgraph } from "../../kernel/service.js";
import type { SyncContext } from "./context.js";
import { migrations } from "./migrations/index.js";
import { buildSyncSchema, entities } from "./schema.js";
import { ConnectorDirectory } from "./sync-log/connector-directory.js";
import { RecordsService } from "./records/records.service.js";
import { SyncRunService } from "./sync-log/sync-run.service.js";

export const SYNC_DEFAULT_PORT = 4102;

/** Where sync finds the services it asks on a caller's behalf. */
export interface SyncPeers {
  /** The connectors subgraph's GraphQL URL (connector ids are checked there, with the caller's token). */
  connectorsUrl: string;
}

/** Starts the sync subgraph. */
export function startSync(config: ServiceConfig, deps: { logger: Logger; pubsub: PubSub }, peers: SyncPeers): Promise<RunningSubgraph> {
  const audit = new AuditRecorder(deps.pubsub, deps.logger);
  let syncRuns!: SyncRunService;
  let records!: RecordsService;
  return startSubgraph<SyncContext>({
    name: "sync",
    config,
    ...deps,
    database: { schema: "sync", entities, migrations },
    buildSchema: buildSyncSchema,
    beforeServe: async (orm) => {
      syncRuns = new SyncRunService(orm, deps.pubsub, new ConnectorDirectory(peers.connectorsUrl));
      records = new RecordsService(orm, deps.pubsub);
    },
    verifier: () => jwksVerifier(config),
    revocationSnapshot: tenantsRevocations(config),
    extend: (base) => ({ ...base, audit, syncRuns, records }),
  });
}
