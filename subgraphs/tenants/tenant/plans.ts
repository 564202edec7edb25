import { Field, Int, ObjectType } from "type-graphql";
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
}

export const PLAN_LIMITS: Record<Plan, PlanLimits> = {
  FREE: { maxUsers: 5, maxConnectors: 1, requestsPerHour: 1_000, requestsPerDay: 10_000, webhooks: false, liveSync: false, connectorWriteBack: false },
  STARTER: { maxUsers: 25, maxConnectors: 3, requestsPerHour: 10_000, requestsPerDay: 100_000, webhooks: true, liveSync: true, connectorWriteBack: false },
  PRO: { maxUsers: 250, maxConnectors: 10, requestsPerHour: 100_000, requestsPerDay: 1_000_000, webhooks: true, liveSync: true, connectorWriteBack: true },
  ENTERPRISE: { maxUsers: 10_000, maxConnectors: 100, requestsPerHour: 1_000_000, requestsPerDay: 10_000_000, webhooks: true, liveSync: true, connectorWriteBack: true },
};

/** Days a new tenant stays in TRIAL. */
export const TRIAL_DAYS = 14;
