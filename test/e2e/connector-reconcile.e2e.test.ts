// Odoo transactions longer than the incremental window (issue 16 §2), through the gateway against the simulator
// playing a long transaction as the real Odoo 18 did: records stamped with the transaction's start, their ids taken
// at insert, visible only when it commits — after a later incremental run moved past them. Incremental runs miss
// them; a reconciliation (`startSync(options: { reconcile: true })`, or the schedule) re-reads exactly the records
// whose (id, write_date) differ from what is stored, and deletions and archives with them. The window is the
// connector's `overlapSeconds`: a transaction inside it is caught by the next incremental run.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import {
  ConnectorRunDocument,
  CreateCollectionDocument,
  CreateConnectorFullDocument,
  CreateConnectorMappingDocument,
  StartSyncDocument,
  UpdateConnectorDocument,
} from "../__generated__/graphql.js";
import { startOdooSimulator, type OdooSimulator } from "../../simulators/odoo/odoo.simulator.js";
import { startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";
import { codesOf, pulledState, sleep, waitUntil } from "./e2e-helpers.js";

const FINAL = ["SUCCEEDED", "PARTIAL", "FAILED", "CANCELLED"];

describe("long Odoo transactions: missed by incremental runs, caught by reconciliation", () => {
  let t: TestStack;
  let a: TenantLogin;
  let sim: OdooSimulator;
  let connectorId: string;

  async function run(options: Record<string, unknown>) {
    const started = await t.request(StartSyncDocument, { connectorId, options }, a.token);
    if (!started.data) throw new Error(`startSync failed: ${JSON.stringify(started.errors)}`);
    return runEnd(started.data.startSync.id);
  }
  const runEnd = (id: string) =>
    waitUntil(async () => {
      const r = (await t.request(ConnectorRunDocument, { id }, a.token)).data?.syncRun;
      return r && FINAL.includes(r.status) ? r : null;
    }, `run ${id}`, 60_000, 100);

  async function names(): Promise<Map<string, string | null>> {
    const { state } = await pulledState<{ id: string; name: string | null; _deleted?: boolean }>(t.url, a.token, "partners");
    return new Map([...state].filter(([, d]) => !d._deleted).map(([id, d]) => [id, d.name]));
  }
  /** What the collection must hold: every active partner of the simulator. */
  function expected(): Map<string, string | null> {
    const ids = sim.store.ids("res.partner", { active: true });
    const rows = sim.store.toWire("res.partner", ids.map((id) => sim.store.row("res.partner", id)!), ["name"]);
    return new Map(rows.map((r) => [String(r.id), (r.name as string) || null]));
  }

  beforeAll(async () => {
    sim = await startOdooSimulator({ seed: { seed: 11, partners: 400, products: 0, orders: 0, archivedRatio: 0 } });
    t = await startTestStack({ connectors: { connectorJobs: { workers: 2, pollingIntervalSeconds: 0.5, cronIntervalSeconds: 1 } } });
    a = await t.tenant("odoo-long-tx");
    expect((await t.request(CreateCollectionDocument, { input: { name: "partners" } }, a.token)).errors).toBeUndefined();
    const created = await t.request(
      CreateConnectorFullDocument,
      {
        input: {
          kind: "ODOO",
          name: "Odoo with long transactions",
          baseUrl: sim.url,
          credentials: { database: sim.db, login: sim.adminLogin, password: sim.apiKey },
          settings: { retries: 1, timeoutMs: 5_000, overlapSeconds: 2 },
        },
      },
      a.token,
    );
    expect(created.errors).toBeUndefined();
    connectorId = created.data!.createConnector.id;
    const mapping = await t.request(CreateConnectorMappingDocument, { connectorId, input: { remoteModel: "res.partner", collection: "partners", fieldMap: [{ field: "name", remote: "name" }] } }, a.token);
    expect(mapping.errors).toBeUndefined();
    expect((await run({ full: true })).status).toBe("SUCCEEDED");
    expect((await run({})).status).toBe("SUCCEEDED");
  }, 120_000);

  afterAll(async () => {
    await t?.stop();
    await sim?.close();
  });

  it("reconcile is refused with full, since, force or maxRecords", async () => {
    for (const extra of [{ full: true }, { since: new Date(Date.now() - 60_000).toISOString() }, { force: true }, { maxRecords: 5 }]) {
      expect(codesOf(await t.request(StartSyncDocument, { connectorId, options: { reconcile: true, ...extra } }, a.token))).toEqual(["BAD_USER_INPUT"]);
    }
  });

  it("a transaction committed behind the window is missed by incremental runs and caught by a reconcile run that re-reads only what differs", async () => {
    const [changed, archived, deleted] = sim.store.ids("res.partner", { active: true }).slice(10, 13) as [number, number, number];
    const tx = sim.store.begin();
    const lateIds = tx.create("res.partner", Array.from({ length: 100 }, (_, i) => ({ name: `Long transaction ${i}` })));
    tx.write("res.partner", [changed], { name: "Changed by the long transaction" });
    // Meanwhile other transactions commit (newer write_dates, higher ids) and incremental runs move past the start.
    await sleep(3_500);
    const [newer] = sim.store.create("res.partner", [{ name: "Committed meanwhile" }]);
    expect(newer).toBeGreaterThan(Math.max(...lateIds)); // the late records' ids sit behind it, as in PostgreSQL
    const before = await run({});
    expect(before.status).toBe("SUCCEEDED");
    expect((await names()).get(String(newer))).toBe("Committed meanwhile");
    tx.commit();
    expect(sim.store.row("res.partner", lateIds[0]!)).toBeTruthy();

    const incremental = await run({});
    expect(incremental.status).toBe("SUCCEEDED");
    const afterIncremental = await names();
    expect(lateIds.filter((id) => afterIncremental.has(String(id)))).toEqual([]);
    expect(afterIncremental.get(String(changed))).not.toBe("Changed by the long transaction");

    sim.store.archive("res.partner", [archived]);
    sim.store.unlink("res.partner", [deleted]);
    // Archive and unlink stamp now: a second incremental run would see the archive but never the hard delete.
    const reconcile = await run({ reconcile: true });
    expect(reconcile).toMatchObject({ status: "SUCCEEDED", actorType: "USER" });
    expect((reconcile.parameters as { reconcile?: boolean }).reconcile).toBe(true);
    // Re-read: the 100 late creations, the late write and the archived record; nothing else of the 400+ partners.
    expect(reconcile.processed).toBe(102);
    expect(reconcile.created).toBe(100);
    expect(reconcile.deleted).toBe(2);
    expect(await names()).toEqual(expected());

    // Nothing differs any more: a second reconciliation reads summaries only.
    const again = await run({ reconcile: true });
    expect(again).toMatchObject({ status: "SUCCEEDED", processed: 0, created: 0, updated: 0, deleted: 0 });
  }, 180_000);

  it("the window is the connector's overlapSeconds: a transaction inside it is caught by the next incremental run", async () => {
    expect((await t.request(UpdateConnectorDocument, { id: connectorId, input: { settings: { overlapSeconds: 60 } } }, a.token)).errors).toBeUndefined();
    expect((await run({})).status).toBe("SUCCEEDED"); // this run's window is measured with the new setting
    const tx = sim.store.begin();
    const lateIds = tx.create("res.partner", Array.from({ length: 20 }, (_, i) => ({ name: `Inside the window ${i}` })));
    await sleep(3_500);
    sim.store.create("res.partner", [{ name: "Also meanwhile" }]);
    expect((await run({})).status).toBe("SUCCEEDED");
    tx.commit();
    expect((await run({})).status).toBe("SUCCEEDED");
    const state = await names();
    expect(lateIds.every((id) => state.get(String(id))?.startsWith("Inside the window"))).toBe(true);
    expect(state).toEqual(expected());
  }, 120_000);

  it("a record changed during an incremental run is read twice and stored as last read", async () => {
    const ids = sim.store.ids("res.partner", { active: true }).slice(20, 320);
    sim.store.write("res.partner", ids, { name: "First version" });
    const target = ids[85]!; // in the 5th page of 20 (by id within one second): the pages after the first two are written together
    // Once the run has read it (the probe, a first scan, then pages 1–5 of the second), the record changes again, in a later second: the same run
    // reads it again (whether or not both reads fall into one write).
    const remove = sim.after({
      method: "search_read",
      model: "res.partner",
      afterCalls: 7,
      run: (store) => store.write("res.partner", [target], { name: "Second version" }, { at: Date.now() * 1000 + 2_000_000 }),
    });
    const end = await run({ batchSize: 20 });
    remove();
    expect(end.status).toBe("SUCCEEDED");
    expect(end.processed).toBeGreaterThanOrEqual(301);
    const state = await names();
    expect(state.get(String(target))).toBe("Second version");
    expect(ids.filter((id) => id !== target).every((id) => state.get(String(id)) === "First version")).toBe(true);
    expect(state).toEqual(expected());
  }, 120_000);

  it("reconciliations are scheduled per connector (settings.reconcileEveryMinutes) and started by the connector", async () => {
    expect((await t.request(UpdateConnectorDocument, { id: connectorId, input: { settings: { overlapSeconds: 0, reconcileEveryMinutes: 5 } } }, a.token)).errors).toBeUndefined();
    expect(codesOf(await t.request(UpdateConnectorDocument, { id: connectorId, input: { settings: { reconcileEveryMinutes: 2 } } }, a.token))).toEqual(["BAD_USER_INPUT"]);
    const tx = sim.store.begin();
    const [late] = tx.create("res.partner", [{ name: "Found by the schedule" }]);
    await sleep(1_500);
    sim.store.create("res.partner", [{ name: "Newer still" }]);
    expect((await run({})).status).toBe("SUCCEEDED");
    tx.commit();
    const conn = t.stack.connectors.orm.em.fork().getConnection();
    const since = new Date();
    // The last reconciliation was just now: due again only after the interval. Pretend the interval has passed.
    await conn.execute("update connectors.connector_mapping set reconciled_at = now() - interval '6 minutes' where connector_id = ?", [connectorId]);
    const scheduled = await waitUntil(async () => {
      const rows: { id: string }[] = await conn.execute(
        "select id from connectors.connector_run where connector_id = ? and created_at >= ? and (options->>'reconcile')::boolean",
        [connectorId, since],
      );
      return rows[0]?.id ?? null;
    }, "a scheduled reconciliation", 80_000, 250); // pg-boss runs a cron at most once a minute
    const end = await runEnd(scheduled);
    expect(end).toMatchObject({ status: "SUCCEEDED", actorType: "CONNECTOR", processed: 1, created: 1 });
    expect((await names()).get(String(late))).toBe("Found by the schedule");
    // Not due again until the interval passes: no second one starts.
    await sleep(5_000);
    const count: { n: number }[] = await conn.execute("select count(*)::int as n from connectors.connector_run where connector_id = ? and created_at >= ?", [connectorId, since]);
    expect(count[0]!.n).toBe(1);
  }, 150_000);
});
