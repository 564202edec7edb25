import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import { Audited } from "../../../kernel/audit-policy.js";
import { requirePrincipal } from "../../../kernel/auth.js";
import { Errors } from "../../../kernel/errors.js";
import type { TenantsContext } from "../context.js";
import { PLAN_LIMITS, PlanLimits, auditRetentionDays } from "./plans.js";
import { Tenant, TenantStatus } from "./tenant.entity.js";
import { CreateTenantInput, CreatedTenant, TenantFilter, TenantPage, UpdateTenantInput } from "./tenant.inputs.js";
import { createTenant, findTenant, listTenants, setAuditRetention, transitionTenant, updateTenant } from "./tenant.service.js";

const READ = "platform:read";
const MANAGE = "platform:tenants:manage";

@Resolver(() => Tenant)
export class TenantResolver {
  @Authorized()
  @Query(() => Tenant, { description: "The caller's tenant." })
  async tenant(@Ctx() ctx: TenantsContext): Promise<Tenant> {
    const { tenantId } = requirePrincipal(ctx);
    const tenant = await ctx.loaders.byId(Tenant).load(tenantId);
    if (!tenant) throw Errors.notFound("Tenant", tenantId);
    return tenant;
  }

  @FieldResolver(() => PlanLimits, { description: "What the tenant's plan allows" })
  limits(@Root() tenant: Tenant): PlanLimits {
    return PLAN_LIMITS[tenant.plan];
  }

  @FieldResolver(() => Int, { description: "Days the tenant's audit events are kept: its override, else its plan's default" })
  auditRetentionDays(@Root() tenant: Tenant): number {
    return auditRetentionDays(tenant);
  }

  @Audited("tenant.audit_retention.changed")
  @Mutation(() => Tenant, {
    description:
      "Sets how many days the tenant's audit events are kept (null: the plan's default). Tenant admins (tenant:manage) " +
      "set their own tenant's, 30 to 3650 days; platform operators (platform:tenants:manage) name the tenant, 1 to 3650 days. " +
      "Events older than that are deleted by the audit service's retention job; the hash chain stays verifiable.",
  })
  setAuditRetention(
    @Arg("days", () => Int, { nullable: true }) days: number | null,
    @Arg("tenantId", () => ID, { nullable: true, description: "Platform operators only: the tenant" }) tenantId: string | null,
    @Ctx() ctx: TenantsContext,
  ): Promise<Tenant> {
    return setAuditRetention(ctx, days ?? null, tenantId);
  }

  // Platform operations: the tenant is always named explicitly, and every change is audited on it.

  @Authorized(READ)
  @Query(() => TenantPage, { description: "Platform: all tenants, filtered and paged (keyset cursor)." })
  tenants(
    @Ctx() ctx: TenantsContext,
    @Arg("filter", () => TenantFilter, { nullable: true }) filter?: TenantFilter | null,
    @Arg("first", () => Int, { defaultValue: 50, description: "1 to 100" }) first: number = 50,
    @Arg("after", () => String, { nullable: true }) after?: string | null,
  ): Promise<TenantPage> {
    return listTenants(ctx.em, filter, first, after);
  }

  @Authorized(READ)
  @Query(() => Tenant, { description: "Platform: one tenant by id." })
  tenantById(@Arg("id", () => ID) id: string, @Ctx() ctx: TenantsContext): Promise<Tenant> {
    return findTenant(ctx.em, id);
  }

  @Authorized(MANAGE)
  @Audited("tenant.created")
  @Mutation(() => CreatedTenant, { description: "Platform: creates a tenant with its first admin." })
  createTenant(@Arg("input", () => CreateTenantInput) input: CreateTenantInput, @Ctx() ctx: TenantsContext): Promise<CreatedTenant> {
    return createTenant(ctx, input);
  }

  @Authorized(MANAGE)
  @Audited("tenant.updated")
  @Mutation(() => Tenant, { description: "Platform: renames a tenant or changes its plan." })
  updateTenant(@Arg("id", () => ID) id: string, @Arg("input", () => UpdateTenantInput) input: UpdateTenantInput, @Ctx() ctx: TenantsContext): Promise<Tenant> {
    return updateTenant(ctx, id, input);
  }

  @Authorized(MANAGE)
  @Audited("tenant.suspended")
  @Mutation(() => Tenant, { description: "Platform: suspends a tenant. Its tokens, API keys, sockets and jobs stop at once." })
  suspendTenant(@Arg("id", () => ID) id: string, @Arg("reason", () => String, { nullable: true }) reason: string | null, @Ctx() ctx: TenantsContext): Promise<Tenant> {
    return transitionTenant(ctx, id, TenantStatus.SUSPENDED, reason);
  }

  @Authorized(MANAGE)
  @Audited("tenant.activated")
  @Mutation(() => Tenant, { description: "Platform: activates a TRIAL or SUSPENDED tenant." })
  activateTenant(@Arg("id", () => ID) id: string, @Ctx() ctx: TenantsContext): Promise<Tenant> {
    return transitionTenant(ctx, id, TenantStatus.ACTIVE);
  }

  @Authorized(MANAGE)
  @Audited("tenant.deleted")
  @Mutation(() => Tenant, { description: "Platform: soft-deletes a tenant (refused at once; data purged after retention)." })
  deleteTenant(@Arg("id", () => ID) id: string, @Arg("reason", () => String, { nullable: true }) reason: string | null, @Ctx() ctx: TenantsContext): Promise<Tenant> {
    return transitionTenant(ctx, id, TenantStatus.DELETED, reason);
  }
}

/** Federation entry point: the tenant filter makes another tenant's id resolve to null. */
export function resolveTenantReference(ref: { id: string }, ctx: TenantsContext): Promise<Tenant | null> {
  requirePrincipal(ctx);
  return ctx.loaders.byId(Tenant).load(ref.id);
}
