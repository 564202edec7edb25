import "reflect-metadata";
import type { GraphQLSchema } from "graphql";
import { buildFederatedSchema } from "../../kernel/federation.js";
import { AuthResolver } from "./auth/auth.resolver.js";
import { SigningKey } from "./auth/signing-key.entity.js";
import { Tenant } from "./tenant/tenant.entity.js";
import { TenantResolver, resolveTenantReference } from "./tenant/tenant.resolver.js";
import { User } from "./user/user.entity.js";
import { UserResolver, resolveUserReference } from "./user/user.resolver.js";

/** Entities persisted in the `tenants` Postgres schema. */
export const entities = [Tenant, User, SigningKey];

/** Builds the tenants subgraph schema (no side effects: used by the service and by `npm run schema`). */
export function buildTenantsSchema(): Promise<GraphQLSchema> {
  return buildFederatedSchema(
    { resolvers: [AuthResolver, TenantResolver, UserResolver], orphanedTypes: [Tenant, User] },
    { Tenant: resolveTenantReference, User: resolveUserReference },
  );
}
