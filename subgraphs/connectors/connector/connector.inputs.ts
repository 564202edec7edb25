import { Field, InputType, Int } from "type-graphql";
import { ConnectorKind } from "./connector.entity.js";

@InputType({ description: "Write-only: stored encrypted, never returned. Odoo: database, login, password (or a 40-hex API key). Moodle: token." })
export class ConnectorCredentialsInput {
  @Field(() => String, { nullable: true, description: "Odoo database name" })
  database?: string | null;

  @Field(() => String, { nullable: true, description: "Odoo login" })
  login?: string | null;

  @Field(() => String, { nullable: true, description: "Odoo password or API key" })
  password?: string | null;

  @Field(() => String, { nullable: true, description: "Moodle web-service token" })
  token?: string | null;
}

@InputType()
export class ConnectorSettingsInput {
  @Field(() => Int, { nullable: true, description: "1,000–600,000 ms" })
  timeoutMs?: number | null;

  @Field(() => Int, { nullable: true, description: "0–10" })
  retries?: number | null;

  @Field(() => Int, { nullable: true, description: "1–1,000" })
  requestsPerSecond?: number | null;

  @Field(() => Int, { nullable: true, description: "Odoo incremental re-read window, 0–86,400 s" })
  overlapSeconds?: number | null;

  @Field(() => Int, { nullable: true, description: "Odoo reconciliation interval, 0 (never) or 5–10,080 minutes" })
  reconcileEveryMinutes?: number | null;

  @Field(() => Int, { nullable: true, description: "1–100,000 webhook calls per minute" })
  webhookRequestsPerMinute?: number | null;
}

@InputType()
export class CreateConnectorInput {
  @Field(() => ConnectorKind)
  kind!: ConnectorKind;

  @Field({ description: "1 to 200 characters" })
  name!: string;

  @Field({ description: "http(s) URL of the Odoo or Moodle server" })
  baseUrl!: string;

  @Field(() => ConnectorCredentialsInput, { nullable: true })
  credentials?: ConnectorCredentialsInput | null;

  @Field(() => ConnectorSettingsInput, { nullable: true })
  settings?: ConnectorSettingsInput | null;

  @Field(() => [String], { nullable: true, description: "Passthrough allow-list (at most 100): Odoo `model.method`, Moodle function names" })
  allowedCalls?: string[] | null;
}

@InputType({ description: "Only the given fields change; credentials given replace the stored ones as a whole." })
export class UpdateConnectorInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  baseUrl?: string | null;

  @Field(() => ConnectorCredentialsInput, { nullable: true })
  credentials?: ConnectorCredentialsInput | null;

  @Field(() => ConnectorSettingsInput, { nullable: true })
  settings?: ConnectorSettingsInput | null;

  @Field(() => [String], { nullable: true })
  allowedCalls?: string[] | null;
}
