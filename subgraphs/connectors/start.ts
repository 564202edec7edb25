import type { Logger } from "pino";
import { AuditRecorder } from "../../kernel/audit.js";
import type { ServiceConfig } from "../../kernel/config.js";
import { Errors } from "../../kernel/errors.js";
import type { AuditUrl } from "../../kernel/outbox.js";
import type { PubSub } from "../../kernel/pubsub/pubsub.js";
import { jwksVerifier, startSubgraph, tenantsRevocations, type RunningSubgraph } from "../../kernel/service.js";
import { forkForTenant, forkUnscoped } from "../../kernel/tenancy.js";
import { Connector } from "./connector/connector.entity.js";
import type { SecretBox } from "./connector/secret-box.js";
import { sourceFactory, type SourceBuilders } from "./connector/sources.js";
import { defaultSourceBuilders } from "./connector/source-builders.js";
import type { ConnectorsContext } from "./context.js";
import { ConnectorJobs, type ConnectorJobsOptions } from "./jobs/connector-jobs.js";
import { OutboundWriter, type OutboundOptions } from "./jobs/outbound.js";
import { ConnectorRuns } from "./jobs/run.service.js";
import { SyncApi, type SyncUrl } from "./jobs/sync-api.js";
import type { JobDeps } from "./jobs/sync-job.js";
import { ConnectorMapping } from "./mapping/mapping.entity.js";
import { migrations } from "./migrations/index.js";
import { mountOdooWebhook } from "./webhooks/odoo-webhook.js";
import { mountOdooNotify } from "./webhooks/odoo-notify.js";
import { WEBHOOK_RUN_DELAY_SECONDS } from "./webhooks/webhook-hint.js";
import { buildConnectorsSchema, entities } from "./schema.js";

export const CONNECTORS_DEFAULT_PORT = 4103;

export interface ConnectorsPeers {
  auditUrl?: AuditUrl;
  /** The sync service (its GraphQL URL or base): runs and records go through its internal API. */
  syncUrl: SyncUrl;
  /** The service secret of internal calls (INTERNAL_SECRET). */
  internalSecret: string;
  /** Seals connector credentials (CONNECTOR_SECRET_KEY). */
  box: SecretBox;
  /** Job queue and workers (CONNECTOR_WORKERS, ...). */
  jobs?: Partial<Omit<ConnectorJobsOptions, "databaseUrl">>;
  /** How sources are built per kind (tests inject faults). */
  sources?: SourceBuilders;
  /** Outbound write-back loop (runs where job workers run: CONNECTOR_WORKERS > 0). */
  outbound?: OutboundOptions;
}

export interface RunningConnectors extends RunningSubgraph {
  jobs: ConnectorJobs;
}

/** Starts the connectors subgraph, its job queue and its workers. */
export async function startConnectors(config: ServiceConfig, deps: { logger: Logger; pubsub: PubSub }, peers: ConnectorsPeers): Promise<RunningConnectors> {
  const audit = new AuditRecorder();
  const logger = deps.logger.child({ service: "connectors" });
  const sync = new SyncApi(peers.syncUrl, peers.internalSecret);
  let jobs!: ConnectorJobs;
  let runs!: ConnectorRuns;
  let jobDeps!: JobDeps;
  let sources!: JobDeps["sources"];
  const service = await startSubgraph<ConnectorsContext>({
    internalSecret: peers.internalSecret,
    name: "connectors",
    config,
    ...deps,
    database: { schema: "connectors", entities, migrations },
    // Audit events go through this service's outbox to the audit subgraph (AUDIT_URL).
    auditOutbox: { recorder: audit, auditUrl: peers.auditUrl ?? (() => undefined), secret: peers.internalSecret },
    buildSchema: buildConnectorsSchema,
    beforeServe: async (orm) => {
      sources = sourceFactory(orm, peers.box, peers.sources ?? defaultSourceBuilders);
      jobDeps = {
        orm,
        sync,
        sources,
        logger,
        // Webhooks that arrived during a run of their model get one more incremental run.
        afterFinish: async (run) => {
          const em = forkForTenant(orm, run.tenantId);
          const pending = await em.find(ConnectorMapping, { connectorId: run.connectorId, remoteModel: { $in: run.options.models }, rerunRequested: true });
          if (!pending.length) return;
          for (const m of pending) m.rerunRequested = false;
          await em.flush();
          const connector = await em.findOne(Connector, { id: run.connectorId });
          // Delayed like the hint's own run: the notifying transaction may commit only after its last call.
          if (connector) {
            await runs.start(em, connector, { models: pending.map((m) => m.remoteModel) }, { type: "CONNECTOR", id: null }, undefined, { startAfterSeconds: WEBHOOK_RUN_DELAY_SECONDS });
          }
        },
      };
      jobs = new ConnectorJobs(
        { databaseUrl: config.databaseUrl, workers: 2, ...peers.jobs },
        {
          ...jobDeps,
          // Due reconciliations (settings.reconcileEveryMinutes): claimed by stamping reconciledAt, so one replica starts each.
          onReconcileSweep: async () => {
            const due: { id: string; tenant_id: string; connector_id: string; remote_model: string }[] = await forkUnscoped(orm)
              .execute(
                `update connectors.connector_mapping m set reconciled_at = now()
                   from connectors.connector c
                  where c.id = m.connector_id and c.kind = 'ODOO' and m.enabled and m.direction in ('INBOUND', 'BOTH')
                    and m.last_run_at is not null and coalesce((c.settings->>'reconcileEveryMinutes')::int, 360) > 0
                    and coalesce(m.reconciled_at, m.created_at) < now() - make_interval(mins => coalesce((c.settings->>'reconcileEveryMinutes')::int, 360))
                    and not exists (select 1 from connectors.connector_model_lock l where l.connector_id = m.connector_id and l.model = m.remote_model)
                  returning m.id, m.tenant_id, m.connector_id, m.remote_model`,
              );
            logger.debug({ due: due.length }, "reconciliation sweep");
            for (const m of due) {
              const em = forkForTenant(orm, m.tenant_id);
              const connector = await em.findOne(Connector, { id: m.connector_id });
              if (!connector) continue;
              await runs.start(em, connector, { models: [m.remote_model], reconcile: true }, { type: "CONNECTOR", id: null }).catch((err: unknown) => {
                logger.info({ err, connectorId: m.connector_id, model: m.remote_model }, "scheduled reconciliation not started");
              });
            }
          },
          // A cron occurrence: a run of that mapping's model, unless one is already running.
          onScheduled: async ({ tenantId, connectorId, mappingId }) => {
            const em = forkForTenant(orm, tenantId);
            const [connector, mapping] = await Promise.all([em.findOne(Connector, { id: connectorId }), em.findOne(ConnectorMapping, { id: mappingId })]);
            if (!connector || !mapping || !mapping.enabled) return;
            await runs.start(em, connector, { models: [mapping.remoteModel] }, { type: "CONNECTOR", id: null }).catch((err: unknown) => {
              if ((err as { extensions?: { code?: string } }).extensions?.code === Errors.conflict("").extensions.code) {
                logger.info({ connectorId, model: mapping.remoteModel }, "scheduled run skipped: a run of this model is active");
                return;
              }
              throw err;
            });
          },
        },
      );
      await jobs.start();
      runs = new ConnectorRuns(jobs, sync, () => jobDeps, logger);
      // Outbound write-back: clients' changes to OUTBOUND/BOTH collections, written to the remote by worker processes.
      const workers = peers.jobs?.workers ?? 2;
      const outbound = workers > 0 ? new OutboundWriter({ orm, sync, sources, logger, pubsub: deps.pubsub }, peers.outbound) : undefined;
      outbound?.start();
      return async () => {
        await outbound?.stop();
        await jobs.stop();
      };
    },
    routes: (app, orm) => {
      mountOdooWebhook(app, { orm, box: peers.box, runs: () => runs, audit, logger });
      mountOdooNotify(app, { orm, runs: () => runs, audit, logger });
    },
    verifier: () => jwksVerifier(config),
    revocationSnapshot: tenantsRevocations(config, peers.internalSecret),
    extend: (base) => ({ ...base, audit, box: peers.box, runs, jobs, sources }),
  });
  return { ...service, jobs };
}
