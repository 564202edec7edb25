import type { Logger } from "pino";
import { startPurgeMarker } from "./purge/purged-tenant.js";
import type { TokenVerifier } from "../../kernel/auth.js";
import type { ServiceConfig } from "../../kernel/config.js";
import type { PubSub } from "../../kernel/pubsub/pubsub.js";
import { RevocationList } from "../../kernel/revocations.js";
import { jwksVerifier, startSubgraph, tenantsRevocations, type RunningSubgraph } from "../../kernel/service.js";
import { mountAuditExport } from "./export/csv-export.js";
import { mountAuditIngest } from "./ingest/audit-ingest.js";
import { migrations } from "./migrations/index.js";
import { buildAuditSchema, entities } from "./schema.js";

export const AUDIT_DEFAULT_PORT = 4104;

/**
 * Starts the audit subgraph, its internal ingest endpoint (the other services' outbox relays post their audit events
 * there) and the CSV export route.
 */
export function startAudit(config: ServiceConfig, deps: { logger: Logger; pubsub: PubSub }): Promise<RunningSubgraph> {
  const logger = deps.logger.child({ service: "audit" });
  // The export route verifies tokens outside GraphQL, so it keeps its own verifier and revocation list.
  let verifier: TokenVerifier | undefined;
  let revocations: RevocationList | undefined;
  return startSubgraph({
    name: "audit",
    config,
    ...deps,
    database: { schema: "audit", entities, migrations },
    buildSchema: buildAuditSchema,
    beforeServe: async (orm) => {
      verifier = jwksVerifier(config);
      revocations = new RevocationList({ pubsub: deps.pubsub, snapshot: tenantsRevocations(config)(), logger });
      await revocations.start();
      const stopMarker = await startPurgeMarker(orm, deps.pubsub, logger);
      return async () => {
        await stopMarker();
        await revocations?.stop();
      };
    },
    routes: (app, orm) => {
      mountAuditIngest(app, { orm, logger });
      mountAuditExport(app, {
        orm,
        verifier: () => verifier ?? (verifier = jwksVerifier(config)),
        revocations: () => revocations,
        logger,
      });
    },
    verifier: () => jwksVerifier(config),
    revocationSnapshot: tenantsRevocations(config),
    extend: (base) => base,
  });
}
