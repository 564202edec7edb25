// Federated subscriptions end to end, over both pub/sub implementations: graphql-ws client → gateway → sync
// subgraph (graphql-ws) → pub/sub → mutations, with foreign fields resolved by connectors and tenants per event.
import { afterAll, beforeAll, describe, expect, it, jest } from "@jest/globals";
import pino from "pino";
import WebSocket from "ws";
import { CreateConnectorDocument, LoginDocument, StartSyncRunDocument, SyncRunProgressFeedDocument, SyncRunUpdatedDocument, UpdateSyncRunProgressDocument } from "../__generated__/graphql.js";
import { MemoryPubSub, RedisPubSub } from "../../kernel/pubsub/index.js";
import { ensureTenantWithAdmin } from "../../subgraphs/tenants/tenant/demo-seed.js";
import { redisUrlOrFail, startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";
import { Feed, sleep, socketHandshake, waitUntil } from "./e2e-helpers.js";

type Variant = "memory" | "redis";
type Progress = { status?: "RUNNING" | "SUCCEEDED" | "FAILED" | "PARTIAL" | "CANCELLED"; processed?: number; created?: number; failed?: number };

describe.each<Variant>(["memory", "redis"])("subscriptions (%s pub/sub)", (variant) => {
  // Redis variants: skipped without REDIS_URL locally, failed (by redisUrlOrFail in beforeAll) with CI=true.
  const enabled = variant === "memory" || !!process.env.REDIS_URL || process.env.CI === "true";
  const test = enabled ? it : it.skip;

  let t: TestStack;
  let a: TenantLogin;
  let b: TenantLogin;
  let connector: { id: string; name: string };

  beforeAll(async () => {
    if (!enabled) return;
    if (variant === "redis") redisUrlOrFail();
    t = await startTestStack({ pubsub: variant, logger: pino({ level: "error" }, { write: (line: string) => void logged.push(line) }) });
    consoleErrors = jest.spyOn(console, "error");
    a = await t.tenant(`subs-a-${variant}`);
    b = await t.tenant(`subs-b-${variant}`);
    const res = await t.request(CreateConnectorDocument, { input: { kind: "MOODLE", name: `Live Moodle ${variant}`, baseUrl: "https://moodle.example" } }, a.token);
    expect(res.errors).toBeUndefined();
    connector = res.data!.createConnector;
  });
  afterAll(async () => {
    consoleErrors?.mockRestore();
    await t?.stop();
  });
  /** Error lines of the stack's logger and console.error calls (graphql-ws logs a failed handshake's stack there). */
  const logged: string[] = [];
  let consoleErrors: { mock: { calls: unknown[][] }; mockRestore(): void } | undefined;
  const errorLogs = () => [...logged, ...(consoleErrors?.mock.calls.map((c) => c.map(String).join(" ")) ?? [])];

  async function startRun(token = a.token, connectorId: string | null = connector.id): Promise<string> {
    const res = await t.request(StartSyncRunDocument, { input: connectorId ? { kind: "CONNECTOR", connectorId } : { kind: "PULL" } }, token);
    expect(res.errors).toBeUndefined();
    return res.data!.startSyncRun.id;
  }

  async function progress(id: string, input: Progress, token = a.token) {
    const res = await t.request(UpdateSyncRunProgressDocument, { id, input }, token);
    expect(res.errors).toBeUndefined();
    return res.data!.updateSyncRunProgress;
  }

  const stats = () => t.stack.gateway.subscriptions.stats();
  const idle = () => waitUntil(() => stats().upstreams === 0 && stats().subscribers === 0, "no subscriptions left open");

  test("runs on the pub/sub implementation it claims to", () => {
    expect(t.stack.pubsub).toBeInstanceOf(variant === "redis" ? RedisPubSub : MemoryPubSub);
  });

  test("current state first, then every progress update in order with foreign fields, then completion", async () => {
    const runId = await startRun();
    const feed = new Feed(t.ws(a.token), SyncRunProgressFeedDocument, { id: runId });
    const expectedForeign = { connector: { id: connector.id, name: connector.name }, triggeredBy: { id: a.userId, email: a.email } };

    // 1. The current state, as soon as the subscription starts.
    expect(await feed.nth(1)).toEqual({ data: { syncRunUpdated: { id: runId, status: "QUEUED", processed: 0, created: 0, failed: 0, ...expectedForeign } } });

    // 2..4. Each update arrives (we wait for each before sending the next, so none can be coalesced).
    const steps: Progress[] = [
      { status: "RUNNING", processed: 10, created: 3 },
      { processed: 25, created: 7, failed: 1 },
      { status: "SUCCEEDED", processed: 40, created: 12, failed: 1 },
    ];
    let expected = { status: "RUNNING", processed: 0, created: 0, failed: 0 };
    for (const [i, step] of steps.entries()) {
      await progress(runId, step);
      expected = { ...expected, ...step } as typeof expected;
      expect(await feed.nth(i + 2)).toEqual({ data: { syncRunUpdated: { id: runId, ...expected, ...expectedForeign } } });
    }

    // 5. The stream completes by itself after the final status: no error, nothing more.
    await feed.ended();
    expect(feed.error).toBeUndefined();
    expect(feed.results).toHaveLength(4);
    expect(feed.results.map((r) => r.data?.syncRunUpdated.status)).toEqual(["QUEUED", "RUNNING", "RUNNING", "SUCCEEDED"]);
    await idle();
  });

  test("the shared SyncRunUpdated operation delivers the same sequence", async () => {
    const runId = await startRun();
    const feed = new Feed(t.ws(a.token), SyncRunUpdatedDocument, { id: runId });
    expect((await feed.nth(1)).data?.syncRunUpdated).toMatchObject({ id: runId, status: "QUEUED", connector: { name: connector.name }, triggeredBy: { email: a.email } });
    await progress(runId, { status: "RUNNING", processed: 5 });
    expect((await feed.nth(2)).data?.syncRunUpdated).toMatchObject({ status: "RUNNING", processed: 5 });
    await progress(runId, { status: "FAILED" });
    expect((await feed.nth(3)).data?.syncRunUpdated).toMatchObject({ status: "FAILED", processed: 5, connector: { name: connector.name } });
    await feed.ended();
    expect(feed.error).toBeUndefined();
    expect(feed.results).toHaveLength(3);
  });

  test("a run without a connector streams connector null and still resolves triggeredBy", async () => {
    const runId = await startRun(a.token, null);
    const feed = new Feed(t.ws(a.token), SyncRunProgressFeedDocument, { id: runId });
    expect((await feed.nth(1)).data?.syncRunUpdated).toMatchObject({ id: runId, status: "QUEUED", connector: null, triggeredBy: { email: a.email } });
    await progress(runId, { status: "CANCELLED" });
    expect((await feed.nth(2)).data?.syncRunUpdated).toMatchObject({ status: "CANCELLED", connector: null, triggeredBy: { email: a.email } });
    await feed.ended();
    expect(feed.results).toHaveLength(2);
  });

  test("subscribing to a finished run yields its final state once and completes", async () => {
    const runId = await startRun();
    await progress(runId, { status: "RUNNING", processed: 3 });
    await progress(runId, { status: "PARTIAL", processed: 4, failed: 1 });
    const feed = new Feed(t.ws(a.token), SyncRunProgressFeedDocument, { id: runId });
    await feed.ended();
    expect(feed.error).toBeUndefined();
    expect(feed.results).toEqual([{ data: { syncRunUpdated: expect.objectContaining({ id: runId, status: "PARTIAL", processed: 4, failed: 1 }) } }]);
    await idle();
  });

  test("two identical subscriptions from two sockets of the same user share one upstream and both get every event", async () => {
    await idle();
    const runId = await startRun();
    const one = new Feed(t.ws(a.token), SyncRunProgressFeedDocument, { id: runId });
    const two = new Feed(t.ws(a.token), SyncRunProgressFeedDocument, { id: runId });
    expect((await one.nth(1)).data?.syncRunUpdated.status).toBe("QUEUED");
    expect((await two.nth(1)).data?.syncRunUpdated.status).toBe("QUEUED");
    expect(stats()).toMatchObject({ upstreams: 1, subscribers: 2 });

    await progress(runId, { status: "RUNNING", processed: 1 });
    await one.nth(2);
    await two.nth(2);
    expect(stats()).toMatchObject({ upstreams: 1, subscribers: 2 });
    await progress(runId, { processed: 2 });
    await one.nth(3);
    await two.nth(3);
    await progress(runId, { status: "SUCCEEDED", processed: 3 });
    await Promise.all([one.ended(), two.ended()]);

    expect(one.error).toBeUndefined();
    expect(two.error).toBeUndefined();
    expect(one.results.map((r) => [r.data?.syncRunUpdated.status, r.data?.syncRunUpdated.processed])).toEqual([
      ["QUEUED", 0],
      ["RUNNING", 1],
      ["RUNNING", 2],
      ["SUCCEEDED", 3],
    ]);
    expect(two.results).toEqual(one.results);
    // Both left: the shared upstream is gone too.
    await idle();
  });

  test("a subscriber that joins a shared upstream late still gets the run's current state first", async () => {
    // The schema promises "a run's current state, then every change". A second identical subscription that
    // arrives after the first one has received its initial state is attached to the same upstream: it must
    // still start with the current state, not wait silently for the next change.
    await idle();
    const runId = await startRun();
    const first = new Feed(t.ws(a.token), SyncRunProgressFeedDocument, { id: runId });
    await first.nth(1);
    await progress(runId, { status: "RUNNING", processed: 7 });
    expect((await first.nth(2)).data?.syncRunUpdated).toMatchObject({ status: "RUNNING", processed: 7 });

    const late = new Feed(t.ws(a.token), SyncRunProgressFeedDocument, { id: runId });
    await waitUntil(() => stats().subscribers === 2, "the late subscriber to join");
    try {
      const initial = await late.nth(1, 3_000);
      expect(initial.data?.syncRunUpdated).toMatchObject({ id: runId, status: "RUNNING", processed: 7 });
    } finally {
      await progress(runId, { status: "SUCCEEDED", processed: 8 });
      await Promise.all([first.ended(), late.ended()]);
    }
    expect(late.results.at(-1)?.data?.syncRunUpdated).toMatchObject({ status: "SUCCEEDED", processed: 8 });
    await idle();
  });

  test("two sessions (different tokens) get separate upstreams; unsubscribing one leaves the other running", async () => {
    await idle();
    // Two logins of one user: two tokens, so two identities for sharing purposes (the key includes the token).
    const seeded = await ensureTenantWithAdmin(t.stack.tenants.orm, { slug: `subs-c-${variant}`, name: "C", adminEmail: "admin@subs-c.example" });
    const login = async () => {
      const res = await t.request(LoginDocument, { input: { tenant: seeded.slug, email: seeded.adminEmail, password: seeded.adminPassword! } });
      expect(res.errors).toBeUndefined();
      return res.data!.login.accessToken;
    };
    const [token1, token2] = [await login(), await login()];
    expect(token1).not.toBe(token2);
    const runId = await startRun(token1, null);

    const staying = new Feed(t.ws(token1), SyncRunProgressFeedDocument, { id: runId });
    const leaving = new Feed(t.ws(token2), SyncRunProgressFeedDocument, { id: runId });
    await staying.nth(1);
    await leaving.nth(1);
    expect(stats()).toMatchObject({ upstreams: 2, subscribers: 2 });

    await leaving.close();
    await waitUntil(() => stats().upstreams === 1 && stats().subscribers === 1, "the leaving session's upstream to close");
    await progress(runId, { status: "RUNNING", processed: 2 }, token1);
    expect((await staying.nth(2)).data?.syncRunUpdated).toMatchObject({ status: "RUNNING", processed: 2, triggeredBy: { email: seeded.adminEmail } });
    expect(leaving.results).toHaveLength(1);
    await progress(runId, { status: "CANCELLED" }, token1);
    await staying.ended();
    expect(staying.results).toHaveLength(3);
    await idle();
  });

  test("without a token: refused at connection_init with 4401 (never acknowledged), and no upstream is opened", async () => {
    await idle();
    const logsBefore = errorLogs().length;
    for (const payload of [undefined, {}, { authorization: "" }, { authorization: null }]) {
      const res = await socketHandshake(t.wsUrl, payload);
      expect({ payload, acknowledged: res.acknowledged, code: res.code }).toEqual({ payload, acknowledged: false, code: 4401 });
      expect(res.messages).toEqual([]);
    }
    // The graphql-ws client (what RxDB uses) sees the close, not an error-only result.
    const feed = new Feed(t.ws(), SyncRunProgressFeedDocument, { id: await startRun() });
    await feed.ended();
    expect(feed.results).toEqual([]);
    expect((feed.error as { code?: number }).code).toBe(4401);
    expect(stats()).toMatchObject({ upstreams: 0, subscribers: 0 });
    expect(errorLogs().slice(logsBefore)).toEqual([]);
  });

  test("a subgraph's socket refuses at connection_init with 4401 (no, forged or garbage token), never 4500, and logs no error", async () => {
    const [header, payload] = a.token.split(".");
    const forged = `${header}.${payload}.${Buffer.alloc(64, 7).toString("base64url")}`;
    const logsBefore = errorLogs().length;
    for (const params of [undefined, {}, { authorization: "Bearer not.a.token" }, { authorization: `Bearer ${forged}` }, { authorization: 42 }]) {
      const res = await socketHandshake(t.stack.sync.wsUrl, params);
      expect({ params, acknowledged: res.acknowledged, code: res.code }).toEqual({ params, acknowledged: false, code: 4401 });
    }
    // A valid token is acknowledged by the subgraph.
    expect((await socketHandshake(t.stack.sync.wsUrl, { authorization: `Bearer ${a.token}` })).acknowledged).toBe(true);
    expect(errorLogs().slice(logsBefore)).toEqual([]);
  });

  test("a forged token: the socket is closed with 4401", async () => {
    const closed: { code: number; reason: string }[] = [];
    const garbage = t.ws("not.a.token", { on: { closed: (e) => void closed.push(e as { code: number; reason: string }) } });
    const feed = new Feed(garbage, SyncRunProgressFeedDocument, { id: await startRun() });
    await feed.ended();
    expect(feed.results).toHaveLength(0);
    expect((feed.error as { code?: number }).code).toBe(4401);
    expect(closed.map((e) => e.code)).toEqual([4401]);
  });

  test("a token signed by another key, or a non-string authorization: closed with 4401 (raw graphql-transport-ws)", async () => {
    // Header and claims of a real token, signature of something else.
    const [header, payload] = a.token.split(".");
    const forged = `${header}.${payload}.${Buffer.alloc(64, 7).toString("base64url")}`;
    for (const authorization of [`Bearer ${forged}`, `Bearer ${a.token}x`, 42, { token: a.token }]) {
      const socket = new WebSocket(t.wsUrl, "graphql-transport-ws");
      const messages: unknown[] = [];
      socket.on("message", (m) => messages.push(JSON.parse(String(m))));
      socket.on("open", () => socket.send(JSON.stringify({ type: "connection_init", payload: { authorization } })));
      const code = await new Promise<number>((resolve) => socket.on("close", (c) => resolve(c)));
      expect({ authorization, code }).toEqual({ authorization, code: 4401 });
      // Never acknowledged.
      expect(messages).toEqual([]);
    }
  });

  test("tenant B subscribing to tenant A's run gets NOT_FOUND and never sees A's events", async () => {
    await idle();
    const runId = await startRun();
    const watcherA = new Feed(t.ws(a.token), SyncRunProgressFeedDocument, { id: runId });
    await watcherA.nth(1);
    const intruder = new Feed(t.ws(b.token), SyncRunProgressFeedDocument, { id: runId });
    await intruder.ended();
    await progress(runId, { status: "RUNNING", processed: 99 });
    await progress(runId, { status: "SUCCEEDED", processed: 100 });
    await watcherA.ended();
    expect(watcherA.results).toHaveLength(3);
    await sleep(100);

    expect(intruder.error).toBeUndefined();
    expect(intruder.results).toHaveLength(1);
    expect(intruder.results[0]!.data ?? null).toBeNull();
    expect(intruder.results[0]!.errors?.map((e) => e.extensions?.code)).toEqual(["NOT_FOUND"]);
    const seen = JSON.stringify(intruder.results);
    for (const secret of [connector.name, a.email, a.userId, connector.id, "RUNNING", "SUCCEEDED"]) expect(seen).not.toContain(secret);
    await idle();
  });

  test("a malformed id gets NOT_FOUND (sync-run.service.ts treats non-UUIDs as absent)", async () => {
    for (const id of ["not-a-uuid", "", "00000000-0000-0000-0000-00000000000g", "' or 1=1 --"]) {
      const feed = new Feed(t.ws(a.token), SyncRunProgressFeedDocument, { id });
      await feed.ended();
      expect(feed.error).toBeUndefined();
      expect(feed.results).toHaveLength(1);
      expect(feed.results[0]!.errors?.map((e) => e.extensions?.code)).toEqual(["NOT_FOUND"]);
    }
    // A well-formed id that does not exist: same answer.
    const missing = new Feed(t.ws(a.token), SyncRunProgressFeedDocument, { id: "6f1c2b7e-0c1d-4a7a-9a43-2b1f0b7d9e11" });
    await missing.ended();
    expect(missing.results.map((r) => r.errors?.map((e) => e.extensions?.code))).toEqual([["NOT_FOUND"]]);
    await idle();
  });

  test("an operation that does not fit the schema is refused before any upstream work", async () => {
    const client = t.ws(a.token);
    let error: unknown;
    try {
      for await (const _ of client.iterate({ query: "subscription { syncRunUpdated(id: 1) { nope } }" })) break;
    } catch (err) {
      error = err;
    }
    // graphql-ws reports validation failures as an `error` message (thrown by iterate) with the GraphQL errors.
    expect(Array.isArray(error)).toBe(true);
    expect((error as { message: string }[]).length).toBeGreaterThan(0);
    expect(stats().upstreams).toBe(0);
  });
});
