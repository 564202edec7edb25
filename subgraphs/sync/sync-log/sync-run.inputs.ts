import { GraphQLJSONObject } from "graphql-scalars";
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { SyncRun, SyncRunKind, SyncRunStatus } from "./sync-run.entity.js";

@InputType()
export class StartSyncRunInput {
  @Field(() => SyncRunKind)
  kind!: SyncRunKind;

  @Field(() => ID, { nullable: true, description: "The connector this run belongs to, for CONNECTOR runs" })
  connectorId?: string | null;

  @Field(() => String, { nullable: true, description: "The client (device) the run is for (1–200 characters)" })
  clientId?: string | null;

  @Field(() => [String], { nullable: true, description: "Collections the run covers (at most 50)" })
  collections?: string[] | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "The run's options, as given (at most 8 KB of JSON)" })
  parameters?: Record<string, unknown> | null;
}

@InputType({ description: "A per-record error reported by a run" })
export class SyncRunErrorInput {
  @Field(() => String, { nullable: true, description: "The record's id (at most 200 characters)" })
  recordId?: string | null;

  @Field(() => String, { nullable: true })
  collection?: string | null;

  @Field({ description: "Stable code, 1–100 characters" })
  code!: string;

  @Field({ description: "1–2000 characters" })
  message!: string;
}

@InputType({ description: "New counts are absolute values, never lower than the current ones." })
export class SyncRunProgressInput {
  @Field(() => SyncRunStatus, { nullable: true })
  status?: SyncRunStatus | null;

  @Field(() => Int, { nullable: true }) processed?: number | null;
  @Field(() => Int, { nullable: true }) created?: number | null;
  @Field(() => Int, { nullable: true }) updated?: number | null;
  @Field(() => Int, { nullable: true }) deleted?: number | null;
  @Field(() => Int, { nullable: true }) failed?: number | null;
  @Field(() => Int, { nullable: true }) conflicts?: number | null;
  @Field(() => Int, { nullable: true }) rejected?: number | null;

  @Field(() => [SyncRunErrorInput], { nullable: true, description: "New per-record errors, appended (at most 100 per report)" })
  errors?: SyncRunErrorInput[] | null;

  @Field(() => String, { nullable: true, description: "Failure reason (at most 2000 characters)" })
  error?: string | null;

  @Field(() => String, { nullable: true, description: "The remote model or record kind being processed now (at most 200 characters)" })
  currentModel?: string | null;
}

@InputType({ description: "Narrows syncRuns; every given field must match." })
export class SyncRunFilter {
  @Field(() => SyncRunKind, { nullable: true }) kind?: SyncRunKind | null;
  @Field(() => SyncRunStatus, { nullable: true }) status?: SyncRunStatus | null;
  @Field(() => ID, { nullable: true }) connectorId?: string | null;

  @Field(() => ID, { nullable: true, description: "The user who triggered the run" })
  actorId?: string | null;

  @Field(() => String, { nullable: true, description: "The client (device) of the run" })
  clientId?: string | null;

  @Field(() => Date, { nullable: true, description: "Runs created at or after this time" })
  from?: Date | null;

  @Field(() => Date, { nullable: true, description: "Runs created before this time" })
  to?: Date | null;
}

@ObjectType({ description: "A page of sync runs, newest first" })
export class SyncRunPage {
  @Field(() => [SyncRun])
  nodes!: SyncRun[];

  @Field(() => String, { nullable: true, description: "Pass as `after` for the next page (opaque)" })
  endCursor!: string | null;

  @Field()
  hasNextPage!: boolean;
}

export enum StatsBucket {
  HOUR = "HOUR",
  DAY = "DAY",
}
registerEnumType(StatsBucket, { name: "StatsBucket", description: "Bucket width of syncStats (UTC)" });

@ObjectType({ description: "Sync runs created in one time bucket (UTC), for charts" })
export class SyncStatsBucket {
  @Field({ description: "Start of the bucket" })
  start!: Date;

  @Field(() => Int) runs!: number;
  @Field(() => Int) succeeded!: number;
  @Field(() => Int) partial!: number;
  @Field(() => Int) failed!: number;
  @Field(() => Int) cancelled!: number;

  // Sums over many runs may pass 2^31: Float keeps them exact up to 2^53.
  @Field(() => Float, { description: "Records processed (sum over the bucket's runs)" }) processed!: number;
  @Field(() => Float) created!: number;
  @Field(() => Float) updated!: number;
  @Field(() => Float) deleted!: number;
  @Field(() => Float) conflicts!: number;
  @Field(() => Float) rejected!: number;

  @Field(() => Float, { nullable: true, description: "Median duration of the bucket's finished runs" })
  p50DurationMs!: number | null;

  @Field(() => Float, { nullable: true, description: "95th percentile duration of the bucket's finished runs" })
  p95DurationMs!: number | null;

  @Field(() => Float, { nullable: true, description: "Records processed per second of run time, over the bucket's finished runs" })
  recordsPerSecond!: number | null;
}
