import { PLATFORM_AUDIT_TRAIL } from "../../../kernel/audit.js";
import { Errors } from "../../../kernel/errors.js";
import { inTransaction, type TenantsContext } from "../context.js";
import { Tenant, TenantStatus } from "../tenant/tenant.entity.js";
import { User, UserStatus } from "../user/user.entity.js";
import { AuthErrors } from "./auth.errors.js";
import type { LoginInput } from "./auth.inputs.js";
import { verifyPassword } from "./password.js";
import { issueSession, type Session } from "./session.service.js";

const NO_TENANT_FILTER = { filters: { tenant: false } } as const;

/** Verifies credentials and opens a session. Every attempt is audited; failures are throttled per account and IP. */
export async function login(ctx: TenantsContext, input: LoginInput): Promise<Session> {
  const slug = input.tenant.trim().toLowerCase();
  const email = input.email.trim().toLowerCase();
  if (!slug) throw Errors.badInput("tenant is required", "tenant");
  if (!email) throw Errors.badInput("email is required", "email");
  if (!input.password) throw Errors.badInput("password is required", "password");
  if (input.password.length > 1024) throw Errors.badInput("password too long", "password");
  const accountKey = `${slug}:${email}`;
  await ctx.throttle.assertAllowed(accountKey, ctx.client.ip);

  // Login happens before we know the tenant: the lookups lift the tenant filter explicitly.
  const tenant = await ctx.em.findOne(Tenant, { slug }, NO_TENANT_FILTER);
  const user = tenant
    ? await ctx.em.findOne(User, { tenantId: tenant.id, email }, { ...NO_TENANT_FILTER, populate: ["passwordHash"] as never })
    : null;
  const ok = await verifyPassword(user?.passwordHash, input.password);
  // `on` is the context to record through: the caller's for failures (nothing to commit with, recorded on their own),
  // the session's transaction for a success (the session and its event commit together).
  // An attempt on a tenant that does not exist goes to the installation's own trail (platform operators see it).
  const audit = (action: string, reason?: string, on: TenantsContext = ctx) =>
    on.audit.record(on, {
      tenantId: tenant?.id ?? PLATFORM_AUDIT_TRAIL,
      actorType: user ? "USER" : "ANONYMOUS",
      actorId: user?.id ?? null,
      action,
      targetType: "User",
      targetId: user?.id ?? null,
      metadata: {
        ...(reason ? { reason, email } : {}),
        ...(tenant ? {} : { tenant: slug.slice(0, 63) }),
        ip: ctx.client.ip ?? null,
        userAgent: ctx.client.userAgent ?? null,
      },
    });
  // The attempt was already counted by the throttle; a failure only needs its audit event.
  const fail = async (reason: string, error: Error) => {
    await audit("auth.login.failed", reason);
    return error;
  };
  if (!tenant || !user || !ok) throw await fail(!tenant ? "unknown_tenant" : !user ? "unknown_user" : "bad_password", AuthErrors.invalidCredentials());
  if (user.status !== UserStatus.ACTIVE) throw await fail("user_disabled", AuthErrors.userDisabled());
  if (tenant.status === TenantStatus.SUSPENDED || tenant.status === TenantStatus.DELETED) {
    throw await fail("tenant_suspended", Errors.tenantSuspended());
  }
  await ctx.throttle.succeeded(accountKey, ctx.client.ip);
  return inTransaction(ctx, async (tx) => {
    user.lastLoginAt = new Date();
    const session = await issueSession(tx, tenant, user);
    await audit("auth.login.succeeded", undefined, tx);
    return session;
  });
}
