import { Entity, Index, PrimaryKey, Property } from "@mikro-orm/decorators/legacy";
import { TenantScoped } from "../../../kernel/tenancy.js";

/**
 * The server's copy of one document, keyed by (tenant, collection, id). Server metadata lives beside the document,
 * never inside it. Written by push (raw SQL in one transaction per request) and read by pull in `seq` order.
 */
@Entity({ tableName: "record" })
@TenantScoped()
@Index({ properties: ["tenantId", "seq"] })
export class SyncRecord {
  @PrimaryKey({ type: "uuid" })
  tenantId!: string;

  @PrimaryKey({ length: 100 })
  collection!: string;

  @PrimaryKey({ length: 200 })
  id!: string;

  @Property({ type: "json" })
  data!: Record<string, unknown>;

  @Property({ type: "boolean" })
  deleted!: boolean;

  @Property({ type: "integer" })
  version!: number;

  /** Per-tenant commit-order sequence: pull reads `seq > checkpoint`. */
  @Property({ type: "bigint" })
  seq!: string;

  @Property({ type: "timestamptz" })
  updatedAt!: Date;

  @Property({ type: "string", length: 200, nullable: true })
  originClientId?: string | null;

  @Property({ type: "uuid", nullable: true })
  originUserId?: string | null;

  /** The push or connector run that wrote this version. */
  @Property({ type: "uuid", nullable: true })
  originRunId?: string | null;

  /**
   * Who wrote this version (USER, API_KEY, CONNECTOR, ...). Set on every write since history became lazy for creations:
   * a record at version 1 with this set has no history row yet, its creation is this row (see RECORD_VERSIONS in record-writer.ts).
   */
  @Property({ type: "string", length: 20, nullable: true })
  originActorType?: string | null;
}

/** The per-tenant sequence counter. Its row is locked by each writing transaction until commit (commit order = seq order). */
@Entity({ tableName: "tenant_seq" })
export class TenantSeq {
  @PrimaryKey({ type: "uuid" })
  tenantId!: string;

  @Property({ type: "bigint" })
  value!: string;
}

/** The stored answer to a push with `clientId` + `mutationId`: a retry gets it back instead of applying again. */
@Entity({ tableName: "push_receipt" })
export class PushReceipt {
  @PrimaryKey({ type: "uuid" })
  tenantId!: string;

  @PrimaryKey({ length: 200 })
  clientId!: string;

  @PrimaryKey({ length: 200 })
  mutationId!: string;

  /** Who pushed (user or API key): only they get the answer back (receipts from before this column have none). */
  @Property({ type: "uuid", nullable: true })
  userId?: string | null;

  @Property({ type: "json" })
  result!: Record<string, unknown>;

  /** SHA-256 of the request (hex): the same pair with another request is MUTATION_ID_REUSED (older receipts have none). */
  @Property({ length: 64, nullable: true })
  fingerprint?: string | null;

  @Property({ type: "timestamptz" })
  createdAt!: Date;
}
