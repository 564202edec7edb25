import { CompiledQuery } from "kysely";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";

declare const bound: unique symbol;

/**
 * An EntityManager bound to an open transaction. Only {@link withTransaction} hands these out, so a function that asks
 * for one (like {@link advisoryXactLock}) cannot be given a plain, pool-bound EntityManager by mistake.
 */
export type TxEntityManager = EntityManager & { readonly [bound]: true };

/** Isolation and other options `em.transactional` takes. */
export type TransactionOptions = NonNullable<Parameters<EntityManager["transactional"]>[1]>;

/**
 * Runs `fn` in a transaction on `em` (a savepoint when `em` already is in one) and hands it the transaction's
 * EntityManager. Everything inside must go through `tx` (`tx.find`, `tx.execute`, `boundSql(tx)`, ...): the outer `em`,
 * `em.fork()` or the ORM's connection would ask the pool for a second connection while this one is held, which
 * serialises nothing and, under a burst, exhausts the pool (`test/db-discipline.test.ts` checks the sources for it).
 */
export function withTransaction<T>(em: EntityManager, fn: (tx: TxEntityManager) => Promise<T>, options?: TransactionOptions): Promise<T> {
  return em.transactional((tx) => fn(tx as TxEntityManager), options);
}

/**
 * Takes a transaction-scoped advisory lock on `key` (any string; hashed to 64 bits): it waits while another transaction
 * holds the same key and is released by the commit or rollback of `tx`, never earlier. Refuses (throws) when `tx` is not
 * in a transaction, where the lock would be released as soon as it is taken and serialise nothing.
 */
export async function advisoryXactLock(tx: TxEntityManager, key: string): Promise<void> {
  if (!tx.isInTransaction() || !tx.getTransactionContext()) throw new Error(`advisory lock "${key}" asked for outside a transaction`);
  // `tx.execute` runs on the transaction's own connection (its context), not a pooled one.
  await tx.execute("select pg_advisory_xact_lock(hashtextextended(?, 0))", [key], "run");
}

/** Tails of the in-process queues of {@link withLockedTransaction}, by key (removed when a queue empties). */
const queues = new Map<string, Promise<unknown>>();

/** Runs `fn` after every earlier call with the same `key` in this process has ended (whatever their outcome). */
async function queued<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const run = (queues.get(key) ?? Promise.resolve()).then(fn, fn);
  const tail = run.catch(() => undefined);
  queues.set(key, tail);
  try {
    return await run;
  } finally {
    if (queues.get(key) === tail) queues.delete(key);
  }
}

/**
 * Runs `fn` in a transaction that holds the advisory lock on `key` from its start ({@link advisoryXactLock}). Calls for
 * the same key in this process queue in memory first: a burst holds one pooled connection per key, not one per request
 * (each waiting on the lock inside its transaction would take the pool from every other request); the database lock
 * serialises them across processes.
 */
export function withLockedTransaction<T>(em: EntityManager, key: string, fn: (tx: TxEntityManager) => Promise<T>): Promise<T> {
  return queued(key, () =>
    withTransaction(em, async (tx) => {
      await advisoryXactLock(tx, key);
      return fn(tx);
    }),
  );
}

/**
 * Runs `fn` while holding a session advisory lock on `key`, for work too long to keep a transaction open (remote calls):
 * the lock is tried (not waited for) on a connection of its own, held until `fn` ends and released then. Returns
 * undefined, without running `fn`, when another session holds it. That connection is taken from the pool for the
 * whole of `fn`, which uses others: callers bound how many of these run at once (a job's concurrency) well below the
 * pool's size.
 */
export async function withSessionAdvisoryLock<T>(orm: MikroORM, key: string, fn: () => Promise<T>): Promise<T | undefined> {
  return orm.em
    .getConnection()
    .getClient()
    .connection()
    .execute(async (db) => {
      const got = await db.executeQuery<{ ok: boolean }>(CompiledQuery.raw("select pg_try_advisory_lock(hashtextextended($1, 0)) as ok", [key]));
      if (!got.rows[0]?.ok) return undefined;
      try {
        return await fn();
      } finally {
        await db.executeQuery(CompiledQuery.raw("select pg_advisory_unlock(hashtextextended($1, 0))", [key])).catch(() => undefined);
      }
    });
}
