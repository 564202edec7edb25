import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { print } from "graphql";
import WebSocket from "ws";
import { CreateConnectorDocument, StartSyncRunDocument, UpdateSyncRunProgressDocument, SyncRunProgressFeedDocument, MeDocument, LoginDocument } from "../__generated__/graphql.js";
import { startTestStack, type TestStack } from "../harness/stack.js";

describe("probe", () => {
  let t: TestStack;
  beforeAll(async () => { t = await startTestStack(); });
  afterAll(async () => { await t?.stop(); });

  it("probes", async () => {
    const a = await t.tenant("acme");
    const out: Record<string, unknown> = {};
    out.noToken = await t.request(MeDocument, {});
    out.garbage = await t.request(MeDocument, {}, "garbage");
    out.parse = await t.raw(JSON.stringify({ query: "query {" }));
    out.badJson = await t.raw("{not json");
    out.varType = await t.raw(JSON.stringify({ query: "query($id: ID!){ syncRun(id:$id){ id } }", variables: { id: { a: 1 } } }), { authorization: `Bearer ${a.token}` });
    out.varMissing = await t.raw(JSON.stringify({ query: "query($id: ID!){ syncRun(id:$id){ id } }" }), { authorization: `Bearer ${a.token}` });
    out.nul = await t.request(CreateConnectorDocument, { input: { kind: "ODOO", name: "a\u0000b", baseUrl: "http://x.example" } }, a.token);
    out.nulLogin = await t.request(LoginDocument, { input: { tenant: "ac\u0000me", email: "x@y", password: "p" } });
    const c = await t.request(CreateConnectorDocument, { input: { kind: "ODOO", name: "c", baseUrl: "http://x.example" } }, a.token);
    const r = await t.request(StartSyncRunDocument, { input: { kind: "CONNECTOR", connectorId: c.data!.createConnector.id } }, a.token);
    const id = r.data!.startSyncRun.id;
    await t.request(UpdateSyncRunProgressDocument, { id, input: { status: "RUNNING" } }, a.token);
    const results = await Promise.all(["SUCCEEDED", "FAILED", "CANCELLED", "PARTIAL", "SUCCEEDED", "FAILED"].map((s) => t.request(UpdateSyncRunProgressDocument, { id, input: { status: s as any } }, a.token)));
    out.race = results.map((x) => x.errors?.[0]?.extensions?.code ?? x.data?.updateSyncRunProgress.status);
    const r2 = await t.request(StartSyncRunDocument, { input: { kind: "PUSH" } }, a.token);
    const id2 = r2.data!.startSyncRun.id;
    const counts = await Promise.all(Array.from({ length: 30 }, (_, i) => t.request(UpdateSyncRunProgressDocument, { id: id2, input: { processed: i + 1 } }, a.token)));
    out.countsAccepted = counts.filter((x) => !x.errors).map((x) => x.data!.updateSyncRunProgress.processed);
    out.countsFinal = (await t.request(UpdateSyncRunProgressDocument, { id: id2, input: {} }, a.token)).data;
    // ws forged
    const ws = t.ws("forged.token.x", { on: { closed: (e: any) => { out.wsClosed = { code: e.code, reason: e.reason }; } } });
    try { for await (const x of ws.iterate({ query: print(SyncRunProgressFeedDocument), variables: { id } })) { out.wsForgedNext = x; break; } } catch (e: any) { out.wsForgedErr = { code: e?.code, reason: e?.reason }; }
    const ws2 = t.ws(undefined);
    for await (const x of ws2.iterate({ query: print(SyncRunProgressFeedDocument), variables: { id } })) { out.wsNoToken = x; }
    const ws3 = t.ws(a.token);
    for await (const x of ws3.iterate({ query: print(SyncRunProgressFeedDocument), variables: { id: "nope" } })) { out.wsBadId = x; }
    const ws4 = t.ws(a.token);
    for await (const x of ws4.iterate({ query: print(SyncRunProgressFeedDocument), variables: { id } })) { (out.wsFinished ??= [] as any[]) && (out.wsFinished as any[]).push(x); }
    const health = await fetch(t.url.replace(/graphql$/, "readyz"));
    out.ready = [health.status, await health.json()];
    console.log(JSON.stringify(out, null, 1));
  });
});
