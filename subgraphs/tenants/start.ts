import express from "express";
import type { Logger } from "pino";
import { AuditRecorder } from "../../kernel/audit.js";
import { TokenVerifier } from "../../kernel/auth.js";
import { API_KEY_EXCHANGE_PATH, AUDIT_RETENTION_PATH, REVOCATIONS_PATH, requireInternalCaller } from "../../kernel/internal-auth.js";
import type { ServiceConfig } from "../../kernel/config.js";
import type { AuditUrl } from "../../kernel/outbox.js";
import type { PubSub } from "../../kernel/pubsub/pubsub.js";
import { normalizeRequestId, REQUEST_ID_HEADER } from "../../kernel/request-id.js";
import { startSubgraph, type RunningSubgraph } from "../../kernel/service.js";
import { exchangeApiKey } from "./auth/api-key.service.js";
import { KeyStore } from "./auth/key-store.js";
import { LoginThrottle } from "./auth/login-throttle.js";
import { revocationSnapshot } from "./auth/revocation-snapshot.js";
import type { TenantsContext } from "./context.js";
import { migrations } from "./migrations/index.js";
import { buildTenantsSchema, entities } from "./schema.js";
import { tenantsHooks } from "./system-context.js";
import { DEFAULT_TENANT_RETENTION_DAYS, expireTrials, purgeDeletedTenants, schedulePurge } from "./tenant/tenant-purge.job.js";
import { auditRetentionPolicies } from "./tenant/tenant.service.js";

export const TENANTS_DEFAULT_PORT = 4101;
export const JWKS_PATH = "/.well-known/jwks.json";

export interface RunningTenants extends RunningSubgraph {
  /** Runs the deleted-tenant purge now (tests, CLI); it also runs hourly. */
  purgeDeletedTenants(retentionMs?: number): Promise<string[]>;
  /** Suspends tenants whose trial has ended, now; it also runs hourly. */
  expireTrials(): Promise<string[]>;
  /** Where the other services fetch the public signing keys. */
  jwksUrl: string;
  keyStore: KeyStore;
}

/** Starts the tenants subgraph: migrates its schema, loads signing keys, serves GraphQL, the JWKS and internal APIs. */
export async function startTenants(
  config: ServiceConfig,
  deps: {
    logger: Logger;
    pubsub: PubSub;
    loginLimits?: ConstructorParameters<typeof LoginThrottle>[0]["limits"];
    redisKeyPrefix?: string;
    retentionDays?: number;
    /** The audit subgraph, where the outbox relay delivers this service's audit events (AUDIT_URL). */
    auditUrl?: AuditUrl;
    /** The service secret (INTERNAL_SECRET): sent to the audit ingest, required of callers of the internal endpoints. */
    internalSecret: string;
  },
): Promise<RunningTenants> {
  const audit = new AuditRecorder();
  const throttle = new LoginThrottle({ redisUrl: config.redisUrl, keyPrefix: deps.redisKeyPrefix, limits: deps.loginLimits });
  let keyStore!: KeyStore;
  const retentionMs = (deps.retentionDays ?? DEFAULT_TENANT_RETENTION_DAYS) * 86_400_000;
  const service = await startSubgraph<TenantsContext>({
    name: "tenants",
    config,
    ...deps,
    database: { schema: "tenants", entities, migrations },
    auditOutbox: { recorder: audit, auditUrl: deps.auditUrl ?? (() => undefined), secret: deps.internalSecret },
    buildSchema: buildTenantsSchema,
    beforeServe: async (orm) => {
      keyStore = new KeyStore(orm, config.jwt);
      await keyStore.init();
      const stopPurge = schedulePurge(orm, deps.pubsub, deps.logger, retentionMs);
      return async () => {
        stopPurge();
        await throttle.close();
      };
    },
    verifier: () => new TokenVerifier({ jwks: keyStore.resolveKey, ...config.jwt }),
    revocationSnapshot: (orm) => () => revocationSnapshot(orm),
    extend: (base) => ({
      ...base,
      keyStore,
      audit,
      pubsub: deps.pubsub,
      throttle,
      ...tenantsHooks,
    }),
    routes: (app, orm) => {
      const internal = requireInternalCaller(deps.internalSecret);
      app.get(JWKS_PATH, (_req, res) => {
        res.setHeader("cache-control", "public, max-age=60");
        res.json(keyStore.jwks());
      });
      app.get(REVOCATIONS_PATH, internal, async (_req, res, next) => {
        try {
          res.json(await revocationSnapshot(orm));
        } catch (err) {
          next(err);
        }
      });
      app.get(AUDIT_RETENTION_PATH, internal, async (_req, res, next) => {
        try {
          res.setHeader("cache-control", "no-store");
          res.json({ tenants: await auditRetentionPolicies(orm.em.fork()) });
        } catch (err) {
          next(err);
        }
      });
      app.post(API_KEY_EXCHANGE_PATH, internal, express.json({ limit: "4kb" }), async (req, res, next) => {
        try {
          const key = typeof req.body?.key === "string" ? req.body.key : "";
          const requestId = normalizeRequestId(req.headers[REQUEST_ID_HEADER]);
          const ip = typeof req.body?.ip === "string" ? req.body.ip.slice(0, 64) : undefined;
          const result = await exchangeApiKey(orm, keyStore, audit, tenantsHooks.permissions, key, { ip, requestId });
          if ("refused" in result) {
            if (result.refused === "suspended") res.status(403).json({ error: "tenant_suspended" });
            else res.status(401).json({ error: "invalid_api_key" });
          } else res.json({ accessToken: result.accessToken, expiresAt: result.expiresAt.toISOString() });
        } catch (err) {
          next(err);
        }
      });
    },
  });
  return {
    ...service,
    keyStore,
    jwksUrl: service.url.replace(/\/graphql$/, JWKS_PATH),
    purgeDeletedTenants: (ms = retentionMs) => purgeDeletedTenants(service.orm, deps.pubsub, deps.logger, ms),
    expireTrials: () => expireTrials(service.orm, deps.pubsub, deps.logger),
  };
}
