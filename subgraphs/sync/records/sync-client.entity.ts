import { OptionalProps } from "@mikro-orm/core";
import { Entity, PrimaryKey, Property } from "@mikro-orm/decorators/legacy";
import { Field, ObjectType } from "type-graphql";
import { TenantScoped } from "../../../kernel/tenancy.js";

/** A device that pushes or pulls with a `clientId`: what the server last saw from it. */
@ObjectType({ description: "A client device that syncs with a clientId, as the server last saw it." })
@Entity({ tableName: "sync_client" })
@TenantScoped()
export class SyncClient {
  [OptionalProps]?: "lastCheckpoint" | "lastMutationId" | "lastPullAt" | "lastPushAt" | "resetAt" | "resetPending" | "userId";

  @PrimaryKey({ type: "uuid" })
  tenantId!: string;

  @Field()
  @PrimaryKey({ length: 200 })
  clientId!: string;

  /** The last user (or API key) seen on this device; exposed as `user`. */
  @Property({ type: "uuid", nullable: true })
  userId?: string | null = null;

  @Field(() => String, { nullable: true, description: "The checkpoint the device last pulled up to" })
  @Property({ type: "text", nullable: true })
  lastCheckpoint?: string | null = null;

  @Field(() => String, { nullable: true })
  @Property({ length: 200, nullable: true })
  lastMutationId?: string | null = null;

  @Field()
  @Property({ type: "timestamptz" })
  lastSeenAt!: Date;

  @Field(() => Date, { nullable: true })
  @Property({ type: "timestamptz", nullable: true })
  lastPullAt?: Date | null = null;

  @Field(() => Date, { nullable: true })
  @Property({ type: "timestamptz", nullable: true })
  lastPushAt?: Date | null = null;

  @Field(() => Date, { nullable: true, description: "When an admin last reset the device" })
  @Property({ type: "timestamptz", nullable: true })
  resetAt?: Date | null = null;

  /** Set by resetClient until the device pulls from the start: its older checkpoints get CHECKPOINT_EXPIRED. */
  @Field({ description: "True until the device pulls again from the start after a reset" })
  @Property({ type: "boolean" })
  resetPending: boolean = false;
}
