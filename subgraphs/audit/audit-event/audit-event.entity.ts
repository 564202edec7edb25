import { Entity, Enum, Index, PrimaryKey, Property, Unique } from "@mikro-orm/decorators/legacy";
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
// Indexes for the `auditEvents` filters (newest first, keyset on occurredAt + id) and the per-tenant hash chain.
@Index({ properties: ["tenantId", "occurredAt", "id"] })
@Index({ properties: ["tenantId", "actorId", "occurredAt"] })
@Index({ properties: ["tenantId", "targetType", "targetId", "occurredAt"] })
@Index({
  name: "audit_event_tenant_id_action_prefix_index",
  expression: 'create index "audit_event_tenant_id_action_prefix_index" on "audit"."audit_event" ("tenant_id", "action" varchar_pattern_ops, "occurred_at")',
})
@Unique({ properties: ["tenantId", "chainSeq"] })
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

  /** Position in the tenant's hash chain (1, 2, ...); null only for events stored before the chain existed. */
  @Property({ type: "bigint", nullable: true })
  chainSeq?: string | null;

  /** sha256(previous event's hash + canonical JSON of this event's stored fields), hex. */
  @Property({ type: "string", length: 64, nullable: true })
  hash?: string | null;
}
