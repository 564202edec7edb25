import type { Logger } from "pino";
import { AuditRecorder } from "../../kernel/audit.js";
import type { ServiceConfig } from "../../kernel/config.js";
import type { AuditUrl } from "../../kernel/outbox.js";
import type { PubSub } from "../../kernel/pubsub/pubsub.js";
import { jwksVerifier, startSubgraph, tenantsRevocations, type RunningSubgraph } from "../../kernel/service.js";
import type { SyncContext } from "./context.js";
import { mountConnectorRunRoutes } from "./ingest/internal-routes.js";
import { migrations } from "./migrations/index.js";
import { GrantsDirectory } from "./records/access.js";
import { ChangeFeeds } from "./records/change-feed.js";
import { RecordsService } from "./records/records.service.js";
import { PUSH_ROW_INPUT } from "./records/records.types.js";
import { buildSyncSchema, entities } from "./schema.js";
import { ConnectorDirectory } from "./sync-log/connector-directory.js";
import { SyncRunService } from "./sync-log/sync-run.service.js";

export const SYNC_DEFAULT_PORT = 4102;
/** How often tombstones past their collection's retention are purged. */
const TOMBSTONE_PURGE_MS = 60 * 60_000;
/** How often device notes of pulls are written. */
const CLIENT_FLUSH_MS = 2_000;

/** Where sync finds the services it asks on a caller's behalf. */
export interface SyncPeers {
  /** The connectors subgraph's GraphQL URL (connector ids are checked there, with the caller's token). */
  connectorsUrl: string;
  /** The tenants subgraph's GraphQL URL (callers' collection grants); default: beside JWKS_URL. */
  tenantsUrl?: string;
  /** The audit subgraph, where the outbox relay delivers this service's audit events (AUDIT_URL). Without it the
   * events wait in the outbox (another replica's relay, or this one once configured, delivers them). */
  auditUrl?: AuditUrl;
  /** The service secret of internal calls (INTERNAL_SECRET): the connectors service opens runs and writes records
   * through `/internal/connector-runs` with it; this service sends it to the audit ingest and the tenants service. */
  internalSecret: string;
}

export interface RunningSync extends RunningSubgraph {
  records: RecordsService;
  feeds: ChangeFeeds;
}

/** Starts the sync subgraph. */
export async function startSync(config: ServiceConfig, deps: { logger: Logger; pubsub: PubSub }, peers: SyncPeers): Promise<RunningSync> {
  const audit = new AuditRecorder();
  const logger = deps.logger.child({ service: "sync" });
  let syncRuns!: SyncRunService;
  let records!: RecordsService;
  let feeds!: ChangeFeeds;
  const service = await startSubgraph<SyncContext>({
    internalSecret: peers.internalSecret,
    name: "sync",
    config,
    ...deps,
    database: { schema: "sync", entities, migrations },
    auditOutbox: { recorder: audit, auditUrl: peers.auditUrl ?? (() => undefined), secret: peers.internalSecret },
    buildSchema: buildSyncSchema,
    // A push's rows: NUL and too-deep documents are rejected row by row (RecordsService.checkDocument).
    rowInputs: [PUSH_ROW_INPUT],
    beforeServe: async (orm) => {
      syncRuns = new SyncRunService(orm, deps.pubsub, new ConnectorDirectory(peers.connectorsUrl), { logger });
      if (!config.jwt.jwksUrl && !peers.tenantsUrl) throw new Error("JWKS_URL is required");
      const grants = new GrantsDirectory(peers.tenantsUrl ?? new URL("/graphql", config.jwt.jwksUrl).toString(), deps.pubsub, logger);
      await grants.start();
      records = new RecordsService(orm, deps.pubsub, grants, logger, {
        // Pull entries of the sync log are batched off the pull path; push entries commit with the push.
        onPulled: (e) => syncRuns.logPull({ principal: e.caller.principal, clientId: e.clientId, collections: e.collections, documents: e.documents, durationMs: e.durationMs }),
        onPushed: (run) => syncRuns.announce(run),
      });
      feeds = new ChangeFeeds(orm, deps.pubsub, records, logger);
      const flush = setInterval(() => void records.flushClients(), CLIENT_FLUSH_MS).unref();
      const purge = setInterval(() => void records.purgeTombstones().catch((err: unknown) => logger.warn({ err }, "tombstone purge failed")), TOMBSTONE_PURGE_MS).unref();
      return async () => {
        clearInterval(flush);
        clearInterval(purge);
        await feeds.stop();
        await records.flushClients();
        await syncRuns.close();
        await grants.stop();
      };
    },
    routes: (app, orm) => mountConnectorRunRoutes(app, { orm, secret: peers.internalSecret, syncRuns: () => syncRuns, records: () => records, pubsub: deps.pubsub, logger }),
    verifier: () => jwksVerifier(config),
    revocationSnapshot: tenantsRevocations(config, peers.internalSecret),
    extend: (base) => ({ ...base, audit, syncRuns, records, feeds }),
  });
  return { ...service, records, feeds };
}
