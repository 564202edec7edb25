import { Field, InputType, Int } from "type-graphql";

@InputType({ description: "How a connector run reads and writes (the seeds' --full --since --dry-run --max-records --batch-size --force)" })
export class StartSyncOptions {
  @Field(() => Boolean, { nullable: true, description: "Read every record (by id) and reconcile deletes and archives; default: incremental from the last cursor" })
  full?: boolean | null;

  @Field(() => Date, { nullable: true, description: "Incremental: start at this time instead of the stored cursor (not in the future)" })
  since?: Date | null;

  @Field(() => Boolean, { nullable: true, description: "Read and compare, report what would change, write nothing and keep the cursor" })
  dryRun?: boolean | null;

  @Field(() => Int, { nullable: true, description: "Stop after this many records (1–10,000,000); the next run continues from there" })
  maxRecords?: number | null;

  @Field(() => Int, { nullable: true, description: "Records per remote page (1–5,000; default 500)" })
  batchSize?: number | null;

  @Field(() => Boolean, { nullable: true, description: "Ignore the stored cursor and write every record read as a new version, even if unchanged (clients receive it again)" })
  force?: boolean | null;

  @Field(() => Boolean, {
    nullable: true,
    description:
      "Odoo: compare the remote's (id, write_date) summaries with what is stored and re-read only the records that differ (late commits incremental runs missed, deletions, archives); leaves the incremental cursor as it is",
  })
  reconcile?: boolean | null;

  @Field(() => [String], { nullable: true, description: "Remote models to run (default: every enabled INBOUND or BOTH mapping)" })
  models?: string[] | null;
}
