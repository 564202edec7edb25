import { CompiledQuery } from "kysely";
import { MikroORM, UniqueConstraintViolationException, type EntityManager, type Options } from "@mikro-orm/postgresql";
import { ReflectMetadataProvider } from "@mikro-orm/decorators/legacy";
import { Migrator } from "@mikro-orm/migrations";
import type { Migration } from "@mikro-orm/migrations";
import type { Logger } from "pino";
import { advisoryXactLock, withTransaction } from "./transaction.js";

export type { EntityManager };

/** What a service needs to own its part of the database: one Postgres schema, its entities and migrations. */
export interface DatabaseOptions {
  url: string;
  /** The service's own Postgres schema (`tenants`, `sync`, ...). Nothing else writes to it. */
  schema: string;
  entities: Function[];
  /** Committed migrations in order; listed explicitly so dist and ts (jest) runs load the same classes. */
  migrations: { name: string; class: new (...args: any[]) => Migration }[];
  logger?: Logger;
  /** Connections in the pool (default 10). */
  poolMax?: number;
  /**
   * How long a query waits for a pooled connection (or a new one to connect) before it fails (default
   * {@link POOL_ACQUIRE_TIMEOUT_MS}): a saturated pool answers UPSTREAM_UNAVAILABLE with `retryAfter`, never hangs.
   */
  poolAcquireTimeoutMs?: number;
}

/** The default bound on waiting for a pooled connection. */
export const POOL_ACQUIRE_TIMEOUT_MS = 5_000;

/** MikroORM options for one service; also used by the migration generator. */
export function ormOptions(opts: DatabaseOptions): Options {
  return {
    clientUrl: opts.url,
    schema: opts.schema,
    entities: opts.entities,
    metadataProvider: ReflectMetadataProvider,
    extensions: [Migrator],
    pool: { min: 0, max: opts.poolMax ?? 10 },
    // MikroORM 7's `pool` takes min, max and idleTimeoutMillis only; `driverOptions` go to pg's Pool, whose
    // `connectionTimeoutMillis` bounds both the wait for a free connection and the connecting of a new one.
    driverOptions: { connectionTimeoutMillis: opts.poolAcquireTimeoutMs ?? POOL_ACQUIRE_TIMEOUT_MS },
    migrations: {
      schema: opts.schema,
      tableName: "mikro_orm_migrations",
      migrationsList: opts.migrations,
      snapshot: false,
      allOrNothing: true,
      transactional: true,
      silent: true,
      emit: "ts",
    },
    debug: false,
    logger: (message) => opts.logger?.debug({ orm: message }),
  };
}

/** Connects a service's ORM. Never touches the schema: call {@link migrate} for that. */
export async function openDatabase(opts: DatabaseOptions): Promise<MikroORM> {
  return MikroORM.init(ormOptions(opts));
}

/**
 * Applies the service's pending migrations. Replicas starting together serialize on a Postgres advisory lock
 * held by the migration transaction, so each migration runs exactly once.
 */
export async function migrate(orm: MikroORM, schema: string): Promise<string[]> {
  const em = orm.em.fork();
  await em.getConnection().execute(`create schema if not exists "${schema}"`);
  return withTransaction(em, async (tx) => {
    await advisoryXactLock(tx, `tributary:migrate:${schema}`);
    const done = await orm.migrator.up({ transaction: tx.getTransactionContext(), schema });
    return done.map((m) => m.name);
  });
}

/** True when the database answers a trivial query (readiness). */
export async function pingDatabase(orm: MikroORM): Promise<boolean> {
  try {
    await orm.em.getConnection().execute("select 1");
    return true;
  } catch {
    return false;
  }
}

/** Flushes; a unique-constraint violation (a concurrent duplicate that passed the pre-check) becomes `conflict()`. */
export async function flushOrConflict(em: EntityManager, conflict: () => Error): Promise<void> {
  try {
    await em.flush();
  } catch (err) {
    if (err instanceof UniqueConstraintViolationException) throw conflict();
    throw err;
  }
}

/** Runs `fn`; a unique-constraint violation inside it becomes `conflict()`. */
export async function orConflict<T>(fn: () => Promise<T>, conflict: () => Error): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof UniqueConstraintViolationException) throw conflict();
    throw err;
  }
}

/** Runs SQL with `?` placeholders and returns its rows. */
export type Sql = (sql: string, params?: unknown[]) => Promise<any[]>;

/**
 * Raw SQL on `em`'s connection (inside its transaction, if any) with the values sent as bind parameters. MikroORM's
 * own `execute` writes values into the SQL text; for statements carrying a whole batch as one JSON parameter that
 * escaping and PostgreSQL's parsing of the literal cost more than the statement itself. `?` marks a parameter (the
 * SQL must not contain `?` otherwise).
 */
export function boundSql(em: EntityManager): Sql {
  const conn = em.getConnection();
  const ctx = em.getTransactionContext<{ executeQuery: ReturnType<typeof conn.getClient>["executeQuery"] }>();
  return async (sql, params = []) => {
    let n = 0;
    const text = sql.replace(/\?/g, () => `$${++n}`);
    const values = params.map((p) => (p instanceof Date ? p.toISOString() : p));
    const res = await (ctx ?? conn.getClient()).executeQuery(CompiledQuery.raw(text, values));
    return res.rows as any[];
  };
}
