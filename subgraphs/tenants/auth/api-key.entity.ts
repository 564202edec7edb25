import { OptionalProps } from "@mikro-orm/core";
import { Entity, Index, PrimaryKey, Property } from "@mikro-orm/decorators/legacy";
import { Field, ID, ObjectType } from "type-graphql";
import { TenantScoped } from "../../../kernel/tenancy.js";

/** A machine client's credential. The secret is shown once; only its SHA-256 is stored. */
@ObjectType({ description: "A machine client's credential (the secret is shown only when created)." })
@Entity({ tableName: "api_key" })
@TenantScoped()
@Index({ properties: ["tenantId", "createdAt"] })
export class ApiKey {
  [OptionalProps]?: "createdAt" | "lastUsedAt" | "revokedAt" | "expiresAt";

  @Field(() => ID)
  @PrimaryKey({ type: "uuid" })
  id!: string;

  @Property({ type: "uuid" })
  tenantId!: string;

  @Field()
  @Property({ length: 200 })
  name!: string;

  @Field({ description: "First characters of the key, to recognise it (trb_xxxxxxxx…)" })
  @Property({ length: 16 })
  prefix!: string;

  @Property({ length: 64, hidden: true, unique: true })
  secretHash!: string;

  @Field(() => [String], { description: "Permissions this key grants (a subset of its creator's)" })
  @Property({ type: "text[]" })
  scopes!: string[];

  @Property({ type: "uuid" })
  createdById!: string;

  @Field(() => Date, { nullable: true })
  @Property({ type: "timestamptz", nullable: true })
  expiresAt?: Date | null = null;

  @Field(() => Date, { nullable: true })
  @Property({ type: "timestamptz", nullable: true })
  lastUsedAt?: Date | null = null;

  @Field(() => Date, { nullable: true })
  @Property({ type: "timestamptz", nullable: true })
  revokedAt?: Date | null = null;

  @Field()
  @Property({ type: "timestamptz" })
  createdAt: Date = new Date();
}
