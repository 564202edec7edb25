// Connector sync (issue "Connectors", Benchmark; issue 16 §2 and §6): full inbound runs of 100,000 Odoo partners from
// the simulator, through the whole stack (job queue, Odoo client, field mapping, sync ingest with history, remote
// links), against the simulator's own `search_read` rate for the same pages (by `id > last`, same fields, same page
// size) read by one client in the same run, before and after each sync. Three full runs, each into an empty
// collection; the ratio of each and their median are printed. Then reconciliation: on the 100,000 records unchanged,
// and with 100 records of a long transaction committed behind the incremental window, against a full run's time.
//
// The simulator runs in its own process at a real Odoo 18's pace (ODOO18_PACE: 22 ms per call + 30 µs per record,
// one call at a time — what a real Odoo 18 served one client on this kind of machine, ../shared/protocols), so a
// connector cannot beat it by asking for more pages at once: the ratio measures how well the run hides its own work
// behind the remote's. Memory: peak RSS growth of the Tributary process during the runs.
// Knobs: BENCH_CONNECTOR_RECORDS (100000), BENCH_CONNECTOR_PAGE (1000), BENCH_CONNECTOR_RUNS (3), BENCH_ODOO_PACE
// (odoo18 | none: as fast as the simulator can).
import "reflect-metadata";
import { spawn, type ChildProcess } from "node:child_process";
import { loadavg } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gql, withConnectorBenchStack } from "./connector-stack.js";
import { OdooClient } from "../subgraphs/connectors/odoo/odoo.client.js";

export const name = "connectors: full Odoo sync through the stack vs the simulator's raw serving rate";

const RECORDS = Number(process.env.BENCH_CONNECTOR_RECORDS ?? 100_000);
const PAGE = Number(process.env.BENCH_CONNECTOR_PAGE ?? 1_000);
const RUNS = Number(process.env.BENCH_CONNECTOR_RUNS ?? 3);
const PACE = process.env.BENCH_ODOO_PACE ?? "odoo18";
const FIELDS = ["name", "email", "phone", "is_company", "country_id", "write_date"];

interface Sim {
  url: string;
  db: string;
  login: string;
  apiKey: string;
  proc: ChildProcess;
}

async function startSimulator(pace: string): Promise<Sim> {
  const entry = fileURLToPath(new URL("../simulators/odoo/main.js", import.meta.url));
  const proc = spawn(process.execPath, [entry], {
    env: { ...process.env, PORT: "0", ODOO_SEED_PARTNERS: String(RECORDS), ODOO_SEED_PRODUCTS: "0", ODOO_SEED_ORDERS: "0", ODOO_SEED_ARCHIVED_RATIO: "0", ODOO_PACE: pace },
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

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

export async function run(): Promise<Record<string, string | number>> {
  const sim = await startSimulator(PACE);
  try {
    return await withConnectorBenchStack("connectors", async ({ url, token }) => {
      const connectorFor = async (collection: string): Promise<string> => {
        await gql(url, "mutation($i: CreateCollectionInput!) { createCollection(input: $i) { id } }", { i: { name: collection } }, token);
        const { createConnector } = await gql<{ createConnector: { id: string } }>(
          url,
          "mutation($i: CreateConnectorInput!) { createConnector(input: $i) { id } }",
          { i: { kind: "ODOO", name: collection, baseUrl: sim.url, credentials: { database: sim.db, login: sim.login, password: sim.apiKey }, settings: { requestsPerSecond: 1000, timeoutMs: 120_000 } } },
          token,
        );
        await gql(
          url,
          "mutation($c: ID!, $i: CreateMappingInput!) { createConnectorMapping(connectorId: $c, input: $i) { id } }",
          {
            c: createConnector.id,
            i: {
              remoteModel: "res.partner",
              collection,
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
        return createConnector.id;
      };
      const syncRun = async (connectorId: string, options: Record<string, unknown>) => {
        const t0 = performance.now();
        const { startSync } = await gql<{ startSync: { id: string } }>(url, "mutation($c: ID!, $o: StartSyncOptions) { startSync(connectorId: $c, options: $o) { id } }", { c: connectorId, o: options }, token);
        for (;;) {
          const { syncRun } = await gql<{ syncRun: { status: string; processed: number; created: number; deleted: number; failed: number } }>(
            url,
            "query($id: ID!) { syncRun(id: $id) { status processed created deleted failed } }",
            { id: startSync.id },
            token,
          );
          if (["SUCCEEDED", "PARTIAL", "FAILED", "CANCELLED"].includes(syncRun.status)) return { ...syncRun, seconds: (performance.now() - t0) / 1000 };
          await new Promise((r) => setTimeout(r, 50));
        }
      };

      const rssBase = process.memoryUsage().rss;
      let rssPeak = rssBase;
      const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 100);
      const load0 = loadavg()[0]!;
      const ratios: number[] = [];
      const rates: number[] = [];
      const raws: number[] = [];
      const connectors: string[] = [];
      let rawBefore = await rawRate(sim);
      let last: Awaited<ReturnType<typeof syncRun>> | undefined;
      for (let i = 0; i < RUNS; i++) {
        const connectorId = await connectorFor(`partners${i + 1}`);
        connectors.push(connectorId);
        last = await syncRun(connectorId, { full: true, batchSize: PAGE });
        const rawAfter = await rawRate(sim);
        const raw = (rawBefore.rate + rawAfter.rate) / 2;
        const rate = last.processed / last.seconds;
        rates.push(rate);
        raws.push(raw);
        ratios.push(rate / raw);
        rawBefore = rawAfter;
      }
      clearInterval(sampler);

      // Reconciliation of the last collection: nothing differs, then a long transaction's 100 records committed behind.
      const reconciler = connectors[connectors.length - 1]!;
      await syncRun(reconciler, {}); // the incremental cursor, as a scheduled run would have it
      const clean = await syncRun(reconciler, { reconcile: true });
      const ops = (body: unknown) => fetch(new URL("/__sim/ops", sim.url), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      await ops({ ops: [{ op: "begin", tx: "long" }, { op: "create", tx: "long", model: "res.partner", values: Array.from({ length: 100 }, (_, i) => ({ name: `Late ${i}` })) }] });
      // A short window (1 s) stands in for a transaction held longer than the default 120 s.
      await gql(url, "mutation($id: ID!, $i: UpdateConnectorInput!) { updateConnector(id: $id, input: $i) { id } }", { id: reconciler, i: { settings: { overlapSeconds: 1 } } }, token);
      await new Promise((r) => setTimeout(r, 2_200));
      await ops({ ops: [{ op: "write", model: "res.partner", ids: [1], values: { name: "Newer" } }] });
      await syncRun(reconciler, {}); // moves past the transaction's start
      await ops({ ops: [{ op: "commit", tx: "long" }] });
      const missed = await syncRun(reconciler, {});
      const caught = await syncRun(reconciler, { reconcile: true });
      const fullSeconds = median(rates.map((r) => RECORDS / r));
      return {
        "records (simulator)": RECORDS,
        "simulator pace": PACE === "odoo18" ? "Odoo 18 (22 ms per call + 30 µs per record, one call at a time)" : "unpaced",
        "last full run": `${last!.status} (processed ${last!.processed}, created ${last!.created}, failed ${last!.failed})`,
        "full runs end to end (records/s)": rates.map((r) => Math.round(r)).join(", "),
        "simulator search_read, same pages, beside each run (records/s)": raws.map((r) => Math.round(r)).join(", "),
        "ratio full run / search_read, each run": ratios.map((r) => r.toFixed(2)).join(", "),
        "ratio full run / search_read, median (target >= 0.80)": median(ratios).toFixed(2),
        "full run wall time, median (s)": fullSeconds.toFixed(1),
        "reconcile, nothing differs (s)": `${clean.seconds.toFixed(1)} (re-read ${clean.processed}; ${(clean.seconds / fullSeconds).toFixed(2)} of a full run)`,
        "incremental run after a late commit": `${missed.status}, processed ${missed.processed} (the 100 late records missed)`,
        "reconcile after a late commit (s)": `${caught.seconds.toFixed(1)} (re-read ${caught.processed}, created ${caught.created}; ${(caught.seconds / fullSeconds).toFixed(2)} of a full run)`,
        "peak RSS growth of the Tributary process (MiB)": ((rssPeak - rssBase) / 1048576).toFixed(1),
        "load average at start": load0.toFixed(2),
      };
    });
  } finally {
    sim.proc.kill("SIGTERM");
  }
}
