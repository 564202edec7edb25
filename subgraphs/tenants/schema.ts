import "reflect-metadata";
import type { GraphQLSchema } from "graphql";
import { buildFederatedSchema } from "../../kernel/federation.js";
import { ApiKey } from "./auth/api-key.entity.js";
import { ApiKeyResolver } from "./auth/api-key.resolver.js";
import { AuthResolver } from "./auth/auth.resolver.js";
import { ViewerResolver } from "./auth/viewer.resolver.js";
import { RefreshToken } from "./auth/refresh-token.entity.js";
import { SigningKey } from "./auth/signing-key.entity.js";
import { PlatformUser } from "./platform/platform-user.entity.js";
import { PlatformUserResolver } from "./platform/platform.resolver.js";
import { roleEntities, roleResolvers } from "./role/index.js";
import { Tenant } from "./tenant/tenant.entity.js";
import { TenantResolver, resolveTenantReference } from "./tenant/tenant.resolver.js";
import { User } from "./user/user.entity.js";
import { UserResolver, resolveUserReference } from "./user/user.resolver.js";
import { AuditOutbox } from "../../kernel/outbox.js";

/** Entities persisted in the `tenants` Postgres schema. */
export const entities = [Tenant, User, SigningKey, RefreshToken, ApiKey, PlatformUser, ...roleEntities, AuditOutbox];

/** Builds the tenants subgraph schema (no side effects: used by the service and by `npm run schema`). */
export function buildTenantsSchema(): Promise<GraphQLSchema> {
  return buildFederatedSchema(
    { resolvers: [AuthResolver, ViewerResolver, ApiKeyResolver, TenantResolver, UserResolver, PlatformUserResolver, ...roleResolvers], orphanedTypes: [Tenant, User, PlatformUser] },
    { Tenant: resolveTenantReference, User: resolveUserReference },
  );
}
