import { randomUUID } from "node:crypto";
import type { EntityManager } from "@mikro-orm/postgresql";
import { Errors } from "../../../kernel/errors.js";
import { REVOCATION_TOPIC, type Revocation } from "../../../kernel/revocations.js";
import type { TenantsContext } from "../context.js";
import { permissionsOf } from "../role/role.permissions.js";
import { Tenant, TenantStatus } from "../tenant/tenant.entity.js";
import { User, UserStatus } from "../user/user.entity.js";
import { AuthErrors } from "./auth.errors.js";
import { RefreshToken } from "./refresh-token.entity.js";
import { formatRefreshToken, hashSecret, newSecret, parseRefreshToken, sameHash } from "./tokens.js";

/** Refresh tokens live 30 days; each use replaces it. */
export const REFRESH_TOKEN_TTL_MS = 30 * 24 * 3600 * 1000;
const NO_TENANT_FILTER = { filters: { tenant: false } } as const;

/** An access token plus the refresh token that renews it. */
export interface Session {
  accessToken: string;
  expiresAt: Date;
  refreshToken: string;
  refreshExpiresAt: Date;
  user: User;
}

/** Resolves a user's permissions from their roles (custom roles come from the roles feature when wired). */
export type PermissionResolver = (em: EntityManager, tenantId: string, roles: string[]) => Promise<string[]>;
export const staticPermissions: PermissionResolver = async (_em, _tenantId, roles) => permissionsOf(roles);

/** Signs an access token and opens (or continues) a refresh-token family. */
export async function issueSession(ctx: TenantsContext, tenant: Tenant, user: User, familyId: string = randomUUID()): Promise<Session> {
  const permissions = await ctx.permissions(ctx.em, tenant.id, user.roles);
  const { token, expiresAt } = await ctx.keyStore.signAccessToken(user.id, {
    knd: "user",
    tid: tenant.id,
    email: user.email,
    roles: user.roles,
    perms: permissions,
    plan: tenant.plan,
  });
  const secret = newSecret();
  const refresh = ctx.em.create(RefreshToken, {
    id: randomUUID(),
    familyId,
    tenantId: tenant.id,
    userId: user.id,
    secretHash: hashSecret(secret),
    expiresAt: new Date(Date.now() + REFRESH_TOKEN_TTL_MS),
  });
  await ctx.em.flush();
  return { accessToken: token, expiresAt, refreshToken: formatRefreshToken(refresh.id, secret), refreshExpiresAt: refresh.expiresAt, user };
}

/**
 * Rotates a refresh token: the presented one is spent and a new one in the same family is returned. A spent or
 * revoked token presented again means it was copied: the whole family is revoked and the reuse audited.
 */
export async function refreshSession(ctx: TenantsContext, presented: string): Promise<Session> {
  const parsed = parseRefreshToken(presented);
  if (!parsed) throw AuthErrors.invalidRefreshToken();
  const em = ctx.em;
  const outcome = await em.transactional(async (tx) => {
    const row = await tx.findOne(RefreshToken, { id: parsed.id }, { lockMode: "pessimistic_write" as never, populate: ["secretHash"] as never });
    if (!row || !sameHash(row.secretHash, hashSecret(parsed.secret))) return { kind: "invalid" as const };
    // Spent by an earlier rotation and presented again: a copy is in someone else's hands.
    if (row.usedAt) {
      await tx.nativeUpdate(RefreshToken, { familyId: row.familyId, revokedAt: null }, { revokedAt: new Date() });
      return { kind: "reused" as const, row };
    }
    // Ended by logout, a password change or an earlier reuse: simply invalid.
    if (row.revokedAt || row.expiresAt.getTime() <= Date.now()) return { kind: "invalid" as const };
    // Checked before the token is spent, so a refused refresh (suspended tenant) leaves the session usable later.
    const tenant = await tx.findOne(Tenant, { id: row.tenantId }, NO_TENANT_FILTER);
    const user = await tx.findOne(User, { id: row.userId, tenantId: row.tenantId }, NO_TENANT_FILTER);
    if (!tenant || !user || user.status !== UserStatus.ACTIVE) return { kind: "invalid" as const };
    if (user.tokensValidAfter && row.createdAt < user.tokensValidAfter) return { kind: "invalid" as const };
    if (tenant.status === TenantStatus.SUSPENDED || tenant.status === TenantStatus.DELETED) return { kind: "suspended" as const };
    row.usedAt = new Date();
    return { kind: "ok" as const, row, tenant, user };
  });
  if (outcome.kind === "invalid") throw AuthErrors.invalidRefreshToken();
  if (outcome.kind === "suspended") throw Errors.tenantSuspended();
  const { row } = outcome;
  if (outcome.kind === "reused") {
    await ctx.audit.record(ctx, {
      tenantId: row.tenantId,
      actorType: "USER",
      actorId: row.userId,
      action: "auth.refresh.reused",
      targetType: "User",
      targetId: row.userId,
      metadata: { familyId: row.familyId, ip: ctx.client.ip ?? null },
    });
    throw AuthErrors.invalidRefreshToken();
  }
  const { tenant, user } = outcome;
  return issueSession(ctx, tenant, user, row.familyId);
}

/** Ends the session of a refresh token (its whole family). Unknown tokens are ignored: logout is idempotent. */
export async function logout(ctx: TenantsContext, presented: string): Promise<boolean> {
  const parsed = parseRefreshToken(presented);
  if (!parsed) return true;
  const row = await ctx.em.findOne(RefreshToken, { id: parsed.id }, { populate: ["secretHash"] as never });
  if (!row || !sameHash(row.secretHash, hashSecret(parsed.secret))) return true;
  await ctx.em.nativeUpdate(RefreshToken, { familyId: row.familyId, revokedAt: null }, { revokedAt: new Date() });
  await ctx.audit.record(ctx, { tenantId: row.tenantId, actorType: "USER", actorId: row.userId, action: "auth.logout", targetType: "User", targetId: row.userId });
  return true;
}

/**
 * Revokes every session of a user: refresh tokens now, access tokens in every service at once (a revocation event
 * and `tokensValidAfter`, which every service's revocation list checks).
 */
export async function revokeUserSessions(ctx: TenantsContext, user: User): Promise<void> {
  const now = new Date();
  user.tokensValidAfter = now;
  await ctx.em.nativeUpdate(RefreshToken, { userId: user.id, revokedAt: null }, { revokedAt: now });
  await ctx.em.flush();
  const revocation: Revocation = { kind: "user", userId: user.id, notBefore: now.getTime() };
  await ctx.pubsub.publish(REVOCATION_TOPIC, revocation);
}
