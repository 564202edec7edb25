import { Authorized, Ctx, FieldResolver, Query, Resolver, Root } from "type-graphql";
import { requirePrincipal } from "../../../kernel/auth.js";
import { Errors } from "../../../kernel/errors.js";
import type { TenantsContext } from "../context.js";
import { Permission, permissionsOf } from "../role/role.permissions.js";
import { Tenant } from "../tenant/tenant.entity.js";
import { User } from "./user.entity.js";

@Resolver(() => User)
export class UserResolver {
  @Authorized()
  @Query(() => User, { description: "The signed-in user." })
  async me(@Ctx() ctx: TenantsContext): Promise<User> {
    const { userId } = requirePrincipal(ctx);
    const user = await ctx.loaders.byId(User).load(userId);
    if (!user) throw Errors.unauthenticated("User no longer exists");
    return user;
  }

  @Authorized(Permission.USER_MANAGE)
  @Query(() => [User], { description: "Users of the caller's tenant." })
  users(@Ctx() ctx: TenantsContext): Promise<User[]> {
    return ctx.em.find(User, {}, { orderBy: { email: "asc" } });
  }

  @FieldResolver(() => Tenant)
  async tenant(@Root() user: User, @Ctx() ctx: TenantsContext): Promise<Tenant> {
    const tenant = await ctx.loaders.byId(Tenant).load(user.tenantId);
    if (!tenant) throw Errors.notFound("Tenant", user.tenantId);
    return tenant;
  }

  @FieldResolver(() => [String], { description: "Effective permissions from the user's roles." })
  permissions(@Root() user: User): string[] {
    return permissionsOf(user.roles);
  }
}

/** Federation entry point: the tenant filter makes another tenant's user resolve to null. */
export function resolveUserReference(ref: { id: string }, ctx: TenantsContext): Promise<User | null> {
  requirePrincipal(ctx);
  return ctx.loaders.byId(User).load(ref.id);
}
