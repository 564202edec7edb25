import { Directive, Field, ID, ObjectType } from "type-graphql";

/** The connectors service's `Connector`, extended here with its sync runs. */
@Directive('@key(fields: "id")')
@ObjectType("Connector")
export class ConnectorRef {
  @Field(() => ID)
  id!: string;
}

/** The tenants service's `User`, referenced by `SyncRun.triggeredBy` (resolved there). */
@Directive('@key(fields: "id", resolvable: false)')
@ObjectType("User")
export class UserRef {
  @Field(() => ID)
  id!: string;
}
