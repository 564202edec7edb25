import { OptionalProps } from "@mikro-orm/core";
import { Entity, PrimaryKey, Property, Unique } from "@mikro-orm/decorators/legacy";
import { Field, ID, ObjectType } from "type-graphql";
import { TenantScoped } from "../../../kernel/tenancy.js";

/**
 * A named set of permissions in one tenant. System roles (ADMIN, MANAGER, USER, ANALYST, READ_ONLY) are defined in
 * code (`role.permissions.ts`) and mirrored here per tenant; they cannot be edited or deleted. Users hold roles by
 * name (`User.roles`), so names are unique per tenant (ignoring letter case) among roles that are not deleted.
 */
@ObjectType({ description: "A named set of permissions and collection grants in the caller's tenant." })
@Entity({ tableName: "role" })
@TenantScoped()
// Unique ignoring letter case: the database decides between two creations (or renames) of one name at once.
@Unique({
  name: "role_tenant_id_lower_name_unique",
  expression: 'create unique index "role_tenant_id_lower_name_unique" on "tenants"."role" ("tenant_id", lower("name")) where "deleted_at" is null',
})
export class Role {
  [OptionalProps]?: "description" | "permissions" | "system" | "deletedAt" | "createdAt" | "updatedAt";

  @Field(() => ID)
  @PrimaryKey({ type: "uuid" })
  id!: string;

  @Property({ type: "uuid" })
  tenantId!: string;

  @Field({ description: "Unique in the tenant (ignoring letter case) among roles not deleted; what User.roles holds" })
  @Property({ length: 100 })
  name!: string;

  @Field(() => String, { nullable: true })
  @Property({ type: "string", length: 500, nullable: true })
  description?: string | null = null;

  @Field(() => [String], { description: "Permission names, sorted (tenant:manage, role:manage, sync:pull, ...)" })
  @Property({ type: "text[]" })
  permissions: string[] = [];

  @Field({ description: "Built-in roles cannot be edited or deleted" })
  @Property({ type: "boolean" })
  system: boolean = false;

  @Field(() => Date, { nullable: true, description: "Set when the role was deleted (soft delete)" })
  @Property({ type: "timestamptz", nullable: true })
  deletedAt?: Date | null = null;

  @Field()
  @Property({ type: "timestamptz" })
  createdAt: Date = new Date();

  @Field()
  @Property({ type: "timestamptz", onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
