import { OptionalProps } from "@mikro-orm/core";
import { Entity, Enum, Index, PrimaryKey, Property } from "@mikro-orm/decorators/legacy";
import { GraphQLJSONObject } from "graphql-scalars";
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

/** Who a run acted for. */
export enum SyncRunActorType {
  /** A signed-in tenant user (`triggeredBy`). */
  USER = "USER",
  /** An API key (`apiKeyId`). */
  API_KEY = "API_KEY",
  /** A connector on its own (schedule, webhook). */
  CONNECTOR = "CONNECTOR",
  /** Tributary itself (maintenance, system jobs). */
  SERVICE = "SERVICE",
}
registerEnumType(SyncRunActorType, { name: "SyncRunActorType", description: "Who a sync run acted for" });

/** Statuses after which a run never changes again. */
export const FINAL_STATUSES: ReadonlySet<SyncRunStatus> = new Set([
  SyncRunStatus.SUCCEEDED,
  SyncRunStatus.PARTIAL,
  SyncRunStatus.FAILED,
  SyncRunStatus.CANCELLED,
]);

/** At most this many per-record errors are stored per run; `errorCount` keeps the true number. */
export const MAX_STORED_RUN_ERRORS = 100;

/** One per-record error of a run (a rejected push row, a record a connector could not write). */
@ObjectType({ description: "A per-record error of a sync run" })
export class SyncRunError {
  @Field(() => String, { nullable: true, description: "The record's id, when it has one" })
  recordId!: string | null;

  @Field(() => String, { nullable: true })
  collection!: string | null;

  @Field({ description: "Stable code (BAD_USER_INPUT, SCHEMA_VIOLATION, FORBIDDEN, ...)" })
  code!: string;

  @Field()
  message!: string;
}

/** One entry of the sync log: a push, a pull or a connector run, with its progress counts. */
@Directive('@key(fields: "id")')
@ObjectType({ description: "One entry of the sync log: a push, a pull or a connector run." })
@Entity({ tableName: "sync_run" })
@TenantScoped()
// Every list filter is served by an index that also gives the (createdAt, id) keyset order, newest first.
@Index({ properties: ["tenantId", "createdAt", "id"] })
@Index({ properties: ["tenantId", "kind", "createdAt", "id"] })
@Index({ properties: ["tenantId", "status", "createdAt", "id"] })
@Index({ properties: ["tenantId", "connectorId", "createdAt", "id"] })
@Index({ properties: ["tenantId", "triggeredById", "createdAt", "id"] })
@Index({ properties: ["tenantId", "clientId", "createdAt", "id"] })
export class SyncRun {
  [OptionalProps]?:
    | "status"
    | "actorType"
    | "processed"
    | "created"
    | "updated"
    | "deleted"
    | "failed"
    | "conflicts"
    | "rejected"
    | "collections"
    | "errors"
    | "errorCount"
    | "createdAt"
    | "updatedAt";

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

  @Field(() => SyncRunActorType, { description: "Who the run acted for: a user (triggeredBy), an API key (apiKeyId), a connector or the service" })
  @Enum({ items: () => SyncRunActorType, nativeEnumName: "sync_run_actor_type" })
  actorType: SyncRunActorType = SyncRunActorType.USER;

  /** Owned by the connectors service; exposed as `connector` (resolved there). */
  @Property({ type: "uuid", nullable: true })
  connectorId?: string | null = null;

  /** Owned by the tenants service; exposed as `triggeredBy`. Null for API keys, connectors and the service. */
  @Property({ type: "uuid", nullable: true })
  triggeredById?: string | null = null;

  @Field(() => ID, { nullable: true, description: "The API key the run acted for (actorType API_KEY)" })
  @Property({ type: "uuid", nullable: true })
  apiKeyId?: string | null = null;

  @Field(() => String, { nullable: true, description: "The client (device) that pushed or pulled" })
  @Property({ type: "varchar", length: 200, nullable: true })
  clientId?: string | null = null;

  @Field(() => [String], { description: "Collections the run touched" })
  @Property({ type: "text[]", defaultRaw: "'{}'" })
  collections: string[] = [];

  @Field(() => GraphQLJSONObject, { nullable: true, description: "The run's options (strategy, limit, connector options, ...)" })
  @Property({ type: "json", nullable: true })
  parameters?: Record<string, unknown> | null = null;

  @Field(() => Int) @Property({ type: "integer" }) processed: number = 0;
  @Field(() => Int) @Property({ type: "integer" }) created: number = 0;
  @Field(() => Int) @Property({ type: "integer" }) updated: number = 0;
  @Field(() => Int) @Property({ type: "integer" }) deleted: number = 0;
  @Field(() => Int) @Property({ type: "integer" }) failed: number = 0;
  @Field(() => Int) @Property({ type: "integer" }) conflicts: number = 0;
  @Field(() => Int, { description: "Records refused (validation, permission, row filter)" })
  @Property({ type: "integer" })
  rejected: number = 0;

  @Field(() => [SyncRunError], { description: `Per-record errors, the first ${MAX_STORED_RUN_ERRORS} (errorCount has them all)` })
  @Property({ type: "json", defaultRaw: "'[]'" })
  errors: SyncRunError[] = [];

  @Field(() => Int, { description: "How many per-record errors the run had (errors keeps the first ones)" })
  @Property({ type: "integer" })
  errorCount: number = 0;

  @Field(() => String, { nullable: true, description: "Connector runs: the remote model or record kind being processed now" })
  @Property({ type: "varchar", length: 200, nullable: true })
  currentModel?: string | null = null;

  @Field(() => String, { nullable: true, description: "Why the run failed, if it did" })
  @Property({ type: "text", nullable: true })
  error?: string | null = null;

  @Field(() => Date, { nullable: true })
  @Property({ type: "timestamptz", nullable: true })
  startedAt?: Date | null = null;

  @Field(() => Date, { nullable: true })
  @Property({ type: "timestamptz", nullable: true })
  finishedAt?: Date | null = null;

  /**
   * Time spent, when it is not finishedAt − startedAt: an entry that aggregates several pulls stores the sum of their
   * durations (its start and end span the window). Read it through {@link runDurationMs}.
   */
  @Property({ type: "integer", nullable: true })
  durationMs?: number | null = null;

  /** Millisecond precision in the database too, so the (createdAt, id) cursor round-trips exactly. */
  @Field()
  @Property({ type: "timestamptz", length: 3 })
  createdAt: Date = new Date();

  @Field()
  @Property({ type: "timestamptz", onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}

/** A run's duration in ms: the stored one (aggregated pulls), else finishedAt − startedAt; null while unfinished. */
export function runDurationMs(run: Pick<SyncRun, "durationMs" | "startedAt" | "finishedAt">): number | null {
  if (run.durationMs !== null && run.durationMs !== undefined) return run.durationMs;
  if (!run.startedAt || !run.finishedAt) return null;
  return Math.max(0, run.finishedAt.getTime() - run.startedAt.getTime());
}

/**
 * Records processed per second of run time: over the whole run once finished, so far while it runs (live progress);
 * null before it starts or when it took no measurable time.
 */
export function runRecordsPerSecond(run: Pick<SyncRun, "processed" | "durationMs" | "startedAt" | "finishedAt">, now = Date.now()): number | null {
  const ms = runDurationMs(run) ?? (run.startedAt && !run.finishedAt ? now - run.startedAt.getTime() : null);
  return ms ? (run.processed * 1000) / ms : null;
}
