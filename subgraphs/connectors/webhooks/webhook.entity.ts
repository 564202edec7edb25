import { Entity, PrimaryKey, Property } from "@mikro-orm/decorators/legacy";

/** Signatures already accepted (within the replay window): a replayed delivery is refused. Not tenant-scoped. */
@Entity({ tableName: "webhook_receipt" })
export class WebhookReceipt {
  @PrimaryKey({ type: "uuid" })
  connectorId!: string;

  @PrimaryKey({ length: 64 })
  signature!: string;

  @Property({ type: "timestamptz" })
  receivedAt: Date = new Date();
}
