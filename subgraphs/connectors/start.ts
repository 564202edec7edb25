import type { Logger } from "pino";
import { AuditRecorder } from "../../kernel/audit.js";
import type { ServiceConfig } from "../../kernel/config.js";
import type { AuditUrl } from "../../kernel/outbox.js";
import type { PubSub } from "../../kernel/pubsub/pubsub.js";
import { jwksVerifier, startSubgraph, tenantsRevocations, type RunningSubgraph } from "../../kernel/service.js";
import type { ConnectorsContext } from "./context.js";
import { migrations } from "./migrations/index.js";
import { buildConnectorsSchema, entities } from "./schema.js";

export const CONNECTORS_DEFAULT_PORT = 4103;

/** Starts the connectors subgraph. */
export function startConnectors(config: ServiceConfig, deps: { logger: Logger; pubsub: PubSub; auditUrl?: AuditUrl }): Promise<RunningSubgraph> {
  const audit = new AuditRecorder();
  return startSubgraph<ConnectorsContext>({
    name: "connectors",
    config,
    ...deps,
    database: { schema: "connectors", entities, migrations },
    // Audit events go through this service's outbox to the audit subgraph (AUDIT_URL).
    auditOutbox: { recorder: audit, auditUrl: deps.auditUrl ?? (() => undefined) },
    buildSchema: buildConnectorsSchema,
    verifier: () => jwksVerifier(config),
    revocationSnapshot: tenantsRevocations(config),
    extend: (base) => ({ ...base, audit }),
  });
}
