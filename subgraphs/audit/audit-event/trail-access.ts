// Who may read which audit trail. Tenant callers read their own tenant's (audit:read). Platform operators
// (platform:read) name the tenant, and each of their reads is itself recorded in that tenant's trail (actor
// PLATFORM_USER) before anything is returned: a read that cannot be recorded is refused. The installation's own trail
// (PLATFORM_AUDIT_TRAIL) is readable by platform operators only; reading it concerns no tenant and is not recorded.
import { PLATFORM_AUDIT_TRAIL } from "../../../kernel/audit.js";
import { requirePlatform, requirePrincipal } from "../../../kernel/auth.js";
import { Errors } from "../../../kernel/errors.js";
import { isUuid } from "../../../kernel/loaders.js";
import type { AuditContext } from "../context.js";

export const PERM_READ = "audit:read";
export const PLATFORM_READ = "platform:read";

/** The tenant whose trail the caller reads: their own, or (platform operators) the one `tenantId` names. */
export function trailTenant(ctx: Pick<AuditContext, "principal" | "platform">, tenantId: string | null | undefined, field = "tenantId"): string {
  if (ctx.platform) {
    requirePlatform(ctx, PLATFORM_READ);
    if (tenantId == null || tenantId === "") throw Errors.badInput(`${field} is required for platform operators`, field);
    if (!isUuid(tenantId)) throw Errors.badInput(`${field} must be a UUID`, field);
    return tenantId.toLowerCase();
  }
  const principal = requirePrincipal(ctx);
  if (!principal.permissions.includes(PERM_READ)) throw Errors.forbidden(`Missing permission ${PERM_READ}`);
  if (tenantId != null && tenantId.toLowerCase() !== principal.tenantId) throw Errors.forbidden(`${field} is for platform operators`);
  return principal.tenantId;
}

/**
 * Records a platform operator's read of a tenant's trail in that trail (`audit.trail.read`: how it was read and with
 * which filters). Nothing for tenant callers, nor for the installation's own trail.
 */
export async function recordTrailRead(ctx: AuditContext, tenantId: string, via: string, detail: Record<string, unknown> = {}): Promise<void> {
  if (!ctx.platform || tenantId === PLATFORM_AUDIT_TRAIL) return;
  const details = Object.fromEntries(Object.entries(detail).filter(([, v]) => v !== undefined && v !== null && v !== ""));
  await ctx.audit.record(ctx, { tenantId, action: "audit.trail.read", targetType: "AuditTrail", targetId: tenantId, metadata: { via, ...details } });
}
