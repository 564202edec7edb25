import { OptionalProps } from "@mikro-orm/core";
import { Entity, Index, PrimaryKey, Property } from "@mikro-orm/decorators/legacy";

/**
 * One refresh token of a rotating family. Only a SHA-256 of its secret is stored. Using a token marks it used and
 * issues the next one in the same family; presenting a used token again (a stolen copy) revokes the whole family.
 * Looked up by id before the caller's tenant is known, so not tenant-filtered; `tenantId` is checked explicitly.
 */
@Entity({ tableName: "refresh_token" })
@Index({ properties: ["userId"] })
@Index({ properties: ["familyId"] })
export class RefreshToken {
  [OptionalProps]?: "createdAt" | "usedAt" | "revokedAt";

  @PrimaryKey({ type: "uuid" })
  id!: string;

  @Property({ type: "uuid" })
  familyId!: string;

  @Property({ type: "uuid" })
  tenantId!: string;

  @Property({ type: "uuid" })
  userId!: string;

  @Property({ length: 64, hidden: true })
  secretHash!: string;

  @Property({ type: "timestamptz" })
  expiresAt!: Date;

  @Property({ type: "timestamptz", nullable: true })
  usedAt?: Date | null = null;

  @Property({ type: "timestamptz", nullable: true })
  revokedAt?: Date | null = null;

  @Property({ type: "timestamptz" })
  createdAt: Date = new Date();
}
