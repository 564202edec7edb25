import type { Logger } from "pino";
import { startPurgeMarker } from "./purge/purged-tenant.js";
import type { TokenVerifier } from "../../kernel/auth.js";
import type { ServiceConfig } from "../../kernel/config.js";
import type { PubSub } from "../../kernel/pubsub/pubsub.js";
import { RevocationList } from "../../kernel/revocations.js";
import { jwksVerifier, startSubgraph, tenantsRevocations, type RunningSubgraph } from "../../kernel/service.js";
import type { AuditContext } from "./context.js";
import { mountAuditExport } from "./export/csv-export.js";
import { directAuditRecorder, mountAuditIngest } from "./ingest/audit-ingest.js";
import { migrations } from "./migrations/index.js";
import { scheduleRetention, tenantsRetentionPolicies, type RetentionPolicy, type RetentionResult } from "./retention/retention.job.js";
import { buildAuditSchema, entities } from "./schema.js";

export const AUDIT_DEFAULT_PORT = 4104;

export interface RunningAudit extends RunningSubgraph {
  /**
   * Applies every tenant's audit retention now (it also runs hourly). `policies` replaces the tenants service's,
   * `batchSize` the configured batch (operators, tests).
   */
  applyRetention(opts?: { policies?: RetentionPolicy[]; now?: Date; batchSize?: number }): Promise<RetentionResult[]>;
}

/**
 * Starts the audit subgraph, its internal ingest endpoint (the other services' outbox relays post their audit events
 * there), the CSV export route and the hourly retention job.
 */
export async function startAudit(
  config: ServiceConfig,
  deps: {
    logger: Logger;
    pubsub: PubSub;
    retention?: { intervalMs?: number; firstRunMs?: number; batchSize?: number };
    /** The service secret (INTERNAL_SECRET): required of the other services' relays, sent to the tenants service. */
    internalSecret: string;
  },
): Promise<RunningAudit> {
  const logger = deps.logger.child({ service: "audit" });
  // What this service records itself (platform reads of a tenant's trail, retention cuts) goes straight into the chain.
  const audit = directAuditRecorder();
  // The export route verifies tokens outside GraphQL, so it keeps its own verifier and revocation list.
  let verifier: TokenVerifier | undefined;
  let revocations: RevocationList | undefined;
  let retention: ReturnType<typeof scheduleRetention> | undefined;
  if (!config.jwt.jwksUrl) throw new Error("JWKS_URL is required");
  // The tenants service (beside its JWKS) knows each tenant's plan and retention override.
  const policies = tenantsRetentionPolicies(config.jwt.jwksUrl, deps.internalSecret);
  const service = await startSubgraph<AuditContext>({
    internalSecret: deps.internalSecret,
    name: "audit",
    config,
    logger: deps.logger,
    pubsub: deps.pubsub,
    database: { schema: "audit", entities, migrations },
    buildSchema: buildAuditSchema,
    beforeServe: async (orm) => {
      verifier = jwksVerifier(config);
      revocations = new RevocationList({ pubsub: deps.pubsub, snapshot: tenantsRevocations(config, deps.internalSecret)(), logger });
      await revocations.start();
      const stopMarker = await startPurgeMarker(orm, deps.pubsub, logger);
      retention = scheduleRetention(orm, policies, logger, deps.retention);
      return async () => {
        await retention?.stop();
        await stopMarker();
        await revocations?.stop();
      };
    },
    routes: (app, orm) => {
      mountAuditIngest(app, { orm, logger, secret: deps.internalSecret });
      mountAuditExport(app, {
        orm,
        audit,
        verifier: () => verifier ?? (verifier = jwksVerifier(config)),
        revocations: () => revocations,
        logger,
      });
    },
    verifier: () => jwksVerifier(config),
    revocationSnapshot: tenantsRevocations(config, deps.internalSecret),
    extend: (base) => ({ ...base, audit }),
  });
  return {
    ...service,
    applyRetention: async (opts = {}) => {
      if (!retention) throw new Error("the audit service is not started");
      return opts.policies ? retention.runWith(opts.policies, opts) : retention.run(opts.now);
    },
  };
}
