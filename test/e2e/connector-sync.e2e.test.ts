// Connector runs end to end, through the gateway, against the Odoo simulator speaking the real JSON-RPC protocol:
// live progress over syncRunUpdated, the collection ending with exactly the simulator's data after full and
// incremental runs (creates, writes, archives, hard deletes), dry runs, maxRecords, per-record schema failures
// (PARTIAL), cancellation, remote faults, wrong credentials, and signed webhooks (bad signature, replay, valid).
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomUUID } from "node:crypto";
import {
  CancelSyncDocument,
  ConnectorRunDocument,
  ConnectorRunUpdatedDocument,
  ConnectorStateDocument,
  CreateCollectionDocument,
  CreateConnectorFullDocument,
  CreateConnectorMappingDocument,
  RotateWebhookSecretDocument,
  StartSyncDocument,
  TestConnectionDocument,
  OdooCallDocument,
  UpdateConnectorDocument,
  UpdateConnectorMappingDocument,
  type RunProgressFragment,
} from "../__generated__/graphql.js";
import { startOdooSimulator, type OdooSimulator } from "../../simulators/odoo/odoo.simulator.js";
import { signWebhook } from "../../subgraphs/connectors/webhooks/odoo-webhook.js";
import { startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";
import { codesOf, Feed, pulledState, waitUntil } from "./e2e-helpers.js";

const FINAL = ["SUCCEEDED", "PARTIAL", "FAILED", "CANCELLED"];
type Partner = { id: string; name: string | null; email: string | null; countryId: number | null; _deleted?: boolean };

describe("connector runs against the Odoo simulator", () => {
  let t: TestStack;
  let a: TenantLogin;
  let sim: OdooSimulator;
  let connectorId: string;

  /** What the collection must hold: every active partner, mapped. */
  function expected(): Map<string, Omit<Partner, "_deleted">> {
    const out = new Map<string, Omit<Partner, "_deleted">>();
    const ids = sim.store.ids("res.partner", { active: true });
    const rows = sim.store.toWire("res.partner", ids.map((id) => sim.store.row("res.partner", id)!), ["name", "email", "country_id"]);
    for (const r of rows) {
      const country = r.country_id as [number, string] | false;
      out.set(String(r.id), { id: String(r.id), name: (r.name as string) || null, email: (r.email as string) || null, countryId: country ? country[0] : null });
    }
    return out;
  }

  async function collection(): Promise<Map<string, Omit<Partner, "_deleted">>> {
    const { state } = await pulledState<Partner>(t.url, a.token, "partners");
    const out = new Map<string, Omit<Partner, "_deleted">>();
    for (const [id, d] of state) {
      if (d._deleted) continue;
      out.set(id, { id: d.id, name: d.name, email: d.email, countryId: d.countryId });
    }
    return out;
  }

  /** Starts a run and follows it live to its end; returns every state seen and the final one. */
  async function run(options: Record<string, unknown> = {}, token = a.token, id = connectorId): Promise<{ seen: RunProgressFragment[]; final: RunProgressFragment }> {
    const started = await t.request(StartSyncDocument, { connectorId: id, options }, token);
    if (!started.data) throw new Error(`startSync failed: ${JSON.stringify(started.errors)}`);
    const runId = started.data.startSync.id;
    const feed = new Feed(t.ws(token), ConnectorRunUpdatedDocument, { id: runId });
    const last = await waitUntil(
      () => {
        const states = feed.results.map((r) => r.data?.syncRunUpdated).filter(Boolean) as RunProgressFragment[];
        const end = states.find((s) => FINAL.includes(s.status));
        return end ?? (feed.error ? Promise.reject(feed.error) : null);
      },
      `run ${runId} to finish`,
      60_000,
    );
    await feed.close();
    const seen = feed.results.map((r) => r.data?.syncRunUpdated).filter(Boolean) as RunProgressFragment[];
    return { seen, final: last };
  }

  beforeAll(async () => {
    sim = await startOdooSimulator({ seed: { seed: 7, partners: 1_200, products: 0, orders: 0, archivedRatio: 0.02 } });
    t = await startTestStack({ connectors: { connectorJobs: { workers: 2, pollingIntervalSeconds: 0.5, cronIntervalSeconds: 1 } } });
    a = await t.tenant("odoo-sync");
    const coll = await t.request(
      CreateCollectionDocument,
      {
        input: {
          name: "partners",
          jsonSchema: { type: "object", properties: { name: { type: ["string", "null"], maxLength: 200 }, email: { type: ["string", "null"] } }, required: ["id"] },
        },
      },
      a.token,
    );
    expect(coll.errors).toBeUndefined();
    const created = await t.request(
      CreateConnectorFullDocument,
      { input: { kind: "ODOO", name: "Simulated ERP", baseUrl: sim.url, credentials: { database: sim.db, login: sim.adminLogin, password: sim.apiKey }, settings: { retries: 2, timeoutMs: 5_000 } } },
      a.token,
    );
    expect(created.errors).toBeUndefined();
    connectorId = created.data!.createConnector.id;
    const mapping = await t.request(
      CreateConnectorMappingDocument,
      {
        connectorId,
        input: {
          remoteModel: "res.partner",
          collection: "partners",
          fieldMap: [
            { field: "name", remote: "name" },
            { field: "email", remote: "email" },
            { field: "countryId", remote: "country_id", convert: "MANY2ONE_ID" },
          ],
        },
      },
      a.token,
    );
    expect(mapping.errors).toBeUndefined();
  }, 120_000);

  afterAll(async () => {
    await t?.stop();
    await sim?.close();
  });

  it("tests the connection: version, user, latency", async () => {
    const res = await t.request(TestConnectionDocument, { id: connectorId }, a.token);
    expect(res.data?.testConnection).toMatchObject({ ok: true, version: expect.stringMatching(/^18\.0/), errorCode: null });
    const state = await t.request(ConnectorStateDocument, { id: connectorId }, a.token);
    expect(state.data?.connector).toMatchObject({ health: "HEALTHY", remoteVersion: expect.stringMatching(/^18/) });
  });

  it("a full run streams progress live and leaves exactly the simulator's active partners", async () => {
    const { seen, final } = await run({ full: true, batchSize: 200 });
    expect(final.status).toBe("SUCCEEDED");
    const want = expected();
    expect(final.created).toBe(want.size);
    expect(final.processed).toBeGreaterThanOrEqual(want.size);
    // Live: queued/running states with growing counts before the end, the model named while running.
    const running = seen.filter((s) => s.status === "RUNNING");
    expect(running.length).toBeGreaterThan(1);
    expect(running.some((s) => s.currentModel === "res.partner" && s.processed > 0 && s.processed < final.processed)).toBe(true);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.processed).toBeGreaterThanOrEqual(seen[i - 1]!.processed);
    expect(final.recordsPerSecond).toBeGreaterThan(0);
    expect(await collection()).toEqual(want);
    const state = await t.request(ConnectorStateDocument, { id: connectorId }, a.token);
    expect(state.data?.connector.mappings[0]).toMatchObject({ lastRunId: final.id, lastRunStatus: "SUCCEEDED", recordCount: want.size });
  }, 90_000);

  it("an incremental run writes only what changed: creates, writes, archives; a dry run writes nothing", async () => {
    const [firstId, secondId, thirdId] = sim.store.ids("res.partner", { active: true });
    sim.store.write("res.partner", [firstId!, secondId!], { email: "changed@example.com" });
    sim.store.create("res.partner", [{ name: "New One" }, { name: "New Two", email: "two@example.com" }]);
    sim.store.archive("res.partner", [thirdId!]);

    const dry = await run({ dryRun: true });
    expect(dry.final).toMatchObject({ status: "SUCCEEDED", created: 2, updated: 2, deleted: 1 });
    expect((await collection()).get(String(firstId))?.email).not.toBe("changed@example.com");

    const { final } = await run();
    expect(final).toMatchObject({ status: "SUCCEEDED", created: 2, updated: 2, deleted: 1 });
    expect(await collection()).toEqual(expected());
    // Nothing changed since: the next incremental run writes nothing.
    const again = await run();
    expect(again.final).toMatchObject({ status: "SUCCEEDED", created: 0, updated: 0, deleted: 0 });
  }, 90_000);

  it("a full run reconciles hard deletes (records the remote no longer has)", async () => {
    const victims = sim.store.ids("res.partner", { active: true }).slice(-3);
    sim.store.unlink("res.partner", victims);
    const { final } = await run({ full: true, batchSize: 500 });
    expect(final.status).toBe("SUCCEEDED");
    expect(final.deleted).toBe(3);
    const now = await collection();
    for (const id of victims) expect(now.has(String(id))).toBe(false);
    expect(now).toEqual(expected());
  }, 90_000);

  it("maxRecords stops early and the next run continues from there", async () => {
    sim.store.create("res.partner", Array.from({ length: 30 }, (_, i) => ({ name: `Batch ${i}` })));
    const first = await run({ maxRecords: 10, batchSize: 4 });
    expect(first.final).toMatchObject({ status: "SUCCEEDED", processed: 10 });
    const rest = await run();
    expect(rest.final.status).toBe("SUCCEEDED");
    expect(await collection()).toEqual(expected());
  }, 90_000);

  it("a record failing the collection's schema is reported per record (PARTIAL); the others land", async () => {
    const [bad] = sim.store.create("res.partner", [{ name: "x".repeat(300) }]);
    sim.store.create("res.partner", [{ name: "Fine" }]);
    const { final } = await run();
    expect(final.status).toBe("PARTIAL");
    expect(final.failed).toBe(1);
    expect(final.errors).toEqual([expect.objectContaining({ recordId: String(bad), collection: "partners", code: "SCHEMA_VIOLATION" })]);
    const now = await collection();
    expect(now.has(String(bad))).toBe(false);
    expect([...now.values()].some((p) => p.name === "Fine")).toBe(true);
    sim.store.write("res.partner", [bad!], { name: "Short again" });
    expect((await run()).final.status).toBe("SUCCEEDED");
    expect(await collection()).toEqual(expected());
  }, 90_000);

  it("transient remote failures are retried; a cancelled run stops at its next page and a new run completes", async () => {
    sim.faults.failNext(2, { kind: "http", status: 503 }, { method: "search_read" });
    sim.store.create("res.partner", [{ name: "After faults" }]);
    expect((await run()).final.status).toBe("SUCCEEDED");

    sim.faults.latencyMs = 150;
    const started = await t.request(StartSyncDocument, { connectorId, options: { full: true, batchSize: 20 } }, a.token);
    const runId = started.data!.startSync.id;
    await waitUntil(async () => (await t.request(ConnectorRunDocument, { id: runId }, a.token)).data?.syncRun.processed, "first pages", 20_000);
    const cancelled = await t.request(CancelSyncDocument, { runId }, a.token);
    expect(cancelled.errors).toBeUndefined();
    const end = await waitUntil(async () => {
      const r = (await t.request(ConnectorRunDocument, { id: runId }, a.token)).data?.syncRun;
      return r && FINAL.includes(r.status) ? r : null;
    }, "cancellation", 20_000);
    expect(end.status).toBe("CANCELLED");
    expect(end.processed).toBeLessThan(expected().size);
    sim.faults.latencyMs = 0;
    expect((await run({ full: true })).final.status).toBe("SUCCEEDED");
    expect(await collection()).toEqual(expected());
  }, 120_000);

  it("wrong credentials: testConnection says REMOTE_AUTH and a run FAILS with the reason; an unreachable host is REMOTE_UNAVAILABLE", async () => {
    const wrong = (await t.request(CreateConnectorFullDocument, { input: { kind: "ODOO", name: "wrong", baseUrl: sim.url, credentials: { database: sim.db, login: sim.adminLogin, password: "not-the-password" } } }, a.token)).data!
      .createConnector.id;
    expect((await t.request(TestConnectionDocument, { id: wrong }, a.token)).data?.testConnection).toMatchObject({ ok: false, errorCode: "REMOTE_AUTH" });
    // A wrong database name: Odoo's answer names its own database server (host, port); the tenant sees what happened.
    const noDb = (await t.request(CreateConnectorFullDocument, { input: { kind: "ODOO", name: "no db", baseUrl: sim.url, credentials: { database: "no_such_db", login: sim.adminLogin, password: sim.apiKey } } }, a.token)).data!
      .createConnector.id;
    const noDbTest = (await t.request(TestConnectionDocument, { id: noDb }, a.token)).data?.testConnection;
    expect(noDbTest).toMatchObject({ ok: false, errorCode: "REMOTE_AUTH", message: expect.stringContaining('database "no_such_db" does not exist') });
    expect(noDbTest!.message).not.toMatch(/127\.0\.0\.1|5432|port|FATAL|connection to server/);
    await t.request(CreateConnectorMappingDocument, { connectorId: wrong, input: { remoteModel: "res.partner", collection: "partners", fieldMap: [{ field: "name", remote: "name" }] } }, a.token);
    const failed = await run({}, a.token, wrong);
    expect(failed.final.status).toBe("FAILED");
    expect(failed.final.error).toMatch(/AUTH/);

    const down = (await t.request(CreateConnectorFullDocument, { input: { kind: "ODOO", name: "down", baseUrl: "http://127.0.0.1:9/", credentials: { database: "x", login: "y", password: "z" }, settings: { retries: 0, timeoutMs: 2_000 } } }, a.token))
      .data!.createConnector.id;
    expect((await t.request(TestConnectionDocument, { id: down }, a.token)).data?.testConnection).toMatchObject({ ok: false, errorCode: "REMOTE_UNAVAILABLE" });

    // A remote that does not answer: REMOTE_TIMEOUT after the connector's timeout, the connector marked unreachable.
    const slow = (await t.request(CreateConnectorFullDocument, { input: { kind: "ODOO", name: "slow", baseUrl: sim.url, credentials: { database: sim.db, login: sim.adminLogin, password: sim.apiKey }, settings: { retries: 0, timeoutMs: 1_000 } } }, a.token))
      .data!.createConnector.id;
    const removeHang = sim.faults.failNext(1, { kind: "hang" });
    expect((await t.request(TestConnectionDocument, { id: slow }, a.token)).data?.testConnection).toMatchObject({ ok: false, errorCode: "REMOTE_TIMEOUT" });
    removeHang();
    expect((await t.request(ConnectorStateDocument, { id: slow }, a.token)).data?.connector.health).toBe("UNREACHABLE");
  }, 90_000);

  it("signed webhooks through the gateway: bad signature and replays refused, a valid one queues a run", async () => {
    const secret = (await t.request(RotateWebhookSecretDocument, { connectorId, enabled: true }, a.token)).data!.rotateWebhookSecret!;
    expect(secret.length).toBeGreaterThanOrEqual(32);
    const hook = new URL(`/webhooks/odoo/${connectorId}`, t.url).toString();
    const body = JSON.stringify({ model: "res.partner", ids: [1] });
    const now = Math.floor(Date.now() / 1000);
    const send = (ts: number, signature: string, payload = body) =>
      fetch(hook, { method: "POST", headers: { "content-type": "application/json", "x-tributary-timestamp": String(ts), "x-tributary-signature": signature }, body: payload });

    expect((await send(now, signWebhook("wrong secret", now, body))).status).toBe(401);
    expect((await send(now - 3_600, signWebhook(secret, now - 3_600, body))).status).toBe(401);
    expect((await send(now, signWebhook(secret, now, body), body.replace("1", "2"))).status).toBe(401);
    const unknown = await fetch(new URL(`/webhooks/odoo/${randomUUID()}`, t.url), { method: "POST", headers: { "x-tributary-timestamp": String(now), "x-tributary-signature": signWebhook(secret, now, body) }, body });
    expect(unknown.status).toBe(401);

    sim.store.create("res.partner", [{ name: "From webhook" }]);
    const signature = signWebhook(secret, now, body);
    const ok = await send(now, signature);
    expect(ok.status).toBe(202);
    const answer = (await ok.json()) as { runId: string | null };
    expect((await send(now, signature)).status).toBe(401); // replay
    expect(answer.runId).toBeTruthy();
    const end = await waitUntil(async () => {
      const r = (await t.request(ConnectorRunDocument, { id: answer.runId! }, a.token)).data?.syncRun;
      return r && FINAL.includes(r.status) ? r : null;
    }, "webhook run", 30_000);
    expect(end).toMatchObject({ status: "SUCCEEDED", actorType: "CONNECTOR" });
    expect([...(await collection()).values()].some((p) => p.name === "From webhook")).toBe(true);
    expect(codesOf(await t.request(StartSyncDocument, { connectorId, options: { batchSize: -1 } }, a.token))).toEqual(["BAD_USER_INPUT"]);
  }, 90_000);

  it("odooCall: allow-listed model.method calls pass through; others FORBIDDEN; remote refusals are UPSTREAM_ERROR with their kind", async () => {
    const allowed = await t.request(UpdateConnectorDocument, { id: connectorId, input: { allowedCalls: ["res.partner.search_count", "res.partner._private"] } }, a.token);
    expect(allowed.errors).toBeUndefined();
    const count = await t.request(OdooCallDocument, { connectorId, model: "res.partner", method: "search_count", args: [[["is_company", "=", true]]] }, a.token);
    expect(count.errors).toBeUndefined();
    const want = [...sim.store.rows("res.partner")].filter((r) => r.is_company === true && r.active !== false).length;
    expect(count.data!.odooCall).toBe(want);
    for (const method of ["unlink", "_private"]) {
      const denied = await t.request(OdooCallDocument, { connectorId, model: "res.partner", method, args: [[1]] }, a.token);
      expect({ method, codes: codesOf(denied) }).toEqual({ method, codes: ["FORBIDDEN"] });
    }
    const bad = await t.request(OdooCallDocument, { connectorId, model: "res.partner", method: "search_count", args: [[["no_such_field", "=", 1]]] }, a.token);
    expect(codesOf(bad)).toEqual(["UPSTREAM_ERROR"]);
    expect(bad.errors?.[0]?.extensions).toMatchObject({ remoteKind: "VALIDATION", remoteCode: "builtins.ValueError" });
    expect(codesOf(await t.request(OdooCallDocument, { connectorId, model: "res.partner", method: "search_count", args: { not: "a list" } }, a.token))).toEqual(["BAD_USER_INPUT"]);
  }, 60_000);

  it("a mapping's cron schedule starts runs by itself (as the connector) until it is removed", async () => {
    expect((await t.request(CreateCollectionDocument, { input: { name: "products" } }, a.token)).errors).toBeUndefined();
    const mapping = await t.request(
      CreateConnectorMappingDocument,
      { connectorId, input: { remoteModel: "product.product", collection: "products", fieldMap: [{ field: "name", remote: "name" }], schedule: "*/2 * * * * *" } },
      a.token,
    );
    expect(mapping.errors).toBeUndefined();
    const scheduled = await waitUntil(
      async () => {
        const state = await t.request(ConnectorStateDocument, { id: connectorId }, a.token);
        const m = state.data?.connector.mappings.find((x) => x.remoteModel === "product.product");
        return m?.lastRunId && m.lastRunStatus ? m : null;
      },
      "a scheduled run of product.product",
      45_000,
      250,
    );
    const run = (await t.request(ConnectorRunDocument, { id: scheduled.lastRunId! }, a.token)).data!.syncRun;
    expect(run).toMatchObject({ status: "SUCCEEDED", actorType: "CONNECTOR", collections: ["products"] });
    const removed = await t.request(UpdateConnectorMappingDocument, { id: mapping.data!.createConnectorMapping.id, input: { schedule: "" } }, a.token);
    expect(removed.errors).toBeUndefined();
    await new Promise((r) => setTimeout(r, 4_000)); // a run already due may still start
    const settled = (await t.request(ConnectorStateDocument, { id: connectorId }, a.token)).data!.connector.mappings.find((x) => x.remoteModel === "product.product")!;
    await new Promise((r) => setTimeout(r, 5_000));
    const later = (await t.request(ConnectorStateDocument, { id: connectorId }, a.token)).data!.connector.mappings.find((x) => x.remoteModel === "product.product")!;
    expect(later.lastRunId).toBe(settled.lastRunId);
  }, 90_000);
});
