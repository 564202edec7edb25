import { GraphQLJSON } from "graphql-scalars";
import { Field, ID, InputType } from "type-graphql";
import { RowFilterOp } from "./row-filter.js";

@InputType()
export class CreateRoleInput {
  @Field({ description: "1 to 100 characters (letters, digits, spaces, _ . -); unique in the tenant ignoring letter case" })
  name!: string;

  @Field(() => String, { nullable: true, description: "Up to 500 characters" })
  description?: string | null;

  @Field(() => [String], { description: "Known permission names (see Role.permissions)" })
  permissions!: string[];
}

@InputType({ description: "Fields left out stay as they are." })
export class UpdateRoleInput {
  @Field(() => String, { nullable: true, description: "Renaming also renames the role on every user holding it" })
  name?: string | null;

  @Field(() => String, { nullable: true, description: "Empty string clears it" })
  description?: string | null;

  @Field(() => [String], { nullable: true })
  permissions?: string[] | null;
}

@InputType({ description: "One condition on a record's document." })
export class RowFilterInput {
  @Field({ description: 'Dot path into the document, e.g. "department" or "owner.id"' })
  field!: string;

  @Field(() => RowFilterOp)
  op!: RowFilterOp;

  @Field(() => GraphQLJSON, {
    nullable: true,
    description: 'Scalar (EQ, NE, CONTAINS), list of scalars (IN, NIN), number or string (GT, GTE, LT, LTE). "$user.id", "$user.email", "$claims.<name>" are replaced per caller; "$$" escapes a literal "$".',
  })
  value?: unknown;
}

@InputType({ description: "Creates or replaces the grant of one role on one collection." })
export class SetCollectionGrantInput {
  @Field(() => ID)
  roleId!: string;

  @Field({ description: 'Collection name (1–100 of A-Z a-z 0-9 _ . -), or "*" for every collection without its own grant' })
  collection!: string;

  @Field({ description: "Needs the role to hold sync:push" })
  canPush!: boolean;

  @Field({ description: "Needs the role to hold sync:pull" })
  canPull!: boolean;

  @Field(() => [RowFilterInput], { nullable: true, description: "AND-ed; none or empty means every record" })
  rowFilters?: RowFilterInput[] | null;
}
