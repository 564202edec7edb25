// The advisory lock helper and the pool's bounded wait, against a real (embedded) PostgreSQL.
import "reflect-metadata";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Entity, PrimaryKey } from "@mikro-orm/decorators/legacy";
import { MikroORM } from "@mikro-orm/postgresql";
import { ormOptions } from "./db.js";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "./embedded-postgres.js";
import { ErrorCode, formatErrorFor, isUnavailableError, UNAVAILABLE_RETRY_AFTER_SECONDS } from "./errors.js";
import { advisoryXactLock, withLockedTransaction, withTransaction, type TxEntityManager } from "./transaction.js";
import pino from "pino";

@Entity({ tableName: "lock_probe" })
class LockProbe {
  @PrimaryKey({ type: "uuid" }) id!: string;
}

let pg: EmbeddedDatabase;
let dir: string;
let url: string;
let orm: MikroORM;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "tributary-lock-test-"));
  pg = await startEmbeddedPostgres({ dataDir: dir, persistent: false });
  url = await pg.createDatabase(`locks_${randomUUID().replace(/-/g, "")}`);
  orm = await MikroORM.init(ormOptions({ url, schema: "public", entities: [LockProbe], migrations: [] }));
  await orm.schema.create();
});

afterAll(async () => {
  await orm?.close();
  await pg?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Advisory locks waited for right now (by any session). */
async function waitingOnAdvisory(): Promise<number> {
  const [row] = await orm.em.fork().execute<{ n: number }[]>("select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted");
  return row!.n;
}

async function until(check: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not reached");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Holders still open: released after each test, so a failing test does not leave a transaction (and the pool) hanging. */
const open = new Set<() => void>();
afterEach(() => {
  for (const release of open) release();
  open.clear();
});

/** A transaction that takes `key` and holds it until `release` is called; `taken` resolves once it holds it. */
function holder(key: string) {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  open.add(release);
  let taken!: () => void;
  const held = new Promise<void>((r) => (taken = r));
  const done = withTransaction(orm.em.fork(), async (tx) => {
    await advisoryXactLock(tx, key);
    taken();
    await released;
  });
  return { held, release, done };
}

describe("advisoryXactLock", () => {
  it("makes a second transaction on the same key wait until the first one commits", async () => {
    const key = `k:${randomUUID()}`;
    const first = holder(key);
    await first.held;
    const order: string[] = [];
    const second = withTransaction(orm.em.fork(), async (tx) => {
      await advisoryXactLock(tx, key);
      order.push("second locked");
    });
    // The second transaction is seen waiting on the lock by the server, and has not gone past it.
    await until(async () => (await waitingOnAdvisory()) === 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(order).toEqual([]);
    order.push("first ends");
    first.release();
    await first.done;
    await second;
    expect(order).toEqual(["first ends", "second locked"]);
    expect(await waitingOnAdvisory()).toBe(0);
  });

  it("is released by a rollback, and other keys never wait", async () => {
    const key = `k:${randomUUID()}`;
    const first = holder(key);
    await first.held;
    // Another key is taken at once while the first is held.
    await withTransaction(orm.em.fork(), (tx) => advisoryXactLock(tx, `k:${randomUUID()}`));
    const failing = withTransaction(orm.em.fork(), async (tx) => {
      await advisoryXactLock(tx, key);
      throw new Error("rolled back");
    });
    await until(async () => (await waitingOnAdvisory()) === 1);
    first.release();
    await first.done;
    await expect(failing).rejects.toThrow("rolled back");
    // The rollback released it: a third transaction takes it without waiting.
    await withTransaction(orm.em.fork(), (tx) => advisoryXactLock(tx, key));
  });

  it("refuses to run outside a transaction (where the lock would be released at once), and the types refuse it too", async () => {
    const plain = orm.em.fork();
    // @ts-expect-error a plain EntityManager is not a transaction's
    const typeChecked: TxEntityManager = plain;
    await expect(advisoryXactLock(typeChecked, "k:outside")).rejects.toThrow(/outside a transaction/);
    // Nothing was taken on some pooled connection either.
    const [row] = await orm.em.fork().execute<{ n: number }[]>("select count(*)::int as n from pg_locks where locktype = 'advisory'");
    expect(row!.n).toBe(0);
  });
});

describe("withLockedTransaction", () => {
  it("runs a burst on one key one at a time, holding one pooled connection (not one per call): a small pool with a short wait serves them all", async () => {
    const small = await MikroORM.init(ormOptions({ url, schema: "public", entities: [LockProbe], migrations: [], poolMax: 2, poolAcquireTimeoutMs: 300 }));
    try {
      let inside = 0;
      let most = 0;
      const key = `k:${randomUUID()}`;
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          withLockedTransaction(small.em.fork(), key, async (tx) => {
            most = Math.max(most, ++inside);
            await tx.execute("select pg_sleep(0.05)");
            inside--;
            return i;
          }),
        ),
      );
      // 20 × 50 ms under the lock is far beyond the pool's 300 ms wait: each call waited in memory, not for the pool.
      expect(results.map((r) => r.status)).toEqual(Array(20).fill("fulfilled"));
      expect(most).toBe(1);
      // A failing call does not stop the queue, and another key does not wait behind it.
      const failing = withLockedTransaction(small.em.fork(), key, async () => {
        throw new Error("no");
      });
      const other = withLockedTransaction(small.em.fork(), `k:${randomUUID()}`, async () => "other");
      const next = withLockedTransaction(small.em.fork(), key, async () => "next");
      await expect(failing).rejects.toThrow("no");
      expect(await Promise.all([other, next])).toEqual(["other", "next"]);
    } finally {
      await small.close();
    }
  });
});

describe("pool acquire timeout", () => {
  it("a query that finds every pooled connection taken fails within the bound, as UPSTREAM_UNAVAILABLE with retryAfter", async () => {
    const small = await MikroORM.init(ormOptions({ url, schema: "public", entities: [LockProbe], migrations: [], poolMax: 2, poolAcquireTimeoutMs: 300 }));
    try {
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      let open = 0;
      const holders = [1, 2].map(() =>
        small.em.fork().transactional(async (tx) => {
          await tx.execute("select 1");
          open++;
          await released;
        }),
      );
      await until(async () => open === 2);
      const started = Date.now();
      const failures = await Promise.all([
        small.em.fork().find(LockProbe, {}).then(() => null, (e: unknown) => e),
        small.em.fork().transactional(async () => undefined).then(() => null, (e: unknown) => e),
        small.em.fork().execute("select 1").then(() => null, (e: unknown) => e),
      ]);
      const waited = Date.now() - started;
      release();
      await Promise.all(holders);
      expect(waited).toBeGreaterThanOrEqual(250);
      expect(waited).toBeLessThan(3_000);
      for (const err of failures) expect(isUnavailableError(err)).toBe(true);
      // What a client sees.
      const logger = pino({ level: "silent" });
      const formatted = formatErrorFor(logger)({ message: "x", extensions: { code: "INTERNAL_SERVER_ERROR" } }, { originalError: failures[0] });
      expect(formatted.extensions).toEqual({ code: ErrorCode.UPSTREAM_UNAVAILABLE, retryAfter: UNAVAILABLE_RETRY_AFTER_SECONDS });
      // Free again: it answers.
      expect(await small.em.fork().find(LockProbe, {})).toEqual([]);
      expect(isUnavailableError(new Error("some other failure"))).toBe(false);
    } finally {
      await small.close();
    }
  });
});
