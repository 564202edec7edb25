import { createUnionType, Ctx, Query, Resolver } from "type-graphql";
import { Errors } from "../../../kernel/errors.js";
import type { TenantsContext } from "../context.js";
import { PlatformUser } from "../platform/platform-user.entity.js";
import { User } from "../user/user.entity.js";
import { ApiKey } from "./api-key.entity.js";

/** Whoever a token speaks for. */
export const Viewer = createUnionType({
  name: "Viewer",
  description: "Whoever the token speaks for: a signed-in tenant user, an API key (machine client) or a platform operator.",
  types: () => [User, ApiKey, PlatformUser] as const,
  resolveType: (value) => (value instanceof ApiKey ? ApiKey : value instanceof PlatformUser ? PlatformUser : User),
});

@Resolver()
export class ViewerResolver {
  /**
   * Answers for every kind of caller (`me` is a tenant user's own query: an API key or an operator asking it gets
   * FORBIDDEN). Not `@Authorized()`: that refuses platform operators on tenant fields, and this one serves them too.
   */
  @Query(() => Viewer, {
    description: "Who is calling: `User` for a signed-in user, `ApiKey` for an API key (its name and scopes), `PlatformUser` for an operator.",
  })
  async viewer(@Ctx() ctx: TenantsContext): Promise<typeof Viewer> {
    if (ctx.platform) {
      const operator = await ctx.em.findOne(PlatformUser, { id: ctx.platform.userId });
      if (!operator) throw Errors.unauthenticated("Operator no longer exists");
      return operator;
    }
    const principal = ctx.principal;
    if (!principal) throw Errors.unauthenticated();
    if (principal.kind === "api_key") {
      const key = await ctx.em.findOne(ApiKey, { id: principal.userId });
      if (!key) throw Errors.unauthenticated("API key no longer exists");
      return key;
    }
    const user = await ctx.loaders.byId(User).load(principal.userId);
    if (!user) throw Errors.unauthenticated("User no longer exists");
    return user;
  }
}
