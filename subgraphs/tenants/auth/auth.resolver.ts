import { Arg, Ctx, Mutation, Resolver } from "type-graphql";
import type { TenantsContext } from "../context.js";
import { AuthPayload, LoginInput } from "./auth.inputs.js";
import { login } from "./auth.service.js";

@Resolver()
export class AuthResolver {
  @Mutation(() => AuthPayload, { description: "Signs in a tenant user; returns an access token (about 15 minutes)." })
  login(@Arg("input", () => LoginInput) input: LoginInput, @Ctx() ctx: TenantsContext): Promise<AuthPayload> {
    return login(ctx, input);
  }
}
