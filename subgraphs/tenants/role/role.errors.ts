import { appError, ErrorCode, Errors } from "../../../kernel/errors.js";

export const RoleErrors = {
  notFound: (id: string) => Errors.notFound("Role", id),
  userNotFound: (id: string) => Errors.notFound("User", id),
  grantNotFound: (roleId: string, collection: string) =>
    appError(ErrorCode.NOT_FOUND, `Role ${roleId} has no grant on ${collection}`, { type: "CollectionGrant", id: `${roleId}/${collection}` }),
  duplicateName: (name: string) => appError(ErrorCode.CONFLICT, `A role named ${name} already exists`, { field: "name" }),
  /** System roles are defined in code; nobody may change them (FORBIDDEN, whatever the caller's permissions). */
  systemRole: (name: string) => Errors.forbidden(`${name} is a system role and cannot be changed or deleted`),
  invalidName: () => Errors.badInput("name must be 1 to 100 characters: letters, digits, spaces, _ . - (starting with a letter or digit)", "name"),
  invalidDescription: () => Errors.badInput("description must be at most 500 characters", "description"),
  unknownPermissions: (names: string[]) =>
    appError(ErrorCode.BAD_USER_INPUT, `Unknown permission ${names.join(", ")}`, { field: "permissions", unknown: names }),
  unknownRoles: (names: string[]) => appError(ErrorCode.BAD_USER_INPUT, `Unknown role ${names.join(", ")}`, { field: "roles", unknown: names }),
  tooManyRoles: (max: number) => Errors.badInput(`A user may hold at most ${max} roles`, "roles"),
  /** Nobody grants what they do not hold themselves. */
  escalation: (permissions: string[]) => Errors.forbidden(`You cannot grant permissions you do not hold: ${permissions.join(", ")}`),
  /**
   * Nobody hands out collection access they do not hold themselves without row filters (see `refuseWiderAccess`):
   * FORBIDDEN, with each collection and direction in `extensions.beyond`.
   */
  accessBeyondOwn: (beyond: { collection: string; direction: "push" | "pull" }[]) =>
    appError(
      ErrorCode.FORBIDDEN,
      `You cannot grant collection access you do not hold yourself without row filters: ${beyond.map((b) => `${b.direction} on ${b.collection}`).join(", ")}`,
      { beyond },
    ),
  grantNeedsPermission: (field: "canPush" | "canPull", permission: string) =>
    Errors.badInput(`${field} needs the role to hold ${permission}`, field),
  ownAdmin: () => appError(ErrorCode.CONFLICT, "You cannot remove your own ADMIN role", { field: "roles" }),
  lastAdmin: () => appError(ErrorCode.CONFLICT, "The tenant must keep at least one active ADMIN", { field: "roles" }),
  concurrentGrant: (role: string, collection: string) =>
    appError(ErrorCode.CONFLICT, `The grant of ${role} on ${collection} was changed concurrently; try again`, { field: "collection" }),
  permissionRequired: (any: string[]) => Errors.forbidden(`Missing permission ${any.join(" or ")}`),
};
