// Starts the whole stack in one process: the four subgraphs and the gateway, on one database and one pub/sub.
// Used by the embedded default (bin/embedded.ts) and by the test harness.
import type { Logger } from "pino";
import type { ServiceConfig } from "../kernel/config.js";
import { createPubSub } from "../kernel/pubsub/index.js";
import type { PubSub } from "../kernel/pubsub/pubsub.js";
import type { RunningSubgraph } from "../kernel/service.js";
import { defaultSupergraphPath, type GatewayConfig } from "../gateway/config.js";
import { startGateway, type RunningGateway } from "../gateway/gateway.js";
import { startAudit } from "../subgraphs/audit/start.js";
import { SecretBox } from "../subgraphs/connectors/connector/secret-box.js";
import type { SourceBuilders } from "../subgraphs/connectors/connector/sources.js";
import { startConnectors, type ConnectorsPeers, type RunningConnectors } from "../subgraphs/connectors/start.js";
import { generateInternalSecret } from "../kernel/internal-auth.js";
import { startSync, type RunningSync } from "../subgraphs/sync/start.js";
import { startTenants, type RunningTenants } from "../subgraphs/tenants/start.js";

export interface StackOptions {
  databaseUrl: string;
  redisUrl?: string;
  /** Redis channel prefix (tests isolate runs sharing one Redis). */
  redisKeyPrefix?: string;
  host?: string;
  gatewayPort?: number;
  supergraphPath?: string;
  sandbox?: boolean;
  /** Gateway options beyond the defaults (introspection on; guards with the production limits). */
  gateway?: Partial<Pick<GatewayConfig, "introspection" | "guards" | "benchmarkOnlyDisableGuards">>;
  logger: Logger;
  /** Service secret of internal calls between the stack's services (default: a fresh one per start). */
  internalSecret?: string;
  /** Key of connector credentials at rest (default: a fresh one per start; the embedded default keeps one in .data/). */
  connectorSecrets?: SecretBox;
  /** Connector job queue options (workers, heartbeat, retries). */
  connectorJobs?: ConnectorsPeers["jobs"];
  /** Connector sources per kind (tests inject faulty ones). */
  connectorSources?: SourceBuilders;
}

export interface RunningStack {
  gateway: RunningGateway;
  tenants: RunningTenants;
  sync: RunningSync;
  connectors: RunningConnectors;
  audit: RunningSubgraph;
  pubsub: PubSub;
  /**
   * Starts a fresh audit subgraph on the same database and port (after `audit.stop()`, or stopping the running one
   * first); `audit` then names it. The other services' outbox relays deliver what they kept meanwhile.
   */
  restartAudit(): Promise<RunningSubgraph>;
  stop(): Promise<void>;
}

/** Starts tenants first (it owns the signing keys), then the other subgraphs, then the gateway over them. */
export async function startStack(opts: StackOptions): Promise<RunningStack> {
  const host = opts.host ?? "127.0.0.1";
  const pubsub = createPubSub({ redisUrl: opts.redisUrl, keyPrefix: opts.redisKeyPrefix, logger: opts.logger });
  const deps = { logger: opts.logger, pubsub };
  const jwt = { issuer: "tributary", audience: "tributary-api" };
  // Subgraphs are internal: loopback, any free port.
  const base: ServiceConfig = { databaseUrl: opts.databaseUrl, redisUrl: opts.redisUrl, host: "127.0.0.1", port: 0, logLevel: "info", jwt };
  const started: { stop(): Promise<void> }[] = [];
  try {
    // Tenants starts before audit: its outbox relay learns audit's URL once audit is up (and retries until then).
    let audit: RunningSubgraph | undefined;
    const auditUrl = () => audit?.url;
    const internalSecret = opts.internalSecret ?? generateInternalSecret();
    const tenants = await startTenants(base, { ...deps, auditUrl, internalSecret });
    started.push(tenants);
    const withJwks = { ...base, jwt: { ...jwt, jwksUrl: tenants.jwksUrl } };
    // Connectors opens runs and writes records through sync's internal API, which starts after it: a getter.
    let sync: RunningSync | undefined;
    const [connectors, firstAudit] = await Promise.all([
      startConnectors(withJwks, deps, {
        auditUrl,
        syncUrl: () => sync?.url,
        internalSecret,
        box: opts.connectorSecrets ?? SecretBox.random(),
        jobs: opts.connectorJobs,
        sources: opts.connectorSources,
      }),
      startAudit(withJwks, { ...deps, internalSecret }),
    ]);
    audit = firstAudit;
    // Stopped through this entry, whichever audit instance is current.
    started.push(connectors, { stop: () => audit!.stop() });
    sync = await startSync(withJwks, deps, { connectorsUrl: connectors.url, auditUrl, internalSecret });
    started.push(sync);
    const gateway = await startGateway(
      {
        host,
        port: opts.gatewayPort ?? 0,
        logLevel: "info",
        sandbox: opts.sandbox ?? true,
        supergraphPath: opts.supergraphPath ?? defaultSupergraphPath(),
        subgraphUrls: { tenants: tenants.url, sync: sync.url, connectors: connectors.url, audit: audit.url },
        jwt: { ...jwt, jwksUrl: tenants.jwksUrl },
        internalSecret,
        redisUrl: opts.redisUrl,
        introspection: opts.gateway?.introspection ?? true,
        benchmarkOnlyDisableGuards: opts.gateway?.benchmarkOnlyDisableGuards,
        // Rate-limit counters under the stack's Redis prefix: runs sharing a Redis don't share counters.
        guards: { ...opts.gateway?.guards, rateLimit: { keyPrefix: `${opts.redisKeyPrefix ?? "tributary:"}ratelimit:`, ...opts.gateway?.guards?.rateLimit } },
      },
      deps,
    );
    const auditPort = Number(new URL(firstAudit.url).port);
    const running: RunningStack = {
      gateway,
      tenants,
      sync,
      connectors,
      audit: firstAudit,
      pubsub,
      async restartAudit() {
        await audit!.stop().catch(() => undefined);
        audit = await startAudit({ ...withJwks, port: auditPort }, { ...deps, internalSecret });
        running.audit = audit;
        return audit;
      },
      async stop() {
        await gateway.stop();
        await stopAll(started);
        await pubsub.close();
      },
    };
    return running;
  } catch (err) {
    await stopAll(started);
    await pubsub.close();
    throw err;
  }
}

async function stopAll(services: { stop(): Promise<void> }[]): Promise<void> {
  for (const s of [...services].reverse()) await s.stop().catch(() => undefined);
}
