// `npm start`: the embedded default. One process: embedded PostgreSQL (data in .data/), migrations, a demo tenant,
// the four subgraphs and the gateway. DATABASE_URL / REDIS_URL switch to an external PostgreSQL / Redis.
import "reflect-metadata";
import { z } from "zod";
import { env, parseEnv } from "../kernel/config.js";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "../kernel/embedded-postgres.js";
import { createLogger } from "../kernel/logger.js";
import { runMain, runUntilSignal } from "../kernel/process.js";
import { ensureDemoConnectors } from "../subgraphs/connectors/connector/demo-seed.js";
import { ensureTenantWithAdmin } from "../subgraphs/tenants/tenant/demo-seed.js";
import { startStack } from "./stack.js";

const schema = z.object({
  DATA_DIR: z.string().min(1).default(".data"),
  HOST: z.string().min(1).default("127.0.0.1"),
  PORT: env.port(4000),
  LOG_LEVEL: env.logLevel().default("warn"),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, message: "must be a postgres:// URL" }).optional(),
  REDIS_URL: z.url({ protocol: /^rediss?$/, message: "must be a redis:// URL" }).optional(),
  DEMO_SEED: z.enum(["true", "false"]).default("true"),
});

runMain(async () => {
  const config = parseEnv(schema, process.env);
  const logger = createLogger(config.LOG_LEVEL);
  const t0 = performance.now();
  let pg: EmbeddedDatabase | undefined;
  let databaseUrl = config.DATABASE_URL;
  if (!databaseUrl) {
    pg = await startEmbeddedPostgres({ dataDir: config.DATA_DIR, onLog: (line) => logger.debug({ postgres: line.trim() }) });
    databaseUrl = await pg.createDatabase("tributary");
  }
  const stack = await startStack({ databaseUrl, redisUrl: config.REDIS_URL, host: config.HOST, gatewayPort: config.PORT, logger }).catch(async (err) => {
    await pg?.stop();
    throw err;
  });

  const lines = [
    "",
    "Tributary is running (embedded default).",
    `  GraphQL (HTTP + WebSocket): ${stack.gateway.url}`,
    `  Apollo Sandbox:             open ${stack.gateway.url} in a browser`,
    `  Health:                     ${stack.gateway.url.replace(/\/graphql$/, "/healthz")}  ${stack.gateway.url.replace(/\/graphql$/, "/readyz")}`,
    `  Data:                       ${pg ? `${config.DATA_DIR}/ (embedded PostgreSQL)` : "DATABASE_URL"}; pub/sub: ${config.REDIS_URL ? "Redis" : "in-process"}`,
  ];
  if (config.DEMO_SEED === "true") {
    const demo = await ensureTenantWithAdmin(stack.tenants.orm, { slug: "demo", name: "Demo Company", adminEmail: "admin@demo.example" });
    await ensureDemoConnectors(stack.connectors.orm, demo.tenantId, { odoo: "http://127.0.0.1:8069", moodle: "http://127.0.0.1:8070" });
    lines.push("", "Demo tenant:", `  tenant: ${demo.slug}   email: ${demo.adminEmail}`);
    lines.push(
      demo.adminPassword
        ? `  password: ${demo.adminPassword}   (shown only now; it is stored as a hash)`
        : "  password: printed at the first start (stored only as a hash); delete .data/ to start over",
    );
  }
  lines.push("", `Ready in ${Math.round(performance.now() - t0)} ms. Ctrl-C stops.`, "");
  process.stdout.write(lines.join("\n") + "\n");

  // embedded-postgres installs its own SIGINT/SIGTERM hook that stops PostgreSQL and exits with 128+signal at once,
  // racing the stack's shutdown (which still needs the database to flush device notes, pull logs and the audit
  // outbox). This process stops PostgreSQL itself, after the stack: only our handler may act on those signals.
  if (pg) for (const signal of ["SIGINT", "SIGTERM"] as const) process.removeAllListeners(signal);
  runUntilSignal(logger, async () => {
    await stack.stop();
    await pg?.stop();
    process.stdout.write("Tributary stopped.\n");
  });
});
