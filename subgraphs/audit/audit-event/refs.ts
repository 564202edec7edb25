import { Directive, Field, ID, ObjectType } from "type-graphql";

// Entities owned by other subgraphs, extended here with their audit trails (key-only stubs).

/** The tenants service's `User`, extended here with what the user did. */
@Directive('@key(fields: "id")')
@ObjectType("User")
export class UserRef {
  @Field(() => ID)
  id!: string;
}

/** The tenants service's `Tenant`, extended here with its whole audit trail. */
@Directive('@key(fields: "id")')
@ObjectType("Tenant")
export class TenantRef {
  @Field(() => ID)
  id!: string;
}

/** The connectors service's `Connector`, extended here with the events that targeted it. */
@Directive('@key(fields: "id")')
@ObjectType("Connector")
export class ConnectorRef {
  @Field(() => ID)
  id!: string;
}

/** The sync service's `SyncRun`, extended here with the events that targeted it. */
@Directive('@key(fields: "id")')
@ObjectType("SyncRun")
export class SyncRunRef {
  @Field(() => ID)
  id!: string;
}
