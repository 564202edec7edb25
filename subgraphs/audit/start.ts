import type { Logger } from "pino";
import type { ServiceConfig } from "../../kernel/config.js";
import type { PubSub } from "../../kernel/pubsub/pubsub.js";
import { jwksVerifier, startSubgraph, tenantsRevocations, type RunningSubgraph } from "../../kernel/service.js";
import { startAuditIngest } from "./ingest/audit-ingest.js";
import { migrations } from "./migrations/index.js";
import { buildAuditSchema, entities } from "./schema.js";

export const AUDIT_DEFAULT_PORT = 4104;

/** Starts the audit subgraph and its ingest of `audit.recorded` events. */
export function startAudit(config: ServiceConfig, deps: { logger: Logger; pubsub: PubSub }): Promise<RunningSubgraph> {
  return startSubgraph({
    name: "audit",
    config,
    ...deps,
    database: { schema: "audit", entities, migrations },
    buildSchema: buildAuditSchema,
    beforeServe: (orm) => startAuditIngest(orm, deps.pubsub, deps.logger.child({ service: "audit" })),
    verifier: () => jwksVerifier(config),
    revocationSnapshot: tenantsRevocations(config),
    extend: (base) => base,
  });
}
