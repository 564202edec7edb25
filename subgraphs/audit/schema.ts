import "reflect-metadata";
import type { GraphQLSchema } from "graphql";
import { buildFederatedSchema } from "../../kernel/federation.js";
import { AuditEvent } from "./audit-event/audit-event.entity.js";
import { AuditEventResolver, resolveAuditEventReference } from "./audit-event/audit-event.resolver.js";
import {
  ConnectorAuditTrailResolver,
  SyncRunAuditTrailResolver,
  TenantAuditTrailResolver,
  UserAuditTrailResolver,
  resolveConnectorRefReference,
  resolveSyncRunRefReference,
  resolveTenantRefReference,
  resolveUserRefReference,
} from "./audit-event/audit-trail.resolver.js";
import { ConnectorRef, SyncRunRef, TenantRef, UserRef } from "./audit-event/refs.js";
import { PurgedTenant } from "./purge/purged-tenant.js";
import { AuditChainBoundary } from "./retention/chain-boundary.entity.js";

/** Entities persisted in the `audit` Postgres schema. */
export const entities = [AuditEvent, PurgedTenant, AuditChainBoundary];

/** Builds the audit subgraph schema (no side effects). */
export function buildAuditSchema(): Promise<GraphQLSchema> {
  return buildFederatedSchema(
    {
      resolvers: [AuditEventResolver, UserAuditTrailResolver, TenantAuditTrailResolver, ConnectorAuditTrailResolver, SyncRunAuditTrailResolver],
      orphanedTypes: [AuditEvent, UserRef, TenantRef, ConnectorRef, SyncRunRef],
    },
    {
      AuditEvent: resolveAuditEventReference,
      User: resolveUserRefReference,
      Tenant: resolveTenantRefReference,
      Connector: resolveConnectorRefReference,
      SyncRun: resolveSyncRunRefReference,
    },
  );
}
