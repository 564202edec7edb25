import { OptionalProps } from "@mikro-orm/core";
import { Entity, Enum, PrimaryKey, Property, Unique } from "@mikro-orm/decorators/legacy";
import { GraphQLJSONObject } from "graphql-scalars";
import { Field, ID, Int, ObjectType } from "type-graphql";
import { TenantScoped } from "../../../kernel/tenancy.js";
import { ConflictStrategy } from "./records.types.js";

/** A tenant-defined set of JSON documents that clients push and pull. */
@ObjectType({ description: "A tenant-defined set of JSON documents that clients push and pull." })
@Entity({ tableName: "collection" })
@TenantScoped()
@Unique({ properties: ["tenantId", "name"] })
export class Collection {
  [OptionalProps]?: "createdAt" | "jsonSchema" | "tombstoneRetentionDays" | "primaryKey" | "conflictStrategy" | "purgedThroughSeq";

  @Field(() => ID)
  @PrimaryKey({ type: "uuid" })
  id!: string;

  @Property({ type: "uuid" })
  tenantId!: string;

  @Field({ description: "1–100 characters: letters, digits, `_`, `-`, `.`" })
  @Property({ length: 100 })
  name!: string;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "JSON Schema every pushed document must satisfy" })
  @Property({ type: "json", nullable: true })
  jsonSchema?: Record<string, unknown> | null = null;

  @Field(() => Int, { description: "How long deletions are kept as tombstones for pullers" })
  @Property({ type: "integer" })
  tombstoneRetentionDays: number = 30;

  @Field({ description: "The document field holding each document's key" })
  @Property({ length: 100 })
  primaryKey: string = "id";

  @Field(() => ConflictStrategy, { description: "How conflicting pushes are settled unless a push names a strategy" })
  @Enum({ items: () => ConflictStrategy, nativeEnumName: "conflict_strategy" })
  conflictStrategy: ConflictStrategy = ConflictStrategy.SERVER_WINS;

  /** Highest seq of a tombstone purged from this collection: checkpoints before it get CHECKPOINT_EXPIRED. */
  @Property({ type: "bigint" })
  purgedThroughSeq: string = "0";

  @Field()
  @Property({ type: "timestamptz" })
  createdAt: Date = new Date();
}
