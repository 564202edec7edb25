import { z } from "zod";
import { queryLimitsEnvSchema, type QueryLimits } from "./query-limits.js";

/** Thrown when the environment is invalid; its message lists every bad variable at once. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Parses `env` with a zod object schema once, at start; reports every bad variable in one error. */
export function parseEnv<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  throw new ConfigError(result.error.issues.map((i) => `${i.path.join(".") || "(env)"}: ${i.message}`));
}

/** Common env fields. */
export const env = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  url: () => z.url(),
  logLevel: () => z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** A variable holding JSON, validated by `inner`. */
  json: <T extends z.ZodType>(inner: T) =>
    z
      .string()
      .transform((text, ctx) => {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          ctx.addIssue({ code: "custom", message: "must be JSON" });
          return z.NEVER;
        }
      })
      .pipe(inner),
};

/** Variables every subgraph reads. Secrets have no defaults; the embedded root passes its own values explicitly. */
export const serviceEnvSchema = (defaultPort: number) =>
  z.object({
    DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, message: "must be a postgres:// URL" }),
    REDIS_URL: z.url({ protocol: /^rediss?$/, message: "must be a redis:// URL" }).optional(),
    HOST: z.string().min(1).default("127.0.0.1"),
    PORT: env.port(defaultPort),
    LOG_LEVEL: env.logLevel(),
    JWT_ISSUER: z.string().min(1).default("tributary"),
    JWT_AUDIENCE: z.string().min(1).default("tributary-api"),
    /** The subgraph's own query bounds (kernel/query-limits.ts), as the gateway's QUERY_LIMITS: set both alike. */
    QUERY_LIMITS: env.json(queryLimitsEnvSchema).optional(),
  });

/** Subgraphs other than tenants verify tokens with the tenants service's JWKS. */
export const jwksEnvSchema = z.object({
  JWKS_URL: z.url({ message: "must be the tenants service's JWKS URL, e.g. http://tenants:4101/.well-known/jwks.json" }),
});

/** Parsed configuration of one subgraph process. */
export interface ServiceConfig {
  databaseUrl: string;
  redisUrl?: string;
  host: string;
  port: number;
  logLevel: string;
  jwt: { issuer: string; audience: string; jwksUrl?: string };
  /** Overrides of the default query bounds (QUERY_LIMITS). */
  queryLimits?: Partial<QueryLimits>;
}

/** Parses a subgraph's environment once (every bad variable in one error). */
export function parseServiceConfig(defaultPort: number, opts: { jwks: boolean }, source: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const schema = opts.jwks ? serviceEnvSchema(defaultPort).extend(jwksEnvSchema.shape) : serviceEnvSchema(defaultPort);
  const e = parseEnv(schema, source) as z.infer<ReturnType<typeof serviceEnvSchema>> & { JWKS_URL?: string };
  return {
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    jwt: { issuer: e.JWT_ISSUER, audience: e.JWT_AUDIENCE, jwksUrl: e.JWKS_URL },
    queryLimits: e.QUERY_LIMITS,
  };
}
