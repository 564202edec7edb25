// The role feature as `schema.ts` wires it: entities for the ORM, resolvers for the schema, and the functions auth
// uses at sign-in.
import { CollectionGrant } from "./collection-grant.entity.js";
import { Role } from "./role.entity.js";
import { CollectionGrantResolver, RoleResolver } from "./role.resolver.js";

/** Entities persisted in the `tenants` schema (`role`, `collection_grant`). */
export const roleEntities = [Role, CollectionGrant];

/** Resolvers to add to the tenants subgraph schema. */
export const roleResolvers: [Function, ...Function[]] = [RoleResolver, CollectionGrantResolver];

export { CollectionGrant, Role };
export { ensureSystemRoles, grantsFor, resolvePermissions, validateRoleNames } from "./role.service.js";
export type { EffectiveGrantSpec, FilterGroup } from "./collection-grant.policy.js";
