// Webhooks from a stock Odoo 18 (issue 16 §3), through the gateway's port with the body Odoo's "Send Webhook
// Notification" automation really posts: a per-connector secret URL (token stored hashed, shown once, rotatable),
// the notification only a hint that coalesces into incremental runs (its fields are never stored), the same 404 for
// every unknown, rotated or disabled token, the per-connector rate limit, and the audit trail.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createHash } from "node:crypto";
import {
  AuditEventsPageDocument,
  ConnectorRunDocument,
  ConnectorWebhookStateDocument,
  CreateCollectionDocument,
  CreateConnectorFullDocument,
  CreateConnectorMappingDocument,
  RotateWebhookTokenDocument,
  StartSyncDocument,
  UpdateConnectorDocument,
} from "../__generated__/graphql.js";
import { startOdooSimulator, type OdooSimulator } from "../../simulators/odoo/odoo.simulator.js";
import { startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";
import { codesOf, pulledState, waitUntil } from "./e2e-helpers.js";

const FINAL = ["SUCCEEDED", "PARTIAL", "FAILED", "CANCELLED"];

/** What Odoo 18's `ir.actions.server._run_action_webhook` posts (json.dumps with sort_keys; chosen fields after). */
function odooBody(id: number, fields: Record<string, unknown>, model = "res.partner"): string {
  const vals: Record<string, unknown> = { _model: model, _id: id, _action: "Tributary webhook(#191)", id, ...fields };
  return JSON.stringify(Object.fromEntries(Object.entries(vals).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

describe("webhooks from a stock Odoo 18 (secret URL, no signature)", () => {
  let t: TestStack;
  let a: TenantLogin;
  let sim: OdooSimulator;
  let connectorId: string;

  /** POSTs like Odoo's `requests.post(url, data=json, headers={'Content-Type': 'application/json'}, timeout=1)`. */
  const notify = (path: string, body: string) =>
    fetch(new URL(path, t.url), { method: "POST", headers: { "content-type": "application/json", "user-agent": "python-requests/2.31.0" }, body });

  const runEnd = (runId: string) =>
    waitUntil(async () => {
      const r = (await t.request(ConnectorRunDocument, { id: runId }, a.token)).data?.syncRun;
      return r && FINAL.includes(r.status) ? r : null;
    }, `run ${runId}`, 60_000, 100);

  async function partners(): Promise<Map<string, { id: string; name: string | null; email: string | null; _deleted?: boolean }>> {
    return (await pulledState<{ id: string; name: string | null; email: string | null; _deleted?: boolean }>(t.url, a.token, "partners")).state;
  }

  async function auditActions(prefix: string): Promise<{ action: string; metadata: any }[]> {
    const page = await t.request(AuditEventsPageDocument, { filter: { action: prefix, targetId: connectorId }, first: 100 }, a.token);
    return (page.data?.auditEvents.nodes ?? []).map((n) => ({ action: n.action, metadata: n.metadata }));
  }

  beforeAll(async () => {
    sim = await startOdooSimulator({ seed: { seed: 3, partners: 200, products: 0, orders: 0, archivedRatio: 0 } });
    t = await startTestStack({ connectors: { connectorJobs: { workers: 2, pollingIntervalSeconds: 0.5 } } });
    a = await t.tenant("odoo-hooks");
    expect((await t.request(CreateCollectionDocument, { input: { name: "partners" } }, a.token)).errors).toBeUndefined();
    const created = await t.request(
      CreateConnectorFullDocument,
      { input: { kind: "ODOO", name: "Stock Odoo", baseUrl: sim.url, credentials: { database: sim.db, login: sim.adminLogin, password: sim.apiKey }, settings: { retries: 1, timeoutMs: 5_000 } } },
      a.token,
    );
    expect(created.errors).toBeUndefined();
    connectorId = created.data!.createConnector.id;
    const mapping = await t.request(
      CreateConnectorMappingDocument,
      { connectorId, input: { remoteModel: "res.partner", collection: "partners", fieldMap: [{ field: "name", remote: "name" }, { field: "email", remote: "email" }] } },
      a.token,
    );
    expect(mapping.errors).toBeUndefined();
    const first = await t.request(StartSyncDocument, { connectorId, options: { full: true } }, a.token);
    expect((await runEnd(first.data!.startSync.id)).status).toBe("SUCCEEDED");
  }, 120_000);

  afterAll(async () => {
    await t?.stop();
    await sim?.close();
  });

  it("Odoo's native body on the connector's URL queues an incremental run; the body's fields are never stored", async () => {
    const state0 = (await t.request(ConnectorWebhookStateDocument, { id: connectorId }, a.token)).data!.connector;
    expect(state0).toMatchObject({ webhookUrlCreatedAt: null, settings: { overlapSeconds: 120, reconcileEveryMinutes: 360, webhookRequestsPerMinute: 600 } });

    const rotated = (await t.request(RotateWebhookTokenDocument, { connectorId, enabled: true }, a.token)).data!.rotateWebhookToken!;
    expect(rotated.token).toMatch(/^whk_[A-Za-z0-9_-]{43}$/);
    expect(rotated.path).toBe(`/webhooks/odoo/notify/${rotated.token}`);
    // Only the hash is kept: the token appears nowhere in the connectors schema.
    const conn = t.stack.connectors.orm.em.fork().getConnection();
    const rows: { token_hash: string }[] = await conn.execute("select token_hash from connectors.webhook_token where connector_id = ?", [connectorId]);
    expect(rows).toEqual([{ token_hash: createHash("sha256").update(rotated.token).digest("hex") }]);
    const dump: { t: string }[] = await conn.execute("select row_to_json(w)::text as t from connectors.webhook_token w union all select row_to_json(c)::text from connectors.connector c");
    expect(dump.some((r) => r.t.includes(rotated.token))).toBe(false);
    const state1 = (await t.request(ConnectorWebhookStateDocument, { id: connectorId }, a.token)).data!.connector;
    expect(state1.webhookUrlCreatedAt).toBeTruthy();

    const [id] = sim.store.create("res.partner", [{ name: "Created in Odoo", email: "real@example.com" }]);
    // A caller who holds the URL cannot write data through it: the run reads the remote's own values.
    const res = await notify(rotated.path, odooBody(id!, { email: "forged@example.com", name: "Forged name" }));
    expect(res.status).toBe(202);
    const answer = (await res.json()) as { runId: string | null; coalesced: boolean };
    expect(answer).toMatchObject({ coalesced: false });
    const end = await runEnd(answer.runId!);
    expect(end).toMatchObject({ status: "SUCCEEDED", actorType: "CONNECTOR" });
    expect((end.parameters as { full: boolean }).full).toBe(false);
    const stored = (await partners()).get(String(id));
    expect(stored).toMatchObject({ name: "Created in Odoo", email: "real@example.com" });
    expect((await t.request(ConnectorWebhookStateDocument, { id: connectorId }, a.token)).data!.connector.webhookUrlLastUsedAt).toBeTruthy();
    const received = await waitUntil(async () => (await auditActions("connector.webhook")).find((e) => e.action === "connector.webhook.received"), "audit of the call", 15_000, 200);
    expect(received.metadata).toMatchObject({ via: "token", model: "res.partner", remoteId: id, runId: answer.runId, outcome: "QUEUED" });
    expect(JSON.stringify(await auditActions("connector.webhook"))).not.toContain(rotated.token);
  }, 90_000);

  it("a burst of notifications (Odoo calls once per record) coalesces into at most two runs, which read every change", async () => {
    const { token } = (await t.request(RotateWebhookTokenDocument, { connectorId, enabled: true }, a.token)).data!.rotateWebhookToken!;
    const path = `/webhooks/odoo/notify/${token}`;
    const since = new Date();
    const ids = sim.store.create(
      "res.partner",
      Array.from({ length: 30 }, (_, i) => ({ name: `Burst ${i}` })),
    );
    const answers = await Promise.all(ids.map(async (id) => {
      const res = await notify(path, odooBody(id, { name: "ignored" }));
      return { status: res.status, ...((await res.json()) as { runId: string | null; coalesced: boolean }) };
    }));
    expect(answers.every((x) => x.status === 202)).toBe(true);
    const runIds = new Set(answers.map((x) => x.runId).filter(Boolean) as string[]);
    expect(answers.filter((x) => !x.coalesced)).toHaveLength(1); // one new run, the rest joined it
    expect(runIds.size).toBe(1);
    await runEnd([...runIds][0]!);
    // The follow-up run (the burst arrived while the first was queued) is started after it; wait for both.
    await waitUntil(async () => {
      const state = await partners();
      return ids.every((id) => state.get(String(id))?.name?.startsWith("Burst")) ? true : null;
    }, "every burst record in the collection", 60_000, 200);
    await waitUntil(async () => {
      const locks: unknown[] = await t.stack.connectors.orm.em.fork().getConnection().execute("select 1 from connectors.connector_model_lock where connector_id = ?", [connectorId]);
      return locks.length === 0 ? true : null;
    }, "no run active", 60_000, 200);
    const runs: { n: number }[] = await t.stack.connectors.orm.em
      .fork()
      .getConnection()
      .execute("select count(*)::int as n from connectors.connector_run where connector_id = ? and created_at >= ?", [connectorId, since]);
    expect(runs[0]!.n).toBeLessThanOrEqual(2);
  }, 120_000);

  it("unknown, malformed, rotated and disabled tokens all get the same 404; a rotated URL stops at once", async () => {
    const old = (await t.request(RotateWebhookTokenDocument, { connectorId, enabled: true }, a.token)).data!.rotateWebhookToken!;
    const fresh = (await t.request(RotateWebhookTokenDocument, { connectorId, enabled: true }, a.token)).data!.rotateWebhookToken!;
    expect(fresh.token).not.toBe(old.token);
    const body = odooBody(1, {});
    const misses = [
      old.path,
      `/webhooks/odoo/notify/whk_${"A".repeat(43)}`,
      "/webhooks/odoo/notify/not-a-token",
      `/webhooks/odoo/notify/${fresh.token.slice(0, -1)}`,
      `/webhooks/odoo/notify/${connectorId}`,
    ];
    const answers = await Promise.all(misses.map(async (p) => {
      const res = await notify(p, body);
      return { status: res.status, body: await res.text() };
    }));
    for (const answer of answers) expect(answer).toEqual(answers[0]);
    expect(answers[0]!.status).toBe(404);
    expect((await notify(fresh.path, body)).status).toBe(202);

    // Another tenant's connector cannot be given a URL by this tenant, and a Moodle connector has none.
    const b = await t.tenant("odoo-hooks-other");
    expect(codesOf(await t.request(RotateWebhookTokenDocument, { connectorId, enabled: true }, b.token))).toEqual(["NOT_FOUND"]);

    expect((await t.request(RotateWebhookTokenDocument, { connectorId, enabled: false }, a.token)).data!.rotateWebhookToken).toBeNull();
    const disabled = await notify(fresh.path, body);
    expect({ status: disabled.status, body: await disabled.text() }).toEqual(answers[0]);
    expect((await t.request(ConnectorWebhookStateDocument, { id: connectorId }, a.token)).data!.connector.webhookUrlCreatedAt).toBeNull();
  }, 90_000);

  it("bad bodies are refused; notifications past the connector's per-minute limit get 429 and are audited once", async () => {
    const { path } = (await t.request(RotateWebhookTokenDocument, { connectorId, enabled: true }, a.token)).data!.rotateWebhookToken!;
    expect((await notify(path, "not json")).status).toBe(400);
    expect((await notify(path, odooBody(1, {}, "account.move"))).status).toBe(422);

    const limited = await t.request(UpdateConnectorDocument, { id: connectorId, input: { settings: { webhookRequestsPerMinute: 3 } } }, a.token);
    expect(limited.errors).toBeUndefined();
    expect(codesOf(await t.request(UpdateConnectorDocument, { id: connectorId, input: { settings: { overlapSeconds: -1 } } }, a.token))).toEqual(["BAD_USER_INPUT"]);
    // Counted per minute: start at a fresh window so the three earlier calls of this test do not count twice.
    await new Promise((r) => setTimeout(r, 60_200 - (Date.now() % 60_000)));
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await notify(path, odooBody(1, {}));
      statuses.push(res.status);
      if (res.status === 429) expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    }
    expect(statuses).toEqual([202, 202, 202, 429, 429, 429]);
    const throttled = await waitUntil(async () => {
      const events = await auditActions("connector.webhook.throttled");
      return events.length ? events : null;
    }, "throttle audit", 15_000, 200);
    expect(throttled).toHaveLength(1);
    expect(throttled[0]!.metadata).toMatchObject({ limitPerMinute: 3 });
  }, 150_000);
});
