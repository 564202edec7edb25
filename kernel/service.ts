import type { MikroORM } from "@mikro-orm/postgresql";
import type { Express } from "express";
import type { GraphQLSchema } from "graphql";
import type { Logger } from "pino";
import type { AuditRecorder } from "./audit.js";
import { TokenVerifier } from "./auth.js";
import type { ServiceConfig } from "./config.js";
import { createServiceContext, type ServiceContext } from "./context.js";
import { migrate, openDatabase, pingDatabase, type DatabaseOptions } from "./db.js";
import { startSubgraphServer, type RunningService } from "./http.js";
import { DEFAULT_QUERY_LIMITS, SubgraphQueryBounds } from "./query-limits.js";
import { AuditOutboxRelay, type AuditRelayOptions, type AuditUrl } from "./outbox.js";
import type { PubSub } from "./pubsub/pubsub.js";
import { REVOCATIONS_PATH } from "./internal-auth.js";
import { RevocationList, httpSnapshot, type RevocationSnapshot } from "./revocations.js";
import { startTenantPurgeListener } from "./tenant-purge.js";

/** What a pub/sub (Redis) outage affects in a subgraph: reported by /readyz as `degraded`, never as not ready. */
export const PUBSUB_OUTAGE =
  "live updates (subscriptions) arrive by periodic re-read, up to 5 s late, instead of at once; revocations reach this service by a reload every 5 s and grant changes within 30 s, instead of at once; pushes, pulls and the rest are unaffected";

/** A subgraph service as its composition roots see it. */
export interface RunningSubgraph extends RunningService {
  orm: MikroORM;
  /** The relay of this service's audit outbox (services that record audit events). */
  outbox?: AuditOutboxRelay;
}

/** An emitting service's audit outbox: its recorder (whose records wake the relay) and where the audit service is. */
export interface AuditOutboxOptions {
  recorder: AuditRecorder;
  auditUrl: AuditUrl;
  /** The service secret the audit ingest requires (INTERNAL_SECRET). */
  secret: string;
  /** Relay tuning (batch size, poll, backoff, retention). */
  relay?: Omit<AuditRelayOptions, "orm" | "auditUrl" | "logger" | "secret">;
}

/**
 * The common start sequence of a subgraph: connect its database, apply its migrations, build its schema, and serve
 * it with per-request contexts (verified caller, tenant-scoped EntityManager, loaders) extended by `extend`.
 */
export async function startSubgraph<TContext extends ServiceContext>(opts: {
  name: string;
  config: ServiceConfig;
  logger: Logger;
  pubsub: PubSub;
  database: Pick<DatabaseOptions, "schema" | "entities" | "migrations">;
  buildSchema: () => Promise<GraphQLSchema>;
  /** Token verification: the tenants service resolves keys in-process, the others fetch its JWKS. */
  verifier: (orm: MikroORM) => Promise<TokenVerifier> | TokenVerifier;
  extend: (base: ServiceContext, orm: MikroORM) => TContext;
  /** Where the current revocations come from: the tenants service reads its own tables, the others ask it. */
  revocationSnapshot: (orm: MikroORM) => () => Promise<RevocationSnapshot>;
  routes?: (app: Express, orm: MikroORM) => void;
  /** Input types whose values the service checks row by row itself (see rejectNulCharacters in kernel/input-guards.ts). */
  rowInputs?: readonly string[];
  /** Services that record audit events: their outbox table is in `database.entities`; the relay starts here. */
  auditOutbox?: AuditOutboxOptions;
  /** The service secret (INTERNAL_SECRET): the gateway's proof on the operations it sends (looser query bounds). */
  internalSecret?: string;
  /** Runs after migrations and before serving (load keys, start consumers). Returns a stop hook. */
  beforeServe?: (orm: MikroORM) => Promise<(() => Promise<void>) | void>;
}): Promise<RunningSubgraph> {
  const logger = opts.logger.child({ service: opts.name });
  const orm = await openDatabase({ ...opts.database, url: opts.config.databaseUrl, logger });
  let stopHook: (() => Promise<void>) | void = undefined;
  try {
    const applied = await migrate(orm, opts.database.schema);
    if (applied.length) logger.info({ applied }, "migrations applied");
    stopHook = await opts.beforeServe?.(orm);
    const verifier = await opts.verifier(orm);
    const stopPurge = await startTenantPurgeListener(orm, opts.pubsub, logger);
    const revocations = new RevocationList({ pubsub: opts.pubsub, snapshot: opts.revocationSnapshot(orm), logger });
    await revocations.start();
    const stopRelay = opts.auditOutbox ? startOutboxRelay(orm, opts.auditOutbox, logger) : undefined;
    const stopBefore = stopHook;
    stopHook = async () => {
      await stopRelay?.stop();
      await revocations.stop();
      await stopPurge();
      await stopBefore?.();
    };
    const server = await startSubgraphServer<TContext>({
      name: opts.name,
      host: opts.config.host,
      port: opts.config.port,
      schema: await opts.buildSchema(),
      logger,
      context: async (input) => opts.extend(await createServiceContext({ orm, verifier, revocations, logger, ...input }), orm),
      ready: async () => {
        const [database, pubsub] = await Promise.all([pingDatabase(orm), opts.pubsub.ping()]);
        return { required: { database }, optional: { pubsub: { ok: pubsub, affects: PUBSUB_OUTAGE } } };
      },
      routes: opts.routes ? (app) => opts.routes!(app, orm) : undefined,
      revocations,
      rowInputs: opts.rowInputs,
      queryBounds: new SubgraphQueryBounds({ ...DEFAULT_QUERY_LIMITS, ...opts.config.queryLimits }, opts.internalSecret),
    });
    return {
      ...server,
      orm,
      outbox: stopRelay?.relay,
      async stop() {
        await server.stop();
        await stopHook?.();
        await orm.close();
      },
    };
  } catch (err) {
    await stopHook?.();
    await orm.close();
    throw err;
  }
}

/** Revocation snapshots for services other than tenants: the tenants service's internal endpoint, beside its JWKS. */
export function tenantsRevocations(config: ServiceConfig, internalSecret: string): () => () => Promise<RevocationSnapshot> {
  if (!config.jwt.jwksUrl) throw new Error("JWKS_URL is required");
  const url = new URL(REVOCATIONS_PATH, config.jwt.jwksUrl).toString();
  return () => httpSnapshot(url, internalSecret);
}

/** Verifier for services that trust the tenants service's JWKS. */
export function jwksVerifier(config: ServiceConfig): TokenVerifier {
  if (!config.jwt.jwksUrl) throw new Error("JWKS_URL is required");
  return new TokenVerifier({ jwks: config.jwt.jwksUrl, issuer: config.jwt.issuer, audience: config.jwt.audience });
}

/**
 * Starts the relay of a service's audit outbox and wakes it after each record, and after each commit that follows a
 * recent record (a record made inside a transaction becomes visible to the relay only then); the poll catches the rest.
 */
function startOutboxRelay(orm: MikroORM, opts: AuditOutboxOptions, logger: Logger): { relay: AuditOutboxRelay; stop(): Promise<void> } {
  const relay = new AuditOutboxRelay({ ...opts.relay, orm, auditUrl: opts.auditUrl, secret: opts.secret, logger: logger.child({ component: "audit-outbox" }) });
  let lastRecord = 0;
  const unsubscribe = opts.recorder.onRecorded(() => {
    lastRecord = Date.now();
    relay.wake();
  });
  orm.em.getEventManager().registerSubscriber({
    afterTransactionCommit: () => {
      if (Date.now() - lastRecord < 5_000) relay.wake();
    },
  });
  relay.start();
  return {
    relay,
    async stop() {
      unsubscribe();
      await relay.stop();
    },
  };
}
