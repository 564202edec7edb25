import { OptionalProps } from "@mikro-orm/core";
import { Entity, Index, PrimaryKey, Property, Unique } from "@mikro-orm/decorators/legacy";
import { GraphQLJSON } from "graphql-scalars";
import { Field, ID, ObjectType, registerEnumType } from "type-graphql";
import { TenantScoped } from "../../../kernel/tenancy.js";
import { RowFilterOp, type RowFilterSpec } from "./row-filter.js";

registerEnumType(RowFilterOp, {
  name: "RowFilterOp",
  description: "How a row filter compares a document field with its value",
  valuesConfig: {
    EQ: { description: "Equal (a missing field equals null)" },
    NE: { description: "Not equal" },
    IN: { description: "Equal to one of a list" },
    NIN: { description: "Equal to none of a list" },
    GT: { description: "Greater than (numbers with numbers, strings with strings)" },
    GTE: { description: "Greater than or equal" },
    LT: { description: "Less than" },
    LTE: { description: "Less than or equal" },
    CONTAINS: { description: "An array field holding the value, or a string field containing it" },
  },
});

/** One condition on a record's document. */
@ObjectType({ description: "One condition on a record's document." })
export class RowFilter implements RowFilterSpec {
  @Field({ description: 'Dot path into the document, e.g. "department" or "owner.id"' })
  field!: string;

  @Field(() => RowFilterOp)
  op!: RowFilterOp;

  @Field(() => GraphQLJSON, {
    nullable: true,
    description: 'JSON value; the strings "$user.id", "$user.email" and "$claims.<name>" are replaced by the caller\'s own values',
  })
  value!: unknown;
}

/**
 * What one role may do on one collection: push, pull, and the row filters (AND-ed) a record must satisfy. A grant on
 * `*` applies to every collection the role has no grant of its own for.
 */
@ObjectType({ description: "What one role may do on one collection." })
@Entity({ tableName: "collection_grant" })
@TenantScoped()
@Unique({ properties: ["roleId", "collection"] })
@Index({ properties: ["tenantId"] })
export class CollectionGrant {
  [OptionalProps]?: "canPush" | "canPull" | "rowFilters" | "createdAt" | "updatedAt";

  @PrimaryKey({ type: "uuid" })
  id!: string;

  @Property({ type: "uuid" })
  tenantId!: string;

  @Field(() => ID)
  @Property({ type: "uuid" })
  roleId!: string;

  @Field({ description: 'Collection name (1–100 of A-Z a-z 0-9 _ . -), or "*" for every other collection' })
  @Property({ length: 100 })
  collection!: string;

  @Field()
  @Property({ type: "boolean" })
  canPush: boolean = false;

  @Field()
  @Property({ type: "boolean" })
  canPull: boolean = false;

  @Field(() => [RowFilter], { description: "A record qualifies when it satisfies all of these (none: every record)" })
  @Property({ type: "json" })
  rowFilters: RowFilterSpec[] = [];

  @Property({ type: "timestamptz" })
  createdAt: Date = new Date();

  @Field(() => Date, { nullable: true, description: "Null for the built-in grants of system roles" })
  @Property({ type: "timestamptz", onUpdate: () => new Date() })
  updatedAt: Date | null = new Date();
}
