// Tenants whose data has been erased. Audit events reach this service asynchronously (outbox relays retry), so an
// event of a tenant can arrive after that tenant was purged: the marker makes ingest drop it instead of storing a
// tenant's data again after its erasure.
import { Entity, PrimaryKey, Property } from "@mikro-orm/decorators/legacy";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import type { PubSub } from "../../../kernel/pubsub/pubsub.js";
import { advisoryXactLock, withTransaction } from "../../../kernel/transaction.js";
import { purgeTenantRows, TENANT_PURGED_TOPIC, type TenantPurged } from "../../../kernel/tenant-purge.js";

/** Not tenant-scoped on purpose: it must outlive the purge it records. */
@Entity({ tableName: "purged_tenant" })
export class PurgedTenant {
  @PrimaryKey({ type: "uuid" })
  tenantId!: string;

  @Property({ type: "timestamptz" })
  purgedAt: Date = new Date();
}

/** The advisory lock key ingest and purge share per tenant (so a purge and an append never interleave). */
export const chainLockKey = (tenantId: string) => `audit.chain:${tenantId}`;

/** Whether `tenantId` was purged (call inside the tenant's chain lock). */
export async function isPurged(tx: EntityManager, tenantId: string): Promise<boolean> {
  const rows = await tx.execute<{ n: number }[]>(`select 1 as n from "audit"."purged_tenant" where "tenant_id" = ?`, [tenantId]);
  return rows.length > 0;
}

/** Marks the tenant purged under its chain lock, then erases its events (the generic purge may run as well). */
export async function markPurged(orm: MikroORM, tenantId: string): Promise<void> {
  await withTransaction(orm.em.fork(), async (tx) => {
    await advisoryXactLock(tx, chainLockKey(tenantId));
    await tx.execute(`insert into "audit"."purged_tenant" ("tenant_id", "purged_at") values (?, now()) on conflict do nothing`, [tenantId]);
  });
  await purgeTenantRows(orm, tenantId);
}

/** Listens for purge announcements and marks the tenants (repeated announcements are harmless). */
export async function startPurgeMarker(orm: MikroORM, pubsub: PubSub, logger: Logger): Promise<() => Promise<void>> {
  const events = await pubsub.subscribe<TenantPurged>(TENANT_PURGED_TOPIC);
  const done = (async () => {
    for await (const { tenantId } of events) {
      try {
        await markPurged(orm, tenantId);
      } catch (err) {
        logger.error({ err, tenantId }, "marking a purged tenant failed; retried on the next announcement");
      }
    }
  })();
  return async () => {
    await events.return?.();
    await done;
  };
}
