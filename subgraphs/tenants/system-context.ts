import { randomUUID } from "node:crypto";
import type { MikroORM } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import { AuditRecorder } from "../../kernel/audit.js";
import { LoaderRegistry } from "../../kernel/loaders.js";
import type { PubSub } from "../../kernel/pubsub/pubsub.js";
import { forkForTenant, forkUnscoped } from "../../kernel/tenancy.js";
import type { KeyStore } from "./auth/key-store.js";
import { LoginThrottle } from "./auth/login-throttle.js";
import type { TenantsContext } from "./context.js";
import { ensureSystemRoles, resolvePermissions, validateRoleNames } from "./role/index.js";

/** How the tenants features plug into each other (roles decide permissions; a new tenant gets the system roles). */
export const tenantsHooks: Pick<TenantsContext, "permissions" | "validateRoles" | "onTenantCreated"> = {
  permissions: resolvePermissions,
  validateRoles: (ctx, roles) => validateRoleNames(ctx, roles),
  onTenantCreated: async (em, tenantId) => {
    await ensureSystemRoles(em, tenantId);
  },
};

/**
 * A context for work done by the installation itself (operator CLI, first-start seeding), not by a caller: audited as
 * SERVICE, scoped to `tenantId` when given, unscoped (explicit lookups only) otherwise.
 */
export function systemContext(
  orm: MikroORM,
  deps: { pubsub: PubSub; logger: Logger; keyStore?: KeyStore; tenantId?: string; actor?: string; audit?: AuditRecorder },
): TenantsContext {
  const em = deps.tenantId ? forkForTenant(orm, deps.tenantId) : forkUnscoped(orm);
  return {
    requestId: `system-${randomUUID()}`,
    serviceActor: deps.actor ?? "system",
    client: { userAgent: deps.actor ?? "tributary-system" },
    logger: deps.logger,
    em,
    loaders: new LoaderRegistry(em),
    keyStore: deps.keyStore as KeyStore,
    audit: deps.audit ?? new AuditRecorder(),
    pubsub: deps.pubsub,
    throttle: new LoginThrottle({}),
    ...tenantsHooks,
  };
}
