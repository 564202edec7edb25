// Runs the Moodle simulator as a process: prints one JSON line `{"url", "endpoint", "tokens"}` once it listens, stops
// on SIGTERM/SIGINT. Everything else (seeding more, faults, clock, inspection) goes through the /__sim/ endpoints.
//   PORT=0 HOST=127.0.0.1 MOODLE_SIM_COURSES=1000 MOODLE_SIM_USERS=500 MOODLE_SIM_ENROLMENTS=20 bin/node22 node dist/simulators/moodle/main.js
import { serveUntilSignal } from "../kit.js";
import { z } from "zod";
import { env, parseEnv } from "../../kernel/config.js";
import { runMain } from "../../kernel/process.js";
import { startMoodleSimulator } from "./moodle.simulator.js";

const count = () => z.coerce.number().int().min(0).default(0);

const schema = z.object({
  PORT: env.port(0),
  HOST: z.string().min(1).default("127.0.0.1"),
  /** Courses, users and students per course to seed (deterministic). */
  MOODLE_SIM_COURSES: count(),
  MOODLE_SIM_USERS: count(),
  MOODLE_SIM_ENROLMENTS: count(),
  MOODLE_SIM_CATEGORIES: count(),
  MOODLE_SIM_SEED: z.coerce.number().int().default(1),
  MOODLE_SIM_DEBUG: z.stringbool().default(false),
  MOODLE_SIM_LATENCY_MS: count(),
  /** The wwwroot reported to clients (default: the listening URL). */
  MOODLE_SIM_WWWROOT: z.url().optional(),
  MOODLE_SIM_ADMIN_TOKEN: z.string().regex(/^[0-9a-f]{32}$/, "must be 32 hex characters").optional(),
  MOODLE_SIM_CONTROL_TOKEN: z.string().min(1).optional(),
  /** Functions added to the tokens' service, comma-separated (e.g. core_enrol_get_enrolled_users_with_capability). */
  MOODLE_SIM_EXTRA_FUNCTIONS: z.string().default(""),
});

runMain(async () => {
  const cfg = parseEnv(schema);
  const sim = await startMoodleSimulator({
    port: cfg.PORT,
    host: cfg.HOST,
    wwwroot: cfg.MOODLE_SIM_WWWROOT,
    debug: cfg.MOODLE_SIM_DEBUG,
    latencyMs: cfg.MOODLE_SIM_LATENCY_MS,
    controlToken: cfg.MOODLE_SIM_CONTROL_TOKEN,
    extraServiceFunctions: cfg.MOODLE_SIM_EXTRA_FUNCTIONS.split(",").map((s) => s.trim()).filter(Boolean),
    tokens: cfg.MOODLE_SIM_ADMIN_TOKEN ? { admin: cfg.MOODLE_SIM_ADMIN_TOKEN } : undefined,
    seed: {
      courses: cfg.MOODLE_SIM_COURSES,
      users: cfg.MOODLE_SIM_USERS,
      enrolmentsPerCourse: cfg.MOODLE_SIM_ENROLMENTS,
      categories: cfg.MOODLE_SIM_CATEGORIES,
      seed: cfg.MOODLE_SIM_SEED,
    },
  });
  serveUntilSignal(sim, { url: sim.url, endpoint: sim.endpoint, tokens: sim.tokens });
});
