import { Directive, Field, ID, ObjectType } from "type-graphql";

/** The sync service's `SyncRun` (the public log entry of a connector run); its fields are resolved there. */
@Directive('@key(fields: "id", resolvable: false)')
@ObjectType("SyncRun")
export class SyncRunRef {
  @Field(() => ID)
  id!: string;
}
