// The four subgraphs as the composition roots (embedded start, schema emit, migration tool) see them.
// Only bin/ and schema/ import across services.
import type { GraphQLSchema } from "graphql";
import { buildAuditSchema, entities as auditEntities } from "../subgraphs/audit/schema.js";
import { migrations as auditMigrations } from "../subgraphs/audit/migrations/index.js";
import { buildConnectorsSchema, entities as connectorsEntities } from "../subgraphs/connectors/schema.js";
import { migrations as connectorsMigrations } from "../subgraphs/connectors/migrations/index.js";
import { buildSyncSchema, entities as syncEntities } from "../subgraphs/sync/schema.js";
import { migrations as syncMigrations } from "../subgraphs/sync/migrations/index.js";
import { buildTenantsSchema, entities as tenantsEntities } from "../subgraphs/tenants/schema.js";
import { migrations as tenantsMigrations } from "../subgraphs/tenants/migrations/index.js";

export interface SubgraphModule {
  name: "tenants" | "sync" | "connectors" | "audit";
  defaultPort: number;
  buildSchema: () => Promise<GraphQLSchema>;
  database: { schema: string; entities: Function[]; migrations: { name: string; class: new (...a: any[]) => any }[] };
}

export const SUBGRAPHS: readonly SubgraphModule[] = [
  { name: "tenants", defaultPort: 4101, buildSchema: buildTenantsSchema, database: { schema: "tenants", entities: tenantsEntities, migrations: tenantsMigrations } },
  { name: "sync", defaultPort: 4102, buildSchema: buildSyncSchema, database: { schema: "sync", entities: syncEntities, migrations: syncMigrations } },
  { name: "connectors", defaultPort: 4103, buildSchema: buildConnectorsSchema, database: { schema: "connectors", entities: connectorsEntities, migrations: connectorsMigrations } },
  { name: "audit", defaultPort: 4104, buildSchema: buildAuditSchema, database: { schema: "audit", entities: auditEntities, migrations: auditMigrations } },
];
