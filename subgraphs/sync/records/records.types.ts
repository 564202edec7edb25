import { GraphQLJSON, GraphQLJSONObject } from "graphql-scalars";
import { UserRef } from "../sync-log/refs.js";
import { Conflict } from "./conflict.entity.js";
import { RecordOperation } from "./history.entity.js";
import { SyncClient } from "./sync-client.entity.js";
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";

export enum ConflictStrategy {
  /** Report the conflict with the server's state; change nothing (default). */
  SERVER_WINS = "SERVER_WINS",
  /** Apply the client's state over whatever the server has. */
  CLIENT_WINS = "CLIENT_WINS",
  /** Field-level three-way merge from the assumed state; overlapping changes are reported as conflicts. */
  MERGE = "MERGE",
  /** Keep the conflicting row as an open conflict for a person to resolve (`conflicts`, `resolveConflict`). */
  MANUAL = "MANUAL",
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

  @Field(() => String, { nullable: true, description: 'The document field holding the key (default "id")' })
  primaryKey?: string | null;

  @Field(() => ConflictStrategy, { nullable: true, description: "Default SERVER_WINS; a push may name its own" })
  conflictStrategy?: ConflictStrategy | null;
}

/** The GraphQL name of a push row: the request guards leave its documents' checks to the push, row by row. */
export const PUSH_ROW_INPUT = "PushRowInput";

@InputType(PUSH_ROW_INPUT, { description: "One change, as RxDB sends it: the state the client based it on, and its new state" })
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

  @Field(() => Boolean, {
    nullable: true,
    description:
      "Also return, in `conflicts`, the server's current state of each rejected row (`{ id, _deleted: true }` when there is none): a client that keeps what it pushed (RxDB) then replaces it and converges; `rejected` still says why",
  })
  rejectedAsConflicts?: boolean | null;
}

@ObjectType()
export class RejectedRow {
  @Field(() => Int, { description: "Index of the row in the request" })
  index!: number;

  @Field(() => String, { nullable: true })
  id?: string | null;

  @Field({
    description: "BAD_USER_INPUT (invalid document), SCHEMA_VIOLATION (collection JSON Schema), ROW_FILTER (outside the records the caller may push)",
  })
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

  @Field(() => [ID], { description: "Conflicts opened by this push under the MANUAL strategy (rows not applied)" })
  manualConflicts!: string[];

  @Field(() => ID, { nullable: true, description: "This push's entry in the sync log" })
  syncRunId!: string | null;
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

@ObjectType({ description: "One field's change in a record version" })
export class RecordChange {
  @Field()
  field!: string;

  @Field(() => GraphQLJSON, { nullable: true, description: "null or absent when the field did not exist before" })
  before?: unknown;

  @Field(() => GraphQLJSON, { nullable: true, description: "null or absent when the field was removed" })
  after?: unknown;
}

@ObjectType({ description: "One version of a record: what changed, when, by whom and from where" })
export class RecordHistoryEntry {
  @Field(() => Int)
  version!: number;

  @Field(() => RecordOperation)
  operation!: RecordOperation;

  @Field()
  at!: Date;

  @Field(() => [RecordChange], { description: "Top-level fields that changed (`_deleted` included); a CREATE lists every field" })
  changes!: RecordChange[];

  @Field({ description: "USER, API_KEY, CONNECTOR or SERVICE" })
  actorType!: string;

  @Field(() => String, { nullable: true, description: "The user or API key id" })
  actorId?: string | null;

  @Field(() => String, { nullable: true })
  clientId?: string | null;

  @Field(() => ID, { nullable: true, description: "The push or connector run that wrote it" })
  syncRunId?: string | null;

  @Field(() => UserRef, { nullable: true, description: "The user who made this version (USER actors only; resolved by the tenants service)" })
  get user(): UserRef | null {
    return this.actorType === "USER" && this.actorId ? { id: this.actorId } : null;
  }
}

@ObjectType()
export class RecordHistoryPage {
  @Field(() => [RecordHistoryEntry], { description: "Newest first" })
  nodes!: RecordHistoryEntry[];

  @Field(() => String, { nullable: true })
  endCursor!: string | null;

  @Field()
  hasNextPage!: boolean;
}

@ObjectType()
export class ConflictPage {
  @Field(() => [Conflict], { description: "Newest first" })
  nodes!: Conflict[];

  @Field(() => String, { nullable: true })
  endCursor!: string | null;

  @Field()
  hasNextPage!: boolean;
}

@ObjectType()
export class SyncClientPage {
  @Field(() => [SyncClient], { description: "Most recently seen first" })
  nodes!: SyncClient[];

  @Field(() => String, { nullable: true })
  endCursor!: string | null;

  @Field()
  hasNextPage!: boolean;
}

@ObjectType({ description: "A record as it is now (never a deleted one): its document and where its current version came from" })
export class CollectionRecord {
  @Field({ description: "The record's key (the value of its collection's primary key field)" })
  id!: string;

  @Field(() => GraphQLJSONObject, { description: "The stored document (no `_deleted`: listed records are never deleted)" })
  document!: Record<string, unknown>;

  @Field(() => Int, { description: "1 for a new record, one more for each change" })
  version!: number;

  @Field()
  updatedAt!: Date;

  @Field(() => String, { nullable: true, description: "Who wrote the current version: USER, API_KEY, CONNECTOR or SERVICE" })
  actorType?: string | null;

  @Field(() => String, { nullable: true, description: "The user or API key id" })
  actorId?: string | null;

  @Field(() => String, { nullable: true, description: "The device that pushed the current version" })
  clientId?: string | null;

  @Field(() => ID, { nullable: true, description: "The push or connector run that wrote the current version" })
  syncRunId?: string | null;

  @Field(() => UserRef, { nullable: true, description: "The user who wrote the current version (USER actors only)" })
  get updatedBy(): UserRef | null {
    return this.actorType === "USER" && this.actorId ? { id: this.actorId } : null;
  }
}

@ObjectType({ description: "A page of a collection's current records, in id order" })
export class RecordPage {
  @Field(() => [CollectionRecord], { description: "In id order (PostgreSQL's order of the ids)" })
  nodes!: CollectionRecord[];

  @Field(() => String, { nullable: true, description: "Pass as `after` for the next page (opaque; this tenant's and this collection's only)" })
  endCursor!: string | null;

  @Field()
  hasNextPage!: boolean;

  /** Counts the matching records when `totalCount` is asked for (null: not counted). */
  countMatching?: () => Promise<number | null>;

  @Field(() => Int, {
    nullable: true,
    description:
      "How many records match (search included), counted only when asked. Null above 10,000, and for callers whose row filters limit what they see (counting them would mean reading every record).",
  })
  totalCount(): Promise<number | null> | null {
    return this.countMatching?.() ?? null;
  }
}
