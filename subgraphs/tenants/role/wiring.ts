// Temporary bridge until the roles feature (custom roles) is wired: system role names only.
import { Errors } from "../../../kernel/errors.js";
import type { TenantsContext } from "../context.js";
import { SYSTEM_ROLES } from "./role.permissions.js";

export async function knownRoles(_ctx: TenantsContext, roles: string[]): Promise<void> {
  const unknown = roles.filter((r) => !(r in SYSTEM_ROLES));
  if (unknown.length) throw Errors.badInput(`Unknown roles: ${unknown.join(", ")}`, "roles");
}
