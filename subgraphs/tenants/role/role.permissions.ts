/** Named permissions checked by every subgraph on the data it owns. */
export const Permission = {
  TENANT_MANAGE: "tenant:manage",
  USER_READ: "user:read",
  USER_MANAGE: "user:manage",
  ROLE_READ: "role:read",
  ROLE_MANAGE: "role:manage",
  CONNECTOR_MANAGE: "connector:manage",
  CONNECTOR_RUN: "connector:run",
  SYNC_PUSH: "sync:push",
  SYNC_PULL: "sync:pull",
  AUDIT_READ: "audit:read",
} as const;
export type Permission = (typeof Permission)[keyof typeof Permission];

/** Every known permission, sorted. Roles may only hold these. */
export const ALL_PERMISSIONS: readonly Permission[] = Object.values(Permission).sort();

const KNOWN = new Set<string>(ALL_PERMISSIONS);
/** Whether `name` is a permission this version knows. */
export function isPermission(name: string): name is Permission {
  return KNOWN.has(name);
}

/** The wildcard collection: a grant on it applies to every collection the role has no grant of its own for. */
export const ALL_COLLECTIONS = "*";

export interface SystemRoleDefinition {
  description: string;
  permissions: readonly Permission[];
}

/**
 * The five roles every tenant has. They are defined here, in code, and cannot be edited or deleted: their
 * permissions always come from this table (the `role` rows mirror them for listing), and their collection access
 * is a `*` grant derived from `sync:push` / `sync:pull` (see {@link systemRoleGrant}). Tenants restrict access by
 * creating their own roles.
 */
export const SYSTEM_ROLE_DEFINITIONS = {
  ADMIN: { description: "Everything in the tenant", permissions: ALL_PERMISSIONS },
  MANAGER: {
    description: "Runs connectors and syncs, reads the audit log, users and roles",
    permissions: ["audit:read", "connector:manage", "connector:run", "role:read", "sync:pull", "sync:push", "user:read"],
  },
  USER: { description: "Pushes and pulls records", permissions: ["sync:pull", "sync:push"] },
  ANALYST: { description: "Pulls records (read-only sync)", permissions: ["sync:pull"] },
  READ_ONLY: { description: "Pulls records and sees users and roles, changes nothing", permissions: ["role:read", "sync:pull", "user:read"] },
} as const satisfies Record<string, SystemRoleDefinition>;
export type SystemRoleName = keyof typeof SYSTEM_ROLE_DEFINITIONS;

/** System role names in display order. */
export const SYSTEM_ROLE_NAMES = Object.keys(SYSTEM_ROLE_DEFINITIONS) as SystemRoleName[];

/** System roles and their permissions (kept for callers of the static table). */
export const SYSTEM_ROLES: Record<string, readonly Permission[]> = Object.fromEntries(
  SYSTEM_ROLE_NAMES.map((name) => [name, SYSTEM_ROLE_DEFINITIONS[name].permissions]),
);

/** Whether `name` is a system role (exact, canonical spelling). */
export function isSystemRole(name: string): name is SystemRoleName {
  return Object.prototype.hasOwnProperty.call(SYSTEM_ROLE_DEFINITIONS, name);
}

/** The system role named `name` in any letter case (`admin` → `ADMIN`), or undefined. */
export function systemRoleNamed(name: string): SystemRoleName | undefined {
  const upper = name.trim().toUpperCase();
  return isSystemRole(upper) ? upper : undefined;
}

/** A system role's collection access: every collection, push and pull as its permissions allow, no row filters. */
export function systemRoleGrant(name: SystemRoleName): { collection: string; canPush: boolean; canPull: boolean; rowFilters: [] } {
  const perms: readonly string[] = SYSTEM_ROLE_DEFINITIONS[name].permissions;
  return { collection: ALL_COLLECTIONS, canPush: perms.includes(Permission.SYNC_PUSH), canPull: perms.includes(Permission.SYNC_PULL), rowFilters: [] };
}

/**
 * The union of the permissions of the system roles among `roles` (other names grant nothing). Static fallback:
 * tenant-defined roles live in the database, so login uses `resolvePermissions` from `role.service.ts`.
 */
export function permissionsOf(roles: readonly string[]): Permission[] {
  return [...new Set(roles.flatMap((r) => SYSTEM_ROLES[r] ?? []))].sort();
}
