import { OptionalProps } from "@mikro-orm/core";
import { Entity, PrimaryKey, Property } from "@mikro-orm/decorators/legacy";

/**
 * A token-signing key pair. Not tenant-scoped (one key set signs for every tenant) and never exposed through the
 * graph; only public halves are served, as JWKS. Kept in the tenants schema so every replica signs with the same key.
 */
@Entity({ tableName: "signing_key" })
export class SigningKey {
  [OptionalProps]?: "createdAt" | "retiredAt" | "activatesAt";

  @PrimaryKey({ length: 64 })
  kid!: string;

  @Property({ length: 16 })
  algorithm!: string;

  @Property({ type: "json" })
  publicJwk!: Record<string, unknown>;

  @Property({ type: "json", hidden: true })
  privateJwk!: Record<string, unknown>;

  @Property({ type: "timestamptz" })
  createdAt: Date = new Date();

  /**
   * When it starts signing. A rotated-in key is published in the JWKS a little before it signs, so verifiers that
   * cached the key set (and refetch at most every few seconds) know it by the time tokens carry its `kid`.
   */
  @Property({ type: "timestamptz", nullable: true })
  activatesAt?: Date | null = null;

  /** Set when a newer key takes over; the public half stays in the JWKS until tokens it signed have expired. */
  @Property({ type: "timestamptz", nullable: true })
  retiredAt?: Date | null = null;
}
