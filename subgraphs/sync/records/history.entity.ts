import { Entity, Enum, Index, PrimaryKey, Property } from "@mikro-orm/decorators/legacy";
import { registerEnumType } from "type-graphql";
import { TenantScoped } from "../../../kernel/tenancy.js";

export enum RecordOperation {
  CREATE = "CREATE",
  UPDATE = "UPDATE",
  DELETE = "DELETE",
}
registerEnumType(RecordOperation, { name: "RecordOperation" });

/** Field changes of one version: `{ field: { b?: before, a?: after } }`; a missing `b`/`a` means the field was absent. */
export type FieldChanges = Record<string, { b?: unknown; a?: unknown }>;

/**
 * One version of a record: which top-level fields changed (before/after), who made it and from where (client device,
 * push or connector run). A CREATE stores no changes: its state is the record's current state with every later
 * version's `before` values put back, so ingest writes each document once. Written in the same statement batch as the
 * record itself; purged together with the record's tombstone.
 */
@Entity({ tableName: "record_history" })
@TenantScoped()
@Index({ properties: ["tenantId", "collection", "recordId", "seq"] })
export class RecordHistory {
  @PrimaryKey({ type: "uuid" })
  tenantId!: string;

  @PrimaryKey({ length: 100 })
  collection!: string;

  @PrimaryKey({ length: 200 })
  recordId!: string;

  @PrimaryKey({ type: "integer" })
  version!: number;

  @Property({ type: "bigint" })
  seq!: string;

  @Enum({ items: () => RecordOperation, nativeEnumName: "record_operation" })
  operation!: RecordOperation;

  @Property({ type: "json", nullable: true })
  changes?: FieldChanges | null;

  @Property({ type: "timestamptz" })
  at!: Date;

  /** USER, API_KEY, CONNECTOR or SERVICE. */
  @Property({ length: 20 })
  actorType!: string;

  @Property({ type: "uuid", nullable: true })
  actorId?: string | null;

  @Property({ length: 200, nullable: true })
  clientId?: string | null;

  @Property({ type: "uuid", nullable: true })
  syncRunId?: string | null;
}
