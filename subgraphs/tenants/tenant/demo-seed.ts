import type { MikroORM } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import { pino } from "pino";
import { MemoryPubSub } from "../../../kernel/pubsub/memory.pubsub.js";
import type { PubSub } from "../../../kernel/pubsub/pubsub.js";
import { systemContext } from "../system-context.js";
import { User } from "../user/user.entity.js";
import { Plan, Tenant } from "./tenant.entity.js";
import { createTenant } from "./tenant.service.js";

export interface SeededTenant {
  tenantId: string;
  slug: string;
  adminUserId: string;
  adminEmail: string;
  /** Present only when the admin was created by this call: print it once, it is stored only as a hash. */
  adminPassword?: string;
}

/**
 * Creates an ACTIVE tenant with an ADMIN user (and its system roles) unless a tenant with that slug exists. The
 * password is random and returned once; nothing here is a fixed credential.
 */
export async function ensureTenantWithAdmin(
  orm: MikroORM,
  input: { slug: string; name: string; adminEmail: string; plan?: Plan },
  deps: { pubsub?: PubSub; logger?: Logger } = {},
): Promise<SeededTenant> {
  const off = { filters: { tenant: false } } as const;
  const em = orm.em.fork();
  const existing = await em.findOne(Tenant, { slug: input.slug }, off);
  if (existing) {
    const admin = await em.findOne(User, { tenantId: existing.id, roles: { $contains: ["ADMIN"] } }, { ...off, orderBy: { createdAt: "asc" } });
    return { tenantId: existing.id, slug: existing.slug, adminUserId: admin?.id ?? "", adminEmail: admin?.email ?? input.adminEmail };
  }
  const ctx = systemContext(orm, { pubsub: deps.pubsub ?? new MemoryPubSub(), logger: deps.logger ?? pino({ level: "silent" }), actor: "seed" });
  const created = await createTenant(ctx, { slug: input.slug, name: input.name, plan: input.plan ?? Plan.PRO, trialDays: 0, adminEmail: input.adminEmail });
  const admin = await em.findOneOrFail(User, { tenantId: created.tenant.id, email: created.adminEmail }, off);
  return { tenantId: created.tenant.id, slug: created.tenant.slug, adminUserId: admin.id, adminEmail: admin.email, adminPassword: created.adminPassword ?? undefined };
}
