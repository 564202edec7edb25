import { Field, InputType, Int, ObjectType } from "type-graphql";
import { Plan, Tenant, TenantStatus } from "./tenant.entity.js";

@InputType()
export class CreateTenantInput {
  @Field({ description: "3–63 lower-case letters, digits and single hyphens; used at login" })
  slug!: string;

  @Field()
  name!: string;

  @Field(() => Plan, { defaultValue: Plan.FREE })
  plan!: Plan;

  @Field(() => Int, { nullable: true, description: "Trial length in days (0 starts ACTIVE); default 14" })
  trialDays?: number | null;

  @Field({ description: "The tenant's first administrator" })
  adminEmail!: string;

  @Field(() => String, { nullable: true, description: "Omit to generate one (returned once)" })
  adminPassword?: string | null;
}

@InputType()
export class UpdateTenantInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => Plan, { nullable: true })
  plan?: Plan | null;
}

@InputType()
export class TenantFilter {
  @Field(() => TenantStatus, { nullable: true })
  status?: TenantStatus | null;

  @Field(() => Plan, { nullable: true })
  plan?: Plan | null;

  @Field(() => String, { nullable: true, description: "Matches slug or name (case-insensitive substring)" })
  search?: string | null;

  @Field({ defaultValue: false, description: "Include DELETED tenants" })
  includeDeleted!: boolean;
}

@ObjectType()
export class PageInfo {
  @Field(() => String, { nullable: true })
  endCursor!: string | null;

  @Field()
  hasNextPage!: boolean;
}

@ObjectType()
export class TenantPage {
  @Field(() => [Tenant])
  nodes!: Tenant[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}

@ObjectType()
export class CreatedTenant {
  @Field(() => Tenant)
  tenant!: Tenant;

  @Field()
  adminEmail!: string;

  @Field(() => String, { nullable: true, description: "The generated admin password; shown only in this response" })
  adminPassword?: string | null;
}
