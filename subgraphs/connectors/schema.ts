import "reflect-metadata";
import type { GraphQLSchema } from "graphql";
import { buildFederatedSchema } from "../../kernel/federation.js";
import { Connector } from "./connector/connector.entity.js";
import {
  ConnectorResolver,
  TenantConnectorsResolver,
  resolveConnectorReference,
  resolveTenantRefReference,
} from "./connector/connector.resolver.js";
import { TenantRef } from "./connector/tenant.ref.js";
import { AuditOutbox } from "../../kernel/outbox.js";

/** Entities persisted in the `connectors` Postgres schema. */
export const entities = [Connector, AuditOutbox];

/** Builds the connectors subgraph schema (no side effects). */
export function buildConnectorsSchema(): Promise<GraphQLSchema> {
  return buildFederatedSchema(
    { resolvers: [ConnectorResolver, TenantConnectorsResolver], orphanedTypes: [Connector, TenantRef] },
    { Connector: resolveConnectorReference, Tenant: resolveTenantRefReference },
  );
}
