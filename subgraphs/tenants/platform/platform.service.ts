import { randomUUID } from "node:crypto";
import type { EntityManager } from "@mikro-orm/postgresql";
import { PLATFORM_AUDIT_TRAIL } from "../../../kernel/audit.js";
import { requirePlatform } from "../../../kernel/auth.js";
import { orConflict } from "../../../kernel/db.js";
import { isUuid } from "../../../kernel/loaders.js";
import type { Revocation } from "../../../kernel/revocations.js";
import { Errors } from "../../../kernel/errors.js";
import { AuthErrors } from "../auth/auth.errors.js";
import type { PlatformAuthPayload, PlatformLoginInput } from "../auth/auth.inputs.js";
import { hashPassword, verifyPassword } from "../auth/password.js";
import { inTransaction, systemAuditor, type Auditor, type TenantsContext } from "../context.js";
import { announceRevocations } from "../auth/session.service.js";
import { PLATFORM_PERMISSIONS, PlatformRole, PlatformUser } from "./platform-user.entity.js";

/**
 * Signs in a platform operator. Failures are throttled like tenant logins (per account and IP). Every attempt is
 * recorded in the installation's audit trail (an operator belongs to no tenant); a failure has no change to commit
 * with, so it is recorded on its own.
 */
export async function platformLogin(ctx: TenantsContext, input: PlatformLoginInput): Promise<PlatformAuthPayload> {
  const email = input.email.trim().toLowerCase();
  if (!email || !input.password) throw Errors.badInput("email and password are required", !email ? "email" : "password");
  if (input.password.length > 1024) throw Errors.badInput("password too long", "password");
  const accountKey = `platform:${email}`;
  await ctx.throttle.assertAllowed(accountKey, ctx.client.ip);
  const operator = await ctx.em.findOne(PlatformUser, { email }, { populate: ["passwordHash"] as never });
  const ok = await verifyPassword(operator?.passwordHash, input.password);
  const record = (action: string, reason?: string) =>
    ctx.audit.record(ctx, {
      tenantId: PLATFORM_AUDIT_TRAIL,
      actorType: operator ? "PLATFORM_USER" : "ANONYMOUS",
      actorId: operator?.id ?? null,
      action,
      targetType: "PlatformUser",
      targetId: operator?.id ?? null,
      metadata: reason ? { reason, email } : null,
    });
  if (!operator || !ok || !operator.active) {
    const reason = !operator ? "unknown_user" : !ok ? "bad_password" : "user_disabled";
    ctx.logger.warn({ email, ip: ctx.client.ip, reason }, "platform login failed");
    await record("platform.login.failed", reason);
    throw AuthErrors.invalidCredentials();
  }
  await ctx.throttle.succeeded(accountKey, ctx.client.ip);
  const { token, expiresAt } = await ctx.keyStore.signAccessToken(operator.id, {
    knd: "platform",
    email: operator.email,
    prl: operator.role,
    perms: PLATFORM_PERMISSIONS[operator.role],
  });
  // Nothing is stored by a sign-in: the event is the only write (a token is not handed out unless it is recorded).
  await record("platform.login.succeeded");
  ctx.logger.info({ operator: operator.id, ip: ctx.client.ip }, "platform login");
  return { accessToken: token, tokenType: "Bearer", expiresAt };
}

/**
 * Creates a platform operator with a password (GraphQL, CLI and first setup). Email is unique: CONFLICT otherwise. The
 * operator and the audit event (in the installation's trail, by `by`: the calling operator, or the installation
 * itself when called without a request) commit together.
 */
export async function createPlatformUser(
  em: EntityManager,
  input: { email: string; displayName?: string; role: PlatformRole; password: string },
  by: Auditor = systemAuditor(),
): Promise<PlatformUser> {
  const email = input.email.trim().toLowerCase();
  if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 320) throw Errors.badInput("email is not valid", "email");
  if (input.displayName !== undefined && (input.displayName.length < 1 || input.displayName.length > 200)) {
    throw Errors.badInput("displayName must be 1 to 200 characters", "displayName");
  }
  if (input.password.length < 12 || input.password.length > 1024) throw Errors.badInput("password must be 12 to 1024 characters", "password");
  const taken = () => Errors.conflict("A platform user with this email exists", "email");
  const passwordHash = await hashPassword(input.password);
  return orConflict(
    () =>
      em.transactional(async (tx) => {
        if (await tx.findOne(PlatformUser, { email })) throw taken();
        const operator = tx.create(PlatformUser, { id: randomUUID(), email, displayName: input.displayName ?? email, role: input.role, passwordHash });
        await tx.flush();
        await by.audit.record(
          { ...by, em: tx },
          {
            tenantId: PLATFORM_AUDIT_TRAIL,
            action: "platform.user.created",
            targetType: "PlatformUser",
            targetId: operator.id,
            changes: { email: { after: email }, role: { after: operator.role } },
          },
        );
        return operator;
      }),
    taken,
  );
}

/**
 * Disables an operator and ends their sessions. The change and its audit event (in the installation's trail) commit
 * together; every process is told to refuse the operator's tokens once they have.
 */
export async function deactivatePlatformUser(ctx: TenantsContext, id: string): Promise<PlatformUser> {
  const operator = requirePlatform(ctx, "platform:operators:manage");
  const { user, revocation } = await inTransaction(ctx, async (tx) => {
    const user = isUuid(id) ? await tx.em.findOne(PlatformUser, { id }) : null;
    if (!user) throw Errors.notFound("PlatformUser", id);
    if (user.id === operator.userId) throw Errors.conflict("You cannot deactivate yourself", "id");
    if (!user.active) return { user, revocation: null };
    user.active = false;
    user.tokensValidAfter = new Date();
    await tx.em.flush();
    await tx.audit.record(tx, {
      tenantId: PLATFORM_AUDIT_TRAIL,
      action: "platform.user.deactivated",
      targetType: "PlatformUser",
      targetId: user.id,
      changes: { active: { before: true, after: false } },
    });
    const revocation: Revocation = { kind: "user", userId: user.id, notBefore: user.tokensValidAfter.getTime() };
    return { user, revocation };
  });
  if (revocation) {
    await announceRevocations(ctx, [revocation]);
    ctx.logger.info({ by: operator.userId, deactivated: user.id }, "platform user deactivated");
  }
  return user;
}
