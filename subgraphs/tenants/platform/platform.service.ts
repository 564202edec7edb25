import { randomUUID } from "node:crypto";
import type { EntityManager } from "@mikro-orm/postgresql";
import { flushOrConflict } from "../../../kernel/db.js";
import { Errors } from "../../../kernel/errors.js";
import { AuthErrors } from "../auth/auth.errors.js";
import type { PlatformAuthPayload, PlatformLoginInput } from "../auth/auth.inputs.js";
import { hashPassword, verifyPassword } from "../auth/password.js";
import type { TenantsContext } from "../context.js";
import { PLATFORM_PERMISSIONS, PlatformRole, PlatformUser } from "./platform-user.entity.js";

/** Signs in a platform operator. Failures are throttled like tenant logins (per account and IP). */
export async function platformLogin(ctx: TenantsContext, input: PlatformLoginInput): Promise<PlatformAuthPayload> {
  const email = input.email.trim().toLowerCase();
  if (!email || !input.password) throw Errors.badInput("email and password are required", !email ? "email" : "password");
  if (input.password.length > 1024) throw Errors.badInput("password too long", "password");
  const accountKey = `platform:${email}`;
  await ctx.throttle.assertAllowed(accountKey, ctx.client.ip);
  const operator = await ctx.em.findOne(PlatformUser, { email }, { populate: ["passwordHash"] as never });
  const ok = await verifyPassword(operator?.passwordHash, input.password);
  if (!operator || !ok || !operator.active) {
    ctx.logger.warn({ email, ip: ctx.client.ip, reason: !operator ? "unknown" : !ok ? "bad_password" : "inactive" }, "platform login failed");
    throw AuthErrors.invalidCredentials();
  }
  await ctx.throttle.succeeded(accountKey, ctx.client.ip);
  const { token, expiresAt } = await ctx.keyStore.signAccessToken(operator.id, {
    knd: "platform",
    email: operator.email,
    prl: operator.role,
    perms: PLATFORM_PERMISSIONS[operator.role],
  });
  ctx.logger.info({ operator: operator.id, ip: ctx.client.ip }, "platform login");
  return { accessToken: token, tokenType: "Bearer", expiresAt };
}

/** Creates a platform operator with a password (CLI and first setup). Email is unique: CONFLICT otherwise. */
export async function createPlatformUser(
  em: EntityManager,
  input: { email: string; displayName?: string; role: PlatformRole; password: string },
): Promise<PlatformUser> {
  const email = input.email.trim().toLowerCase();
  if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 320) throw Errors.badInput("email is not valid", "email");
  if (input.displayName !== undefined && (input.displayName.length < 1 || input.displayName.length > 200)) {
    throw Errors.badInput("displayName must be 1 to 200 characters", "displayName");
  }
  if (input.password.length < 12 || input.password.length > 1024) throw Errors.badInput("password must be 12 to 1024 characters", "password");
  const taken = () => Errors.conflict("A platform user with this email exists", "email");
  if (await em.findOne(PlatformUser, { email })) throw taken();
  const operator = em.create(PlatformUser, {
    id: randomUUID(),
    email,
    displayName: input.displayName ?? email,
    role: input.role,
    passwordHash: await hashPassword(input.password),
  });
  await flushOrConflict(em, taken);
  return operator;
}
