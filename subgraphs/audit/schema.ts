import "reflect-metadata";
import { PurgedTenant } from "./purge/purged-tenant.js";
import type { GraphQLSchema } from "graphql";
import { buildFederatedSchema } from "../../kernel/federation.js";
import { AuditEvent } from "./audit-event/audit-event.entity.js";
import {
  AuditEventResolver,
  UserAuditTrailResolver,
  resolveAuditEventReference,
  resolveUserRefReference,
} from "./audit-event/audit-event.resolver.js";
import { UserRef } from "./audit-event/refs.js";

/** Entities persisted in the `audit` Postgres schema. */
export const entities = [AuditEvent, PurgedTenant];

/** Builds the audit subgraph schema (no side effects). */
export function buildAuditSchema(): Promise<GraphQLSchema> {
  return buildFederatedSchema(
    { resolvers: [AuditEventResolver, UserAuditTrailResolver], orphanedTypes: [AuditEvent, UserRef] },
    { AuditEvent: resolveAuditEventReference, User: resolveUserRefReference },
  );
}
