import { randomBytes, randomUUID } from "node:crypto";
import type { MikroORM } from "@mikro-orm/postgresql";
import { hashPassword } from "../auth/password.js";
import { User } from "../user/user.entity.js";
import { Plan, Tenant, TenantStatus } from "./tenant.entity.js";

export interface SeededTenant {
  tenantId: string;
  slug: string;
  adminUserId: string;
  adminEmail: string;
  /** Present only when the admin was created by this call: print it once, it is stored only as a hash. */
  adminPassword?: string;
}

/**
 * Creates a tenant with an ADMIN user unless a tenant with that slug exists. The password is random and returned
 * once; nothing here is a fixed credential.
 */
export async function ensureTenantWithAdmin(
  orm: MikroORM,
  input: { slug: string; name: string; adminEmail: string; plan?: Plan },
): Promise<SeededTenant> {
  const em = orm.em.fork();
  const off = { filters: { tenant: false } } as const;
  const existing = await em.findOne(Tenant, { slug: input.slug }, off);
  if (existing) {
    const admin = await em.findOne(User, { tenantId: existing.id, roles: { $contains: ["ADMIN"] } }, { ...off, orderBy: { createdAt: "asc" } });
    return { tenantId: existing.id, slug: existing.slug, adminUserId: admin?.id ?? "", adminEmail: admin?.email ?? input.adminEmail };
  }
  // Letters and digits only, so it copies cleanly from a terminal.
  const password = randomBytes(18).toString("base64url").replace(/[-_]/g, "").slice(0, 16);
  const tenant = em.create(Tenant, { id: randomUUID(), slug: input.slug, name: input.name, status: TenantStatus.ACTIVE, plan: input.plan ?? Plan.PRO });
  const admin = em.create(User, {
    id: randomUUID(),
    tenantId: tenant.id,
    email: input.adminEmail.toLowerCase(),
    displayName: "Demo Admin",
    passwordHash: await hashPassword(password),
    roles: ["ADMIN"],
  });
  await em.flush();
  return { tenantId: tenant.id, slug: tenant.slug, adminUserId: admin.id, adminEmail: admin.email, adminPassword: password };
}
