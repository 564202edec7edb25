import "reflect-metadata";
import type { GraphQLSchema } from "graphql";
import { buildFederatedSchema } from "../../kernel/federation.js";
import { AuditOutbox } from "../../kernel/outbox.js";
import { Connector } from "./connector/connector.entity.js";
import {
  ConnectorResolver,
  TenantConnectorsResolver,
  resolveConnectorReference,
  resolveTenantRefReference,
} from "./connector/connector.resolver.js";
import { TenantRef } from "./connector/tenant.ref.js";
import { ConnectorModelLock, ConnectorRun, RemoteLink } from "./jobs/connector-run.entity.js";
import { RunResolver } from "./jobs/run.resolver.js";
import { SyncRunRef } from "./jobs/sync-run.ref.js";
import { ConnectorMapping } from "./mapping/mapping.entity.js";
import { MappingResolver } from "./mapping/mapping.resolver.js";
import { PassthroughResolver } from "./passthrough/passthrough.resolver.js";
import { WebhookReceipt } from "./webhooks/webhook.entity.js";
import { WebhookRate, WebhookToken } from "./webhooks/webhook-token.entity.js";
import { WebhookResolver } from "./webhooks/webhook.resolver.js";

/** Entities persisted in the `connectors` Postgres schema. */
export const entities = [Connector, ConnectorMapping, ConnectorRun, ConnectorModelLock, RemoteLink, WebhookReceipt, WebhookToken, WebhookRate, AuditOutbox];

/** Builds the connectors subgraph schema (no side effects). */
export function buildConnectorsSchema(): Promise<GraphQLSchema> {
  return buildFederatedSchema(
    { resolvers: [ConnectorResolver, TenantConnectorsResolver, MappingResolver, RunResolver, PassthroughResolver, WebhookResolver], orphanedTypes: [Connector, TenantRef, SyncRunRef] },
    { Connector: resolveConnectorReference, Tenant: resolveTenantRefReference },
  );
}
