// Outages of the stores, with the real ones: a Redis of the test's own stopped mid-run (kill -9) and started again on
// the same port, and a PostgreSQL of the test's own stopped and started again. Pushes answer promptly through a Redis
// outage, live streams keep delivering (by their periodic re-read) and catch up; /readyz says `degraded`, not down.
// With PostgreSQL down every service answers UPSTREAM_UNAVAILABLE with retryAfter (never INTERNAL_SERVER_ERROR), /readyz
// is 503, and once it is back the same services serve again without a restart, nothing committed lost.
// (A subgraph killed and restarted mid-stream: records-stream.e2e.test.ts; a killed connector worker:
// connector-crash.e2e.test.ts.)
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import equal from "fast-deep-equal";
import { print } from "graphql";
import { createClient, type Client } from "graphql-ws";
import { Redis } from "ioredis";
import WebSocket from "ws";
import { freePort, startEmbeddedPostgres, type EmbeddedDatabase } from "../../kernel/embedded-postgres.js";
import { UNAVAILABLE_RETRY_AFTER_SECONDS } from "../../kernel/errors.js";
import { STREAM_POLL_MS } from "../../subgraphs/sync/records/records.service.js";
import { CreateCollectionDocument, IdentityLogoutEverywhereDocument, MeDocument, PullChangesDocument, PushChangesDocument, RecordsChangedDocument } from "../__generated__/graphql.js";
import { startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";
import { gqlAt, pulledState, sleep, waitUntil } from "./e2e-helpers.js";

type Doc = { id: string; n: number; _deleted?: boolean };
const COLLECTION = "notes";
const percentile = (values: number[], p: number) => [...values].sort((x, y) => x - y)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))]!;
const hasRedisServer = spawnSync("redis-server", ["--version"]).status === 0;

/** A recordsChanged stream on the gateway that keeps what it receives and when. */
class Stream {
  readonly state = new Map<string, Doc>();
  readonly receivedAt = new Map<string, number>();
  errors: unknown[] = [];
  private readonly client: Client;
  constructor(wsUrl: string, token: string) {
    this.client = createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, connectionParams: { authorization: `Bearer ${token}` } });
    this.client.subscribe<{ recordsChanged: { documents: Doc[] } }>(
      { query: print(RecordsChangedDocument), variables: { collections: [COLLECTION], checkpoint: null } },
      {
        next: (r) => {
          if (!r.data) return void this.errors.push(r.errors);
          for (const d of r.data.recordsChanged.documents) {
            this.state.set(d.id, d);
            this.receivedAt.set(d.id, Date.now());
          }
        },
        error: (err) => this.errors.push(err),
        complete: () => this.errors.push("completed"),
      },
    );
  }
  has = (id: string) => this.state.has(id);
  close = () => this.client.dispose();
}

/** Pushes one new document and returns how long the answer took (it must apply). */
async function timedPush(t: TestStack, who: TenantLogin, id: string): Promise<number> {
  const started = performance.now();
  const res = await gqlAt(t.url, PushChangesDocument, { input: { collection: COLLECTION, rows: [{ assumedMasterState: null, newDocumentState: { id, n: 1 } }] } }, who.token);
  const ms = performance.now() - started;
  if (res.data?.pushChanges.applied !== 1) throw new Error(`push ${id} failed: ${JSON.stringify(res)}`);
  return ms;
}

const readyz = async (t: TestStack) => {
  const res = await fetch(t.url.replace(/\/graphql$/, "/readyz"));
  return { status: res.status, body: (await res.json()) as { status: string; checks: Record<string, boolean>; degraded?: Record<string, string> } };
};

(hasRedisServer || process.env.CI === "true" ? describe : describe.skip)("Redis stopped mid-run", () => {
  let redis: ChildProcess | undefined;
  let port: number;
  let t: TestStack;
  let who: TenantLogin;
  const startRedis = async () => {
    redis = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
    const probe = new Redis(port, "127.0.0.1", { lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: null });
    try {
      await probe.connect().catch(() => undefined);
      await probe.ping();
    } finally {
      probe.disconnect();
    }
  };
  const killRedis = async () => {
    const proc = redis!;
    const exited = new Promise((resolve) => proc.once("exit", resolve));
    proc.kill("SIGKILL");
    await exited;
  };

  beforeAll(async () => {
    port = Number(process.env.TEST_FAULT_REDIS_PORT ?? (await freePort()));
    await startRedis();
    t = await startTestStack({ pubsub: "redis", redisUrl: `redis://127.0.0.1:${port}` });
    who = await t.tenant("redis-outage");
    expect((await t.request(CreateCollectionDocument, { input: { name: COLLECTION } }, who.token)).errors).toBeUndefined();
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    if (redis && redis.exitCode === null && redis.signalCode === null) await killRedis();
  });

  it("pushes answer promptly, streams keep delivering and catch up, /readyz says degraded", async () => {
    const stream = new Stream(t.wsUrl, who.token);
    // Normal: pushes, each reaching the stream at once (woken through Redis).
    const normal: number[] = [];
    for (let i = 0; i < 30; i++) {
      const ms = await timedPush(t, who, `before-${i}`);
      if (i >= 5) normal.push(ms); // the first pushes warm up (JIT, caches)
    }
    await waitUntil(() => stream.has("before-29"), "the stream before the outage", 10_000);
    expect(await readyz(t)).toMatchObject({ status: 200, body: { status: "ready" } });

    await killRedis();
    const outageStarted = Date.now();
    // A stream opened during the outage works too (its subscription does not wait for Redis).
    const late = new Stream(t.wsUrl, who.token);
    const during: number[] = [];
    const pushedAt = new Map<string, number>();
    let i = 0;
    while (Date.now() - outageStarted < 6_000) {
      const id = `during-${i++}`;
      during.push(await timedPush(t, who, id));
      pushedAt.set(id, Date.now());
      await sleep(50);
    }
    // A committed change that announces revocations answers promptly and is not turned into an error by the outage;
    // with no events, processes reload revocations from the tenants service every few seconds: the token stops.
    const leaving = await t.tenant("redis-outage-leaving");
    const logoutStarted = performance.now();
    const loggedOut = await t.request(IdentityLogoutEverywhereDocument, {}, leaving.token);
    expect({ data: loggedOut.data, errors: loggedOut.errors }).toEqual({ data: { logoutEverywhere: true }, errors: undefined });
    expect(performance.now() - logoutStarted).toBeLessThan(2_000);
    await waitUntil(async () => (await t.request(MeDocument, {}, leaving.token)).errors?.[0]?.extensions?.code === "UNAUTHENTICATED", "the signed-out token refused during the outage", 10_000, 250);
    const ready = await readyz(t);
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe("degraded");
    expect(Object.keys(ready.body.degraded ?? {})).toEqual(expect.arrayContaining(["pubsub", "sync.pubsub"]));
    // Live streams deliver while Redis is still down, late by at most the re-read interval.
    const lastId = `during-${i - 1}`;
    await waitUntil(() => stream.has(lastId) && late.has(lastId), "the streams to deliver during the outage", STREAM_POLL_MS + 3_000, 50);
    const lateness = [...pushedAt].map(([id, at]) => stream.receivedAt.get(id)! - at);
    const p99 = (xs: number[]) => Math.round(percentile(xs, 99));
    process.stdout.write(
      `redis outage: push p99 ${p99(normal)} ms normal, ${p99(during)} ms during the outage (${during.length} pushes); stream lateness max ${Math.max(...lateness)} ms\n`,
    );
    // The old code waited for Redis on every push (here: until the test restarts it, i.e. never). Allow CI noise on a
    // baseline of a few milliseconds.
    expect(p99(during)).toBeLessThanOrEqual(Math.max(2 * p99(normal), 500));
    expect(Math.max(...lateness)).toBeLessThanOrEqual(STREAM_POLL_MS + 1_500);

    // Redis back on the same port: wake-ups work again (deliveries well inside the re-read interval), nothing missed.
    await startRedis();
    await waitUntil(async () => (await readyz(t)).body.status === "ready", "/readyz ready again", 15_000, 200);
    const after: number[] = [];
    for (let k = 0; k < 5; k++) {
      const id = `after-${k}`;
      await timedPush(t, who, id);
      const at = Date.now();
      await waitUntil(() => stream.has(id), `${id} on the stream`, STREAM_POLL_MS + 3_000, 10);
      after.push(stream.receivedAt.get(id)! - at);
      await sleep(1_200); // five samples over more than one re-read interval: a re-read alone cannot make them all fast
    }
    expect(Math.max(...after)).toBeLessThan(1_000);
    const server = await pulledState<Doc>(t.url, who.token, COLLECTION);
    expect(server.state.size).toBe(30 + during.length + 5);
    await waitUntil(() => equal(Object.fromEntries(stream.state), Object.fromEntries(server.state)), "the stream to hold the server's state", 5_000, 50);
    await waitUntil(() => late.state.size === server.state.size, "the late stream to hold the server's state", 5_000, 50);
    expect(stream.errors).toEqual([]);
    expect(late.errors).toEqual([]);
    await stream.close();
    await late.close();
  }, 60_000);
});

describe("PostgreSQL restarted", () => {
  let dataDir: string;
  let pg: EmbeddedDatabase | undefined;
  let pgPort: number;
  let t: TestStack;
  let who: TenantLogin;
  const startPostgres = async () => {
    pg = await startEmbeddedPostgres({ dataDir, port: pgPort, persistent: true });
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), "tributary-fault-pg-"));
    pgPort = await freePort();
    await startPostgres();
    const databaseUrl = await pg!.createDatabase(`faults_${randomBytes(4).toString("hex")}`);
    t = await startTestStack({ databaseUrl });
    who = await t.tenant("pg-restart");
    expect((await t.request(CreateCollectionDocument, { input: { name: COLLECTION } }, who.token)).errors).toBeUndefined();
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    await pg?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const push = (id: string) => gqlAt(t.url, PushChangesDocument, { input: { collection: COLLECTION, rows: [{ assumedMasterState: null, newDocumentState: { id, n: 1 } }] } }, who.token);
  const pull = () => gqlAt(t.url, PullChangesDocument, { collections: [COLLECTION], checkpoint: null, limit: 100 }, who.token);
  const me = () => gqlAt(t.url, MeDocument, {}, who.token);

  it("answers UPSTREAM_UNAVAILABLE with retryAfter while it is down, and serves again once it is back", async () => {
    for (let i = 0; i < 5; i++) expect((await push(`before-${i}`)).data?.pushChanges.applied).toBe(1);
    expect((await readyz(t)).status).toBe(200);

    await pg!.stop();
    pg = undefined;
    const unavailable = { code: "UPSTREAM_UNAVAILABLE", retryAfter: UNAVAILABLE_RETRY_AFTER_SECONDS };
    for (const [what, call] of [
      ["push (sync)", () => push("during")],
      ["pull (sync)", pull],
      ["me (tenants)", me],
    ] as const) {
      const res = await call();
      expect({ what, data: res.data ?? null, extensions: (res.errors ?? []).map((e) => e.extensions) }).toEqual({
        what,
        data: null,
        extensions: [expect.objectContaining(unavailable)],
      });
      expect(JSON.stringify(res)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|select |insert /i);
    }
    const down = await readyz(t);
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: "unavailable", checks: { tenants: false, sync: false } });

    // Back on the same port: the same services serve again, nothing committed before was lost.
    await startPostgres();
    await waitUntil(async () => (await push("after")).data?.pushChanges.applied === 1, "a push to succeed after the restart", 20_000, 250);
    expect((await me()).data?.me.id).toBe(who.userId);
    const { state } = await pulledState<Doc>(t.url, who.token, COLLECTION);
    expect([...state.keys()].sort()).toEqual(["after", "before-0", "before-1", "before-2", "before-3", "before-4"]);
    await waitUntil(async () => (await readyz(t)).status === 200, "/readyz ready again", 10_000, 200);
  }, 60_000);
});
