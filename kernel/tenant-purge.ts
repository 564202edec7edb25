import type { MikroORM } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import { TENANT_FILTER } from "./tenancy.js";
import type { PubSub } from "./pubsub/pubsub.js";

/** Announced by the tenants service when a deleted tenant's retention has passed; every service erases its rows. */
export const TENANT_PURGED_TOPIC = "tenant.purged";
export interface TenantPurged {
  tenantId: string;
}

/** Deletes every row of `tenantId` in this service's tenant-scoped tables (idempotent). */
export async function purgeTenantRows(orm: MikroORM, tenantId: string): Promise<number> {
  let deleted = 0;
  await orm.em.fork().transactional(async (em) => {
    for (const meta of orm.getMetadata().getAll().values()) {
      const filter = meta.filters?.[TENANT_FILTER];
      if (!filter || !meta.class || meta.embeddable || meta.virtual) continue;
      // The tenant row itself (scoped by `id`) stays as a tombstone; everything that belongs to it goes.
      if (!meta.properties.tenantId) continue;
      deleted += await em.nativeDelete(meta.class, { tenantId } as never, { filters: false });
    }
  });
  return deleted;
}

/**
 * Erases a purged tenant's rows in this service when the tenants service announces it. Announcements repeat for a
 * while after the purge, so a service that was down catches up.
 */
export async function startTenantPurgeListener(orm: MikroORM, pubsub: PubSub, logger: Logger): Promise<() => Promise<void>> {
  const events = await pubsub.subscribe<TenantPurged>(TENANT_PURGED_TOPIC);
  const done = (async () => {
    for await (const { tenantId } of events) {
      try {
        const rows = await purgeTenantRows(orm, tenantId);
        if (rows) logger.info({ tenantId, rows }, "purged tenant data");
      } catch (err) {
        logger.error({ err, tenantId }, "tenant purge failed; it is retried on the next announcement");
      }
    }
  })();
  return async () => {
    await events.return?.();
    await done;
  };
}
