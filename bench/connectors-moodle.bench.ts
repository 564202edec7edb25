// Moodle enrolments (issue 16 §5): a full inbound run of the `enrolment` model through the stack, before and after
// reading many courses per call. "Before": a site whose token's service has only the recorded functions — one
// core_enrol_get_enrolled_users call per course. "After": the same data on a site that also offers
// core_enrol_get_enrolled_users_with_capability (up to 100 courses a call). Each site is a Moodle simulator process
// with the same seed; every call costs BENCH_MOODLE_LATENCY_MS (default 40 ms: a PHP request's bootstrap on a real
// Moodle, whose enrolment reads served 190–260 records/s with about 6 enrolments per course — real-findings.md).
// Knobs: BENCH_MOODLE_COURSES (500), BENCH_MOODLE_USERS (2000), BENCH_MOODLE_ENROLMENTS (6 per course),
// BENCH_MOODLE_LATENCY_MS (40), BENCH_MOODLE_PAGE (500). Runs with BENCH=connectors.
import "reflect-metadata";
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gql, withConnectorBenchStack } from "./connector-stack.js";

export const name = "connectors (Moodle): full enrolment sync, one call per course vs many courses per call";

const COURSES = Number(process.env.BENCH_MOODLE_COURSES ?? 500);
const USERS = Number(process.env.BENCH_MOODLE_USERS ?? 2_000);
const ENROLMENTS = Number(process.env.BENCH_MOODLE_ENROLMENTS ?? 6);
const LATENCY_MS = Number(process.env.BENCH_MOODLE_LATENCY_MS ?? 40);
const PAGE = Number(process.env.BENCH_MOODLE_PAGE ?? 500);
const BATCHED = "core_enrol_get_enrolled_users_with_capability";

interface Sim {
  url: string;
  token: string;
  proc: ChildProcess;
}

async function startSimulator(extra: string[]): Promise<Sim> {
  const entry = fileURLToPath(new URL("../simulators/moodle/main.js", import.meta.url));
  const proc = spawn(process.execPath, [entry], {
    env: {
      ...process.env,
      PORT: "0",
      MOODLE_SIM_COURSES: String(COURSES),
      MOODLE_SIM_USERS: String(USERS),
      MOODLE_SIM_ENROLMENTS: String(ENROLMENTS),
      MOODLE_SIM_SEED: "7",
      MOODLE_SIM_LATENCY_MS: String(LATENCY_MS),
      MOODLE_SIM_EXTRA_FUNCTIONS: extra.join(","),
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let out = "";
    proc.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf("\n");
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    proc.once("exit", (code) => reject(new Error(`simulator exited (${code})`)));
  });
  const { url, tokens } = JSON.parse(line) as { url: string; tokens: { admin: string } };
  return { url, token: tokens.admin, proc };
}

export async function run(): Promise<Record<string, string | number>> {
  const before = await startSimulator([]);
  const after = await startSimulator([BATCHED]);
  try {
    return await withConnectorBenchStack("moodle", async ({ url, token }) => {

      const measure = async (sim: Sim, collection: string) => {
        await gql(url, "mutation($i: CreateCollectionInput!) { createCollection(input: $i) { id } }", { i: { name: collection } }, token);
        const { createConnector } = await gql<{ createConnector: { id: string } }>(
          url,
          "mutation($i: CreateConnectorInput!) { createConnector(input: $i) { id } }",
          { i: { kind: "MOODLE", name: collection, baseUrl: sim.url, credentials: { token: sim.token }, settings: { requestsPerSecond: 1000, timeoutMs: 120_000 } } },
          token,
        );
        await gql(
          url,
          "mutation($c: ID!, $i: CreateMappingInput!) { createConnectorMapping(connectorId: $c, input: $i) { id } }",
          {
            c: createConnector.id,
            i: {
              remoteModel: "enrolment",
              collection,
              fieldMap: [
                { field: "courseId", remote: "courseid" },
                { field: "userId", remote: "userid" },
                { field: "roleId", remote: "roleid" },
                { field: "email", remote: "email" },
              ],
            },
          },
          token,
        );
        await fetch(new URL("/__sim/stats", sim.url), { method: "DELETE" });
        const t0 = performance.now();
        const { startSync } = await gql<{ startSync: { id: string } }>(url, "mutation($c: ID!, $o: StartSyncOptions) { startSync(connectorId: $c, options: $o) { id } }", { c: createConnector.id, o: { full: true, batchSize: PAGE } }, token);
        let final: { status: string; processed: number; created: number; failed: number };
        for (;;) {
          const { syncRun } = await gql<{ syncRun: typeof final }>(url, "query($id: ID!) { syncRun(id: $id) { status processed created failed } }", { id: startSync.id }, token);
          if (["SUCCEEDED", "PARTIAL", "FAILED", "CANCELLED"].includes(syncRun.status)) {
            final = syncRun;
            break;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
        const seconds = (performance.now() - t0) / 1000;
        const stats = (await (await fetch(new URL("/__sim/stats", sim.url))).json()) as { calls: number; byFunction: Record<string, number> };
        return { final, seconds, rate: final.processed / seconds, calls: stats.calls, byFunction: stats.byFunction };
      };

      const b = await measure(before, "enrolments_before");
      const a = await measure(after, "enrolments_after");
      const calls = (m: { byFunction: Record<string, number> }) =>
        Object.entries(m.byFunction)
          .filter(([, n]) => n)
          .map(([f, n]) => `${f} ${n}`)
          .join(", ");
      return {
        "site (simulator)": `${COURSES} courses, ${USERS} users, ${ENROLMENTS} enrolments per course, ${LATENCY_MS} ms per call, page ${PAGE}`,
        "before: run": `${b.final.status} (processed ${b.final.processed}, created ${b.final.created}, failed ${b.final.failed})`,
        "before: wall time (s)": b.seconds.toFixed(1),
        "before: enrolments/s": Math.round(b.rate),
        "before: remote calls": `${b.calls} (${calls(b)})`,
        "after: run": `${a.final.status} (processed ${a.final.processed}, created ${a.final.created}, failed ${a.final.failed})`,
        "after: wall time (s)": a.seconds.toFixed(1),
        "after: enrolments/s": Math.round(a.rate),
        "after: remote calls": `${a.calls} (${calls(a)})`,
        "speed-up (after / before)": (a.rate / b.rate).toFixed(1),
      };
    });
  } finally {
    before.proc.kill("SIGTERM");
    after.proc.kill("SIGTERM");
  }
}
