import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import { Audited } from "../../../kernel/audit-policy.js";
import { requirePrincipal } from "../../../kernel/auth.js";
import { appError, ErrorCode, Errors } from "../../../kernel/errors.js";
import type { TenantsContext } from "../context.js";
import { Tenant } from "../tenant/tenant.entity.js";
import { User } from "./user.entity.js";
import { AcceptInvitationInput, CreateUserInput, CreatedUser, UserPage } from "./user.inputs.js";
import { acceptInvitation, createUser, listUsers, setUserActive } from "./user.service.js";

const MANAGE = "user:manage";

@Resolver(() => User)
export class UserResolver {
  @Authorized()
  @Query(() => User, { description: "The signed-in user. An API key is not a user: it gets FORBIDDEN (`reason: NOT_A_USER`); ask `viewer`." })
  async me(@Ctx() ctx: TenantsContext): Promise<User> {
    const { userId, kind } = requirePrincipal(ctx);
    // Not UNAUTHENTICATED: the key is valid (a client would sign in again for nothing); it is just not a user.
    if (kind === "api_key") throw appError(ErrorCode.FORBIDDEN, "An API key is not a user: query `viewer` to see who is calling", { reason: "NOT_A_USER" });
    const user = await ctx.loaders.byId(User).load(userId);
    if (!user) throw Errors.unauthenticated("User no longer exists");
    return user;
  }

  @Authorized(MANAGE)
  @Query(() => UserPage, { description: "Users of the caller's tenant, by email." })
  users(
    @Ctx() ctx: TenantsContext,
    @Arg("first", () => Int, { defaultValue: 50, description: "1 to 200" }) first: number,
    @Arg("after", () => String, { nullable: true }) after?: string | null,
    @Arg("search", () => String, { nullable: true }) search?: string | null,
  ): Promise<UserPage> {
    return listUsers(ctx, first, after, search);
  }

  @Authorized(MANAGE)
  @Audited("user.created", "user.invited")
  @Mutation(() => CreatedUser, { description: "Adds a user with a password, or invites them (one-time token)." })
  createUser(@Arg("input", () => CreateUserInput) input: CreateUserInput, @Ctx() ctx: TenantsContext): Promise<CreatedUser> {
    return createUser(ctx, requirePrincipal(ctx).tenantId, input);
  }

  @Audited("user.invitation.accepted")
  @Mutation(() => User, { description: "An invited user sets their password; then they can sign in." })
  acceptInvitation(@Arg("input", () => AcceptInvitationInput) input: AcceptInvitationInput, @Ctx() ctx: TenantsContext): Promise<User> {
    return acceptInvitation(ctx, input);
  }

  @Authorized(MANAGE)
  @Audited("user.deactivated", "api_key.revoked")
  @Mutation(() => User, { description: "Disables a user and ends their sessions at once." })
  deactivateUser(@Arg("id", () => ID) id: string, @Ctx() ctx: TenantsContext): Promise<User> {
    return setUserActive(ctx, id, false);
  }

  @Authorized(MANAGE)
  @Audited("user.reactivated")
  @Mutation(() => User)
  reactivateUser(@Arg("id", () => ID) id: string, @Ctx() ctx: TenantsContext): Promise<User> {
    return setUserActive(ctx, id, true);
  }

  @FieldResolver(() => Tenant)
  async tenant(@Root() user: User, @Ctx() ctx: TenantsContext): Promise<Tenant> {
    const tenant = await ctx.loaders.byId(Tenant).load(user.tenantId);
    if (!tenant) throw Errors.notFound("Tenant", user.tenantId);
    return tenant;
  }

  @FieldResolver(() => [String], { description: "Effective permissions from the user's roles." })
  permissions(@Root() user: User, @Ctx() ctx: TenantsContext): Promise<string[]> {
    return ctx.permissions(ctx.em, user.tenantId, user.roles);
  }
}

/** Federation entry point: the tenant filter makes another tenant's user resolve to null. */
export function resolveUserReference(ref: { id: string }, ctx: TenantsContext): Promise<User | null> {
  requirePrincipal(ctx);
  return ctx.loaders.byId(User).load(ref.id);
}
