import { z } from "zod";
import { env, parseEnv } from "../kernel/config.js";

/** The subgraphs the gateway routes to, by their name in the supergraph. */
export const SUBGRAPH_NAMES = ["tenants", "sync", "connectors", "audit"] as const;
export type SubgraphName = (typeof SUBGRAPH_NAMES)[number];

/** Parsed gateway configuration (read once, in main.ts or the embedded root). */
export interface GatewayConfig {
  host: string;
  port: number;
  logLevel: string;
  /** Apollo Sandbox on GET /graphql (off in production). */
  sandbox: boolean;
  supergraphPath: string;
  subgraphUrls: Record<SubgraphName, string>;
  jwt: { jwksUrl: string; issuer: string; audience: string };
  redisUrl?: string;
}

const schema = z.object({
  HOST: z.string().min(1).default("127.0.0.1"),
  PORT: env.port(4000),
  LOG_LEVEL: env.logLevel(),
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  SUPERGRAPH_PATH: z.string().min(1).default("schema/supergraph.graphql"),
  TENANTS_URL: z.url().default("http://127.0.0.1:4101/graphql"),
  SYNC_URL: z.url().default("http://127.0.0.1:4102/graphql"),
  CONNECTORS_URL: z.url().default("http://127.0.0.1:4103/graphql"),
  AUDIT_URL: z.url().default("http://127.0.0.1:4104/graphql"),
  JWKS_URL: z.url().optional(),
  JWT_ISSUER: z.string().min(1).default("tributary"),
  JWT_AUDIENCE: z.string().min(1).default("tributary-api"),
  REDIS_URL: z.url({ protocol: /^rediss?$/, message: "must be a redis:// URL" }).optional(),
});

/** Parses the gateway's environment; every bad variable is reported in one error. */
export function parseGatewayConfig(source: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const e = parseEnv(schema, source);
  return {
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    sandbox: e.NODE_ENV !== "production",
    supergraphPath: e.SUPERGRAPH_PATH,
    subgraphUrls: { tenants: e.TENANTS_URL, sync: e.SYNC_URL, connectors: e.CONNECTORS_URL, audit: e.AUDIT_URL },
    jwt: {
      jwksUrl: e.JWKS_URL ?? e.TENANTS_URL.replace(/\/graphql\/?$/, "/.well-known/jwks.json"),
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
    },
    redisUrl: e.REDIS_URL,
  };
}
