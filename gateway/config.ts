import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { env, parseEnv } from "../kernel/config.js";
import { internalSecretSchema } from "../kernel/internal-auth.js";
import { queryLimitsEnvSchema } from "../kernel/query-limits.js";
import type { GuardsConfig, TrustProxy } from "./guards/guards.js";
import { PLANS } from "./guards/plans.js";

/** The subgraphs the gateway routes to, by their name in the supergraph. */
export const SUBGRAPH_NAMES = ["tenants", "sync", "connectors", "audit"] as const;
export type SubgraphName = (typeof SUBGRAPH_NAMES)[number];

/** Parsed gateway configuration (read once, in main.ts or the embedded root). */
export interface GatewayConfig {
  host: string;
  port: number;
  logLevel: string;
  /** Apollo Sandbox on GET /graphql (SANDBOX; off in production, and whenever introspection is off: it needs it). */
  sandbox: boolean;
  /** Introspection queries (INTROSPECTION; off in production). When off they fail validation, over HTTP and WebSocket. */
  introspection: boolean;
  /** Rate limits, query cost limits and the client IP rule (gateway/guards/); defaults apply to what is left out. */
  guards?: GuardsConfig;
  /**
   * FOR BENCHMARKS ONLY (bench/gateway-guards.bench.ts): the gateway neither verifies tokens nor rate-limits nor checks
   * query cost (the subgraphs still verify tokens). Never read from the environment; refused with NODE_ENV=production.
   */
  benchmarkOnlyDisableGuards?: boolean;
  supergraphPath: string;
  subgraphUrls: Record<SubgraphName, string>;
  jwt: { jwksUrl: string; issuer: string; audience: string };
  /** The service secret (INTERNAL_SECRET) the tenants service requires on its internal endpoints (revocations, API key exchange). */
  internalSecret: string;
  redisUrl?: string;
}

const positiveInt = z.number().int().positive();

/**
 * The composed supergraph shipped with the package (`schema/supergraph.graphql` at the package root), found from this
 * file's location rather than the working directory: a process started from any directory (a service manager, a
 * container with another WORKDIR, `node /opt/tributary/dist/gateway/main.js`) finds it. This file runs from
 * `gateway/` (sources) or `dist/gateway/` (built), so the root is the nearest ancestor holding package.json.
 */
export function defaultSupergraphPath(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, "package.json"))) return path.join(dir, "schema", "supergraph.graphql");
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve("schema", "supergraph.graphql");
    dir = parent;
  }
}

const schema = z.object({
  HOST: z.string().min(1).default("127.0.0.1"),
  PORT: env.port(4000),
  LOG_LEVEL: env.logLevel(),
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  /** Default: the package's own schema/supergraph.graphql, wherever the process was started from. */
  SUPERGRAPH_PATH: z.string().min(1).optional(),
  TENANTS_URL: z.url().default("http://127.0.0.1:4101/graphql"),
  SYNC_URL: z.url().default("http://127.0.0.1:4102/graphql"),
  CONNECTORS_URL: z.url().default("http://127.0.0.1:4103/graphql"),
  AUDIT_URL: z.url().default("http://127.0.0.1:4104/graphql"),
  JWKS_URL: z.url().optional(),
  JWT_ISSUER: z.string().min(1).default("tributary"),
  JWT_AUDIENCE: z.string().min(1).default("tributary-api"),
  INTERNAL_SECRET: internalSecretSchema,
  REDIS_URL: z.url({ protocol: /^rediss?$/, message: "must be a redis:// URL" }).optional(),
  INTROSPECTION: z.enum(["true", "false"]).optional(),
  SANDBOX: z.enum(["true", "false"]).optional(),
  /** e.g. `{"FREE":{"perHour":5000}}`: replaces rows of gateway/guards/plans.ts. */
  RATE_LIMIT_OVERRIDES: env.json(z.partialRecord(z.enum([...PLANS, "ANONYMOUS"]), z.strictObject({ perHour: positiveInt.optional(), perDay: positiveInt.optional() }))).optional(),
  RATE_LIMIT_KEY_PREFIX: z.string().min(1).optional(),
  /** e.g. `{"maxDepth":10,"maxCost":2000}` (kernel/query-limits.ts; give the subgraphs the same). */
  QUERY_LIMITS: env.json(queryLimitsEnvSchema).optional(),
  /** express `trust proxy` syntax: true, a hop count, or addresses/subnets (`loopback, 10.0.0.0/8`). Default: none. */
  TRUST_PROXY: z.string().min(1).optional(),
});

/** Parses the gateway's environment; every bad variable is reported in one error. */
export function parseGatewayConfig(source: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const e = parseEnv(schema, source);
  const introspection = e.INTROSPECTION ? e.INTROSPECTION === "true" : e.NODE_ENV !== "production";
  return {
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    sandbox: introspection && (e.SANDBOX ? e.SANDBOX === "true" : e.NODE_ENV !== "production"),
    introspection,
    supergraphPath: e.SUPERGRAPH_PATH ?? defaultSupergraphPath(),
    subgraphUrls: { tenants: e.TENANTS_URL, sync: e.SYNC_URL, connectors: e.CONNECTORS_URL, audit: e.AUDIT_URL },
    jwt: {
      jwksUrl: e.JWKS_URL ?? e.TENANTS_URL.replace(/\/graphql\/?$/, "/.well-known/jwks.json"),
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
    },
    internalSecret: e.INTERNAL_SECRET,
    redisUrl: e.REDIS_URL,
    guards: {
      rateLimit: { overrides: e.RATE_LIMIT_OVERRIDES ?? {}, ...(e.RATE_LIMIT_KEY_PREFIX ? { keyPrefix: e.RATE_LIMIT_KEY_PREFIX } : {}) },
      queryLimits: e.QUERY_LIMITS ?? {},
      trustProxy: trustProxyOf(e.TRUST_PROXY),
    },
  };
}

function trustProxyOf(value: string | undefined): TrustProxy {
  if (value === undefined || value === "false") return false;
  if (value === "true") return true;
  return /^\d+$/.test(value) ? Number(value) : value;
}
