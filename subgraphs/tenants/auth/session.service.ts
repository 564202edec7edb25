import { randomUUID } from "node:crypto";
import { LockMode } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/postgresql";
import { Errors } from "../../../kernel/errors.js";
import { REVOCATION_TOPIC, type Revocation } from "../../../kernel/revocations.js";
import { inTransaction, type TenantsContext } from "../context.js";
import { permissionsOf } from "../role/role.permissions.js";
import { Tenant, TenantStatus } from "../tenant/tenant.entity.js";
import { User, UserStatus } from "../user/user.entity.js";
import { ApiKey } from "./api-key.entity.js";
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

/**
 * Signs an access token and opens (or continues) a refresh-token family. Call inside a transaction (login and refresh
 * do): the token carries the user's roles and permissions as committed now, read with the user's row locked until the
 * session commits. A change that shrinks them ({@link revokeAccessTokens}) therefore either waits for this commit and
 * then refuses the token signed here, or commits first and this reads the new roles. (FOR UPDATE, not FOR SHARE: a
 * sign-in also writes the row, and two sharing the lock would deadlock upgrading it; they queue instead.)
 */
export async function issueSession(ctx: TenantsContext, tenant: Tenant, user: User, familyId: string = randomUUID()): Promise<Session> {
  const current = await ctx.em
    .createQueryBuilder(User)
    .select(["roles"])
    .where({ id: user.id, tenantId: tenant.id })
    .setLockMode(LockMode.PESSIMISTIC_WRITE)
    .execute("get");
  const roles: string[] = current?.roles ?? user.roles;
  const permissions = await ctx.permissions(ctx.em, tenant.id, roles);
  const { token, expiresAt } = await ctx.keyStore.signAccessToken(user.id, {
    knd: "user",
    tid: tenant.id,
    email: user.email,
    roles,
    perms: permissions,
    plan: tenant.plan,
    // The session: logout and reuse detection end its access tokens at once, everywhere (see endSession).
    sid: familyId,
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
  // One transaction: the spent token and the next one (or, on reuse, the family's revocation and its audit event)
  // commit together.
  const outcome = await inTransaction(ctx, async (tx) => {
    const row = await tx.em.findOne(RefreshToken, { id: parsed.id }, { lockMode: "pessimistic_write" as never, populate: ["secretHash"] as never });
    if (!row || !sameHash(row.secretHash, hashSecret(parsed.secret))) return { kind: "invalid" as const };
    // Spent by an earlier rotation and presented again: a copy is in someone else's hands.
    if (row.usedAt) {
      const revocation = await endSession(tx.em, row.familyId);
      await tx.audit.record(tx, {
        tenantId: row.tenantId,
        actorType: "USER",
        actorId: row.userId,
        action: "auth.refresh.reused",
        targetType: "User",
        targetId: row.userId,
        metadata: { familyId: row.familyId, ip: ctx.client.ip ?? null },
      });
      return { kind: "reused" as const, revocation };
    }
    // Ended by logout, a password change or an earlier reuse: simply invalid.
    if (row.revokedAt || row.expiresAt.getTime() <= Date.now()) return { kind: "invalid" as const };
    // Checked before the token is spent, so a refused refresh (suspended tenant) leaves the session usable later.
    const tenant = await tx.em.findOne(Tenant, { id: row.tenantId }, NO_TENANT_FILTER);
    const user = await tx.em.findOne(User, { id: row.userId, tenantId: row.tenantId }, NO_TENANT_FILTER);
    if (!tenant || !user || user.status !== UserStatus.ACTIVE) return { kind: "invalid" as const };
    if (user.tokensValidAfter && row.createdAt < user.tokensValidAfter) return { kind: "invalid" as const };
    if (tenant.status === TenantStatus.SUSPENDED || tenant.status === TenantStatus.DELETED) return { kind: "suspended" as const };
    row.usedAt = new Date();
    return { kind: "ok" as const, session: await issueSession(tx, tenant, user, row.familyId) };
  });
  // Once committed: the session's access tokens stop in every process, its open sockets close.
  if (outcome.kind === "reused") await announceRevocations(ctx, [outcome.revocation]);
  if (outcome.kind === "invalid" || outcome.kind === "reused") throw AuthErrors.invalidRefreshToken();
  if (outcome.kind === "suspended") throw Errors.tenantSuspended();
  return outcome.session;
}

/**
 * Ends a session (a refresh-token family) through `em` (inside the caller's transaction): its refresh tokens now, its
 * access tokens (which name it in `sid`) in every process once the returned revocation is announced with
 * {@link announceRevocations} after the commit. Processes that miss the announcement learn it from the revocation
 * snapshot (sessions whose refresh tokens were revoked recently).
 */
export async function endSession(em: EntityManager, familyId: string): Promise<Revocation> {
  const now = new Date();
  await em.nativeUpdate(RefreshToken, { familyId, revokedAt: null }, { revokedAt: now });
  return { kind: "session", sessionId: familyId, revokedAt: now.getTime() };
}

/**
 * Ends the session of a refresh token (its whole family, and the access tokens issued for it, at once). Unknown tokens
 * are ignored: logout is idempotent.
 */
export async function logout(ctx: TenantsContext, presented: string): Promise<boolean> {
  const parsed = parseRefreshToken(presented);
  if (!parsed) return true;
  // The family's revocation and its audit event commit together.
  const revocation = await inTransaction(ctx, async (tx) => {
    const row = await tx.em.findOne(RefreshToken, { id: parsed.id }, { populate: ["secretHash"] as never });
    if (!row || !sameHash(row.secretHash, hashSecret(parsed.secret))) return null;
    const ended = await endSession(tx.em, row.familyId);
    await tx.audit.record(tx, { tenantId: row.tenantId, actorType: "USER", actorId: row.userId, action: "auth.logout", targetType: "User", targetId: row.userId });
    return ended;
  });
  if (revocation) await announceRevocations(ctx, [revocation]);
  return true;
}

/**
 * Revokes every session of a user: refresh tokens now (through `em`, so inside the caller's transaction), access tokens
 * in every service at once once the returned revocation is announced with {@link announceRevocations} after the
 * commit (every service's revocation list also checks `tokensValidAfter`, set here).
 */
export async function revokeUserSessions(ctx: Pick<TenantsContext, "em">, user: User): Promise<Revocation> {
  const now = new Date();
  user.tokensValidAfter = now;
  await ctx.em.nativeUpdate(RefreshToken, { userId: user.id, revokedAt: null }, { revokedAt: now });
  await ctx.em.flush();
  return { kind: "user", userId: user.id, notBefore: now.getTime() };
}

/**
 * Ends the access tokens, not the sessions, of users whose permissions just shrank (a role taken away, a permission
 * removed from a role they hold, a role deleted): an access token carries the permissions it was issued with, so
 * until it expires it would keep what was taken away. Their refresh tokens stay valid, and the next refresh issues a
 * token with the current permissions (clients refresh silently when a token is refused). The access tokens of API
 * keys these users created end too: a key's token carries its scopes as capped by its creator's permissions at the
 * exchange, and the next exchange caps them anew.
 *
 * Call inside the transaction that shrank the permissions, once the change is written; announce the returned
 * revocations with {@link announceRevocations} after the commit. The users' rows are locked before the instant is
 * taken: a sign-in or refresh of one of them holds the row locked while it reads the roles and signs (see
 * {@link issueSession}), so its token is either signed before the instant (and refused) or after this commit (with
 * the new permissions). `accessTokensValidAfter` is what the revocation snapshot serves to processes that missed the
 * announcement; it leaves refresh tokens alone (`tokensValidAfter` ends those too).
 */
export async function revokeAccessTokens(em: EntityManager, userIds: readonly string[]): Promise<Revocation[]> {
  const ids = [...new Set(userIds)];
  if (!ids.length) return [];
  // In id order, so two such changes sharing users cannot deadlock.
  await em.createQueryBuilder(User).select(["id"]).where({ id: { $in: ids } }).orderBy({ id: "asc" }).setLockMode(LockMode.PESSIMISTIC_WRITE).execute();
  const now = new Date();
  await em.nativeUpdate(User, { id: { $in: ids } }, { accessTokensValidAfter: now });
  const keys = await em.find(ApiKey, { createdById: { $in: ids }, revokedAt: null }, { fields: ["id"] });
  return [...ids, ...keys.map((k) => k.id)].map((userId) => ({ kind: "user", userId, notBefore: now.getTime() }));
}

/** Tells every process about revocations that have been committed (call after the transaction that made them). */
export async function announceRevocations(ctx: Pick<TenantsContext, "pubsub"> & { logger?: Pick<TenantsContext, "logger">["logger"] }, revocations: readonly Revocation[]): Promise<void> {
  // Committed already: a Redis outage (the publish then fails at once) must not turn the change into an error; other
  // processes also read the revocations from this service on their periodic refresh.
  for (const revocation of revocations) {
    await ctx.pubsub.publish(REVOCATION_TOPIC, revocation).catch((err: unknown) => ctx.logger?.warn({ err }, "revocation not announced; other processes pick it up on their next refresh"));
  }
}
