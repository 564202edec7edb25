import { OptionalProps } from "@mikro-orm/core";
import { Entity, Enum, PrimaryKey, Property } from "@mikro-orm/decorators/legacy";
import { Field, ID, ObjectType, registerEnumType } from "type-graphql";

export enum PlatformRole {
  SUPER_ADMIN = "SUPER_ADMIN",
  ADMIN = "ADMIN",
  SUPPORT = "SUPPORT",
}
registerEnumType(PlatformRole, { name: "PlatformRole", description: "SUPER_ADMIN manages operators; ADMIN manages tenants; SUPPORT reads" });

/** Platform permissions (prefix `platform:`); tenant permissions never apply to platform users. */
export const PLATFORM_PERMISSIONS: Record<PlatformRole, string[]> = {
  SUPER_ADMIN: ["platform:read", "platform:tenants:manage", "platform:operators:manage", "platform:keys:rotate"],
  ADMIN: ["platform:read", "platform:tenants:manage"],
  SUPPORT: ["platform:read"],
};

/** An operator of the Tributary installation; belongs to no tenant. */
@ObjectType({ description: "An operator of the installation; belongs to no tenant." })
@Entity({ tableName: "platform_user" })
export class PlatformUser {
  [OptionalProps]?: "createdAt" | "active" | "tokensValidAfter";

  @Field(() => ID)
  @PrimaryKey({ type: "uuid" })
  id!: string;

  @Field()
  @Property({ length: 320, unique: true })
  email!: string;

  @Field()
  @Property({ length: 200 })
  displayName!: string;

  @Property({ type: "text", lazy: true, hidden: true })
  passwordHash!: string;

  @Field(() => PlatformRole)
  @Enum({ items: () => PlatformRole, nativeEnumName: "platform_role" })
  role!: PlatformRole;

  @Field()
  @Property({ type: "boolean", default: true })
  active: boolean = true;

  @Property({ type: "timestamptz", nullable: true })
  tokensValidAfter?: Date | null = null;

  @Field()
  @Property({ type: "timestamptz" })
  createdAt: Date = new Date();
}
