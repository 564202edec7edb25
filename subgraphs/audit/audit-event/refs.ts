import { Directive, Field, ID, ObjectType } from "type-graphql";

/** The tenants service's `User`, extended here with its audit trail. */
@Directive('@key(fields: "id")')
@ObjectType("User")
export class UserRef {
  @Field(() => ID)
  id!: string;
}
