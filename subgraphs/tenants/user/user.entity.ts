import { OptionalProps } from "@mikro-orm/core";
import { Entity, Enum, Index, PrimaryKey, Property, Unique } from "@mikro-orm/decorators/legacy";
import { Directive, Field, ID, ObjectType, registerEnumType } from "type-graphql";
import { TenantScoped } from "../../../kernel/tenancy.js";

export enum UserStatus {
  /** Invited; becomes ACTIVE when the invitation is accepted. */
  INVITED = "INVITED",
  ACTIVE = "ACTIVE",
  DISABLED = "DISABLED",
}
registerEnumType(UserStatus, { name: "UserStatus" });

/** A person who belongs to one tenant and signs in to it. */
@Directive('@key(fields: "id")')
@ObjectType({ description: "A person who belongs to one tenant." })
@Entity({ tableName: "user" })
@TenantScoped()
@Unique({ properties: ["tenantId", "email"] })
export class User {
  [OptionalProps]?: "status" | "roles" | "createdAt" | "lastLoginAt" | "tokensValidAfter" | "accessTokensValidAfter" | "inviteTokenHash" | "inviteExpiresAt";

  @Field(() => ID)
  @PrimaryKey({ type: "uuid" })
  id!: string;

  @Index()
  @Property({ type: "uuid" })
  tenantId!: string;

  @Field({ description: "Lower-cased; unique within the tenant" })
  @Property({ length: 320 })
  email!: string;

  @Field()
  @Property({ length: 200 })
  displayName!: string;

  /** argon2id hash; never exposed through the graph. */
  @Property({ type: "text", lazy: true, hidden: true })
  passwordHash!: string;

  @Field(() => [String], { description: "Role names (ADMIN, MANAGER, USER, ANALYST, READ_ONLY)" })
  @Property({ type: "text[]" })
  roles: string[] = [];

  @Field(() => UserStatus)
  @Enum({ items: () => UserStatus, nativeEnumName: "user_status" })
  status: UserStatus = UserStatus.ACTIVE;

  @Field(() => Date, { nullable: true })
  @Property({ type: "timestamptz", nullable: true })
  lastLoginAt?: Date | null = null;

  /** SHA-256 of a pending invitation's one-time token (invited users set their password with it). */
  @Property({ type: "string", length: 64, nullable: true, hidden: true, unique: true })
  inviteTokenHash?: string | null = null;

  @Property({ type: "timestamptz", nullable: true })
  inviteExpiresAt?: Date | null = null;

  /** Tokens issued before this instant are refused everywhere (password change, deactivation, logout everywhere). */
  @Property({ type: "timestamptz", nullable: true })
  tokensValidAfter?: Date | null = null;

  /**
   * Access tokens (not refresh tokens) issued before this instant are refused everywhere: the user's permissions
   * shrank (a role taken away, a role's permission removed, a role deleted), and an access token carries the
   * permissions it was issued with. The session itself stays: its next refresh issues a token with the current ones.
   */
  @Property({ type: "timestamptz", nullable: true })
  accessTokensValidAfter?: Date | null = null;

  @Field()
  @Property({ type: "timestamptz" })
  createdAt: Date = new Date();
}
