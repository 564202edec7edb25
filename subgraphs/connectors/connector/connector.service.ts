import { randomUUID } from "node:crypto";
import type { EntityManager } from "@mikro-orm/postgresql";
import type { Principal } from "../../../kernel/auth.js";
import { isRemoteError } from "../remote/remote.errors.js";
import type { ConnectorSource } from "../remote/source.js";
import { Connector, ConnectorHealth, ConnectorKind, DEFAULT_SETTINGS, type ConnectorSettings } from "./connector.entity.js";
import { ConnectorErrors } from "./connector.errors.js";
import type { ConnectorCredentialsInput, ConnectorSettingsInput, CreateConnectorInput, UpdateConnectorInput } from "./connector.inputs.js";
import type { SecretBox } from "./secret-box.js";

/** What a connector's sealed credentials hold. */
export type Credentials = { kind: "ODOO"; database: string; login: string; password: string } | { kind: "MOODLE"; token: string };

const CALL = /^(?:[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+|[a-z][a-z0-9]*_[a-z0-9_]+)$/;
const MAX_ALLOWED_CALLS = 100;

export const credentialsOwner = (connectorId: string) => `connector:${connectorId}:credentials`;

/** Validates and creates a connector in the caller's tenant (the tenant comes from the token, never from input). */
export function createConnector(em: EntityManager, box: SecretBox, principal: Principal, input: CreateConnectorInput): Connector {
  const id = randomUUID();
  const connector = em.create(Connector, {
    id,
    tenantId: principal.tenantId,
    kind: input.kind,
    name: checkName(input.name),
    baseUrl: checkUrl(input.baseUrl),
    settings: checkSettings(DEFAULT_SETTINGS, input.settings),
    allowedCalls: checkAllowedCalls(input.allowedCalls ?? []),
  });
  if (input.credentials) setCredentials(connector, box, input.credentials);
  return connector;
}

/** Applies an update; returns the names of the fields that changed (for the audit trail; secrets by name only). */
export function updateConnector(connector: Connector, box: SecretBox, input: UpdateConnectorInput): Record<string, { before?: unknown; after?: unknown }> {
  const changes: Record<string, { before?: unknown; after?: unknown }> = {};
  if (input.name != null) {
    const name = checkName(input.name);
    if (name !== connector.name) changes.name = { before: connector.name, after: name };
    connector.name = name;
  }
  if (input.baseUrl != null) {
    const url = checkUrl(input.baseUrl);
    if (url !== connector.baseUrl) changes.baseUrl = { before: connector.baseUrl, after: url };
    connector.baseUrl = url;
  }
  if (input.settings) {
    const settings = checkSettings(connector.settings, input.settings);
    changes.settings = { before: connector.settings, after: settings };
    connector.settings = settings;
  }
  if (input.allowedCalls) {
    const calls = checkAllowedCalls(input.allowedCalls);
    changes.allowedCalls = { before: connector.allowedCalls, after: calls };
    connector.allowedCalls = calls;
  }
  if (input.credentials) {
    setCredentials(connector, box, input.credentials);
    changes.credentials = { after: "[redacted]" };
  }
  return changes;
}

function setCredentials(connector: Connector, box: SecretBox, input: ConnectorCredentialsInput): void {
  let creds: Credentials;
  if (connector.kind === ConnectorKind.ODOO) {
    const database = input.database?.trim() ?? "";
    const login = input.login?.trim() ?? "";
    const password = input.password ?? "";
    if (!database || !login || !password || database.length > 200 || login.length > 200 || password.length > 1000 || input.token) {
      throw ConnectorErrors.invalidCredentials("Odoo", "database, login and password (or API key), and no token");
    }
    creds = { kind: "ODOO", database, login, password };
  } else {
    const token = input.token?.trim() ?? "";
    if (!token || token.length > 200 || input.password || input.login || input.database) throw ConnectorErrors.invalidCredentials("Moodle", "a token only");
    creds = { kind: "MOODLE", token };
  }
  connector.encryptedCredentials = box.seal(JSON.stringify(creds), credentialsOwner(connector.id));
  connector.credentialsUpdatedAt = new Date();
  connector.health = ConnectorHealth.UNKNOWN;
}

/** The connector's credentials (decrypted in memory only), or null when none are set. */
export async function credentialsOf(em: EntityManager, box: SecretBox, connector: Connector): Promise<Credentials | null> {
  const row = await em.execute("select encrypted_credentials from connectors.connector where id = ? and tenant_id = ?", [connector.id, connector.tenantId]);
  const sealed = row[0]?.encrypted_credentials as string | null | undefined;
  return sealed ? (JSON.parse(box.open(sealed, credentialsOwner(connector.id))) as Credentials) : null;
}

export interface ConnectionTestOutcome {
  ok: boolean;
  version: string | null;
  remoteUser: string | null;
  latencyMs: number | null;
  errorCode: string | null;
  message: string | null;
}

/** Authenticates against the remote; records version, user, latency and health on the connector. */
export async function testConnection(connector: Connector, source: ConnectorSource): Promise<ConnectionTestOutcome> {
  connector.lastTestedAt = new Date();
  try {
    const info = await source.testConnection();
    connector.health = ConnectorHealth.HEALTHY;
    connector.remoteVersion = info.version.slice(0, 200);
    connector.remoteUser = info.remoteUser.slice(0, 200);
    connector.latencyMs = Math.round(info.latencyMs);
    connector.lastError = null;
    return { ok: true, version: info.version, remoteUser: info.remoteUser, latencyMs: Math.round(info.latencyMs), errorCode: null, message: null };
  } catch (err) {
    if (!isRemoteError(err)) throw err;
    connector.health = err.transient ? ConnectorHealth.UNREACHABLE : ConnectorHealth.DEGRADED;
    connector.lastError = `${err.kind}: ${err.message}`.slice(0, 2000);
    return { ok: false, version: null, remoteUser: null, latencyMs: null, errorCode: `REMOTE_${err.kind}`, message: err.message };
  }
}

function checkName(raw: string): string {
  const name = raw.trim();
  if (name.length < 1 || name.length > 200) throw ConnectorErrors.invalidName();
  return name;
}

function checkUrl(raw: string): string {
  if (raw.length > 2000) throw ConnectorErrors.invalidUrl();
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw ConnectorErrors.invalidUrl();
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.username || url.password) throw ConnectorErrors.invalidUrl();
  return url.toString();
}

function checkSettings(current: ConnectorSettings, input: ConnectorSettingsInput | null | undefined): ConnectorSettings {
  const out = { ...DEFAULT_SETTINGS, ...current };
  const range = (name: keyof ConnectorSettings, v: number | null | undefined, min: number, max: number) => {
    if (v === undefined || v === null) return;
    if (!Number.isInteger(v) || v < min || v > max) throw ConnectorErrors.invalidSetting(name, `an integer from ${min} to ${max}`);
    out[name] = v;
  };
  range("timeoutMs", input?.timeoutMs, 1_000, 600_000);
  range("retries", input?.retries, 0, 10);
  range("requestsPerSecond", input?.requestsPerSecond, 1, 1_000);
  range("overlapSeconds", input?.overlapSeconds, 0, 86_400);
  if (input?.reconcileEveryMinutes !== 0) range("reconcileEveryMinutes", input?.reconcileEveryMinutes, 5, 10_080);
  else out.reconcileEveryMinutes = 0;
  range("webhookRequestsPerMinute", input?.webhookRequestsPerMinute, 1, 100_000);
  return out;
}

function checkAllowedCalls(calls: string[]): string[] {
  if (calls.length > MAX_ALLOWED_CALLS) throw ConnectorErrors.invalidAllowedCall(`${calls.length} entries (at most ${MAX_ALLOWED_CALLS})`);
  for (const c of calls) if (c.length > 200 || !CALL.test(c)) throw ConnectorErrors.invalidAllowedCall(c);
  return [...new Set(calls)];
}
