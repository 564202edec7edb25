import { Filter } from "@mikro-orm/decorators/legacy";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";

/** Name of the MikroORM filter that scopes every tenant-owned entity to the caller's tenant. */
export const TENANT_FILTER = "tenant";

/**
 * Marks an entity as tenant-owned: every read, update and delete through the EntityManager (and QueryBuilders that
 * call `applyFilters()`) is restricted to `field = <caller's tenant>`. The filter is on by default and has no default
 * value, so a query without a tenant fails instead of reading every tenant's rows. Inserts are not filtered: services
 * set `tenantId` from the principal, never from input.
 */
export function TenantScoped(field: string = "tenantId") {
  return Filter({
    name: TENANT_FILTER,
    default: true,
    cond: (args: Record<string, unknown>) => {
      if (typeof args.tenantId !== "string") throw new Error("tenant filter used without a tenant");
      return { [field]: args.tenantId };
    },
  });
}

/** A fresh EntityManager (own identity map) scoped to one tenant. One per request. */
export function forkForTenant(orm: MikroORM, tenantId: string): EntityManager {
  const em = orm.em.fork({ clear: true });
  em.setFilterParams(TENANT_FILTER, { tenantId });
  return em;
}

/** A fresh EntityManager for system work that spans tenants (login by slug, JWKS): filters must be lifted explicitly. */
export function forkUnscoped(orm: MikroORM): EntityManager {
  return orm.em.fork({ clear: true });
}
