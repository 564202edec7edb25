import { Entity, Index, PrimaryKey, Property, Unique } from "@mikro-orm/decorators/legacy";
import { TenantScoped } from "../../../kernel/tenancy.js";

/**
 * A connector's webhook URL token (`POST /webhooks/odoo/notify/<token>`): only its SHA-256 is stored. One per
 * connector; rotating replaces it (the old URL answers 404 at once), disabling deletes it.
 */
@Entity({ tableName: "webhook_token" })
@TenantScoped()
export class WebhookToken {
  @PrimaryKey({ type: "uuid" })
  connectorId!: string;

  @Index()
  @Property({ type: "uuid" })
  tenantId!: string;

  /** Hex SHA-256 of the token. */
  @Unique()
  @Property({ length: 64 })
  tokenHash!: string;

  @Property({ type: "timestamptz" })
  createdAt: Date = new Date();

  @Property({ type: "timestamptz", nullable: true })
  lastUsedAt: Date | null = null;
}

/** Accepted webhook calls per connector and minute (the per-connector rate limit, shared by every replica). */
@Entity({ tableName: "webhook_rate" })
export class WebhookRate {
  @PrimaryKey({ type: "uuid" })
  connectorId!: string;

  @PrimaryKey({ type: "timestamptz" })
  windowStart!: Date;

  @Property({ type: "integer" })
  hits: number = 0;
}
