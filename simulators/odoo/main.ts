// Runs the Odoo simulator as a process: prints one JSON line `{"url", "db", "login"}` once it
// listens, stops on SIGTERM/SIGINT. Everything else (seeding more, faults, latency, mid-run changes, inspection) goes
// through the /__sim/ endpoints (see simulators/odoo/README.md).
//   PORT=8069 ODOO_SEED_PARTNERS=100000 bin/node22 node dist/simulators/odoo/main.js
import { serveUntilSignal } from "../kit.js";
import { z } from "zod";
import { env, parseEnv } from "../../kernel/config.js";
import { runMain } from "../../kernel/process.js";
import { ODOO18_PACE, startOdooSimulator } from "./odoo.simulator.js";

const count = (fallback: number) => z.coerce.number().int().min(0).default(fallback);

const schema = z.object({
  PORT: env.port(8069),
  HOST: z.string().min(1).default("127.0.0.1"),
  /** Database name clients must send (any other fails like a missing PostgreSQL database). */
  ODOO_DB: z.string().min(1).default("odoo"),
  ODOO_ADMIN_PASSWORD: z.string().min(1).default("admin"),
  /** The admin's API key; default derived from ODOO_SEED (deterministic, printed at start). */
  ODOO_API_KEY: z.string().regex(/^[0-9a-f]{40}$/, "must be 40 lowercase hex characters").optional(),
  /** Deterministic bulk data. */
  ODOO_SEED: z.coerce.number().int().default(1),
  ODOO_SEED_PARTNERS: count(100),
  ODOO_SEED_PRODUCTS: count(20),
  ODOO_SEED_ORDERS: count(20),
  ODOO_SEED_ARCHIVED_RATIO: z.coerce.number().min(0).max(1).default(0.02),
  ODOO_LATENCY_MS: count(0),
  /** Emulate a real Odoo's pace: server time per record returned (about 30 µs on Odoo 18) and its worker count. */
  ODOO_PER_RECORD_US: count(0),
  /** Server time of every call (ms); ODOO_PACE=odoo18 sets ODOO_PER_CALL_MS, ODOO_PER_RECORD_US and ODOO_WORKERS to a real Odoo 18's. */
  ODOO_PER_CALL_MS: count(0),
  ODOO_PACE: z.enum(["none", "odoo18"]).default("none"),
  ODOO_WORKERS: count(0),
  ODOO_SIM_CONTROL: z.stringbool().default(true),
  ODOO_SIM_CONTROL_TOKEN: z.string().min(1).optional(),
});

runMain(async () => {
  const cfg = parseEnv(schema);
  const sim = await startOdooSimulator({
    port: cfg.PORT,
    host: cfg.HOST,
    db: cfg.ODOO_DB,
    adminPassword: cfg.ODOO_ADMIN_PASSWORD,
    apiKey: cfg.ODOO_API_KEY,
    latencyMs: cfg.ODOO_LATENCY_MS,
    ...(cfg.ODOO_PACE === "odoo18" ? ODOO18_PACE : { perRecordUs: cfg.ODOO_PER_RECORD_US, perCallMs: cfg.ODOO_PER_CALL_MS, workers: cfg.ODOO_WORKERS }),
    control: cfg.ODOO_SIM_CONTROL,
    controlToken: cfg.ODOO_SIM_CONTROL_TOKEN,
    seed: {
      seed: cfg.ODOO_SEED,
      partners: cfg.ODOO_SEED_PARTNERS,
      products: cfg.ODOO_SEED_PRODUCTS,
      orders: cfg.ODOO_SEED_ORDERS,
      archivedRatio: cfg.ODOO_SEED_ARCHIVED_RATIO,
    },
  });
  // Credentials stay out of stdout (logs get captured): GET /__sim/info returns them to a local controller.
  serveUntilSignal(sim, { url: sim.url, db: sim.db, login: sim.adminLogin });
});
