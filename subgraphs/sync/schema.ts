import "reflect-metadata";
import type { GraphQLSchema } from "graphql";
import { buildFederatedSchema } from "../../kernel/federation.js";
import { AuditOutbox } from "../../kernel/outbox.js";
import { Collection } from "./records/collection.entity.js";
import { PushReceipt, SyncRecord, TenantSeq } from "./records/record.entity.js";
import { Conflict } from "./records/conflict.entity.js";
import { RecordHistory } from "./records/history.entity.js";
import { ConflictResolver, RecordsResolver, SyncClientResolver } from "./records/records.resolver.js";
import { SyncClient } from "./records/sync-client.entity.js";
import { ConnectorRef, UserRef } from "./sync-log/refs.js";
import { SyncRun } from "./sync-log/sync-run.entity.js";
import {
  ConnectorSyncRunsResolver,
  SyncRunResolver,
  resolveConnectorRefReference,
  resolveSyncRunReference,
} from "./sync-log/sync-run.resolver.js";

/** Entities persisted in the `sync` Postgres schema. */
export const entities = [SyncRun, Collection, SyncRecord, TenantSeq, PushReceipt, RecordHistory, Conflict, SyncClient, AuditOutbox];

/** Builds the sync subgraph schema (no side effects). */
export function buildSyncSchema(): Promise<GraphQLSchema> {
  return buildFederatedSchema(
    { resolvers: [SyncRunResolver, ConnectorSyncRunsResolver, RecordsResolver, ConflictResolver, SyncClientResolver], orphanedTypes: [SyncRun, ConnectorRef, UserRef] },
    { SyncRun: resolveSyncRunReference, Connector: resolveConnectorRefReference },
  );
}
