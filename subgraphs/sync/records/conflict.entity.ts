import { OptionalProps } from "@mikro-orm/core";
import { Entity, Enum, Index, PrimaryKey, Property } from "@mikro-orm/decorators/legacy";
import { GraphQLJSONObject } from "graphql-scalars";
import { Field, ID, ObjectType, registerEnumType } from "type-graphql";
import { TenantScoped } from "../../../kernel/tenancy.js";

export enum ConflictStatus {
  OPEN = "OPEN",
  RESOLVED = "RESOLVED",
}
registerEnumType(ConflictStatus, { name: "ConflictStatus" });

export enum ConflictResolution {
  /** Keep the server's current state; nothing is written. */
  KEEP_SERVER = "KEEP_SERVER",
  /** Apply the client's pushed state as a new version. */
  KEEP_CLIENT = "KEEP_CLIENT",
  /** Apply a document the resolver supplies (validated like a push) as a new version. */
  CUSTOM = "CUSTOM",
}
registerEnumType(ConflictResolution, { name: "ConflictResolution" });

/** A pushed row that conflicted in a MANUAL collection: kept until someone resolves it. */
@ObjectType({ description: "A pushed change that conflicted under the MANUAL strategy, kept until resolved." })
@Entity({ tableName: "conflict" })
@TenantScoped()
@Index({ properties: ["tenantId", "status", "createdAt"] })
export class Conflict {
  [OptionalProps]?: "status" | "createdAt" | "resolvedAt" | "resolvedById" | "resolution" | "clientId" | "base" | "serverState";

  @Field(() => ID)
  @PrimaryKey({ type: "uuid" })
  id!: string;

  @Property({ type: "uuid" })
  tenantId!: string;

  @Field()
  @Property({ length: 100 })
  collection!: string;

  @Field({ description: "The conflicting document's key" })
  @Property({ length: 200 })
  documentId!: string;

  @Field(() => ConflictStatus)
  @Enum({ items: () => ConflictStatus, nativeEnumName: "conflict_status" })
  status: ConflictStatus = ConflictStatus.OPEN;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "The state the client based its change on" })
  @Property({ type: "json", nullable: true })
  base?: Record<string, unknown> | null = null;

  @Field(() => GraphQLJSONObject, { description: "The state the client pushed" })
  @Property({ type: "json" })
  clientState!: Record<string, unknown>;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "The server's state when the push arrived" })
  @Property({ type: "json", nullable: true })
  serverState?: Record<string, unknown> | null = null;

  @Field(() => String, { nullable: true })
  @Property({ length: 200, nullable: true })
  clientId?: string | null = null;

  /** Who pushed (user or API key id); exposed as `createdBy`. */
  @Property({ type: "uuid" })
  createdById!: string;

  @Field()
  @Property({ type: "timestamptz" })
  createdAt: Date = new Date();

  @Field(() => Date, { nullable: true })
  @Property({ type: "timestamptz", nullable: true })
  resolvedAt?: Date | null = null;

  @Property({ type: "uuid", nullable: true })
  resolvedById?: string | null = null;

  @Field(() => ConflictResolution, { nullable: true })
  @Enum({ items: () => ConflictResolution, nativeEnumName: "conflict_resolution", nullable: true })
  resolution?: ConflictResolution | null = null;
}
