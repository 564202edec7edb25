import type { Logger } from "pino";
import { AuditRecorder } from "../../kernel/audit.js";
import { TokenVerifier } from "../../kernel/auth.js";
import type { ServiceConfig } from "../../kernel/config.js";
import type { PubSub } from "../../kernel/pubsub/pubsub.js";
import { startSubgraph, type RunningSubgraph } from "../../kernel/service.js";
import { KeyStore } from "./auth/key-store.js";
import type { TenantsContext } from "./context.js";
import { migrations } from "./migrations/index.js";
import { buildTenantsSchema, entities } from "./schema.js";

export const TENANTS_DEFAULT_PORT = 4101;
export const JWKS_PATH = "/.well-known/jwks.json";

export interface RunningTenants extends RunningSubgraph {
  /** Where the other services fetch the public signing keys. */
  jwksUrl: string;
}

/** Starts the tenants subgraph: migrates its schema, loads signing keys, serves GraphQL and the JWKS. */
export async function startTenants(config: ServiceConfig, deps: { logger: Logger; pubsub: PubSub }): Promise<RunningTenants> {
  const audit = new AuditRecorder(deps.pubsub, deps.logger);
  let keyStore!: KeyStore;
  const service = await startSubgraph<TenantsContext>({
    name: "tenants",
    config,
    ...deps,
    database: { schema: "tenants", entities, migrations },
    buildSchema: buildTenantsSchema,
    beforeServe: async (orm) => {
      keyStore = new KeyStore(orm, config.jwt);
      await keyStore.init();
    },
    verifier: () => new TokenVerifier({ jwks: keyStore.resolveKey, ...config.jwt }),
    extend: (base) => ({ ...base, keyStore, audit }),
    routes: (app) => {
      app.get(JWKS_PATH, (_req, res) => {
        res.setHeader("cache-control", "public, max-age=60");
        res.json(keyStore.jwks());
      });
    },
  });
  return { ...service, jwksUrl: service.url.replace(/\/graphql$/, JWKS_PATH) };
}
