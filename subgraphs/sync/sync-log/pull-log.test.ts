// The pull log against a real PostgreSQL (embedded, the sync schema's committed migrations): aggregation, batching,
// shutdown flush, and that a failing database never reaches the pull path.
import "reflect-metadata";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { MikroORM } from "@mikro-orm/postgresql";
import type { Principal } from "../../../kernel/auth.js";
import { migrate, openDatabase } from "../../../kernel/db.js";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "../../../kernel/embedded-postgres.js";
import { forkForTenant } from "../../../kernel/tenancy.js";
import { migrations } from "../migrations/index.js";
import { PullLog, type PullLogOptions, type WrittenPullRun } from "./pull-log.js";
import { withRunErrors } from "./sync-run.actor.js";
import { MAX_STORED_RUN_ERRORS, runDurationMs, runRecordsPerSecond, SyncRun } from "./sync-run.entity.js";

let pg: EmbeddedDatabase;
let dir: string;
let orm: MikroORM;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "tributary-pull-log-"));
  pg = await startEmbeddedPostgres({ dataDir: dir, persistent: false });
  const url = await pg.createDatabase("pull_log");
  orm = await openDatabase({ url, schema: "sync", entities: [SyncRun], migrations });
  await migrate(orm, "sync");
});
afterAll(async () => {
  await orm?.close();
  await pg?.stop();
  await rm(dir, { recursive: true, force: true });
});

const principal = (tenantId: string, kind: Principal["kind"] = "user", userId = randomUUID()): Principal => ({
  kind,
  userId,
  tenantId,
  email: "someone@example.com",
  roles: [],
  permissions: ["sync:pull"],
  plan: "PRO",
  tokenId: randomUUID(),
  issuedAt: new Date(),
  expiresAt: new Date(Date.now() + 60_000),
});

const runsOf = (tenantId: string) => forkForTenant(orm, tenantId).find(SyncRun, {}, { orderBy: { createdAt: "asc", id: "asc" } });

/** Counts the multi-row inserts the log sends (and can make them fail), without changing what they do. */
function spyInserts(): { inserts: number[]; fail: boolean; restore(): void } {
  const conn = orm.em.getConnection();
  const original = conn.execute.bind(conn);
  const spy = {
    inserts: [] as number[],
    fail: false,
    restore: () => {
      conn.execute = original;
    },
  };
  conn.execute = (async (sql: unknown, params?: unknown, ...rest: unknown[]) => {
    if (typeof sql === "string" && sql.startsWith("insert into sync.sync_run")) {
      if (spy.fail) throw new Error("connection refused (injected)");
      spy.inserts.push((sql.match(/\(\?, \?, \?::sync\.sync_run_kind/g) ?? []).length);
    }
    return (original as (...a: unknown[]) => Promise<unknown>)(sql, params, ...rest);
  }) as typeof conn.execute;
  return spy;
}

describe("PullLog", () => {
  let tenant: string;
  let log: PullLog | undefined;
  const make = (opts: PullLogOptions = {}) => (log = new PullLog(orm, { flushIntervalMs: 60_000, ...opts }));
  beforeEach(async () => {
    await log?.close();
    tenant = randomUUID();
  });

  it("aggregates pulls of the same tenant, actor, client and collections in a window into one PULL run with summed counts", async () => {
    const pulls = make();
    const ann = principal(tenant);
    const bob = principal(tenant);
    const key = principal(tenant, "api_key");
    const other = randomUUID();
    const t0 = Date.parse("2026-03-01T10:00:00.000Z");
    // Ann on device-1 pulls [tasks, notes] five times (collections in any order), and once only [tasks].
    for (let i = 0; i < 5; i++) {
      pulls.logPull({ principal: ann, clientId: "device-1", collections: i % 2 ? ["tasks", "notes"] : ["notes", "tasks", "notes"], documents: 10 + i, durationMs: 20 + i, at: new Date(t0 + i * 100) });
    }
    pulls.logPull({ principal: ann, clientId: "device-1", collections: ["tasks"], documents: 7, durationMs: 5, at: new Date(t0) });
    // Ann on another device, Bob on device-1, an API key: each its own run.
    pulls.logPull({ principal: ann, clientId: "device-2", collections: ["tasks", "notes"], documents: 1, durationMs: 3, at: new Date(t0) });
    pulls.logPull({ principal: bob, clientId: "device-1", collections: ["tasks", "notes"], documents: 2, durationMs: 4, at: new Date(t0) });
    pulls.logPull({ principal: key, clientId: null, collections: ["tasks"], documents: 3, durationMs: 6, at: new Date(t0) });
    pulls.logPull({ principal: key, collections: ["tasks"], documents: 4, durationMs: 8, at: new Date(t0 + 50) });
    // Another tenant's pull never lands in this tenant.
    pulls.logPull({ principal: principal(other), clientId: "device-1", collections: ["tasks"], documents: 99, durationMs: 1, at: new Date(t0) });
    expect(pulls.size).toBe(6);
    await pulls.flush();
    expect(pulls.size).toBe(0);

    const runs = await runsOf(tenant);
    expect(runs).toHaveLength(5);
    for (const r of runs) expect(r).toMatchObject({ tenantId: tenant, kind: "PULL", status: "SUCCEEDED", created: 0, updated: 0, deleted: 0, conflicts: 0, rejected: 0, errorCount: 0, errors: [] });
    const find = (p: Principal, clientId: string | null, collections: string[]) =>
      runs.filter((r) => (r.triggeredById ?? r.apiKeyId) === p.userId && r.clientId === clientId && r.collections.join() === collections.join());
    const [main] = find(ann, "device-1", ["notes", "tasks"]);
    expect(main).toMatchObject({
      actorType: "USER",
      triggeredById: ann.userId,
      apiKeyId: null,
      processed: 10 + 11 + 12 + 13 + 14,
      durationMs: 20 + 21 + 22 + 23 + 24,
      parameters: { pulls: 5 },
    });
    // Its span: from the first pull's start to the last pull's end.
    expect(main!.startedAt!.toISOString()).toBe(new Date(t0 - 20).toISOString());
    expect(main!.finishedAt!.toISOString()).toBe(new Date(t0 + 400).toISOString());
    expect(main!.createdAt.toISOString()).toBe(main!.startedAt!.toISOString());
    // Throughput is over the pulls' own time, not the window they were spread over.
    expect(runDurationMs(main!)).toBe(110);
    expect(runRecordsPerSecond(main!)).toBeCloseTo((60 * 1000) / 110, 6);

    expect(find(ann, "device-1", ["tasks"])).toMatchObject([{ processed: 7, parameters: { pulls: 1 } }]);
    expect(find(ann, "device-2", ["notes", "tasks"])).toMatchObject([{ processed: 1 }]);
    expect(find(bob, "device-1", ["notes", "tasks"])).toMatchObject([{ processed: 2, triggeredById: bob.userId }]);
    expect(find(key, null, ["tasks"])).toMatchObject([{ actorType: "API_KEY", apiKeyId: key.userId, triggeredById: null, processed: 7, durationMs: 14, parameters: { pulls: 2 } }]);
    expect(await runsOf(other)).toMatchObject([{ tenantId: other, processed: 99 }]);
  });

  it("a later window is a new run; pulls are written on the timer without any flush call", async () => {
    const pulls = make({ flushIntervalMs: 100 });
    const ann = principal(tenant);
    pulls.logPull({ principal: ann, clientId: "d", collections: ["tasks"], documents: 1, durationMs: 1 });
    await waitFor(async () => (await runsOf(tenant)).length === 1);
    pulls.logPull({ principal: ann, clientId: "d", collections: ["tasks"], documents: 2, durationMs: 1 });
    await waitFor(async () => (await runsOf(tenant)).length === 2);
    expect((await runsOf(tenant)).map((r) => r.processed).sort()).toEqual([1, 2]);
  });

  it("writes one multi-row insert per batch: 1,200 groups in batches of 500 are three inserts", async () => {
    const spy = spyInserts();
    try {
      const written: WrittenPullRun[] = [];
      const pulls = make({ maxBatch: 500, onWritten: (runs) => void written.push(...runs) });
      const users = Array.from({ length: 1200 }, () => principal(tenant));
      // Logged without awaiting anything: reaching 500 groups starts a write at once, and the 700 that arrive
      // meanwhile are written as soon as it ends (a full batch does not wait for the timer).
      for (const u of users) pulls.logPull({ principal: u, clientId: "d", collections: ["tasks"], documents: 3, durationMs: 1 });
      await waitFor(async () => pulls.size === 0 && spy.inserts.reduce((a, b) => a + b, 0) === 1200);
      await pulls.flush();
      expect(spy.inserts).toEqual([500, 500, 200]);
      const runs = await runsOf(tenant);
      expect(runs).toHaveLength(1200);
      expect(runs.reduce((n, r) => n + r.processed, 0)).toBe(1200 * 3);
      // Every written run was announced, after it committed.
      expect(new Set(written.map((r) => r.id))).toEqual(new Set(runs.map((r) => r.id)));
      expect(written.every((r) => r.tenantId === tenant && r.status === "SUCCEEDED")).toBe(true);
    } finally {
      spy.restore();
    }
  });

  it("logging never touches the database on the pull path: 100,000 pulls buffer in memory, a few µs each", async () => {
    const pulls = make();
    const users = Array.from({ length: 20 }, () => principal(tenant));
    const conn = orm.em.getConnection();
    const execute = conn.execute;
    let queries = 0;
    conn.execute = ((...args: Parameters<typeof execute>) => {
      queries++;
      return execute.apply(conn, args);
    }) as typeof execute;
    const started = performance.now();
    try {
      for (let i = 0; i < 100_000; i++) {
        const returned: unknown = pulls.logPull({ principal: users[i % 20]!, clientId: `d${Math.floor(i / 20) % 5}`, collections: ["notes", "tasks"], documents: 3, durationMs: 2 });
        if (returned !== undefined) throw new Error("logPull must not hand the caller anything to wait for");
      }
    } finally {
      conn.execute = execute;
    }
    const elapsed = performance.now() - started;
    // eslint-disable-next-line no-console
    console.log(`pull log: 100,000 logPull calls in ${elapsed.toFixed(1)} ms (${((elapsed * 1000) / 100_000).toFixed(2)} µs each)`);
    expect(queries).toBe(0);
    // A generous bound (100 µs a pull, on a loaded machine); the figure above is what it really costs.
    expect(elapsed).toBeLessThan(10_000);
    expect(pulls.size).toBe(100);
    const flushStart = performance.now();
    await pulls.flush();
    // eslint-disable-next-line no-console
    console.log(`pull log: 100,000 pulls written as ${(await runsOf(tenant)).length} runs in ${(performance.now() - flushStart).toFixed(1)} ms`);
    const runs = await runsOf(tenant);
    expect(runs).toHaveLength(100);
    expect(runs.reduce((n, r) => n + r.processed, 0)).toBe(300_000);
    expect(runs.reduce((n, r) => n + Number((r.parameters as { pulls: number }).pulls), 0)).toBe(100_000);
  });

  it("a failing database never throws into the pull path: the batch is logged and dropped, later batches are written", async () => {
    const spy = spyInserts();
    const warnings: unknown[] = [];
    const logger = { warn: (...args: unknown[]) => warnings.push(args) } as unknown as PullLogOptions["logger"];
    try {
      const pulls = make({ logger });
      const ann = principal(tenant);
      spy.fail = true;
      expect(() => pulls.logPull({ principal: ann, clientId: "d", collections: ["tasks"], documents: 5, durationMs: 1 })).not.toThrow();
      pulls.logPull({ principal: ann, clientId: "d", collections: ["tasks"], documents: 5, durationMs: 1 });
      await expect(pulls.flush()).resolves.toBeUndefined();
      expect(pulls.dropped).toBe(2);
      expect(warnings.length).toBeGreaterThan(0);
      spy.fail = false;
      pulls.logPull({ principal: ann, clientId: "d", collections: ["tasks"], documents: 6, durationMs: 1 });
      await pulls.flush();
      expect((await runsOf(tenant)).map((r) => r.processed)).toEqual([6]);
      // Entries the database would refuse are made to fit instead of failing the whole batch.
      pulls.logPull({ principal: ann, clientId: "x".repeat(500), collections: ["y".repeat(300)], documents: -3, durationMs: Number.NaN });
      // A malformed entry (tenant not its principal's) is dropped without throwing.
      expect(() => pulls.logPull({ principal: ann, tenantId: randomUUID(), collections: [], documents: 1, durationMs: 1 })).not.toThrow();
      expect(() => pulls.logPull(undefined as never)).not.toThrow();
      await pulls.flush();
      const fitted = (await runsOf(tenant)).find((r) => r.clientId?.startsWith("x"));
      expect(fitted).toMatchObject({ clientId: "x".repeat(200), collections: ["y".repeat(100)], processed: 0, durationMs: 0 });
      expect(pulls.dropped).toBe(4);
    } finally {
      spy.restore();
    }
  });

  it("bounds the buffer while writes are stuck: new groups beyond maxPending are dropped, known groups still aggregate", async () => {
    const pulls = make({ maxPending: 3, maxBatch: 100 });
    const users = Array.from({ length: 5 }, () => principal(tenant));
    for (const u of users) pulls.logPull({ principal: u, collections: ["tasks"], documents: 1, durationMs: 1 });
    pulls.logPull({ principal: users[0]!, collections: ["tasks"], documents: 1, durationMs: 1 });
    expect(pulls.size).toBe(3);
    expect(pulls.dropped).toBe(2);
    await pulls.flush();
    expect((await runsOf(tenant)).map((r) => r.processed).sort()).toEqual([1, 1, 2]);
  });

  it("close() writes what is buffered; pulls after close are dropped", async () => {
    const pulls = make();
    const ann = principal(tenant);
    pulls.logPull({ principal: ann, clientId: "d", collections: ["tasks"], documents: 4, durationMs: 1 });
    await pulls.close();
    expect((await runsOf(tenant)).map((r) => r.processed)).toEqual([4]);
    pulls.logPull({ principal: ann, clientId: "d", collections: ["tasks"], documents: 4, durationMs: 1 });
    await pulls.flush();
    expect(await runsOf(tenant)).toHaveLength(1);
    expect(pulls.dropped).toBe(1);
  });
});

describe("withRunErrors", () => {
  it(`keeps the first ${MAX_STORED_RUN_ERRORS} errors and counts them all`, () => {
    const errs = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ recordId: `r${from + i}`, collection: "tasks", code: "SCHEMA_VIOLATION", message: "bad" }));
    const first = withRunErrors(errs(60));
    expect(first.errors).toHaveLength(60);
    expect(first.errorCount).toBe(60);
    const second = withRunErrors(errs(70, 60), first);
    expect(second.errors.map((e) => e.recordId)).toEqual(Array.from({ length: 100 }, (_, i) => `r${i}`));
    expect(second.errorCount).toBe(130);
    const third = withRunErrors(errs(5, 130), second);
    expect(third.errors).toHaveLength(100);
    expect(third.errorCount).toBe(135);
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}
