import { Arg, Authorized, Ctx, Mutation, Resolver } from "type-graphql";
import { Audited } from "../../../kernel/audit-policy.js";
import { requirePlatform, requirePrincipal } from "../../../kernel/auth.js";
import { Errors } from "../../../kernel/errors.js";
import { inTransaction, type TenantsContext } from "../context.js";
import { User } from "../user/user.entity.js";
import { AuthErrors } from "./auth.errors.js";
import { AuthPayload, ChangePasswordInput, LoginInput, PlatformAuthPayload, PlatformLoginInput, SigningKeyRotation } from "./auth.inputs.js";
import { login } from "./auth.service.js";
import { hashPassword, verifyPassword } from "./password.js";
import { platformLogin } from "../platform/platform.service.js";
import { announceRevocations, logout, refreshSession, revokeUserSessions, type Session } from "./session.service.js";

/** A signed-in person, not an API key (which has no password or sessions). */
function requireUser(ctx: TenantsContext) {
  const principal = requirePrincipal(ctx);
  if (principal.kind !== "user") throw Errors.forbidden("API keys have no sessions or password");
  return principal;
}

const asPayload = (s: Session): AuthPayload => ({ ...s, tokenType: "Bearer" });

@Resolver()
export class AuthResolver {
  @Audited("auth.login.succeeded", "auth.login.failed")
  @Mutation(() => AuthPayload, { description: "Signs in a tenant user: an access token (about 15 minutes) and a refresh token." })
  async login(@Arg("input", () => LoginInput) input: LoginInput, @Ctx() ctx: TenantsContext): Promise<AuthPayload> {
    return asPayload(await login(ctx, input));
  }

  @Audited("auth.refresh.reused")
  @Mutation(() => AuthPayload, { description: "Exchanges a refresh token for a new pair. Reusing a spent one ends the whole session." })
  async refreshSession(@Arg("refreshToken") refreshToken: string, @Ctx() ctx: TenantsContext): Promise<AuthPayload> {
    return asPayload(await refreshSession(ctx, refreshToken));
  }

  @Audited("auth.logout")
  @Mutation(() => Boolean, { description: "Ends the session the refresh token belongs to." })
  logout(@Arg("refreshToken") refreshToken: string, @Ctx() ctx: TenantsContext): Promise<boolean> {
    return logout(ctx, refreshToken);
  }

  @Authorized()
  @Audited("auth.logout.everywhere")
  @Mutation(() => Boolean, { description: "Ends every session of the signed-in user, on every device, at once." })
  async logoutEverywhere(@Ctx() ctx: TenantsContext): Promise<boolean> {
    const { userId } = requireUser(ctx);
    // The revocation and its audit event commit together; every process is told once they have.
    const revocation = await inTransaction(ctx, async (tx) => {
      const user = await tx.em.findOneOrFail(User, { id: userId });
      const revoked = await revokeUserSessions(tx, user);
      await tx.audit.record(tx, { action: "auth.logout.everywhere", targetType: "User", targetId: userId });
      return revoked;
    });
    await announceRevocations(ctx, [revocation]);
    return true;
  }

  @Authorized()
  @Audited("user.password.changed")
  @Mutation(() => Boolean, { description: "Changes the signed-in user's password and ends all their sessions (sign in again)." })
  async changePassword(@Arg("input", () => ChangePasswordInput) input: ChangePasswordInput, @Ctx() ctx: TenantsContext): Promise<boolean> {
    const { userId } = requireUser(ctx);
    if (input.newPassword.length < 12 || input.newPassword.length > 1024) throw AuthErrors.weakPassword();
    const user = await ctx.em.findOneOrFail(User, { id: userId }, { populate: ["passwordHash"] as never });
    if (!(await verifyPassword(user.passwordHash, input.currentPassword))) throw AuthErrors.wrongPassword();
    const passwordHash = await hashPassword(input.newPassword);
    // The new password, the ended sessions and the audit event commit together.
    const revocation = await inTransaction(ctx, async (tx) => {
      user.passwordHash = passwordHash;
      const revoked = await revokeUserSessions(tx, user);
      await tx.audit.record(tx, { action: "user.password.changed", targetType: "User", targetId: userId, changes: { password: { after: "[redacted]" } } });
      return revoked;
    });
    await announceRevocations(ctx, [revocation]);
    return true;
  }

  @Audited("platform.login.succeeded", "platform.login.failed")
  @Mutation(() => PlatformAuthPayload, { description: "Signs in a platform operator (recorded in the installation's audit trail)." })
  platformLogin(@Arg("input", () => PlatformLoginInput) input: PlatformLoginInput, @Ctx() ctx: TenantsContext): Promise<PlatformAuthPayload> {
    return platformLogin(ctx, input);
  }

  @Authorized("platform:keys:rotate")
  @Audited("platform.signing_key.rotated")
  @Mutation(() => SigningKeyRotation, { description: "Retires the token-signing key and starts a new one (old tokens stay valid until they expire)." })
  async rotateSigningKey(@Ctx() ctx: TenantsContext): Promise<SigningKeyRotation> {
    const operator = requirePlatform(ctx, "platform:keys:rotate");
    // The new key and its audit event (in the installation's trail) commit together.
    const result = await ctx.keyStore.rotate(ctx);
    ctx.logger.info({ kid: result.kid, by: operator.userId }, "signing key rotated");
    return result;
  }
}
