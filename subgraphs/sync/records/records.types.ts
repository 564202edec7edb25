import { GraphQLJSONObject } from "graphql-scalars";
import { Field, InputType, Int, ObjectType, registerEnumType } from "type-graphql";

export enum ConflictStrategy {
  /** Report the conflict with the server's state; change nothing (default). */
  SERVER_WINS = "SERVER_WINS",
  /** Apply the client's state over whatever the server has. */
  CLIENT_WINS = "CLIENT_WINS",
  /** Field-level three-way merge from the assumed state; overlapping changes are reported as conflicts. */
  MERGE = "MERGE",
}
registerEnumType(ConflictStrategy, { name: "ConflictStrategy" });

@InputType()
export class CreateCollectionInput {
  @Field()
  name!: string;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "JSON Schema (draft 2020-12 subset supported by Ajv)" })
  jsonSchema?: Record<string, unknown> | null;

  @Field(() => Int, { nullable: true, description: "1–3650 days; default 30" })
  tombstoneRetentionDays?: number | null;
}

@InputType({ description: "One change, as RxDB sends it: the state the client based it on, and its new state" })
export class PushRowInput {
  @Field(() => GraphQLJSONObject, { nullable: true, description: "null when the client believes the document is new" })
  assumedMasterState?: Record<string, unknown> | null;

  @Field(() => GraphQLJSONObject, { description: "The document with its `id`; `_deleted: true` deletes it" })
  newDocumentState!: Record<string, unknown>;
}

@InputType()
export class PushChangesInput {
  @Field()
  collection!: string;

  @Field(() => [PushRowInput], { description: "At most 500 rows" })
  rows!: PushRowInput[];

  @Field(() => String, { nullable: true, description: "With mutationId: a retried push is applied exactly once" })
  clientId?: string | null;

  @Field(() => String, { nullable: true })
  mutationId?: string | null;

  @Field(() => ConflictStrategy, { nullable: true })
  strategy?: ConflictStrategy | null;
}

@ObjectType()
export class RejectedRow {
  @Field(() => Int, { description: "Index of the row in the request" })
  index!: number;

  @Field(() => String, { nullable: true })
  id?: string | null;

  @Field({ description: "BAD_USER_INPUT (invalid document), SCHEMA_VIOLATION (collection JSON Schema)" })
  code!: string;

  @Field()
  message!: string;
}

@ObjectType()
export class PushResult {
  @Field(() => [GraphQLJSONObject], { description: "Rows that conflicted: the server's current state of each (RxDB's push response)" })
  conflicts!: Record<string, unknown>[];

  @Field(() => [RejectedRow])
  rejected!: RejectedRow[];

  @Field(() => Int)
  applied!: number;

  @Field(() => Boolean, { description: "True when this answer is the stored one of an earlier identical push (retry)" })
  replayed!: boolean;
}

@ObjectType()
export class PullResult {
  @Field(() => [GraphQLJSONObject], { description: "Latest state of each changed document, in commit order; deletions as `_deleted: true`" })
  documents!: Record<string, unknown>[];

  @Field(() => String, { nullable: true, description: "Pass back to continue after these changes (opaque)" })
  checkpoint!: string | null;

  @Field()
  hasMore!: boolean;
}

@ObjectType({ description: "A batch of changes from a live stream, in commit order" })
export class RecordsBatch {
  @Field(() => [GraphQLJSONObject])
  documents!: Record<string, unknown>[];

  @Field({ description: "Resume from here after a reconnect" })
  checkpoint!: string;
}
