import "reflect-metadata";
import type { GraphQLSchema } from "graphql";
import { buildFederatedSchema } from "../../kernel/federation.js";
import { Collection } from "./records/collection.entity.js";
import { PushReceipt, SyncRecord, TenantSeq } from "./records/record.entity.js";
import { RecordsResolver } from "./records/records.resolver.js";
import { ConnectorRef, UserRef } from "./sync-log/refs.js";
import { SyncRun } from "./sync-log/sync-run.entity.js";
import {
  ConnectorSyncRunsResolver,
  SyncRunResolver,
  resolveConnectorRefReference,
  resolveSyncRunReference,
} from "./sync-log/sync-run.resolver.js";

/** Entities persisted in the `sync` Postgres schema. */
export const entities = [SyncRun, Collection, SyncRecord, TenantSeq, PushReceipt];

/** Builds the sync subgraph schema (no side effects). */
export function buildSyncSchema(): Promise<GraphQLSchema> {
  return buildFederatedSchema(
    { resolvers: [SyncRunResolver, ConnectorSyncRunsResolver, RecordsResolver], orphanedTypes: [SyncRun, ConnectorRef, UserRef] },
    { SyncRun: resolveSyncRunReference, Connector: resolveConnectorRefReference },
  );
}
