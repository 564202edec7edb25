import { OptionalProps } from "@mikro-orm/core";
import { Entity, Enum, Index, PrimaryKey, Property } from "@mikro-orm/decorators/legacy";
import { Directive, Field, ID, ObjectType, registerEnumType } from "type-graphql";
import { TenantScoped } from "../../../kernel/tenancy.js";

export enum ConnectorKind {
  ODOO = "ODOO",
  MOODLE = "MOODLE",
}
registerEnumType(ConnectorKind, { name: "ConnectorKind" });

export enum ConnectorHealth {
  UNKNOWN = "UNKNOWN",
  HEALTHY = "HEALTHY",
  DEGRADED = "DEGRADED",
  UNREACHABLE = "UNREACHABLE",
}
registerEnumType(ConnectorHealth, { name: "ConnectorHealth" });

/** A tenant's link to one Odoo or Moodle instance. Credentials arrive with the connectors issue (write-only). */
@Directive('@key(fields: "id")')
@ObjectType({ description: "A tenant's link to one Odoo or Moodle instance." })
@Entity({ tableName: "connector" })
@TenantScoped()
export class Connector {
  [OptionalProps]?: "health" | "createdAt" | "updatedAt";

  @Field(() => ID)
  @PrimaryKey({ type: "uuid" })
  id!: string;

  @Index()
  @Property({ type: "uuid" })
  tenantId!: string;

  @Field(() => ConnectorKind)
  @Enum({ items: () => ConnectorKind, nativeEnumName: "connector_kind" })
  kind!: ConnectorKind;

  @Field()
  @Property({ length: 200 })
  name!: string;

  @Field({ description: "Base URL of the remote system" })
  @Property({ length: 2048 })
  baseUrl!: string;

  @Field(() => ConnectorHealth)
  @Enum({ items: () => ConnectorHealth, nativeEnumName: "connector_health" })
  health: ConnectorHealth = ConnectorHealth.UNKNOWN;

  @Field()
  @Property({ type: "timestamptz" })
  createdAt: Date = new Date();

  @Field()
  @Property({ type: "timestamptz", onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
