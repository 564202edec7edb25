import { OptionalProps } from "@mikro-orm/core";
import { Entity, Enum, Index, PrimaryKey, Property } from "@mikro-orm/decorators/legacy";
import { Directive, Field, ID, Int, ObjectType, registerEnumType } from "type-graphql";
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

/** How the connector talks to its remote system. */
@ObjectType({ description: "Limits toward the remote system" })
export class ConnectorSettings {
  @Field(() => Int, { description: "Per-request timeout in ms (1,000–600,000; Moodle course creation can take minutes)" })
  timeoutMs!: number;

  @Field(() => Int, { description: "Retries of a request that failed transiently (0–10)" })
  retries!: number;

  @Field(() => Int, { description: "At most this many requests per second toward the remote (1–1,000)" })
  requestsPerSecond!: number;

  @Field(() => Int, {
    description:
      "Odoo: seconds of changes an incremental run reads again (0–86,400; default 120): a transaction that commits later than this after it started is missed by incremental runs (reconciliation finds it)",
  })
  overlapSeconds!: number;

  @Field(() => Int, { description: "Odoo: minutes between automatic reconciliations of each inbound model (0: never; 5–10,080; default 360)" })
  reconcileEveryMinutes!: number;

  @Field(() => Int, { description: "Webhook calls accepted per minute for this connector (1–100,000; default 600); more get 429" })
  webhookRequestsPerMinute!: number;
}

export const DEFAULT_SETTINGS: ConnectorSettings = {
  timeoutMs: 30_000,
  retries: 3,
  requestsPerSecond: 20,
  overlapSeconds: 120,
  reconcileEveryMinutes: 360,
  webhookRequestsPerMinute: 600,
};

/**
 * A tenant's link to one Odoo or Moodle instance. Credentials are write-only: stored encrypted (AES-256-GCM), never
 * returned or logged; the graph only says whether they are set and when they changed.
 */
@Directive('@key(fields: "id")')
@ObjectType({ description: "A tenant's link to one Odoo or Moodle instance." })
@Entity({ tableName: "connector" })
@TenantScoped()
export class Connector {
  [OptionalProps]?:
    | "health"
    | "createdAt"
    | "updatedAt"
    | "settings"
    | "encryptedCredentials"
    | "credentialsUpdatedAt"
    | "remoteVersion"
    | "remoteUser"
    | "lastTestedAt"
    | "latencyMs"
    | "lastError"
    | "allowedCalls"
    | "encryptedWebhookSecret"
    | "webhooksEnabled";

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

  @Field(() => ConnectorHealth, { description: "From the last testConnection or run" })
  @Enum({ items: () => ConnectorHealth, nativeEnumName: "connector_health" })
  health: ConnectorHealth = ConnectorHealth.UNKNOWN;

  /** Sealed credentials (`secret-box.ts`); never exposed. */
  @Property({ type: "text", nullable: true, lazy: true })
  encryptedCredentials: string | null = null;

  @Field(() => Date, { nullable: true, description: "When credentials were last set (null: none set)" })
  @Property({ type: "timestamptz", nullable: true })
  credentialsUpdatedAt: Date | null = null;

  @Field(() => ConnectorSettings)
  @Property({
    type: "json",
    defaultRaw: `'{"timeoutMs":30000,"retries":3,"requestsPerSecond":20,"overlapSeconds":120,"reconcileEveryMinutes":360,"webhookRequestsPerMinute":600}'`,
  })
  settings: ConnectorSettings = { ...DEFAULT_SETTINGS };

  @Field(() => String, { nullable: true, description: "The remote's version, detected by testConnection" })
  @Property({ type: "varchar", length: 200, nullable: true })
  remoteVersion: string | null = null;

  @Field(() => String, { nullable: true, description: "Who the credentials authenticate as, detected by testConnection" })
  @Property({ type: "varchar", length: 200, nullable: true })
  remoteUser: string | null = null;

  @Field(() => Date, { nullable: true })
  @Property({ type: "timestamptz", nullable: true })
  lastTestedAt: Date | null = null;

  @Field(() => Int, { nullable: true, description: "Round trip of the last connection test (ms)" })
  @Property({ type: "integer", nullable: true })
  latencyMs: number | null = null;

  @Field(() => String, { nullable: true, description: "Why the last test or run could not reach the remote (no secrets)" })
  @Property({ type: "varchar", length: 2000, nullable: true })
  lastError: string | null = null;

  /** Passthrough allow-list: Odoo `model.method` pairs (`res.partner.search_read`) or Moodle function names. */
  @Field(() => [String], { description: "Passthrough calls API consumers may make (Odoo `model.method`, Moodle function names)" })
  @Property({ type: "text[]", defaultRaw: "'{}'" })
  allowedCalls: string[] = [];

  @Field({ description: "Whether signed Odoo webhooks are accepted (rotateWebhookSecret)" })
  @Property({ type: "boolean" })
  webhooksEnabled: boolean = false;

  /** Sealed HMAC secret of `POST /webhooks/odoo/:connectorId` (null: webhooks off). */
  @Property({ type: "text", nullable: true, lazy: true })
  encryptedWebhookSecret: string | null = null;

  @Field()
  @Property({ type: "timestamptz" })
  createdAt: Date = new Date();

  @Field()
  @Property({ type: "timestamptz", onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
