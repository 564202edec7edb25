import { OptionalProps } from "@mikro-orm/core";
import { Entity, Enum, Index, PrimaryKey, Property } from "@mikro-orm/decorators/legacy";
import { Directive, Field, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import { TenantScoped } from "../../../kernel/tenancy.js";

export enum SyncRunKind {
  PUSH = "PUSH",
  PULL = "PULL",
  CONNECTOR = "CONNECTOR",
}
registerEnumType(SyncRunKind, { name: "SyncRunKind" });

export enum SyncRunStatus {
  QUEUED = "QUEUED",
  RUNNING = "RUNNING",
  SUCCEEDED = "SUCCEEDED",
  PARTIAL = "PARTIAL",
  FAILED = "FAILED",
  CANCELLED = "CANCELLED",
}
registerEnumType(SyncRunStatus, { name: "SyncRunStatus" });

/** Statuses after which a run never changes again. */
export const FINAL_STATUSES: ReadonlySet<SyncRunStatus> = new Set([
  SyncRunStatus.SUCCEEDED,
  SyncRunStatus.PARTIAL,
  SyncRunStatus.FAILED,
  SyncRunStatus.CANCELLED,
]);

/** One entry of the sync log: a push, a pull or a connector run, with its progress counts. */
@Directive('@key(fields: "id")')
@ObjectType({ description: "One entry of the sync log: a push, a pull or a connector run." })
@Entity({ tableName: "sync_run" })
@TenantScoped()
@Index({ properties: ["tenantId", "createdAt"] })
export class SyncRun {
  [OptionalProps]?: "status" | "processed" | "created" | "updated" | "deleted" | "failed" | "conflicts" | "createdAt" | "updatedAt";

  @Field(() => ID)
  @PrimaryKey({ type: "uuid" })
  id!: string;

  @Property({ type: "uuid" })
  tenantId!: string;

  @Field(() => SyncRunKind)
  @Enum({ items: () => SyncRunKind, nativeEnumName: "sync_run_kind" })
  kind!: SyncRunKind;

  @Field(() => SyncRunStatus)
  @Enum({ items: () => SyncRunStatus, nativeEnumName: "sync_run_status" })
  status: SyncRunStatus = SyncRunStatus.QUEUED;

  /** Owned by the connectors service; exposed as `connector` (resolved there). */
  @Index()
  @Property({ type: "uuid", nullable: true })
  connectorId?: string | null = null;

  /** Owned by the tenants service; exposed as `triggeredBy`. */
  @Property({ type: "uuid", nullable: true })
  triggeredById?: string | null = null;

  @Field(() => Int) @Property({ type: "integer" }) processed: number = 0;
  @Field(() => Int) @Property({ type: "integer" }) created: number = 0;
  @Field(() => Int) @Property({ type: "integer" }) updated: number = 0;
  @Field(() => Int) @Property({ type: "integer" }) deleted: number = 0;
  @Field(() => Int) @Property({ type: "integer" }) failed: number = 0;
  @Field(() => Int) @Property({ type: "integer" }) conflicts: number = 0;

  @Field(() => String, { nullable: true, description: "Why the run failed, if it did" })
  @Property({ type: "text", nullable: true })
  error?: string | null = null;

  @Field(() => Date, { nullable: true })
  @Property({ type: "timestamptz", nullable: true })
  startedAt?: Date | null = null;

  @Field(() => Date, { nullable: true })
  @Property({ type: "timestamptz", nullable: true })
  finishedAt?: Date | null = null;

  @Field()
  @Property({ type: "timestamptz" })
  createdAt: Date = new Date();

  @Field()
  @Property({ type: "timestamptz", onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
