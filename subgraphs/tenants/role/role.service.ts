import { randomUUID } from "node:crypto";
import { UniqueConstraintViolationException } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/postgresql";
import type { Principal } from "../../../kernel/auth.js";
import { Errors } from "../../../kernel/errors.js";
import { isUuid } from "../../../kernel/loaders.js";
import { TENANT_FILTER } from "../../../kernel/tenancy.js";
import { ApiKey } from "../auth/api-key.entity.js";
import { User, UserStatus } from "../user/user.entity.js";
import { refuseOutranked } from "../user/user.errors.js";
import { CollectionGrant } from "./collection-grant.entity.js";
import {
  accessBeyond,
  collectionsOf,
  mergeGrants,
  roleGrantFor,
  substituteGrants,
  type EffectiveGrantSpec,
  type GrantSpec,
  type RoleCell,
  type RoleGrantSource,
} from "./collection-grant.policy.js";
import { Role } from "./role.entity.js";
import { RoleErrors } from "./role.errors.js";
import type { CreateRoleInput, SetCollectionGrantInput, UpdateRoleInput } from "./role.inputs.js";
import {
  ALL_COLLECTIONS,
  isPermission,
  isSystemRole,
  Permission,
  SYSTEM_ROLE_DEFINITIONS,
  SYSTEM_ROLE_NAMES,
  systemRoleGrant,
  systemRoleNamed,
  type SystemRoleName,
} from "./role.permissions.js";
import { validateCollectionName, validateRowFilters, type FilterSubject } from "./row-filter.js";

/**
 * The functions that take `tenantId` explicitly (`ensureSystemRoles`, `resolvePermissions`, `grantsFor`) run with any
 * EntityManager, including the unscoped one used at login: they lift the tenant filter and put the tenant in every
 * query themselves. Everything else works on the caller's tenant-scoped EntityManager.
 */
const EXPLICIT_TENANT = { filters: { [TENANT_FILTER]: false } } as const;

export const MAX_ROLES_PER_USER = 50;
export const MAX_CUSTOM_ROLES = 200;
const NAME = /^[\p{L}\p{N}][\p{L}\p{N} _.-]{0,99}$/u;
const ADMIN: SystemRoleName = "ADMIN";

type Changes = Record<string, { before?: unknown; after?: unknown }>;

// ---------------------------------------------------------------------------------------------------------------
// System roles, permissions and effective grants (used at login, refresh and by the sync subgraph through the graph)
// ---------------------------------------------------------------------------------------------------------------

/**
 * Creates the tenant's five system role rows if missing and brings their description and permissions in line with
 * the code. Idempotent and safe to run concurrently (inserts skip rows that already exist). Returns them in order.
 */
export async function ensureSystemRoles(em: EntityManager, tenantId: string): Promise<Role[]> {
  // Same EntityManager (and transaction) as the caller: a tenant being created is not committed yet.
  const load = () => em.find(Role, { tenantId, system: true, deletedAt: null }, EXPLICIT_TENANT);
  let rows = await load();
  const missing = SYSTEM_ROLE_NAMES.filter((name) => !rows.some((r) => r.name === name));
  if (missing.length) {
    const now = new Date();
    await em
      .createQueryBuilder(Role)
      .insert(
        missing.map((name) => ({
          id: randomUUID(),
          tenantId,
          name,
          description: SYSTEM_ROLE_DEFINITIONS[name].description,
          permissions: [...SYSTEM_ROLE_DEFINITIONS[name].permissions],
          system: true,
          deletedAt: null,
          createdAt: now,
          updatedAt: now,
        })),
      )
      .onConflict()
      .ignore()
      .execute();
    rows = await load();
  }
  for (const row of rows) {
    if (!isSystemRole(row.name)) continue;
    const def = SYSTEM_ROLE_DEFINITIONS[row.name];
    if (row.description !== def.description || !sameList(row.permissions, def.permissions)) {
      row.description = def.description;
      row.permissions = [...def.permissions];
      await em.nativeUpdate(Role, { id: row.id, tenantId }, { description: row.description, permissions: row.permissions, updatedAt: new Date() }, EXPLICIT_TENANT);
    }
  }
  return SYSTEM_ROLE_NAMES.flatMap((name) => rows.filter((r) => r.name === name));
}

/**
 * The sorted union of the permissions of `roleNames` in `tenantId`: system roles from the code, the tenant's own
 * roles from the database (deleted or unknown names grant nothing). Use this at login and refresh instead of the
 * static `permissionsOf`.
 */
export async function resolvePermissions(em: EntityManager, tenantId: string, roleNames: readonly string[]): Promise<string[]> {
  const sources = await grantSources(em, tenantId, roleNames, { withGrants: false });
  return [...new Set(sources.flatMap((s) => s.permissions))].filter(isPermission).sort();
}

/**
 * The effective per-collection grants of a caller holding `roleNames` in `tenantId`, before `$user`/`$claims`
 * substitution: one entry for `*` and one per collection any of the roles names (see `collection-grant.policy.ts`).
 */
export async function grantsFor(em: EntityManager, tenantId: string, roleNames: readonly string[]): Promise<EffectiveGrantSpec[]> {
  return mergeGrants(await grantSources(em, tenantId, roleNames, { withGrants: true }));
}

/**
 * The caller's own effective grants with `$user.*` and `$claims.*` substituted, from their current roles (not the
 * possibly older ones in their token). An API key holds no roles: its scopes `sync:push` / `sync:pull` apply to
 * every collection, without row filters.
 */
export async function myCollectionGrants(em: EntityManager, principal: Principal): Promise<EffectiveGrantSpec[]> {
  if (principal.kind === "api_key") {
    // A key reaches at most what its creator reaches now (row filters included, evaluated as the creator), and only
    // for the directions its scopes allow.
    const key = await em.findOne(ApiKey, { id: principal.userId, tenantId: principal.tenantId }, EXPLICIT_TENANT);
    const creator = key ? await em.findOne(User, { id: key.createdById, tenantId: principal.tenantId }, EXPLICIT_TENANT) : null;
    if (!creator) return [];
    const creatorPrincipal: Principal = { ...principal, kind: "user", userId: creator.id, email: creator.email, roles: creator.roles };
    const grants = substituteGrants(await grantsFor(em, principal.tenantId, creator.roles), subjectOf(creatorPrincipal, creator.roles));
    return grants.map((g) => ({
      ...g,
      canPush: g.canPush && principal.permissions.includes("sync:push"),
      canPull: g.canPull && principal.permissions.includes("sync:pull"),
    }));
  }
  const user = await em.findOne(User, { id: principal.userId, tenantId: principal.tenantId }, EXPLICIT_TENANT);
  if (!user) throw Errors.unauthenticated("User no longer exists");
  return substituteGrants(await grantsFor(em, principal.tenantId, user.roles), subjectOf(principal, user.roles));
}

/**
 * Checks role names a caller wants to give a user (the `validateRoles` hook of user creation and reactivation): every
 * name must be an existing role of the caller's tenant in its exact spelling (BAD_USER_INPUT on `roles`), and the
 * roles may not carry permissions the caller lacks nor collection access beyond the caller's own (FORBIDDEN, see
 * {@link refuseWiderAccess}). Without a caller, touches the database only for names that are not system roles.
 */
export async function validateRoleNames(ctx: { em: EntityManager; principal?: Principal }, roles: readonly string[]): Promise<void> {
  if (roles.length > MAX_ROLES_PER_USER) throw RoleErrors.tooManyRoles(MAX_ROLES_PER_USER);
  const custom = [...new Set(roles.filter((r) => !isSystemRole(r)))];
  // Without a caller (installation work), the tenant the EntityManager is scoped to, if any.
  const tenantId = ctx.principal?.tenantId ?? (ctx.em.getFilterParams<{ tenantId?: string }>(TENANT_FILTER) as { tenantId?: string } | undefined)?.tenantId;
  const rows =
    custom.length && tenantId ? await ctx.em.find(Role, { tenantId, name: { $in: custom }, system: false, deletedAt: null }, EXPLICIT_TENANT) : [];
  const unknown = custom.filter((name) => !rows.some((r) => r.name === name));
  if (unknown.length) throw RoleErrors.unknownRoles(unknown);
  if (ctx.principal) {
    const granted = [...roles.filter(isSystemRole).flatMap((r) => SYSTEM_ROLE_DEFINITIONS[r].permissions), ...rows.flatMap((r) => r.permissions)];
    refuseEscalation(ctx.principal, [...new Set(granted)]);
    await refuseWiderAccess(ctx.em, ctx.principal, await grantSources(ctx.em, ctx.principal.tenantId, roles, { withGrants: true }));
  }
}

/** What `$user.*` and `$claims.*` mean for a caller. */
export function subjectOf(principal: Principal, roles: readonly string[] = principal.roles): FilterSubject {
  return {
    userId: principal.userId,
    email: principal.email,
    claims: { sub: principal.userId, tid: principal.tenantId, email: principal.email, roles: [...roles], plan: principal.plan },
  };
}

/** Roles by name as the grant merge sees them: system roles from code, the tenant's roles and grants from the database. */
async function grantSources(em: EntityManager, tenantId: string, roleNames: readonly string[], opts: { withGrants: boolean }): Promise<RoleGrantSource[]> {
  const names = [...new Set(roleNames)];
  const system = names.filter(isSystemRole);
  const custom = names.filter((n) => !isSystemRole(n));
  const rows = custom.length ? await em.find(Role, { tenantId, name: { $in: custom }, system: false, deletedAt: null }, EXPLICIT_TENANT) : [];
  const grants =
    opts.withGrants && rows.length
      ? await em.find(CollectionGrant, { tenantId, roleId: { $in: rows.map((r) => r.id) } }, EXPLICIT_TENANT)
      : [];
  // In the order the caller holds them, so results (filter groups) are stable.
  return [
    ...system.map((name) => ({ name, permissions: SYSTEM_ROLE_DEFINITIONS[name].permissions, grants: [systemRoleGrant(name)] })),
    ...rows.map((r) => ({ name: r.name, permissions: r.permissions, grants: grants.filter((g) => g.roleId === r.id).sort(byCollection).map(specOf) })),
  ].sort((a, b) => names.indexOf(a.name) - names.indexOf(b.name));
}

function sourceOf(role: Role, grants: readonly GrantSpec[]): RoleGrantSource {
  return isSystemRole(role.name) && role.system
    ? { name: role.name, permissions: SYSTEM_ROLE_DEFINITIONS[role.name].permissions, grants: [systemRoleGrant(role.name)] }
    : { name: role.name, permissions: role.permissions, grants };
}

// ---------------------------------------------------------------------------------------------------------------
// Roles (the caller's tenant, through the request's tenant-scoped EntityManager)
// ---------------------------------------------------------------------------------------------------------------

/** The tenant's roles that are not deleted: system roles first (in their fixed order), then by name. */
export async function listRoles(em: EntityManager, tenantId: string): Promise<Role[]> {
  await ensureSystemRoles(em, tenantId);
  const roles = await em.find(Role, { tenantId, deletedAt: null });
  const rank = (r: Role) => (r.system && isSystemRole(r.name) ? SYSTEM_ROLE_NAMES.indexOf(r.name) : SYSTEM_ROLE_NAMES.length);
  return roles.sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name, "en", { sensitivity: "base" }) || (a.name < b.name ? -1 : 1));
}

/** A role of the caller's tenant that is not deleted, or NOT_FOUND (also for another tenant's id). */
export async function getRole(em: EntityManager, id: string): Promise<Role> {
  const role = isUuid(id) ? await em.findOne(Role, { id, deletedAt: null }) : null;
  if (!role) throw RoleErrors.notFound(id);
  return role;
}

/** Creates a tenant role. Its permissions must be known and held by the caller (no one grants more than they have). */
export async function createRole(em: EntityManager, principal: Principal, input: CreateRoleInput): Promise<Role> {
  const name = validName(input.name);
  const description = validDescription(input.description);
  const permissions = validPermissions(input.permissions);
  refuseEscalation(principal, permissions);
  await refuseDuplicateName(em, name);
  if ((await em.count(Role, { system: false, deletedAt: null })) >= MAX_CUSTOM_ROLES) {
    throw Errors.badInput(`A tenant may have at most ${MAX_CUSTOM_ROLES} roles of its own`, "name");
  }
  const role = em.create(Role, { id: randomUUID(), tenantId: principal.tenantId, name, description, permissions, system: false });
  await flushUnique(em, () => RoleErrors.duplicateName(name));
  return role;
}

/**
 * Updates a tenant role; a new name is carried over to every user holding the role. Added permissions must be held
 * by the caller; `sync:push` / `sync:pull` added to a role with grants bring those grants to life, so they must also
 * be within the caller's access. Returns the users whose permissions shrank (`narrowed`: their access tokens must end,
 * see `revokeAccessTokens`).
 */
export async function updateRole(
  em: EntityManager,
  principal: Principal,
  id: string,
  input: UpdateRoleInput,
): Promise<{ role: Role; changes: Changes; narrowed: string[] }> {
  const role = await getRole(em, id);
  if (role.system) throw RoleErrors.systemRole(role.name);
  const changes: Changes = {};
  // The role's holders and every role's permissions as they are before this change.
  const permissionsChange = input.permissions !== undefined && input.permissions !== null;
  const holders = (input.name !== undefined && input.name !== null) || permissionsChange ? await em.find(User, { roles: { $contains: [role.name] } }) : [];
  const holdersBefore = holders.map((u) => ({ id: u.id, roles: [...u.roles] }));
  const tableBefore = permissionsChange ? await permissionTable(em) : new Map<string, readonly string[]>();
  const nameBefore = role.name;
  let narrowed: string[] = [];
  if (input.name !== undefined && input.name !== null) {
    const name = validName(input.name);
    if (name !== role.name) {
      if (name.toLowerCase() !== role.name.toLowerCase()) await refuseDuplicateName(em, name);
      for (const user of holders) user.roles = user.roles.map((r) => (r === role.name ? name : r));
      changes.name = { before: role.name, after: name };
      role.name = name;
    }
  }
  if (input.description !== undefined && input.description !== null) {
    const description = validDescription(input.description);
    if (description !== role.description) {
      changes.description = { before: role.description, after: description };
      role.description = description;
    }
  }
  if (input.permissions !== undefined && input.permissions !== null) {
    const permissions = validPermissions(input.permissions);
    refuseEscalation(principal, permissions.filter((p) => !role.permissions.includes(p)));
    const enabled = [Permission.SYNC_PUSH, Permission.SYNC_PULL].filter((p) => permissions.includes(p) && !role.permissions.includes(p));
    if (enabled.length) {
      // Grants the role kept while it lacked sync:push / sync:pull count again with them: that hands out access.
      const grants = (await em.find(CollectionGrant, { roleId: role.id })).map((g) => ({
        ...specOf(g),
        canPush: g.canPush && enabled.includes(Permission.SYNC_PUSH),
        canPull: g.canPull && enabled.includes(Permission.SYNC_PULL),
      }));
      await refuseWiderAccess(em, principal, [{ name: role.name, permissions, grants }]);
    }
    if (!sameList(permissions, role.permissions)) {
      changes.permissions = { before: role.permissions, after: permissions };
      const tableAfter = new Map(tableBefore).set(nameBefore, permissions);
      narrowed = holdersBefore.filter((u) => losesPermission(tableBefore, tableAfter, u.roles, u.roles)).map((u) => u.id);
      role.permissions = permissions;
    }
  }
  if (Object.keys(changes).length) await flushUnique(em, () => RoleErrors.duplicateName(role.name));
  return { role, changes, narrowed };
}

/**
 * Soft-deletes a tenant role and takes it away from every user holding it (so a later role of that name grants them
 * nothing). Returns those users, and among them the ones whose permissions shrank (`narrowed`, see `updateRole`).
 */
export async function deleteRole(em: EntityManager, id: string): Promise<{ role: Role; usersAffected: string[]; narrowed: string[] }> {
  const role = await getRole(em, id);
  if (role.system) throw RoleErrors.systemRole(role.name);
  const users = await em.find(User, { roles: { $contains: [role.name] } });
  const table = await permissionTable(em);
  const narrowed = users.filter((u) => losesPermission(table, table, u.roles, u.roles.filter((r) => r !== role.name))).map((u) => u.id);
  for (const user of users) user.roles = user.roles.filter((r) => r !== role.name);
  role.deletedAt = new Date();
  await em.flush();
  return { role, usersAffected: users.map((u) => u.id), narrowed };
}

/**
 * Replaces a user's roles. Names match in any letter case and are stored canonically; unknown names are
 * BAD_USER_INPUT. FORBIDDEN: another user who holds a permission the caller lacks (nobody acts against those above
 * them); newly added roles that carry permissions the caller lacks, or collection access beyond the caller's own (see
 * {@link refuseWiderAccess}; the caller's own account included). Nobody removes their own ADMIN role, and the tenant
 * keeps at least one active ADMIN (CONFLICT). `narrowed`: the user's permissions shrank, so their access tokens must
 * end (see `revokeAccessTokens`).
 */
export async function assignRoles(
  em: EntityManager,
  principal: Principal,
  userId: string,
  roleNames: readonly string[],
): Promise<{ user: User; before: string[]; after: string[]; narrowed: boolean }> {
  const user = isUuid(userId) ? await em.findOne(User, { id: userId }) : null;
  if (!user) throw RoleErrors.userNotFound(userId);
  if (roleNames.length > MAX_ROLES_PER_USER) throw RoleErrors.tooManyRoles(MAX_ROLES_PER_USER);

  const custom = await em.find(Role, { system: false, deletedAt: null });
  const byKey = new Map(custom.map((r) => [r.name.toLowerCase(), r]));
  const after: string[] = [];
  const unknown: string[] = [];
  const permissionsOfName = new Map<string, readonly string[]>();
  for (const raw of roleNames) {
    const trimmed = raw.trim();
    const system = systemRoleNamed(trimmed);
    const role = system ? undefined : byKey.get(trimmed.toLowerCase());
    const name = system ?? role?.name;
    if (!name) {
      unknown.push(raw);
      continue;
    }
    permissionsOfName.set(name, system ? SYSTEM_ROLE_DEFINITIONS[system].permissions : role!.permissions);
    if (!after.includes(name)) after.push(name);
  }
  if (unknown.length) throw RoleErrors.unknownRoles(unknown);

  const before = [...user.roles];
  const table = permissionTableOf(custom);
  if (user.id !== principal.userId) refuseOutranked(principal.permissions, [...permissionsUnder(table, before)], "change the roles of");
  const added = after.filter((r) => !before.includes(r));
  refuseEscalation(principal, [...new Set(added.flatMap((r) => permissionsOfName.get(r) ?? []))]);
  if (added.length) await refuseWiderAccess(em, principal, await grantSources(em, principal.tenantId, added, { withGrants: true }));
  if (before.includes(ADMIN) && !after.includes(ADMIN)) {
    if (user.id === principal.userId) throw RoleErrors.ownAdmin();
    if (user.status === UserStatus.ACTIVE) {
      const others = await em.count(User, { id: { $ne: user.id }, status: UserStatus.ACTIVE, roles: { $contains: [ADMIN] } });
      if (others === 0) throw RoleErrors.lastAdmin();
    }
  }
  if (before.length !== after.length || before.some((r, i) => r !== after[i])) {
    user.roles = after;
    await em.flush();
  }
  return { user, before, after, narrowed: losesPermission(table, table, before, after) };
}

// ---------------------------------------------------------------------------------------------------------------
// Collection grants
// ---------------------------------------------------------------------------------------------------------------

/**
 * Creates or replaces a tenant role's grant on one collection; returns it and what it replaced (null if new). The
 * caller must hold `sync:push` / `sync:pull` for what the grant gives, and that access on the collection (for `*`: on
 * every collection the role has no entry of its own for) without row filters (see {@link refuseWiderAccess}).
 */
export async function setCollectionGrant(
  em: EntityManager,
  principal: Principal,
  input: SetCollectionGrantInput,
): Promise<{ grant: CollectionGrant; before: GrantSpec | null }> {
  const role = await getRole(em, input.roleId);
  if (role.system) throw RoleErrors.systemRole(role.name);
  const collection = validateCollectionName(input.collection);
  const rowFilters = validateRowFilters(input.rowFilters);
  if (input.canPush && !role.permissions.includes(Permission.SYNC_PUSH)) throw RoleErrors.grantNeedsPermission("canPush", Permission.SYNC_PUSH);
  if (input.canPull && !role.permissions.includes(Permission.SYNC_PULL)) throw RoleErrors.grantNeedsPermission("canPull", Permission.SYNC_PULL);
  // Nobody grants what they do not hold: pushing or pulling records at all.
  refuseEscalation(principal, [...(input.canPush ? [Permission.SYNC_PUSH] : []), ...(input.canPull ? [Permission.SYNC_PULL] : [])]);
  const grants = await em.find(CollectionGrant, { roleId: role.id });
  // Nor access to the records themselves: what the role reaches through this entry must be within the caller's.
  const others = grants.filter((g) => g.collection !== collection).map(specOf);
  await refuseWiderAccess(
    em,
    principal,
    [sourceOf(role, [...others, { collection, canPush: input.canPush, canPull: input.canPull, rowFilters }])],
    collection,
  );

  const existing = grants.find((g) => g.collection === collection) ?? null;
  const before = existing ? specOf(existing) : null;
  const grant =
    existing ??
    em.create(CollectionGrant, { id: randomUUID(), tenantId: principal.tenantId, roleId: role.id, collection, canPush: false, canPull: false, rowFilters: [] });
  grant.canPush = input.canPush;
  grant.canPull = input.canPull;
  grant.rowFilters = rowFilters;
  await flushUnique(em, () => RoleErrors.concurrentGrant(role.name, collection));
  return { grant, before };
}

/**
 * Removes a tenant role's grant on one collection; returns what was removed, or null if there was none. Without its
 * own entry the collection falls back to the role's `*` grant, which may reach further (a deny entry removed): that
 * must be within the caller's access (see {@link refuseWiderAccess}).
 */
export async function removeCollectionGrant(em: EntityManager, principal: Principal, roleId: string, collection: string): Promise<GrantSpec | null> {
  const role = await getRole(em, roleId);
  if (role.system) throw RoleErrors.systemRole(role.name);
  const name = validateCollectionName(collection);
  const grants = await em.find(CollectionGrant, { roleId: role.id });
  const grant = grants.find((g) => g.collection === name);
  if (!grant) return null;
  if (name !== ALL_COLLECTIONS) {
    const rest = grants.filter((g) => g !== grant).map(specOf);
    await refuseWiderAccess(em, principal, [sourceOf(role, rest)], name);
  }
  const removed = specOf(grant);
  em.remove(grant);
  await em.flush();
  return removed;
}

/** A role's grants: the built-in `*` grant of a system role, or the tenant role's own (from `load`). */
export async function grantsOfRole(role: Role, load: (roleId: string) => Promise<CollectionGrant[]>): Promise<CollectionGrant[]> {
  if (role.system && isSystemRole(role.name)) return [builtInGrant(role, role.name)];
  return load(role.id);
}

/** Roles × collections of the caller's tenant: every role not deleted, every collection any role names. */
export async function permissionMatrix(em: EntityManager, tenantId: string): Promise<{ collections: string[]; rows: { role: Role; cells: RoleCell[] }[] }> {
  const roles = await listRoles(em, tenantId);
  const custom = roles.filter((r) => !r.system).map((r) => r.id);
  const grants = custom.length ? await em.find(CollectionGrant, { roleId: { $in: custom } }) : [];
  const sources = roles.map((r) => sourceOf(r, grants.filter((g) => g.roleId === r.id).map(specOf)));
  const collections = collectionsOf(sources);
  return { collections, rows: roles.map((role, i) => ({ role, cells: collections.map((c) => roleGrantFor(sources[i]!, c)) })) };
}

// ---------------------------------------------------------------------------------------------------------------

function builtInGrant(role: Role, name: SystemRoleName): CollectionGrant {
  // Not persisted: system role grants come from the code, like their permissions.
  const grant = new CollectionGrant();
  Object.assign(grant, { id: `${role.id}:*`, tenantId: role.tenantId, roleId: role.id, ...systemRoleGrant(name), updatedAt: null });
  return grant;
}

const byCollection = (a: { collection: string }, b: { collection: string }) => (a.collection < b.collection ? -1 : a.collection > b.collection ? 1 : 0);

export function specOf(grant: CollectionGrant): GrantSpec {
  return { collection: grant.collection, canPush: grant.canPush, canPull: grant.canPull, rowFilters: grant.rowFilters ?? [] };
}

function validName(raw: string): string {
  const name = raw.trim();
  if (!NAME.test(name)) throw RoleErrors.invalidName();
  return name;
}

function validDescription(raw: string | null | undefined): string | null {
  const description = raw?.trim() ?? "";
  if (description.length > 500) throw RoleErrors.invalidDescription();
  return description || null;
}

function validPermissions(raw: readonly string[]): string[] {
  const names = [...new Set(raw.map((p) => p.trim()))];
  const unknown = names.filter((p) => !isPermission(p));
  if (unknown.length) throw RoleErrors.unknownPermissions(unknown);
  return names.sort();
}

/** Nobody grants permissions they do not hold (those of their token; it ends when they lose one, see `revokeAccessTokens`). */
function refuseEscalation(principal: Principal, permissions: readonly string[]): void {
  const lacking = permissions.filter((p) => !principal.permissions.includes(p));
  if (lacking.length) throw RoleErrors.escalation([...lacking].sort());
}

/**
 * Nobody hands out collection access they do not hold themselves: the collection counterpart of
 * {@link refuseEscalation}, checked wherever access is given. That is a grant set on a role or removed from it (the
 * collection then falls back to the role's `*` grant), `sync:push` / `sync:pull` added to a role whose grants were idle
 * without them, and a role given to a user (assignRoles, createUser, reactivateUser), the caller's own account
 * included: otherwise a manager restricted to some collections widens their own access. For every collection, each
 * direction (push, pull) the role reaches there must be one the caller holds there now (their current roles, from the
 * database, `$user` substituted) without row filters: a caller whose own access is filtered cannot judge what another
 * filter would expose, so they hand out none of it. Row filters on what is granted only narrow it and are never
 * refused.
 *
 * As with permissions, nobody is exempt by name: ADMIN passes because its built-in `*` grant is unrestricted push and
 * pull (and cannot be edited). `tenant:manage` does not exempt: it administers the tenant and gives no record access
 * (sync checks grants for its holders too), and exempting it would let a role holding every permission but restricted
 * grants lift its own restriction. FORBIDDEN, naming each collection and direction.
 */
async function refuseWiderAccess(
  em: EntityManager,
  principal: Principal,
  roles: readonly RoleGrantSource[],
  collection?: string,
): Promise<void> {
  if (!roles.some((r) => r.grants.some((g) => g.canPush || g.canPull))) return;
  const held = await myCollectionGrants(em, principal);
  const beyond = new Map(roles.flatMap((r) => accessBeyond(held, r, collection)).map((b) => [`${b.direction} ${b.collection}`, b]));
  if (beyond.size) throw RoleErrors.accessBeyondOwn([...beyond.values()]);
}

/** Every role's permissions by name: system roles from the code, the tenant's own (not deleted) from `custom`. */
function permissionTableOf(custom: readonly Role[]): Map<string, readonly string[]> {
  const table = new Map<string, readonly string[]>(SYSTEM_ROLE_NAMES.map((name) => [name, SYSTEM_ROLE_DEFINITIONS[name].permissions]));
  for (const role of custom) if (!role.system) table.set(role.name, [...role.permissions]);
  return table;
}

/** {@link permissionTableOf} the caller's tenant, as it is now. */
async function permissionTable(em: EntityManager): Promise<Map<string, readonly string[]>> {
  return permissionTableOf(await em.find(Role, { system: false, deletedAt: null }));
}

/** The permissions `roles` give under `table` (unknown names give nothing). */
function permissionsUnder(table: ReadonlyMap<string, readonly string[]>, roles: readonly string[]): Set<string> {
  return new Set(roles.flatMap((r) => table.get(r) ?? []));
}

/** Whether a user holding `before` under `tableBefore` lacks any of those permissions holding `after` under `tableAfter`. */
function losesPermission(
  tableBefore: ReadonlyMap<string, readonly string[]>,
  tableAfter: ReadonlyMap<string, readonly string[]>,
  before: readonly string[],
  after: readonly string[],
): boolean {
  const now = permissionsUnder(tableAfter, after);
  return [...permissionsUnder(tableBefore, before)].some((p) => !now.has(p));
}

/** Names are unique per tenant ignoring letter case, and no tenant role may take a system role's name. */
async function refuseDuplicateName(em: EntityManager, name: string): Promise<void> {
  if (systemRoleNamed(name)) throw RoleErrors.duplicateName(name);
  const key = name.toLowerCase();
  const roles = await em.find(Role, { deletedAt: null });
  if (roles.some((r) => r.name.toLowerCase() === key)) throw RoleErrors.duplicateName(name);
}

async function flushUnique(em: EntityManager, conflict: () => Error): Promise<void> {
  try {
    await em.flush();
  } catch (err) {
    if (err instanceof UniqueConstraintViolationException) throw conflict();
    throw err;
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);
}
