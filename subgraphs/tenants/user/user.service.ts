import { randomUUID } from "node:crypto";
import { LockMode } from "@mikro-orm/core";
import type { Revocation } from "../../../kernel/revocations.js";
import { flushOrConflict, type EntityManager } from "../../../kernel/db.js";
import { Errors } from "../../../kernel/errors.js";
import { isUuid } from "../../../kernel/loaders.js";
import { advisoryXactLock, type TxEntityManager } from "../../../kernel/transaction.js";
import { hashPassword } from "../auth/password.js";
import { revokeKeysCreatedBy } from "../auth/api-key.service.js";
import { announceRevocations, revokeUserSessions } from "../auth/session.service.js";
import { hashSecret, newSecret } from "../auth/tokens.js";
import { inTransaction, type TenantsContext } from "../context.js";
import { PLAN_LIMITS } from "../tenant/plans.js";
import { Tenant } from "../tenant/tenant.entity.js";
import { User, UserStatus } from "./user.entity.js";
import { refuseOutranked } from "./user.errors.js";
import type { AcceptInvitationInput, CreateUserInput, CreatedUser, UserPage } from "./user.inputs.js";

const INVITE_TTL_MS = 7 * 86_400_000;
export const MAX_USER_PAGE = 200;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

/**
 * Checks role names against the tenant's roles (see the roles feature); unknown names are BAD_USER_INPUT. With a
 * caller, roles carrying permissions or collection access beyond the caller's are FORBIDDEN.
 */
export type RoleValidator = (ctx: TenantsContext, roles: string[]) => Promise<void>;

/** Creates a user in the caller's tenant, with a password or as an invitation. Plan limits apply. */
export async function createUser(ctx: TenantsContext, tenantId: string, input: CreateUserInput): Promise<CreatedUser> {
  const email = input.email.trim().toLowerCase();
  if (!EMAIL.test(email) || email.length > 320) throw Errors.badInput("email is not valid", "email");
  const displayName = (input.displayName ?? email).trim();
  if (!displayName || displayName.length > 200) throw Errors.badInput("displayName must be 1 to 200 characters", "displayName");
  if (input.password !== undefined && input.password !== null && (input.password.length < 12 || input.password.length > 1024)) {
    throw Errors.badInput("password must be 12 to 1024 characters", "password");
  }
  await ctx.validateRoles(ctx, input.roles);
  // Cheap refusals before the password is hashed; they are decided again below, under the tenant's seat lock.
  await refuseOverPlan(ctx.em, tenantId);
  if (await ctx.em.findOne(User, { tenantId, email })) throw Errors.conflict("A user with this email exists in this tenant", "email");

  const invitation = input.password ? null : newSecret();
  const passwordHash = await hashPassword(input.password ?? newSecret());
  // The user and its audit event commit together; seats are counted and taken one creation at a time per tenant (the
  // seat lock is held from the transaction's start).
  const user = await inTransaction(
    ctx,
    async (tx) => {
      await refuseOverPlan(tx.em, tenantId);
      const user = tx.em.create(User, {
        id: randomUUID(),
        tenantId,
        email,
        displayName,
        roles: [...new Set(input.roles)],
        // An invited user has no usable password until they accept.
        passwordHash,
        status: invitation ? UserStatus.INVITED : UserStatus.ACTIVE,
        inviteTokenHash: invitation ? hashSecret(invitation) : null,
        inviteExpiresAt: invitation ? new Date(Date.now() + INVITE_TTL_MS) : null,
      });
      await flushOrConflict(tx.em, () => Errors.conflict("A user with this email exists in this tenant", "email"));
      await tx.audit.record(tx, {
        tenantId,
        action: invitation ? "user.invited" : "user.created",
        targetType: "User",
        targetId: user.id,
        changes: { email: { after: email }, roles: { after: user.roles } },
      });
      return user;
    },
    { lock: seatLockKey(tenantId) },
  );
  return { user, invitationToken: invitation ? `inv.${invitation}` : null };
}

/** Sets an invited user's password with their one-time token; the user becomes ACTIVE and can sign in. */
export async function acceptInvitation(ctx: TenantsContext, input: AcceptInvitationInput): Promise<User> {
  const m = /^inv\.([A-Za-z0-9_-]{20,100})$/.exec(input.token);
  if (input.password.length < 12 || input.password.length > 1024) throw Errors.badInput("password must be 12 to 1024 characters", "password");
  const passwordHash = await hashPassword(input.password);
  // The activation and its audit event commit together (the token is spent only if both do).
  return inTransaction(ctx, async (tx) => {
    const user = m ? await tx.em.findOne(User, { inviteTokenHash: hashSecret(m[1]!) }, { filters: { tenant: false }, lockMode: LockMode.PESSIMISTIC_WRITE }) : null;
    if (!user || user.status !== UserStatus.INVITED || !user.inviteExpiresAt || user.inviteExpiresAt.getTime() < Date.now()) {
      throw Errors.badInput("The invitation is invalid or has expired", "token");
    }
    user.passwordHash = passwordHash;
    user.status = UserStatus.ACTIVE;
    user.inviteTokenHash = null;
    user.inviteExpiresAt = null;
    await tx.em.flush();
    await tx.audit.record(tx, { tenantId: user.tenantId, actorType: "USER", actorId: user.id, action: "user.invitation.accepted", targetType: "User", targetId: user.id });
    return user;
  });
}

/**
 * Disables or re-enables a user; disabling ends their sessions and API keys everywhere at once. Nobody acts so on
 * another user who holds a permission they lack (FORBIDDEN: a helpdesk role with user:manage does not deactivate an
 * ADMIN); nobody deactivates themselves (CONFLICT).
 */
export async function setUserActive(ctx: TenantsContext, userId: string, active: boolean): Promise<User> {
  // The change, the ended sessions and keys, and the audit events commit together; every process is told after.
  const { user, revocations } = await inTransaction(ctx, async (tx) => {
    const found = isUuid(userId) ? await tx.em.findOne(User, { id: userId }) : null;
    if (!found) throw Errors.notFound("User", userId);
    // Changes of the tenant's users' status are decided one at a time (seats taken by reactivations and creations,
    // the last active ADMIN kept by deactivations at once), on the user as it is once the lock is held.
    await advisoryXactLock(tx.em, seatLockKey(found.tenantId));
    const user = await tx.em.refresh(found);
    if (!user) throw Errors.notFound("User", userId);
    if (!active && user.id === ctx.principal?.userId) throw Errors.conflict("You cannot deactivate yourself", "id");
    const held = ctx.principal?.permissions;
    if (held && user.id !== ctx.principal?.userId) {
      refuseOutranked(held, await ctx.permissions(tx.em, user.tenantId, user.roles), active ? "reactivate" : "deactivate");
    }
    if (!active && user.roles.includes("ADMIN") && user.status === UserStatus.ACTIVE) {
      const admins = await tx.em.count(User, { tenantId: user.tenantId, roles: { $contains: ["ADMIN"] }, status: UserStatus.ACTIVE });
      if (admins <= 1) throw Errors.conflict("The tenant's last active ADMIN cannot be deactivated", "id");
    }
    const before = user.status;
    const after = active ? UserStatus.ACTIVE : UserStatus.DISABLED;
    if (before === after) return { user, revocations: [] };
    if (active && before === UserStatus.INVITED) throw Errors.conflict("An invited user becomes active by accepting the invitation", "id");
    if (active) await refuseReactivation(tx, user);
    user.status = after;
    const revocations: Revocation[] = [];
    if (!active) {
      revocations.push(await revokeUserSessions(tx, user));
      revocations.push(...(await revokeKeysCreatedBy(tx, user.id)));
    }
    await tx.em.flush();
    await tx.audit.record(tx, { action: active ? "user.reactivated" : "user.deactivated", targetType: "User", targetId: user.id, changes: { status: { before, after } } });
    return { user, revocations };
  });
  await announceRevocations(ctx, revocations);
  return user;
}

/**
 * What creating the user would have checked, for bringing a DISABLED one back: a seat of the plan (a deactivated user
 * frees one, so reactivating takes one again: PLAN_LIMIT_REACHED), and roles within the caller's reach (reactivating
 * restores them, which nobody may give with permissions they lack, checked by setUserActive, or with collection access
 * beyond their own: FORBIDDEN, through the same hook as createUser).
 */
async function refuseReactivation(ctx: TenantsContext & { em: TxEntityManager }, user: User): Promise<void> {
  if (ctx.principal) await ctx.validateRoles(ctx, user.roles);
  await takeSeat(ctx.em, user.tenantId);
}

/**
 * Takes one of the plan's seats for a user created or reactivated in this transaction, or refuses with
 * PLAN_LIMIT_REACHED. Seats are counted under a per-tenant lock held until the transaction ends, so that creations and
 * reactivations at once are decided one after the other: a burst never takes more seats than the plan has.
 */
async function takeSeat(tx: TxEntityManager, tenantId: string): Promise<void> {
  await advisoryXactLock(tx, seatLockKey(tenantId));
  await refuseOverPlan(tx, tenantId);
}

/** The per-tenant lock under which seats are counted and users' status changes (held again by the same transaction: no wait). */
const seatLockKey = (tenantId: string) => `tenants:seats:${tenantId}`;

/** PLAN_LIMIT_REACHED when the tenant's users (all but DISABLED ones) fill its plan. */
async function refuseOverPlan(em: EntityManager, tenantId: string): Promise<void> {
  const tenant = await em.findOneOrFail(Tenant, { id: tenantId });
  const max = PLAN_LIMITS[tenant.plan].maxUsers;
  if ((await em.count(User, { tenantId, status: { $ne: UserStatus.DISABLED } })) >= max) throw Errors.planLimit("users", max);
}

/** The caller's tenant's users, by email, keyset-paged. */
export async function listUsers(ctx: TenantsContext, first: number, after?: string | null, search?: string | null): Promise<UserPage> {
  if (!Number.isInteger(first) || first < 1 || first > MAX_USER_PAGE) throw Errors.badInput(`first must be between 1 and ${MAX_USER_PAGE}`, "first");
  const where: Record<string, unknown>[] = [];
  if (search) where.push({ $or: [{ email: { $ilike: `%${search.replace(/[\\%_]/g, "\\$&")}%` } }, { displayName: { $ilike: `%${search.replace(/[\\%_]/g, "\\$&")}%` } }] });
  if (after) {
    let cursor: string;
    cursor = Buffer.from(after, "base64url").toString("utf8");
    if (!cursor || cursor.includes("\u0000") || cursor.length > 320) throw Errors.badInput("after is not a cursor from this list", "after");
    where.push({ email: { $gt: cursor } });
  }
  const rows = await ctx.em.find(User, where.length ? ({ $and: where } as never) : {}, { orderBy: { email: "asc" }, limit: first + 1 });
  const nodes = rows.slice(0, first);
  const last = nodes.at(-1);
  return { nodes, pageInfo: { hasNextPage: rows.length > first, endCursor: last ? Buffer.from(last.email).toString("base64url") : null } };
}
