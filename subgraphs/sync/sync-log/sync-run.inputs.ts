import { Field, ID, InputType, Int } from "type-graphql";
import { SyncRunKind, SyncRunStatus } from "./sync-run.entity.js";

@InputType()
export class StartSyncRunInput {
  @Field(() => SyncRunKind)
  kind!: SyncRunKind;

  @Field(() => ID, { nullable: true, description: "The connector this run belongs to, for CONNECTOR runs" })
  connectorId?: string | null;
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

  @Field(() => String, { nullable: true, description: "Failure reason (at most 2000 characters)" })
  error?: string | null;
}
