import { Arg, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import { Audited } from "../../../kernel/audit-policy.js";
import { requirePrincipal } from "../../../kernel/auth.js";
import { announceRevocations, revokeAccessTokens } from "../auth/session.service.js";
import { inTransaction, type TenantsContext } from "../context.js";
import { User } from "../user/user.entity.js";
import { CollectionGrant } from "./collection-grant.entity.js";
import { Role } from "./role.entity.js";
import { RoleErrors } from "./role.errors.js";
import { CreateRoleInput, SetCollectionGrantInput, UpdateRoleInput } from "./role.inputs.js";
import { Permission } from "./role.permissions.js";
import {
  assignRoles,
  createRole,
  deleteRole,
  getRole,
  grantsOfRole,
  listRoles,
  myCollectionGrants,
  permissionMatrix,
  removeCollectionGrant,
  setCollectionGrant,
  updateRole,
} from "./role.service.js";
import { EffectiveGrant, PermissionMatrix } from "./role.types.js";

const READ = [Permission.ROLE_READ, Permission.ROLE_MANAGE];

/** `role:read` or `role:manage` (the kernel auth checker requires all listed permissions, so "any of" is checked here). */
function requireRoleRead(ctx: TenantsContext) {
  const principal = requirePrincipal(ctx);
  if (!READ.some((p) => principal.permissions.includes(p))) throw RoleErrors.permissionRequired(READ);
  return principal;
}

// Every mutation here makes its change and records its audit event in one transaction (they commit together or not
// at all); `grants.changed` is announced after the commit. A change that takes permissions away from users (a role
// taken from them, a permission removed from a role they hold, a role deleted) also ends their access tokens in that
// transaction, announced after the commit too: a token carries the permissions it was issued with, and the users'
// next refresh carries the current ones (collection grants are not in tokens: sync reads them anew on grants.changed).

/** Tells services that cache callers' collection grants (sync) that this tenant's changed. */
async function announceGrantsChanged(ctx: TenantsContext): Promise<void> {
  const { tenantId } = requirePrincipal(ctx);
  await ctx.pubsub.publish("grants.changed", { tenantId }).catch((err: unknown) => ctx.logger.warn({ err }, "grants.changed not published"));
}

/**
 * Role, grant and role-assignment changes of one tenant are decided one at a time (a lock their transaction holds from
 * its start): each reads the tenant's roles and grants to check names and what the caller may give, and must not decide
 * on a state another change is replacing at that moment (two grants each checked without the other, a role assigned as
 * it is deleted, a grant's audited `before`).
 */
const rolesLock = (ctx: TenantsContext) => ({ lock: `tenants:roles:${requirePrincipal(ctx).tenantId}` });

@Resolver(() => Role)
export class RoleResolver {
  @Authorized()
  @Query(() => [Role], { description: "Roles of the caller's tenant (needs role:read or role:manage)." })
  roles(@Ctx() ctx: TenantsContext): Promise<Role[]> {
    const { tenantId } = requireRoleRead(ctx);
    return listRoles(ctx.em, tenantId);
  }

  @Authorized()
  @Query(() => Role, { description: "One role of the caller's tenant (needs role:read or role:manage)." })
  role(@Arg("id", () => ID) id: string, @Ctx() ctx: TenantsContext): Promise<Role> {
    requireRoleRead(ctx);
    return getRole(ctx.em, id);
  }

  @Authorized()
  @Query(() => PermissionMatrix, { description: "Roles × collections of the caller's tenant (needs role:read or role:manage)." })
  permissionMatrix(@Ctx() ctx: TenantsContext): Promise<PermissionMatrix> {
    const { tenantId } = requireRoleRead(ctx);
    return permissionMatrix(ctx.em, tenantId);
  }

  @Authorized()
  @Query(() => [EffectiveGrant], {
    description:
      'The signed-in user\'s own effective collection grants (all their roles combined, "$user.*" and "$claims.*" substituted). Services enforcing sync access read this with the caller\'s token.',
  })
  myCollectionGrants(@Ctx() ctx: TenantsContext): Promise<EffectiveGrant[]> {
    return myCollectionGrants(ctx.em, requirePrincipal(ctx));
  }

  @Authorized(Permission.ROLE_MANAGE)
  @Audited("role.created")
  @Mutation(() => Role, { description: "Adds a role to the caller's tenant." })
  async createRole(@Arg("input", () => CreateRoleInput) input: CreateRoleInput, @Ctx() ctx: TenantsContext): Promise<Role> {
    // The role and its audit event commit together.
    return inTransaction(ctx, async (tx) => {
      const role = await createRole(tx.em, requirePrincipal(ctx), input);
      await tx.audit.record(tx, {
        action: "role.created",
        targetType: "Role",
        targetId: role.id,
        changes: { name: { after: role.name }, description: { after: role.description }, permissions: { after: role.permissions } },
      });
      return role;
    }, rolesLock(ctx));
  }

  @Authorized(Permission.ROLE_MANAGE)
  @Audited("role.updated")
  @Mutation(() => Role, { description: "Changes a tenant role (system roles cannot be changed: FORBIDDEN)." })
  async updateRole(
    @Arg("id", () => ID) id: string,
    @Arg("input", () => UpdateRoleInput) input: UpdateRoleInput,
    @Ctx() ctx: TenantsContext,
  ): Promise<Role> {
    const { role, revocations } = await inTransaction(ctx, async (tx) => {
      const { role, changes, narrowed } = await updateRole(tx.em, requirePrincipal(ctx), id, input);
      if (Object.keys(changes).length) await tx.audit.record(tx, { action: "role.updated", targetType: "Role", targetId: role.id, changes });
      return { role, revocations: await revokeAccessTokens(tx.em, narrowed) };
    }, rolesLock(ctx));
    await announceRevocations(ctx, revocations);
    await announceGrantsChanged(ctx);
    return role;
  }

  @Authorized(Permission.ROLE_MANAGE)
  @Audited("role.deleted")
  @Mutation(() => Role, { description: "Deletes a tenant role (soft) and removes it from its users. System roles cannot be deleted: FORBIDDEN." })
  async deleteRole(@Arg("id", () => ID) id: string, @Ctx() ctx: TenantsContext): Promise<Role> {
    const { role, revocations } = await inTransaction(ctx, async (tx) => {
      const { role, usersAffected, narrowed } = await deleteRole(tx.em, id);
      await tx.audit.record(tx, {
        action: "role.deleted",
        targetType: "Role",
        targetId: role.id,
        changes: { deletedAt: { before: null, after: role.deletedAt?.toISOString() } },
        metadata: { name: role.name, usersAffected },
      });
      return { role, revocations: await revokeAccessTokens(tx.em, narrowed) };
    }, rolesLock(ctx));
    await announceRevocations(ctx, revocations);
    await announceGrantsChanged(ctx);
    return role;
  }

  @Authorized(Permission.USER_MANAGE)
  @Audited("user.roles.assigned")
  @Mutation(() => User, {
    description: "Replaces a user's roles (names, any letter case). New permissions apply from the user's next sign-in or token refresh.",
  })
  async assignRoles(
    @Arg("userId", () => ID) userId: string,
    @Arg("roles", () => [String]) roles: string[],
    @Ctx() ctx: TenantsContext,
  ): Promise<User> {
    const { user, revocations } = await inTransaction(ctx, async (tx) => {
      const { user, before, after, narrowed } = await assignRoles(tx.em, requirePrincipal(ctx), userId, roles);
      if (before.join("\n") !== after.join("\n")) {
        await tx.audit.record(tx, { action: "user.roles.assigned", targetType: "User", targetId: user.id, changes: { roles: { before, after } } });
      }
      return { user, revocations: narrowed ? await revokeAccessTokens(tx.em, [user.id]) : [] };
    }, rolesLock(ctx));
    await announceRevocations(ctx, revocations);
    await announceGrantsChanged(ctx);
    return user;
  }

  @Authorized(Permission.ROLE_MANAGE)
  @Audited("role.grant.set")
  @Mutation(() => CollectionGrant, { description: "Creates or replaces a tenant role's grant on one collection." })
  async setCollectionGrant(@Arg("input", () => SetCollectionGrantInput) input: SetCollectionGrantInput, @Ctx() ctx: TenantsContext): Promise<CollectionGrant> {
    const grant = await inTransaction(ctx, async (tx) => {
      const { grant, before } = await setCollectionGrant(tx.em, requirePrincipal(ctx), input);
      await tx.audit.record(tx, {
        action: "role.grant.set",
        targetType: "Role",
        targetId: grant.roleId,
        changes: {
          canPush: { before: before?.canPush ?? null, after: grant.canPush },
          canPull: { before: before?.canPull ?? null, after: grant.canPull },
          rowFilters: { before: before?.rowFilters ?? null, after: grant.rowFilters },
        },
        metadata: { collection: grant.collection },
      });
      return grant;
    }, rolesLock(ctx));
    await announceGrantsChanged(ctx);
    return grant;
  }

  @Authorized(Permission.ROLE_MANAGE)
  @Audited("role.grant.removed")
  @Mutation(() => Boolean, { description: "Removes a tenant role's grant on one collection; false when there was none." })
  async removeCollectionGrant(
    @Arg("roleId", () => ID) roleId: string,
    @Arg("collection") collection: string,
    @Ctx() ctx: TenantsContext,
  ): Promise<boolean> {
    const removed = await inTransaction(ctx, async (tx) => {
      const removed = await removeCollectionGrant(tx.em, requirePrincipal(ctx), roleId, collection);
      if (!removed) return null;
      await tx.audit.record(tx, {
        action: "role.grant.removed",
        targetType: "Role",
        targetId: roleId,
        changes: { canPush: { before: removed.canPush }, canPull: { before: removed.canPull }, rowFilters: { before: removed.rowFilters } },
        metadata: { collection: removed.collection },
      });
      return removed;
    }, rolesLock(ctx));
    if (!removed) return false;
    await announceGrantsChanged(ctx);
    return true;
  }

  @FieldResolver(() => [CollectionGrant], { description: 'The role\'s collection grants (a system role has one built-in "*" grant).' })
  grants(@Root() role: Role, @Ctx() ctx: TenantsContext): Promise<CollectionGrant[]> {
    requireRoleRead(ctx);
    return grantsOfRole(role, (id) => ctx.loaders.byForeignKey(CollectionGrant, "roleId", { collection: "asc" }).load(id));
  }
}

@Resolver(() => CollectionGrant)
export class CollectionGrantResolver {
  @FieldResolver(() => Role)
  async role(@Root() grant: CollectionGrant, @Ctx() ctx: TenantsContext): Promise<Role> {
    requireRoleRead(ctx);
    const role = await ctx.loaders.byId(Role).load(grant.roleId);
    if (!role) throw RoleErrors.notFound(grant.roleId);
    return role;
  }
}
