// Connector sync (issue "Connectors", Benchmark): a full inbound run of 100,000 Odoo partners from the simulator,
// through the whole stack (job queue, Odoo client, field mapping, sync ingest with history, remote links), against
// the simulator's raw serving rate of the same pages (search_read by `id > last`, same fields, same page size) read
// by one client in the same run, before and after the sync. Memory: peak RSS growth of the Tributary process during
// the run (the simulator runs in its own process, as a remote system does).
//
// The simulator charges ODOO_PER_RECORD_US of CPU per record served (default 30 µs: what a real Odoo 18 spends per
// record, measured in ../shared/protocols/README.md; 0 serves as fast as the simulator can, several times faster
// than any real Odoo). Both paces are printed. Knobs: BENCH_CONNECTOR_RECORDS (100000), BENCH_CONNECTOR_PAGE (1000),
// BENCH_ODOO_PER_RECORD_US (30), BENCH_RAW_ONLY_FAST (1: also measure the raw rate at pace 0).
import "reflect-metadata";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { startStack } from "../bin/stack.js";
import { startEmbeddedPostgres } from "../kernel/embedded-postgres.js";
import { OdooClient } from "../subgraphs/connectors/odoo/odoo.client.js";
import { ensureTenantWithAdmin } from "../subgraphs/tenants/tenant/demo-seed.js";

export const name = "connectors: full Odoo sync through the stack vs the simulator's raw serving rate";

const RECORDS = Number(process.env.BENCH_CONNECTOR_RECORDS ?? 100_000);
const PAGE = Number(process.env.BENCH_CONNECTOR_PAGE ?? 1_000);
const PACE_US = Number(process.env.BENCH_ODOO_PER_RECORD_US ?? 30);
const FIELDS = ["name", "email", "phone", "is_company", "country_id", "write_date"];

interface Sim {
  url: string;
  db: string;
  login: string;
  apiKey: string;
  proc: ChildProcess;
}

async function startSimulator(paceUs: number): Promise<Sim> {
  const entry = fileURLToPath(new URL("../simulators/odoo/main.js", import.meta.url));
  const proc = spawn(process.execPath, [entry], {
    env: { ...process.env, PORT: "0", ODOO_SEED_PARTNERS: String(RECORDS), ODOO_SEED_PRODUCTS: "0", ODOO_SEED_ORDERS: "0", ODOO_SEED_ARCHIVED_RATIO: "0", ODOO_PER_RECORD_US: String(paceUs) },
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
  const { url } = JSON.parse(line) as { url: string };
  const info = (await (await fetch(new URL("/__sim/info", url))).json()) as { db: string; adminLogin: string; apiKey: string };
  return { url, db: info.db, login: info.adminLogin, apiKey: info.apiKey, proc };
}

/** Reads every partner by `id > last` pages, as the connector's full run does; records per second. */
async function rawRate(sim: Sim): Promise<{ rate: number; records: number }> {
  const client = new OdooClient({ url: sim.url, db: sim.db, login: sim.login, password: sim.apiKey, timeoutMs: 120_000, retries: 0 });
  let last = 0;
  let records = 0;
  const t0 = performance.now();
  for (;;) {
    const rows = await client.searchRead("res.partner", [["id", ">", last]], { fields: FIELDS, limit: PAGE, order: "id asc", context: { active_test: false } });
    if (!rows.length) break;
    records += rows.length;
    last = rows[rows.length - 1]!.id as number;
    if (rows.length < PAGE) break;
  }
  return { rate: records / ((performance.now() - t0) / 1000), records };
}

async function gql<T>(url: string, query: string, variables: Record<string, unknown>, token?: string): Promise<T> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: T; errors?: unknown };
  if (!body.data) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

export async function run(): Promise<Record<string, string | number>> {
  const dir = await mkdtemp(path.join(tmpdir(), "tributary-bench-connectors-"));
  const pg = await startEmbeddedPostgres({ dataDir: dir, persistent: false });
  const sim = await startSimulator(PACE_US);
  const fast = process.env.BENCH_RAW_ONLY_FAST === "0" ? undefined : await startSimulator(0);
  try {
    const databaseUrl = await pg.createDatabase("bench");
    const stack = await startStack({
      databaseUrl,
      logger: pino({ level: "warn" }),
      sandbox: false,
      gateway: { benchmarkOnlyDisableGuards: true },
      connectorJobs: { workers: 1, pollingIntervalSeconds: 0.5 },
    });
    try {
      const url = stack.gateway.url;
      const seeded = await ensureTenantWithAdmin(stack.tenants.orm, { slug: "bench", name: "Bench", adminEmail: "admin@bench.example" });
      const { login } = await gql<{ login: { accessToken: string } }>(url, "mutation($i: LoginInput!) { login(input: $i) { accessToken } }", {
        i: { tenant: "bench", email: seeded.adminEmail, password: seeded.adminPassword },
      });
      const token = login.accessToken;
      await gql(url, "mutation($i: CreateCollectionInput!) { createCollection(input: $i) { id } }", { i: { name: "partners" } }, token);
      const { createConnector } = await gql<{ createConnector: { id: string } }>(
        url,
        "mutation($i: CreateConnectorInput!) { createConnector(input: $i) { id } }",
        { i: { kind: "ODOO", name: "bench", baseUrl: sim.url, credentials: { database: sim.db, login: sim.login, password: sim.apiKey }, settings: { requestsPerSecond: 1000, timeoutMs: 120_000 } } },
        token,
      );
      await gql(
        url,
        "mutation($c: ID!, $i: CreateMappingInput!) { createConnectorMapping(connectorId: $c, input: $i) { id } }",
        {
          c: createConnector.id,
          i: {
            remoteModel: "res.partner",
            collection: "partners",
            fieldMap: [
              { field: "name", remote: "name" },
              { field: "email", remote: "email" },
              { field: "phone", remote: "phone" },
              { field: "isCompany", remote: "is_company", convert: "BOOLEAN" },
              { field: "countryId", remote: "country_id", convert: "MANY2ONE_ID" },
              { field: "updatedAt", remote: "write_date", convert: "DATETIME" },
            ],
          },
        },
        token,
      );

      const rawBefore = await rawRate(sim);
      const rssBase = process.memoryUsage().rss;
      let rssPeak = rssBase;
      const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 100);
      const load0 = loadavg()[0]!;
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
      clearInterval(sampler);
      const rawAfter = await rawRate(sim);
      const raw = (rawBefore.rate + rawAfter.rate) / 2;
      const rate = final.processed / seconds;
      const fastRaw = fast ? await rawRate(fast) : undefined;
      return {
        "records (simulator)": rawBefore.records,
        "run status": `${final.status} (processed ${final.processed}, created ${final.created}, failed ${final.failed})`,
        "simulator pace (µs of CPU per record served)": PACE_US,
        "sync end to end (records/s)": Math.round(rate),
        "simulator raw serving rate, same pages (records/s)": `${Math.round(raw)} (before ${Math.round(rawBefore.rate)}, after ${Math.round(rawAfter.rate)})`,
        "ratio sync / raw (target >= 0.50)": (rate / raw).toFixed(2),
        ...(fastRaw ? { "raw rate at pace 0 (records/s)": Math.round(fastRaw.rate), "ratio sync / raw at pace 0": (rate / fastRaw.rate).toFixed(2) } : {}),
        "run wall time (s)": seconds.toFixed(1),
        "peak RSS growth of the Tributary process (MiB)": ((rssPeak - rssBase) / 1048576).toFixed(1),
        "load average at start": load0.toFixed(2),
      };
    } finally {
      await stack.stop();
    }
  } finally {
    sim.proc.kill("SIGTERM");
    fast?.proc.kill("SIGTERM");
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
