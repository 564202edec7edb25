import { Entity, Enum, Index, PrimaryKey, Property } from "@mikro-orm/decorators/legacy";
import { GraphQLJSONObject } from "graphql-scalars";
import { Directive, Field, ID, ObjectType, registerEnumType } from "type-graphql";
import { TenantScoped } from "../../../kernel/tenancy.js";

export enum ActorType {
  USER = "USER",
  API_KEY = "API_KEY",
  PLATFORM_USER = "PLATFORM_USER",
  SERVICE = "SERVICE",
  ANONYMOUS = "ANONYMOUS",
}
registerEnumType(ActorType, { name: "ActorType" });

/** One audited action: who did what to which target, when, from which request. */
@Directive('@key(fields: "id")')
@ObjectType({ description: "One audited action." })
@Entity({ tableName: "audit_event" })
@TenantScoped()
@Index({ properties: ["tenantId", "occurredAt"] })
@Index({ properties: ["tenantId", "actorId"] })
export class AuditEvent {
  @Field(() => ID)
  @PrimaryKey({ type: "uuid" })
  id!: string;

  @Property({ type: "uuid" })
  tenantId!: string;

  @Field(() => ActorType)
  @Enum({ items: () => ActorType, nativeEnumName: "actor_type" })
  actorType!: ActorType;

  /** Exposed as `actor` when the actor is a user (resolved by the tenants service). */
  @Property({ type: "uuid", nullable: true })
  actorId?: string | null;

  @Field({ description: "What happened, `domain.verb` (e.g. `connector.created`, `auth.login.failed`)" })
  @Property({ length: 100 })
  action!: string;

  @Field(() => String, { nullable: true })
  @Property({ type: "string", length: 100, nullable: true })
  targetType?: string | null;

  @Field(() => String, { nullable: true })
  @Property({ type: "string", length: 100, nullable: true })
  targetId?: string | null;

  @Field(() => String, { nullable: true })
  @Property({ type: "string", length: 128, nullable: true })
  requestId?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "Field-level changes: { field: { before, after } }" })
  @Property({ type: "json", nullable: true })
  changes?: Record<string, unknown> | null;

  @Field(() => GraphQLJSONObject, { nullable: true })
  @Property({ type: "json", nullable: true })
  metadata?: Record<string, unknown> | null;

  @Field()
  @Property({ type: "timestamptz" })
  occurredAt!: Date;
}
