import { Entity, PrimaryKey, Property } from "@mikro-orm/decorators/legacy";
import { TenantScoped } from "../../../kernel/tenancy.js";

/**
 * Where a tenant's hash chain was cut by retention: the position and hash of the last deleted event. Verification
 * starts after it with its hash as the previous link, so what remains stays verifiable (and tampering in it detectable)
 * although its predecessors are gone. One row per tenant, moved forward by each cut, in the cut's transaction.
 */
@Entity({ tableName: "audit_chain_boundary" })
@TenantScoped()
export class AuditChainBoundary {
  @PrimaryKey({ type: "uuid" })
  tenantId!: string;

  /** Chain position of the last deleted event. */
  @Property({ type: "bigint" })
  chainSeq!: string;

  /** Hash of the last deleted event (the previous link of the first remaining one). */
  @Property({ type: "string", length: 64 })
  hash!: string;

  /** When the cut was made. */
  @Property({ type: "timestamptz" })
  cutAt!: Date;
}
