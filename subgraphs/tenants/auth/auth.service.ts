import { permissionsOf } from "../role/role.permissions.js";
import { Errors } from "../../../kernel/errors.js";
import { Tenant, TenantStatus } from "../tenant/tenant.entity.js";
import { User, UserStatus } from "../user/user.entity.js";
import type { TenantsContext } from "../context.js";
import { AuthErrors } from "./auth.errors.js";
import type { AuthPayload, LoginInput } from "./auth.inputs.js";
import { verifyPassword } from "./password.js";

const NO_TENANT_FILTER = { filters: { tenant: false } } as const;

/** Verifies credentials and issues an access token. Every attempt is audited. */
export async function login(ctx: TenantsContext, input: LoginInput): Promise<AuthPayload> {
  const slug = input.tenant.trim().toLowerCase();
  const email = input.email.trim().toLowerCase();
  if (!slug || !email || !input.password) throw Errors.badInput("tenant, email and password are required");
  if (input.password.length > 1024) throw Errors.badInput("password too long", "password");

  // Login happens before we know the tenant: the lookups lift the tenant filter explicitly.
  const tenant = await ctx.em.findOne(Tenant, { slug }, NO_TENANT_FILTER);
  const user = tenant
    ? await ctx.em.findOne(User, { tenantId: tenant.id, email }, { ...NO_TENANT_FILTER, populate: ["passwordHash"] as never })
    : null;
  const ok = await verifyPassword(user?.passwordHash, input.password);
  const fail = async (reason: string, error: Error) => {
    if (tenant) {
      await ctx.audit.record(ctx, {
        tenantId: tenant.id,
        actorType: user ? "USER" : "ANONYMOUS",
        actorId: user?.id ?? null,
        action: "auth.login.failed",
        targetType: "User",
        targetId: user?.id ?? null,
        metadata: { reason, email },
      });
    }
    return error;
  };
  if (!tenant || !user || !ok) throw await fail(!user ? "unknown_user" : "bad_password", AuthErrors.invalidCredentials());
  if (user.status !== UserStatus.ACTIVE) throw await fail("user_disabled", AuthErrors.userDisabled());
  if (tenant.status === TenantStatus.SUSPENDED || tenant.status === TenantStatus.DELETED) {
    throw await fail("tenant_suspended", Errors.tenantSuspended());
  }

  user.lastLoginAt = new Date();
  await ctx.em.flush();
  const { token, expiresAt } = await ctx.keyStore.signAccessToken(user.id, {
    tid: tenant.id,
    email: user.email,
    roles: user.roles,
    perms: permissionsOf(user.roles),
  });
  await ctx.audit.record(ctx, {
    tenantId: tenant.id,
    actorType: "USER",
    actorId: user.id,
    action: "auth.login.succeeded",
    targetType: "User",
    targetId: user.id,
  });
  return { accessToken: token, tokenType: "Bearer", expiresAt, user };
}
