import type { MikroORM } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import type { PubSub } from "../../../kernel/pubsub/pubsub.js";
import { TENANT_PURGED_TOPIC, type TenantPurged } from "../../../kernel/tenant-purge.js";
import { systemContext } from "../system-context.js";
import { Tenant, TenantStatus } from "./tenant.entity.js";
import { transitionTenant } from "./tenant.service.js";

/** How long a deleted tenant's data is kept before it is erased everywhere. */
export const DEFAULT_TENANT_RETENTION_DAYS = 30;
/** Purge announcements repeat this long, so services that were down erase too. */
const ANNOUNCE_FOR_MS = 7 * 86_400_000;

/**
 * Erases deleted tenants' data after the retention period: marks them purged and announces it; every service
 * (this one included) deletes the tenant's rows on the announcement. Safe to run on every replica and repeatedly.
 */
export async function purgeDeletedTenants(orm: MikroORM, pubsub: PubSub, logger: Logger, retentionMs: number): Promise<string[]> {
  const em = orm.em.fork();
  const off = { filters: { tenant: false } } as const;
  const now = Date.now();
  const due = await em.find(
    Tenant,
    { status: TenantStatus.DELETED, deletedAt: { $lte: new Date(now - retentionMs) }, $or: [{ purgedAt: null }, { purgedAt: { $gt: new Date(now - ANNOUNCE_FOR_MS) } }] },
    off,
  );
  for (const tenant of due) {
    if (!tenant.purgedAt) {
      tenant.purgedAt = new Date();
      logger.info({ tenantId: tenant.id }, "tenant retention over: purging its data everywhere");
    }
    const event: TenantPurged = { tenantId: tenant.id };
    await pubsub.publish(TENANT_PURGED_TOPIC, event);
  }
  await em.flush();
  return due.map((t) => t.id);
}

/** Suspends TRIAL tenants whose trial has ended (audited, and refused everywhere at once like any suspension). */
export async function expireTrials(orm: MikroORM, pubsub: PubSub, logger: Logger): Promise<string[]> {
  const ctx = systemContext(orm, { pubsub, logger, actor: "trial-expiry" });
  const due = await ctx.em.find(Tenant, { status: TenantStatus.TRIAL, trialEndsAt: { $lte: new Date() } }, { filters: { tenant: false } });
  for (const tenant of due) await transitionTenant(ctx, tenant.id, TenantStatus.SUSPENDED, "trial ended");
  return due.map((t) => t.id);
}

/** Runs trial expiry and the purge hourly (and once at start). Returns the stop function. */
export function schedulePurge(orm: MikroORM, pubsub: PubSub, logger: Logger, retentionMs: number): () => void {
  const run = async () => {
    await expireTrials(orm, pubsub, logger).catch((err) => logger.error({ err }, "trial expiry failed"));
    await purgeDeletedTenants(orm, pubsub, logger, retentionMs).catch((err) => logger.error({ err }, "tenant purge failed"));
  };
  void run();
  const timer = setInterval(run, 3600_000);
  timer.unref();
  return () => clearInterval(timer);
}
