import { OptionalProps } from "@mikro-orm/core";
import { Entity, Enum, Index, PrimaryKey, Property, Unique } from "@mikro-orm/decorators/legacy";
import { Field, ID, ObjectType, registerEnumType } from "type-graphql";
import { TenantScoped } from "../../../kernel/tenancy.js";

export enum SyncDirection {
  /** Remote → collection. */
  INBOUND = "INBOUND",
  /** Collection → remote (clients' pushes written back). */
  OUTBOUND = "OUTBOUND",
  BOTH = "BOTH",
}
registerEnumType(SyncDirection, { name: "SyncDirection" });

export enum FieldConversion {
  /** The remote value as is (Odoo `false` becomes null except for boolean fields). */
  NONE = "NONE",
  /** Odoo many2one `[id, "name"]` → the id (null when empty). */
  MANY2ONE_ID = "MANY2ONE_ID",
  /** Odoo many2one `[id, "name"]` → the display name. */
  MANY2ONE_NAME = "MANY2ONE_NAME",
  /** Odoo `"YYYY-MM-DD HH:MM:SS"` (UTC) → ISO 8601. */
  DATETIME = "DATETIME",
  /** Odoo `"YYYY-MM-DD"` → kept as a date string (false → null). */
  DATE = "DATE",
  /** Moodle Unix seconds → ISO 8601 (0 → null). */
  UNIX_TIME = "UNIX_TIME",
  /** Remote 0/1, "0"/"1" or booleans → boolean. */
  BOOLEAN = "BOOLEAN",
}
registerEnumType(FieldConversion, { name: "FieldConversion" });

@ObjectType({ description: "One document field and the remote field it comes from" })
export class FieldMapping {
  @Field({ description: "The document's field" })
  field!: string;

  @Field({ description: "The remote field (Odoo field name, Moodle property)" })
  remote!: string;

  @Field(() => FieldConversion)
  convert!: FieldConversion;
}

/** What outbound write-back of a mapping has in flight (saved with its cursor; a crashed batch resumes from it). */
export interface OutboundState {
  /** The SyncRun of the batch being written (finished when the batch ends; a crash leaves it to the next batch). */
  runId: string | null;
  counts: { processed: number; created: number; updated: number; deleted: number; failed: number };
  /** Per-record errors stored with the cursor but not yet reported to the run. */
  unreported: { recordId: string; collection: string; code: string; message: string }[];
  /** A create sent for this record whose remote id is not linked yet (null: none). */
  pendingCreate: { recordId: string; key: string | null } | null;
}

/** How one remote model (Odoo) or record kind (Moodle) lands in one sync collection. */
@ObjectType({ description: "A remote model (Odoo) or record kind (Moodle) synced with a collection" })
@Entity({ tableName: "connector_mapping" })
@Unique({ properties: ["connectorId", "remoteModel"] })
@TenantScoped()
export class ConnectorMapping {
  [OptionalProps]?: "enabled" | "schedule" | "incrementalSince" | "rerunRequested" | "createdAt" | "updatedAt" | "cursor" | "lastRunId" | "lastRunStatus" | "lastRunAt" | "reconciledAt" | "recordCount" | "outboundAfter" | "outbound";

  @Field(() => ID)
  @PrimaryKey({ type: "uuid" })
  id!: string;

  @Index()
  @Property({ type: "uuid" })
  tenantId!: string;

  @Index()
  @Property({ type: "uuid" })
  connectorId!: string;

  @Field({ description: "Odoo model (`res.partner`) or Moodle record kind (`course`, `user`, `enrolment`)" })
  @Property({ length: 200 })
  remoteModel!: string;

  @Field({ description: "The sync collection the records land in" })
  @Property({ length: 100 })
  collection!: string;

  @Field(() => [FieldMapping], { description: "Document fields and their remote sources (the record id is the remote id)" })
  @Property({ type: "json" })
  fieldMap!: FieldMapping[];

  @Field(() => SyncDirection)
  @Enum({ items: () => SyncDirection, nativeEnumName: "sync_direction" })
  direction!: SyncDirection;

  @Field(() => String, { nullable: true, description: "Cron expression (5 or 6 fields, UTC) of scheduled runs; null: on demand only" })
  @Property({ type: "varchar", length: 200, nullable: true })
  schedule: string | null = null;

  @Field()
  @Property({ type: "boolean" })
  enabled: boolean = true;

  /** Where the next incremental run starts (the source's opaque cursor); advanced after each stored batch. */
  @Property({ type: "json", nullable: true })
  cursor: Record<string, unknown> | null = null;

  /** Where an incremental run starts when there is no cursor (set by a full run to its start). */
  @Property({ type: "timestamptz", nullable: true })
  incrementalSince: Date | null = null;

  @Field(() => ID, { nullable: true, description: "The last run that covered this model (a SyncRun)" })
  @Property({ type: "uuid", nullable: true })
  lastRunId: string | null = null;

  @Field(() => String, { nullable: true, description: "Its final status (SUCCEEDED, PARTIAL, FAILED, CANCELLED)" })
  @Property({ type: "varchar", length: 20, nullable: true })
  lastRunStatus: string | null = null;

  @Field(() => Date, { nullable: true })
  @Property({ type: "timestamptz", nullable: true })
  lastRunAt: Date | null = null;

  @Field(() => Date, { nullable: true, description: "When the last reconciliation of this model ended (scheduled by settings.reconcileEveryMinutes, or startSync reconcile)" })
  @Property({ type: "timestamptz", nullable: true })
  reconciledAt: Date | null = null;

  /** A webhook arrived while a run was active: run once more when it ends. */
  @Property({ type: "boolean" })
  rerunRequested: boolean = false;

  /**
   * Outbound (OUTBOUND/BOTH): the position in the collection's changes up to which they were written to the remote
   * (the sync service's opaque seq; null: from the collection's start). Saved after every change written.
   */
  @Property({ type: "varchar", length: 40, nullable: true })
  outboundAfter: string | null = null;

  /**
   * Outbound work in flight (jobs/outbound.ts): the open run of the current batch with its counts and errors not yet
   * reported, and a remote create that may have happened (sent, its link not stored yet). Null when idle.
   */
  @Property({ type: "json", nullable: true })
  outbound: OutboundState | null = null;

  @Field({ description: "Remote records linked to collection records" })
  @Property({ type: "integer" })
  recordCount: number = 0;

  @Field()
  @Property({ type: "timestamptz" })
  createdAt: Date = new Date();

  @Field()
  @Property({ type: "timestamptz", onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
