// `npm start`: the embedded default. One process: embedded PostgreSQL (data in .data/, or as root in a folder under
// /var/lib/tributary when .data/ is closed to the postgres user), migrations, a demo tenant,
// the four subgraphs and the gateway. DATABASE_URL / REDIS_URL switch to an external PostgreSQL / Redis.
import "reflect-metadata";
import { z } from "zod";
import { env, parseEnv } from "../kernel/config.js";
import { EmbeddedPostgresError, startEmbeddedPostgres, type EmbeddedDatabase } from "../kernel/embedded-postgres.js";
import { createLogger } from "../kernel/logger.js";
import { runMain, runUntilSignal } from "../kernel/process.js";
import path from "node:path";
import { startMoodleSimulator } from "../simulators/moodle/moodle.simulator.js";
import { startOdooSimulator } from "../simulators/odoo/odoo.simulator.js";
import { DEMO_COLLECTIONS, ensureDemoConnectors, type DemoRemotes } from "../subgraphs/connectors/connector/demo-seed.js";
import { SecretBox } from "../subgraphs/connectors/connector/secret-box.js";
import { forkForTenant } from "../kernel/tenancy.js";
import { Collection } from "../subgraphs/sync/records/collection.entity.js";
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
  /** Key of connector credentials at rest (32 bytes, hex or base64); default: generated once into DATA_DIR. */
  CONNECTOR_SECRET_KEY: z.string().min(1).optional(),
});

runMain(async () => {
  const config = parseEnv(schema, process.env);
  const logger = createLogger(config.LOG_LEVEL);
  const t0 = performance.now();
  let pg: EmbeddedDatabase | undefined;
  let databaseUrl = config.DATABASE_URL;
  if (!databaseUrl) {
    // Its own process group: Ctrl-C in a terminal reaches only this process, which stops PostgreSQL after the stack.
    pg = await startEmbeddedPostgres({ dataDir: config.DATA_DIR, ownProcessGroup: true, onLog: (line) => logger.debug({ postgres: line.trim() }) }).catch((err) => {
      // A start that cannot work here says why and what to do in one sentence, without a stack trace.
      if (!(err instanceof EmbeddedPostgresError)) throw err;
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    });
    databaseUrl = await pg.createDatabase("tributary");
  }
  // The demo's remote systems: Odoo and Moodle simulators with sample data, on free loopback ports.
  const demoRemotes = config.DEMO_SEED === "true" ? await startDemoRemotes() : undefined;
  // The data folder in use: DATA_DIR, or its stand-in when the embedded PostgreSQL had to put the data elsewhere.
  const dataDir = pg?.dataDir ?? config.DATA_DIR;
  const shownDataDir = pg?.relocation ? pg.dataDir : config.DATA_DIR;
  const connectorSecrets = config.CONNECTOR_SECRET_KEY ? SecretBox.fromConfig(config.CONNECTOR_SECRET_KEY) : SecretBox.fromFile(path.join(dataDir, "connector-secret.key"));
  const stack = await startStack({ databaseUrl, redisUrl: config.REDIS_URL, host: config.HOST, gatewayPort: config.PORT, logger, connectorSecrets }).catch(async (err) => {
    await demoRemotes?.close();
    await pg?.stop();
    throw err;
  });

  const lines = [
    "",
    "Tributary is running (embedded default).",
    `  GraphQL (HTTP + WebSocket): ${stack.gateway.url}`,
    `  Apollo Sandbox:             open ${stack.gateway.url} in a browser`,
    `  Dashboard:                  ${stack.gateway.url.replace(/\/graphql$/, "/dashboard")}  (sign in with the demo tenant below)`,
    `  Health:                     ${stack.gateway.url.replace(/\/graphql$/, "/healthz")}  ${stack.gateway.url.replace(/\/graphql$/, "/readyz")}`,
    `  Data:                       ${pg ? `${shownDataDir}/ (embedded PostgreSQL)` : "DATABASE_URL"}; pub/sub: ${config.REDIS_URL ? "Redis" : "in-process"}`,
  ];
  if (pg?.relocation) lines.push(`                              ${pg.relocation}`);
  if (config.DEMO_SEED === "true") {
    const demo = await ensureTenantWithAdmin(stack.tenants.orm, { slug: "demo", name: "Demo Company", adminEmail: "admin@demo.example" });
    for (const name of DEMO_COLLECTIONS) {
      const em = forkForTenant(stack.sync.orm, demo.tenantId);
      if (!(await em.findOne(Collection, { name }))) await stack.sync.records.createCollection(em, demo.tenantId, { name });
    }
    const [odoo, moodle] = await ensureDemoConnectors(stack.connectors.orm, connectorSecrets, demo.tenantId, demoRemotes!.remotes);
    lines.push("", "Demo tenant:", `  tenant: ${demo.slug}   email: ${demo.adminEmail}`);
    lines.push(
      demo.adminPassword
        ? `  password: ${demo.adminPassword}   (shown only now; it is stored as a hash)`
        : `  password: printed at the first start (stored only as a hash); delete ${shownDataDir}/ to start over`,
    );
  }
  if (demoRemotes) {
    lines.push(
      "",
      "Demo connectors (simulated Odoo and Moodle with sample data, on this machine):",
      `  Demo Odoo   ${demoRemotes.remotes.odoo.url}`,
      `  Demo Moodle ${demoRemotes.remotes.moodle.url}`,
      "  In Sandbox, after `login`: mutation { startSync(connectorId: \"<id from { connectors { id name } }>\") { id status } }",
      "  and watch it live with: subscription { syncRunUpdated(id: \"<run id>\") { status processed created currentModel recordsPerSecond } }",
    );
  }
  lines.push("", `Ready in ${Math.round(performance.now() - t0)} ms. Ctrl-C stops.`, "");
  process.stdout.write(lines.join("\n") + "\n");

  // PostgreSQL stops after the stack, which still needs the database to flush device notes, pull logs and the audit
  // outbox.
  runUntilSignal(logger, async () => {
    await stack.stop();
    await demoRemotes?.close();
    await pg?.stop();
    process.stdout.write("Tributary stopped.\n");
  });
});

/** The demo's Odoo and Moodle: simulators with deterministic sample data (the same at every start). */
async function startDemoRemotes(): Promise<{ remotes: DemoRemotes; close(): Promise<void> }> {
  const odoo = await startOdooSimulator({ seed: { seed: 1, partners: 2_000, products: 200, orders: 300 } });
  const moodle = await startMoodleSimulator({ seed: { seed: 1, courses: 40, users: 300, enrolmentsPerCourse: 12 } });
  return {
    remotes: {
      odoo: { url: odoo.url, database: odoo.db, login: odoo.adminLogin, password: odoo.apiKey },
      moodle: { url: moodle.url, token: moodle.tokens.admin },
    },
    close: async () => {
      await Promise.all([odoo.close(), moodle.close()]);
    },
  };
}
