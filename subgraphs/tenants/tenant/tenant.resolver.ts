import { Authorized, Ctx, Query, Resolver } from "type-graphql";
import { requirePrincipal } from "../../../kernel/auth.js";
import { Errors } from "../../../kernel/errors.js";
import type { TenantsContext } from "../context.js";
import { Tenant } from "./tenant.entity.js";

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
}

/** Federation entry point: the tenant filter makes another tenant's id resolve to null. */
export function resolveTenantReference(ref: { id: string }, ctx: TenantsContext): Promise<Tenant | null> {
  requirePrincipal(ctx);
  return ctx.loaders.byId(Tenant).load(ref.id);
}
