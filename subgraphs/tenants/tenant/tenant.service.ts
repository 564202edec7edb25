import { randomBytes, randomUUID } from "node:crypto";
import type { EntityManager } from "@mikro-orm/postgresql";
import { orConflict } from "../../../kernel/db.js";
import { Errors } from "../../../kernel/errors.js";
import { isUuid } from "../../../kernel/loaders.js";
import { REVOCATION_TOPIC, type Revocation } from "../../../kernel/revocations.js";
import { requirePlatform, requirePrincipal } from "../../../kernel/auth.js";
import { hashPassword } from "../auth/password.js";
import { inTransaction, type TenantsContext } from "../context.js";
import { User } from "../user/user.entity.js";
import { AUDIT_RETENTION_BOUNDS, TRIAL_DAYS, auditRetentionDays } from "./plans.js";
import { Plan, Tenant, TenantStatus } from "./tenant.entity.js";
import { TenantErrors } from "./tenant.errors.js";
import type { CreateTenantInput, CreatedTenant, TenantFilter, TenantPage, UpdateTenantInput } from "./tenant.inputs.js";

/** Platform operations name their tenant explicitly; these lookups lift the tenant filter on purpose. */
const ANY_TENANT = { filters: { tenant: false } } as const;
const SLUG = /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/;
export const MAX_TENANT_PAGE = 100;

/** Which lifecycle moves are allowed. */
const NEXT: Record<TenantStatus, TenantStatus[]> = {
  TRIAL: [TenantStatus.ACTIVE, TenantStatus.SUSPENDED, TenantStatus.DELETED],
  ACTIVE: [TenantStatus.SUSPENDED, TenantStatus.DELETED],
  SUSPENDED: [TenantStatus.ACTIVE, TenantStatus.DELETED],
  DELETED: [],
};

/** Hook run when a tenant is created (the roles feature seeds system roles here). */
export type TenantCreatedHook = (em: EntityManager, tenantId: string) => Promise<void>;

export async function findTenant(em: EntityManager, id: string): Promise<Tenant> {
  const tenant = isUuid(id) ? await em.findOne(Tenant, { id }, ANY_TENANT) : null;
  if (!tenant) throw TenantErrors.notFound(id);
  return tenant;
}

/** Creates a tenant (TRIAL unless trialDays is 0) with its first admin, in one transaction. */
export async function createTenant(ctx: TenantsContext, input: CreateTenantInput): Promise<CreatedTenant> {
  const slug = input.slug.trim().toLowerCase();
  const name = input.name.trim();
  if (!SLUG.test(slug)) throw TenantErrors.badSlug();
  if (!name || name.length > 200) throw TenantErrors.badName();
  const trialDays = input.trialDays ?? TRIAL_DAYS;
  if (!Number.isInteger(trialDays) || trialDays < 0 || trialDays > 365) throw TenantErrors.badTrial();
  const adminEmail = input.adminEmail.trim().toLowerCase();
  if (!/^[^\s@]+@[^\s@]+$/.test(adminEmail) || adminEmail.length > 320) throw Errors.badInput("adminEmail is not valid", "adminEmail");
  const generated = input.adminPassword ? undefined : randomBytes(18).toString("base64url").replace(/[-_]/g, "").slice(0, 16);
  const password = input.adminPassword ?? generated!;
  if (password.length < 12 || password.length > 1024) throw Errors.badInput("adminPassword must be 12 to 1024 characters", "adminPassword");
  const passwordHash = await hashPassword(password);

  const tenant = await orConflict(() => ctx.em.transactional(async (em) => {
    if (await em.findOne(Tenant, { slug }, ANY_TENANT)) throw TenantErrors.slugTaken();
    const tenant = em.create(Tenant, {
      id: randomUUID(),
      slug,
      name,
      plan: input.plan ?? Plan.FREE,
      status: trialDays > 0 ? TenantStatus.TRIAL : TenantStatus.ACTIVE,
      trialEndsAt: trialDays > 0 ? new Date(Date.now() + trialDays * 86_400_000) : null,
    });
    em.create(User, { id: randomUUID(), tenantId: tenant.id, email: adminEmail, displayName: adminEmail, passwordHash, roles: ["ADMIN"] });
    await em.flush();
    await ctx.onTenantCreated(em, tenant.id);
    // The tenant and its audit event commit together.
    await ctx.audit.record(
      { ...ctx, em },
      {
        tenantId: tenant.id,
        action: "tenant.created",
        targetType: "Tenant",
        targetId: tenant.id,
        changes: { slug: { after: slug }, name: { after: name }, plan: { after: tenant.plan }, status: { after: tenant.status } },
      },
    );
    return tenant;
  }), TenantErrors.slugTaken);
  return { tenant, adminEmail, adminPassword: generated ?? null };
}

export function updateTenant(ctx: TenantsContext, id: string, input: UpdateTenantInput): Promise<Tenant> {
  // The change and its audit event commit together.
  return inTransaction(ctx, async (tx) => {
    const tenant = await findTenant(tx.em, id);
    if (tenant.status === TenantStatus.DELETED) throw TenantErrors.badTransition("DELETED", "updated");
    const changes: Record<string, { before: unknown; after: unknown }> = {};
    if (input.name !== undefined && input.name !== null) {
      const name = input.name.trim();
      if (!name || name.length > 200) throw TenantErrors.badName();
      if (name !== tenant.name) changes.name = { before: tenant.name, after: name };
      tenant.name = name;
    }
    if (input.plan && input.plan !== tenant.plan) {
      changes.plan = { before: tenant.plan, after: input.plan };
      tenant.plan = input.plan;
    }
    await tx.em.flush();
    if (Object.keys(changes).length) await tx.audit.record(tx, { tenantId: tenant.id, action: "tenant.updated", targetType: "Tenant", targetId: tenant.id, changes });
    return tenant;
  });
}

/**
 * Moves a tenant through its lifecycle. Suspending or deleting takes effect at once everywhere: a revocation event
 * makes every service refuse the tenant's tokens and the gateway close its sockets.
 */
export async function transitionTenant(ctx: TenantsContext, id: string, to: TenantStatus, reason?: string | null): Promise<Tenant> {
  // The move and its audit event commit together; the revocation is announced once they have.
  const { tenant, moved } = await inTransaction(ctx, async (tx) => {
    const tenant = await findTenant(tx.em, id);
    if (tenant.status === to) return { tenant, moved: false };
    if (!NEXT[tenant.status].includes(to)) throw TenantErrors.badTransition(tenant.status, to);
    const before = tenant.status;
    tenant.status = to;
    tenant.suspendedAt = to === TenantStatus.SUSPENDED ? new Date() : null;
    if (to === TenantStatus.DELETED) tenant.deletedAt = new Date();
    if (to === TenantStatus.ACTIVE) tenant.trialEndsAt = null;
    await tx.em.flush();
    const action = { ACTIVE: "tenant.activated", SUSPENDED: "tenant.suspended", DELETED: "tenant.deleted", TRIAL: "tenant.trial" }[to];
    await tx.audit.record(tx, {
      tenantId: tenant.id,
      action,
      targetType: "Tenant",
      targetId: tenant.id,
      changes: { status: { before, after: to } },
      metadata: reason ? { reason: reason.slice(0, 500) } : null,
    });
    return { tenant, moved: true };
  });
  if (moved) {
    const revocation: Revocation = { kind: "tenant", tenantId: tenant.id, suspended: to === TenantStatus.SUSPENDED || to === TenantStatus.DELETED };
    // Committed already: a Redis outage must not fail the change (other processes refresh revocations periodically).
    await ctx.pubsub.publish(REVOCATION_TOPIC, revocation).catch((err: unknown) => ctx.logger.warn({ err }, "revocation not announced; other processes pick it up on their next refresh"));
  }
  return tenant;
}

/**
 * Sets a tenant's audit retention override (days), or clears it with null (the plan's default applies again). A
 * tenant admin (tenant:manage) sets their own tenant's, from 30 days up; a platform operator
 * (platform:tenants:manage) names the tenant and may go down to 1 day. The change and its audit event commit
 * together; the audit service's retention job reads the effective value (`GET /internal/audit-retention`).
 */
export async function setAuditRetention(ctx: TenantsContext, days: number | null, tenantId?: string | null): Promise<Tenant> {
  let id: string;
  let min: number;
  if (ctx.platform) {
    requirePlatform(ctx, "platform:tenants:manage");
    if (!tenantId) throw Errors.badInput("tenantId is required for platform operators", "tenantId");
    id = tenantId;
    min = AUDIT_RETENTION_BOUNDS.platformMin;
  } else {
    const principal = requirePrincipal(ctx);
    if (!principal.permissions.includes("tenant:manage")) throw Errors.forbidden("Missing permission tenant:manage");
    if (tenantId != null && tenantId !== principal.tenantId) throw Errors.forbidden("tenantId is for platform operators");
    id = principal.tenantId;
    min = AUDIT_RETENTION_BOUNDS.tenantMin;
  }
  if (days !== null && (!Number.isInteger(days) || days < min || days > AUDIT_RETENTION_BOUNDS.max)) throw TenantErrors.badRetention(min, AUDIT_RETENTION_BOUNDS.max);
  return inTransaction(ctx, async (tx) => {
    const tenant = await findTenant(tx.em, id);
    if (tenant.status === TenantStatus.DELETED) throw TenantErrors.badTransition("DELETED", "updated");
    const before = { days: auditRetentionDays(tenant), override: tenant.auditRetentionOverrideDays ?? null };
    if (before.override === days) return tenant;
    tenant.auditRetentionOverrideDays = days;
    await tx.em.flush();
    await tx.audit.record(tx, {
      tenantId: tenant.id,
      action: "tenant.audit_retention.changed",
      targetType: "Tenant",
      targetId: tenant.id,
      changes: {
        auditRetentionDays: { before: before.days, after: auditRetentionDays(tenant) },
        auditRetentionOverrideDays: { before: before.override, after: days },
      },
    });
    return tenant;
  });
}

/** Every tenant whose data is still kept, with its effective audit retention (for the audit service's job). */
export async function auditRetentionPolicies(em: EntityManager): Promise<{ tenantId: string; days: number }[]> {
  const tenants = await em.find(Tenant, { purgedAt: null }, { ...ANY_TENANT, fields: ["id", "plan", "auditRetentionOverrideDays"], orderBy: { id: "asc" } });
  return tenants.map((t) => ({ tenantId: t.id, days: auditRetentionDays(t) }));
}

/** Lists tenants for platform operators: filters, search, keyset pagination on (createdAt, id). */
export async function listTenants(em: EntityManager, filter: TenantFilter | null | undefined, first: number, after?: string | null): Promise<TenantPage> {
  if (!Number.isInteger(first) || first < 1 || first > MAX_TENANT_PAGE) throw TenantErrors.badPageSize(MAX_TENANT_PAGE);
  const where: Record<string, unknown>[] = [];
  if (filter?.status) where.push({ status: filter.status });
  else if (!filter?.includeDeleted) where.push({ status: { $ne: TenantStatus.DELETED } });
  if (filter?.plan) where.push({ plan: filter.plan });
  if (filter?.search) {
    const like = `%${filter.search.trim().replace(/[\\%_]/g, "\\$&")}%`;
    where.push({ $or: [{ slug: { $ilike: like } }, { name: { $ilike: like } }] });
  }
  if (after) {
    const c = decodeCursor(after);
    where.push({ $or: [{ createdAt: { $gt: c.createdAt } }, { createdAt: c.createdAt, id: { $gt: c.id } }] });
  }
  const rows = await em.find(Tenant, { $and: where } as never, { ...ANY_TENANT, orderBy: { createdAt: "asc", id: "asc" }, limit: first + 1 });
  const nodes = rows.slice(0, first);
  const last = nodes.at(-1);
  return { nodes, pageInfo: { hasNextPage: rows.length > first, endCursor: last ? encodeCursor(last) : null } };
}

function encodeCursor(t: Tenant): string {
  return Buffer.from(JSON.stringify([t.createdAt.toISOString(), t.id])).toString("base64url");
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as [string, string];
    const date = new Date(createdAt);
    if (!isUuid(id) || Number.isNaN(date.getTime())) throw new Error();
    return { createdAt: date, id };
  } catch {
    throw TenantErrors.badCursor();
  }
}
