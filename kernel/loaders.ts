import DataLoader from "dataloader";
import type { EntityManager } from "@mikro-orm/postgresql";

type EntityClass<T> = new (...args: any[]) => T;

/**
 * Batches lookups by primary key into one `where id in (...)` per tick, through the request's EntityManager, so
 * tenant filters apply. Missing or foreign ids resolve to null.
 */
export function byIdLoader<T extends { id: string }>(em: EntityManager, entity: EntityClass<T>): DataLoader<string, T | null> {
  return new DataLoader<string, T | null>(async (ids) => {
    const valid = ids.filter(isUuid);
    const rows = valid.length ? ((await em.find(entity, { id: { $in: valid } } as any)) as T[]) : [];
    // Postgres returns UUIDs in lower case; callers may send any case.
    const byId = new Map(rows.map((r) => [r.id.toLowerCase(), r]));
    return ids.map((id) => byId.get(id.toLowerCase()) ?? null);
  });
}

/** Batches one-to-many lookups (`connectorId in (...)`) into one query; each key gets its rows in `orderBy` order. */
export function byForeignKeyLoader<T extends object>(
  em: EntityManager,
  entity: EntityClass<T>,
  field: keyof T & string,
  orderBy: Record<string, "asc" | "desc"> = {},
): DataLoader<string, T[]> {
  return new DataLoader<string, T[]>(async (keys) => {
    const valid = keys.filter(isUuid);
    const rows = valid.length ? ((await em.find(entity, { [field]: { $in: valid } } as any, { orderBy: orderBy as any })) as T[]) : [];
    const groups = new Map<string, T[]>(keys.map((k) => [k.toLowerCase(), []]));
    for (const row of rows) groups.get(String(row[field]).toLowerCase())?.push(row);
    return keys.map((k) => groups.get(k.toLowerCase())!);
  });
}

/** A loader per entity type, created lazily, living as long as one request. */
export class LoaderRegistry {
  private readonly loaders = new Map<unknown, DataLoader<string, unknown>>();
  constructor(private readonly em: EntityManager) {}

  byId<T extends { id: string }>(entity: EntityClass<T>): DataLoader<string, T | null> {
    let loader = this.loaders.get(entity);
    if (!loader) this.loaders.set(entity, (loader = byIdLoader(this.em, entity) as DataLoader<string, unknown>));
    return loader as DataLoader<string, T | null>;
  }

  /** Any other batched lookup of this request, created once under `key` (e.g. a bounded one-to-many read). */
  custom<V>(key: string, create: (em: EntityManager) => DataLoader<string, V>): DataLoader<string, V> {
    let loader = this.loaders.get(key);
    if (!loader) this.loaders.set(key, (loader = create(this.em) as DataLoader<string, unknown>));
    return loader as DataLoader<string, V>;
  }

  byForeignKey<T extends object>(entity: EntityClass<T>, field: keyof T & string, orderBy?: Record<string, "asc" | "desc">): DataLoader<string, T[]> {
    const key = `${entity.name}.${field}`;
    let loader = this.loaders.get(key);
    if (!loader) this.loaders.set(key, (loader = byForeignKeyLoader(this.em, entity, field, orderBy) as DataLoader<string, unknown>));
    return loader as DataLoader<string, T[]>;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Ids are UUIDs; anything else cannot exist (and must not reach Postgres as a cast error). */
export function isUuid(value: unknown): value is string {
  return typeof value === "string" && UUID.test(value);
}
