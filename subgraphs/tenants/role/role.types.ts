import { Field, ObjectType } from "type-graphql";
import { RowFilter } from "./collection-grant.entity.js";
import type { EffectiveGrantSpec, FilterGroup } from "./collection-grant.policy.js";
import { Role } from "./role.entity.js";

@ObjectType({ description: "The filters one granting role contributes; a record must satisfy all of them." })
export class RowFilterGroup implements FilterGroup {
  @Field({ description: "The role these filters come from" })
  role!: string;

  @Field(() => [RowFilter])
  filters!: RowFilter[];
}

@ObjectType({
  description:
    'What the caller may do on one collection, all roles combined. Use the entry of a collection if there is one, else the "*" entry. Filters: null = every record; a list = records satisfying all filters of at least one group; empty list = no record.',
})
export class EffectiveGrant implements EffectiveGrantSpec {
  @Field({ description: 'Collection name, or "*" for every collection without an entry of its own' })
  collection!: string;

  @Field()
  canPush!: boolean;

  @Field()
  canPull!: boolean;

  @Field(() => [RowFilterGroup], { nullable: true, description: "Which records may be pushed (changed or created); null = any" })
  pushFilters!: RowFilterGroup[] | null;

  @Field(() => [RowFilterGroup], { nullable: true, description: "Which records may be pulled or streamed; null = any" })
  pullFilters!: RowFilterGroup[] | null;
}

@ObjectType({ description: "One role on one collection." })
export class PermissionMatrixCell {
  @Field()
  collection!: string;

  @Field({ description: "Granted and the role holds sync:push" })
  canPush!: boolean;

  @Field({ description: "Granted and the role holds sync:pull" })
  canPull!: boolean;

  @Field(() => [RowFilter])
  rowFilters!: RowFilter[];

  @Field({ description: 'True when the cell comes from the role\'s "*" grant rather than a grant of its own' })
  inherited!: boolean;
}

@ObjectType()
export class PermissionMatrixRow {
  @Field(() => Role)
  role!: Role;

  @Field(() => [PermissionMatrixCell], { description: "One cell per collection, in PermissionMatrix.collections order" })
  cells!: PermissionMatrixCell[];
}

@ObjectType({ description: "Roles × collections, for administration screens." })
export class PermissionMatrix {
  @Field(() => [String], { description: '"*" first, then every collection any role has a grant on' })
  collections!: string[];

  @Field(() => [PermissionMatrixRow], { description: "System roles first, then the tenant's roles by name" })
  rows!: PermissionMatrixRow[];
}
