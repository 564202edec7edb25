import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver } from "type-graphql";
import { Audited } from "../../../kernel/audit-policy.js";
import type { TenantsContext } from "../context.js";
import { ApiKey } from "./api-key.entity.js";
import { CreateApiKeyInput, CreatedApiKey, createApiKey, revokeApiKey } from "./api-key.service.js";

const MANAGE = "tenant:manage";

@Resolver(() => ApiKey)
export class ApiKeyResolver {
  @Authorized(MANAGE)
  @Query(() => [ApiKey], { description: "The tenant's API keys (never their secrets)." })
  apiKeys(@Ctx() ctx: TenantsContext): Promise<ApiKey[]> {
    return ctx.em.find(ApiKey, {}, { orderBy: { createdAt: "desc" } });
  }

  @Authorized(MANAGE)
  @Audited("api_key.created")
  @Mutation(() => CreatedApiKey, { description: "Creates an API key; its secret is returned only here." })
  createApiKey(@Arg("input", () => CreateApiKeyInput) input: CreateApiKeyInput, @Ctx() ctx: TenantsContext): Promise<CreatedApiKey> {
    return createApiKey(ctx, input);
  }

  @Authorized(MANAGE)
  @Audited("api_key.revoked")
  @Mutation(() => ApiKey, { description: "Revokes an API key at once." })
  revokeApiKey(@Arg("id", () => ID) id: string, @Ctx() ctx: TenantsContext): Promise<ApiKey> {
    return revokeApiKey(ctx, id);
  }
}
