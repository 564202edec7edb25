import { randomBytes } from "node:crypto";
import { Arg, Authorized, Ctx, Field, ID, InputType, Mutation, ObjectType, Query, Resolver } from "type-graphql";
import { Audited } from "../../../kernel/audit-policy.js";
import { requirePlatform } from "../../../kernel/auth.js";
import { Errors } from "../../../kernel/errors.js";
import type { TenantsContext } from "../context.js";
import { PlatformRole, PlatformUser } from "./platform-user.entity.js";
import { createPlatformUser, deactivatePlatformUser } from "./platform.service.js";

@InputType()
export class CreatePlatformUserInput {
  @Field()
  email!: string;

  @Field(() => String, { nullable: true })
  displayName?: string | null;

  @Field(() => PlatformRole)
  role!: PlatformRole;

  @Field(() => String, { nullable: true, description: "Omit to generate one (returned once)" })
  password?: string | null;
}

@ObjectType()
export class CreatedPlatformUser {
  @Field(() => PlatformUser)
  user!: PlatformUser;

  @Field(() => String, { nullable: true, description: "The generated password; shown only in this response" })
  password?: string | null;
}

const MANAGE = "platform:operators:manage";

/** Platform operators managing each other (SUPER_ADMIN), and `platformMe`. */
@Resolver(() => PlatformUser)
export class PlatformUserResolver {
  @Authorized("platform:read")
  @Query(() => PlatformUser, { description: "The signed-in platform operator." })
  async platformMe(@Ctx() ctx: TenantsContext): Promise<PlatformUser> {
    const me = await ctx.em.findOne(PlatformUser, { id: requirePlatform(ctx).userId });
    if (!me) throw Errors.unauthenticated("Operator no longer exists");
    return me;
  }

  @Authorized(MANAGE)
  @Query(() => [PlatformUser])
  platformUsers(@Ctx() ctx: TenantsContext): Promise<PlatformUser[]> {
    return ctx.em.find(PlatformUser, {}, { orderBy: { email: "asc" } });
  }

  @Authorized(MANAGE)
  @Audited("platform.user.created")
  @Mutation(() => CreatedPlatformUser, { description: "Adds a platform operator (recorded in the installation's audit trail)." })
  async createPlatformUser(@Arg("input", () => CreatePlatformUserInput) input: CreatePlatformUserInput, @Ctx() ctx: TenantsContext): Promise<CreatedPlatformUser> {
    const operator = requirePlatform(ctx, MANAGE);
    const generated = input.password ? null : randomBytes(18).toString("base64url").replace(/[-_]/g, "").slice(0, 16);
    const user = await createPlatformUser(ctx.em, { email: input.email, displayName: input.displayName ?? undefined, role: input.role, password: input.password ?? generated! }, ctx);
    ctx.logger.info({ by: operator.userId, created: user.id, role: user.role }, "platform user created");
    return { user, password: generated };
  }

  @Authorized(MANAGE)
  @Audited("platform.user.deactivated")
  @Mutation(() => PlatformUser, { description: "Disables an operator and ends their sessions at once (recorded in the installation's audit trail)." })
  deactivatePlatformUser(@Arg("id", () => ID) id: string, @Ctx() ctx: TenantsContext): Promise<PlatformUser> {
    return deactivatePlatformUser(ctx, id);
  }
}
