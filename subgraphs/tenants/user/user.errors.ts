import { appError, ErrorCode } from "../../../kernel/errors.js";

export const UserErrors = {
  /**
   * user:manage reaches only users who hold nothing the caller lacks: deactivating, reactivating or changing the roles
   * of someone with more permissions (an ADMIN, for a helpdesk role) is acting above one's station (FORBIDDEN, with
   * the permissions in `extensions.permissions`).
   */
  outranked: (action: "deactivate" | "reactivate" | "change the roles of", permissions: string[]) =>
    appError(ErrorCode.FORBIDDEN, `You cannot ${action} a user who holds permissions you do not hold: ${permissions.join(", ")}`, { permissions }),
};

/** Throws {@link UserErrors.outranked} when `target` (a user's current permissions) holds any the caller lacks. */
export function refuseOutranked(held: readonly string[], target: readonly string[], action: Parameters<typeof UserErrors.outranked>[0]): void {
  const lacking = [...new Set(target.filter((p) => !held.includes(p)))].sort();
  if (lacking.length) throw UserErrors.outranked(action, lacking);
}
