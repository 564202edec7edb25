// A connector worker killed mid-run (SIGKILL, in its own process): another worker takes the run over once the dead
// one stops heartbeating — within 15 s with the default queue settings (it took 50–95 s with pg-boss' monitor default),
// the run's log entry saying it was resumed (a WORKER_LOST note) — resumes from the run's stored cursor, and the
// collection ends with exactly the simulator's data — every record written once (one CREATE in its history), none lost.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import {
  ConnectorRunDocument,
  CreateCollectionDocument,
  CreateConnectorFullDocument,
  CreateConnectorMappingDocument,
  StartSyncDocument,
} from "../__generated__/graphql.js";
import { startOdooSimulator, type OdooSimulator } from "../../simulators/odoo/odoo.simulator.js";
import { RECORD_VERSIONS } from "../../subgraphs/sync/records/record-writer.js";
import { WORKER_LOST } from "../../subgraphs/connectors/jobs/sync-job.js";
import { startConnectorsProcess, startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";
import { pulledState, waitUntil } from "./e2e-helpers.js";

// The default queue settings (heartbeat, supervision, retry delay, polling) in every process: what a deployment gets.
const JOBS = {};
const TAKEOVER_MS = 15_000;

describe("a connector worker killed mid-run", () => {
  let t: TestStack;
  let a: TenantLogin;
  let sim: OdooSimulator;

  beforeAll(async () => {
    sim = await startOdooSimulator({ seed: { seed: 11, partners: 3_000, products: 0, orders: 0, archivedRatio: 0 } });
    // The stack's own connectors service runs no workers: only the child processes execute runs.
    t = await startTestStack({ connectors: { connectorJobs: { ...JOBS, workers: 0 } } });
    a = await t.tenant("crash");
    expect((await t.request(CreateCollectionDocument, { input: { name: "partners" } }, a.token)).errors).toBeUndefined();
  }, 120_000);
  afterAll(async () => {
    await t?.stop();
    await sim?.close();
  });

  it("resumes on another worker from its cursor and ends with the simulator's data, each record written once", async () => {
    const connector = await t.request(
      CreateConnectorFullDocument,
      { input: { kind: "ODOO", name: "ERP", baseUrl: sim.url, credentials: { database: sim.db, login: sim.adminLogin, password: sim.apiKey } } },
      a.token,
    );
    const connectorId = connector.data!.createConnector.id;
    await t.request(
      CreateConnectorMappingDocument,
      { connectorId, input: { remoteModel: "res.partner", collection: "partners", fieldMap: [{ field: "name", remote: "name" }, { field: "email", remote: "email" }] } },
      a.token,
    );
    const first = await startConnectorsProcess(t, { jobs: { ...JOBS, workers: 1 } });
    sim.faults.latencyMs = 40; // about 40 pages of 75: time to kill the worker mid-run
    const started = await t.request(StartSyncDocument, { connectorId, options: { full: true, batchSize: 75 } }, a.token);
    const runId = started.data!.startSync.id;
    await waitUntil(async () => ((await t.request(ConnectorRunDocument, { id: runId }, a.token)).data?.syncRun.processed ?? 0) >= 600, "the first worker's progress", 30_000, 50);
    await first.kill("SIGKILL");
    const killedAt = Date.now();
    const atKill = (await t.request(ConnectorRunDocument, { id: runId }, a.token)).data!.syncRun;
    expect(atKill.status).toBe("RUNNING");
    expect(atKill.processed).toBeLessThan(2_500);

    await startConnectorsProcess(t, { jobs: { ...JOBS, workers: 1 } });
    // Taken over within 15 s of the kill, and the run says so.
    const resumed = await waitUntil(
      async () => (await t.request(ConnectorRunDocument, { id: runId }, a.token)).data?.syncRun.errors.find((e) => e.code === WORKER_LOST),
      "the run's takeover note",
      60_000,
      100,
    );
    const takeoverMs = Date.now() - killedAt;
    process.stdout.write(`connector crash: run taken over ${takeoverMs} ms after the kill\n`);
    expect(takeoverMs).toBeLessThanOrEqual(TAKEOVER_MS);
    expect(resumed).toMatchObject({ recordId: null, message: expect.stringMatching(/resumed from its cursor/) });
    const end = await waitUntil(
      async () => {
        const r = (await t.request(ConnectorRunDocument, { id: runId }, a.token)).data?.syncRun;
        return r && ["SUCCEEDED", "PARTIAL", "FAILED", "CANCELLED"].includes(r.status) ? r : null;
      },
      "the run to finish on the second worker",
      90_000,
      200,
    );
    // The simulator holds the seeded partners plus those of its company and users.
    const total = sim.store.ids("res.partner", { active: true }).length;
    expect(total).toBeGreaterThanOrEqual(3_000);
    expect(end.status).toBe("SUCCEEDED");
    expect(end.created).toBe(total);
    expect(end.processed).toBeGreaterThanOrEqual(total);

    const { state } = await pulledState<{ id: string; name: string; _deleted: boolean }>(t.url, a.token, "partners");
    const live = [...state.values()].filter((d) => !d._deleted);
    const want = new Map(sim.store.ids("res.partner", { active: true }).map((id) => [String(id), sim.store.row("res.partner", id)!]));
    expect(live.length).toBe(want.size);
    for (const d of live) expect(d.name).toBe(want.get(d.id)?.name);

    const db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query(
        `select count(*)::int as versions, count(distinct record_id)::int as records, max(version)::int as top from ${RECORD_VERSIONS} v where tenant_id = $1 and collection = 'partners'`,
        [a.tenantId],
      );
      expect(rows[0]).toEqual({ versions: total, records: total, top: 1 });
    } finally {
      await db.end();
    }
  }, 180_000);
});
