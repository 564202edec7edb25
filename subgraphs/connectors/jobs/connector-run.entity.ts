import { OptionalProps } from "@mikro-orm/core";
import { Entity, Index, PrimaryKey, Property } from "@mikro-orm/decorators/legacy";
import { TenantScoped } from "../../../kernel/tenancy.js";

/** The options of one run, as `startSync` accepted them. */
export interface RunOptions {
  full: boolean;
  since: string | null;
  dryRun: boolean;
  maxRecords: number | null;
  batchSize: number;
  force: boolean;
  models: string[];
  /**
   * Reconcile: compare the remote's `(id, change stamp)` summaries with the stored ones and re-read only the records
   * that differ (late commits incremental runs missed, deletions, archives). Odoo models only.
   */
  reconcile?: boolean;
}

/** Progress of one model inside a run: where it is and what it did (resumed from after a crash). */
export interface ModelProgress {
  model: string;
  /** Source cursor after the last stored page (null: not started). */
  cursor: Record<string, unknown> | null;
  done: boolean;
  /** Full runs: the reconciliation of deletes is done. */
  reconciled: boolean;
}

export type RunCounts = { processed: number; created: number; updated: number; deleted: number; failed: number };

/**
 * The job state of a connector run, owned by the connectors service (the public log entry is the sync service's
 * SyncRun with the same id). Written after every stored page, so a retried job resumes where the crashed one stopped.
 */
@Entity({ tableName: "connector_run" })
@Index({ properties: ["connectorId", "finishedAt"] })
@TenantScoped()
export class ConnectorRun {
  [OptionalProps]?: "createdAt" | "finishedAt" | "cancelRequested" | "attempts" | "counts" | "status" | "error";

  /** = the SyncRun id. */
  @PrimaryKey({ type: "uuid" })
  id!: string;

  @Property({ type: "uuid" })
  tenantId!: string;

  @Property({ type: "uuid" })
  connectorId!: string;

  @Property({ type: "json" })
  options!: RunOptions;

  @Property({ type: "json" })
  progress!: ModelProgress[];

  @Property({ type: "json" })
  counts: RunCounts = { processed: 0, created: 0, updated: 0, deleted: 0, failed: 0 };

  /** QUEUED, RUNNING, or the final status. */
  @Property({ type: "varchar", length: 20 })
  status: string = "QUEUED";

  @Property({ type: "boolean" })
  cancelRequested: boolean = false;

  /** Why it failed (reported to the sync log with the final status). */
  @Property({ type: "text", nullable: true })
  error: string | null = null;

  @Property({ type: "integer" })
  attempts: number = 0;

  @Property({ type: "timestamptz" })
  createdAt: Date = new Date();

  @Property({ type: "timestamptz", nullable: true })
  finishedAt: Date | null = null;
}

/**
 * At most one run per connector and model: a row per (connector, model) while a run holds it, inserted by startSync
 * in one transaction for all the run's models, deleted when the run ends.
 */
@Entity({ tableName: "connector_model_lock" })
export class ConnectorModelLock {
  @PrimaryKey({ type: "uuid" })
  connectorId!: string;

  @PrimaryKey({ length: 200 })
  model!: string;

  @Property({ type: "uuid" })
  runId!: string;

  @Property({ type: "uuid" })
  tenantId!: string;
}

/**
 * A remote record linked to a collection record: inbound records get their remote id as record id; records clients
 * created and the connector wrote back keep their own id. Reconciliation of full runs deletes the records whose remote
 * id is no longer live.
 */
@Entity({ tableName: "remote_link" })
@Index({ properties: ["mappingId", "recordId"] })
// Reconciliation reads a mapping's links by numeric remote id range (Odoo ids).
@Index({
  name: "remote_link_numeric_id_index",
  expression: `create index "remote_link_numeric_id_index" on "connectors"."remote_link" ("mapping_id", (("remote_id")::bigint)) where "remote_id" ~ '^[0-9]{1,18}$'`,
})
export class RemoteLink {
  @PrimaryKey({ type: "uuid" })
  mappingId!: string;

  @PrimaryKey({ length: 200 })
  remoteId!: string;

  @Property({ length: 200 })
  recordId!: string;

  @Property({ type: "uuid" })
  tenantId!: string;

  /** The run that last saw the record live (reconciliation: links older than a full run's start were not seen). */
  @Property({ type: "uuid", nullable: true })
  seenByRunId: string | null = null;

  /**
   * The remote record's mapped fields as last read from the remote (inbound runs of BOTH mappings) or written to it
   * (outbound), one short hash per remote field ({@link remoteStateOf}): outbound sends only the fields a client
   * changed against it. Null: not known (INBOUND-only mappings, links older than this column).
   */
  @Property({ type: "json", nullable: true })
  remoteState: Record<string, string> | null = null;

  /** The remote's change stamp when the record was last stored (Odoo write_date; null: unknown, e.g. written back). */
  @Property({ type: "varchar", length: 40, nullable: true })
  remoteVersion: string | null = null;
}
