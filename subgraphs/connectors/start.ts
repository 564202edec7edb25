import type { Logger } from "pino";
import { AuditRecorder } from "../../kernel/audit.js";
import type { ServiceConfig } from "../../kernel/config.js";
import type { PubSub } from "../../kernel/pubsub/pubsub.js";
import { jwksVerifier, startSubgraph, tenantsRevocations, type RunningSubgraph } from "../../kernel/service.js";
import type { ConnectorsContext } from "./context.js";
import { migrations } from "./migrations/index.js";
import { buildConnectorsSchema, entities } from "./schema.js";

export const CONNECTORS_DEFAULT_PORT = 4103;

/** Starts the connectors subgraph. */
export function startConnectors(config: ServiceConfig, deps: { logger: Logger; pubsub: PubSub }): Promise<RunningSubgraph> {
  const audit = new AuditRecorder(deps.pubsub, deps.logger);
  return startSubgraph<ConnectorsContext>({
    name: "connectors",
    config,
    ...deps,
    database: { schema: "connectors", entities, migrations },
    buildSchema: buildConnectorsSchema,
    verifier: () => jwksVerifier(config),
    revocationSnapshot: tenantsRevocations(config),
    extend: (base) => ({ ...base, audit }),
  });
}
