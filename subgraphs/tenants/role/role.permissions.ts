/** Named permissions checked by every subgraph on the data it owns. */
export const Permission = {
  TENANT_MANAGE: "tenant:manage",
  USER_MANAGE: "user:manage",
  ROLE_MANAGE: "role:manage",
  CONNECTOR_MANAGE: "connector:manage",
  CONNECTOR_RUN: "connector:run",
  SYNC_PUSH: "sync:push",
  SYNC_PULL: "sync:pull",
  AUDIT_READ: "audit:read",
} as const;
export type Permission = (typeof Permission)[keyof typeof Permission];

const ALL = Object.values(Permission);

/** System roles and what they may do. Custom per-tenant roles come with the identity issue. */
export const SYSTEM_ROLES: Record<string, readonly Permission[]> = {
  ADMIN: ALL,
  MANAGER: ["connector:manage", "connector:run", "sync:push", "sync:pull", "audit:read"],
  USER: ["sync:push", "sync:pull"],
  ANALYST: ["sync:pull"],
  READ_ONLY: ["sync:pull"],
};

/** The union of the permissions of `roles` (unknown roles grant nothing). */
export function permissionsOf(roles: readonly string[]): Permission[] {
  return [...new Set(roles.flatMap((r) => SYSTEM_ROLES[r] ?? []))].sort();
}
