import { Directive, Field, ID, ObjectType } from "type-graphql";

/** The tenants service's `Tenant`, extended here with its connectors. */
@Directive('@key(fields: "id")')
@ObjectType("Tenant")
export class TenantRef {
  @Field(() => ID)
  id!: string;
}
