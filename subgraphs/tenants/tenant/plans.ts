import { Field, Int, ObjectType } from "type-graphql";
import { MAX_CONNECTORS } from "../../../kernel/plans.js";
import { Plan } from "./tenant.entity.js";

/** What a plan allows. Request rates are enforced by the gateway (its own table, same plan names). */
@ObjectType({ description: "What the tenant's plan allows" })
export class PlanLimits {
  @Field(() => Int) maxUsers!: number;
  @Field(() => Int) maxConnectors!: number;
  @Field(() => Int) requestsPerHour!: number;
  @Field(() => Int) requestsPerDay!: number;
  @Field() webhooks!: boolean;
  @Field() liveSync!: boolean;
  @Field() connectorWriteBack!: boolean;
  @Field(() => Int, { description: "Days audit events are kept, unless the tenant's retention is overridden" }) auditRetentionDays!: number;
}

export const PLAN_LIMITS: Record<Plan, PlanLimits> = {
  FREE: { maxUsers: 5, maxConnectors: MAX_CONNECTORS.FREE!, requestsPerHour: 1_000, requestsPerDay: 10_000, webhooks: false, liveSync: false, connectorWriteBack: false, auditRetentionDays: 30 },
  STARTER: { maxUsers: 25, maxConnectors: MAX_CONNECTORS.STARTER!, requestsPerHour: 10_000, requestsPerDay: 100_000, webhooks: true, liveSync: true, connectorWriteBack: false, auditRetentionDays: 90 },
  PRO: { maxUsers: 250, maxConnectors: MAX_CONNECTORS.PRO!, requestsPerHour: 100_000, requestsPerDay: 1_000_000, webhooks: true, liveSync: true, connectorWriteBack: true, auditRetentionDays: 365 },
  ENTERPRISE: { maxUsers: 10_000, maxConnectors: MAX_CONNECTORS.ENTERPRISE!, requestsPerHour: 1_000_000, requestsPerDay: 10_000_000, webhooks: true, liveSync: true, connectorWriteBack: true, auditRetentionDays: 2_555 },
};

/** Bounds of an audit retention override: tenant admins cannot shorten their trail below 30 days; operators can. */
export const AUDIT_RETENTION_BOUNDS = { tenantMin: 30, platformMin: 1, max: 3_650 } as const;

/** The tenant's audit retention in days: its override, else its plan's default. */
export function auditRetentionDays(tenant: { plan: Plan; auditRetentionOverrideDays?: number | null }): number {
  return tenant.auditRetentionOverrideDays ?? PLAN_LIMITS[tenant.plan].auditRetentionDays;
}

/** Days a new tenant stays in TRIAL. */
export const TRIAL_DAYS = 14;
