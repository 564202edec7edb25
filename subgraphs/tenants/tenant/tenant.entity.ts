import { OptionalProps } from "@mikro-orm/core";
import { Entity, Enum, PrimaryKey, Property } from "@mikro-orm/decorators/legacy";
import { Directive, Field, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import { TenantScoped } from "../../../kernel/tenancy.js";

export enum TenantStatus {
  TRIAL = "TRIAL",
  ACTIVE = "ACTIVE",
  SUSPENDED = "SUSPENDED",
  DELETED = "DELETED",
}
registerEnumType(TenantStatus, { name: "TenantStatus", description: "Lifecycle: TRIAL → ACTIVE → SUSPENDED → DELETED" });

export enum Plan {
  FREE = "FREE",
  STARTER = "STARTER",
  PRO = "PRO",
  ENTERPRISE = "ENTERPRISE",
}
registerEnumType(Plan, { name: "Plan" });

/** A customer organisation (company, school). Everything else belongs to exactly one tenant. */
@Directive('@key(fields: "id")')
@ObjectType({ description: "A customer organisation; all data belongs to exactly one tenant." })
@Entity({ tableName: "tenant" })
@TenantScoped("id")
export class Tenant {
  [OptionalProps]?: "status" | "plan" | "createdAt" | "updatedAt" | "trialEndsAt" | "suspendedAt" | "deletedAt" | "purgedAt" | "auditRetentionOverrideDays";

  @Field(() => ID)
  @PrimaryKey({ type: "uuid" })
  id!: string;

  @Field({ description: "URL-safe unique name used at login" })
  @Property({ unique: true, length: 63 })
  slug!: string;

  @Field()
  @Property({ length: 200 })
  name!: string;

  @Field(() => TenantStatus)
  @Enum({ items: () => TenantStatus, nativeEnumName: "tenant_status" })
  status: TenantStatus = TenantStatus.TRIAL;

  @Field(() => Plan)
  @Enum({ items: () => Plan, nativeEnumName: "plan" })
  plan: Plan = Plan.FREE;

  @Field(() => Date, { nullable: true, description: "When a TRIAL tenant's trial ends" })
  @Property({ type: "timestamptz", nullable: true })
  trialEndsAt?: Date | null = null;

  @Field(() => Date, { nullable: true })
  @Property({ type: "timestamptz", nullable: true })
  suspendedAt?: Date | null = null;

  @Field(() => Date, { nullable: true, description: "Soft-deleted at; data is purged after the retention period" })
  @Property({ type: "timestamptz", nullable: true })
  deletedAt?: Date | null = null;

  @Field(() => Date, { nullable: true, description: "When its data was erased from every service" })
  @Property({ type: "timestamptz", nullable: true })
  purgedAt?: Date | null = null;

  /** Overrides the plan's audit retention (days); null keeps the plan default. Set with `setAuditRetention`. */
  @Field(() => Int, { nullable: true, description: "Audit retention chosen for this tenant (days); null: the plan's default applies" })
  @Property({ type: "integer", nullable: true })
  auditRetentionOverrideDays?: number | null = null;

  @Field()
  @Property({ type: "timestamptz" })
  createdAt: Date = new Date();

  @Field()
  @Property({ type: "timestamptz", onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
