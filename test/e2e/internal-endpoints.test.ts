// Every internal endpoint refuses a caller without the service secret (INTERNAL_SECRET): the tenants service's
// revocations, audit retention policies and API key exchange, the audit ingest and sync's API for connector runs. They
// listen on internal ports only, but anything on that network (a compromised sidecar, a misrouted proxy) must not read
// which users and tenants are revoked, learn tenant ids, exchange keys with a forged client IP for the audit trail, forge
// audit events or write records for any tenant. A user's access token is no service credential either.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { API_KEY_EXCHANGE_PATH, AUDIT_RETENTION_PATH, REVOCATIONS_PATH, internalHeaders } from "../../kernel/internal-auth.js";
import { AUDIT_EVENTS_PATH } from "../../kernel/outbox.js";
import { CONNECTOR_RUNS_PATH } from "../../subgraphs/sync/ingest/internal-routes.js";
import { startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";

const REFUSED = { error: "internal endpoint: service credentials required" };

describe("internal endpoints require the service secret", () => {
  let t: TestStack;
  let admin: TenantLogin;

  beforeAll(async () => {
    t = await startTestStack();
    admin = await t.tenant("internal-guard");
  }, 120_000);
  afterAll(async () => {
    await t?.stop();
  });

  const base = (url: string) => url.replace(/\/graphql$/, "");
  const endpoints = (): { name: string; method: "GET" | "POST"; url: string; body?: unknown }[] => [
    { name: "tenants revocations", method: "GET", url: base(t.stack.tenants.url) + REVOCATIONS_PATH },
    { name: "tenants audit retention", method: "GET", url: base(t.stack.tenants.url) + AUDIT_RETENTION_PATH },
    { name: "tenants API key exchange", method: "POST", url: base(t.stack.tenants.url) + API_KEY_EXCHANGE_PATH, body: { key: "trb_not-a-real-key-000000000000", ip: "203.0.113.9" } },
    { name: "audit ingest", method: "POST", url: base(t.stack.audit.url) + AUDIT_EVENTS_PATH, body: { events: [] } },
    { name: "sync connector runs", method: "POST", url: base(t.stack.sync.url) + CONNECTOR_RUNS_PATH + "/changes", body: {} },
  ];
  const call = async (e: ReturnType<typeof endpoints>[number], headers: Record<string, string>) => {
    const res = await fetch(e.url, {
      method: e.method,
      headers: { ...(e.body ? { "content-type": "application/json" } : {}), ...headers },
      body: e.body ? JSON.stringify(e.body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : null };
  };

  it("without credentials, with a wrong secret, with another scheme or with a user's token: 401, and nothing is read or done", async () => {
    const wrong = randomBytes(32).toString("hex");
    const attempts: Record<string, string>[] = [
      {},
      internalHeaders(wrong),
      internalHeaders(t.secrets.internal.slice(0, -1)),
      { authorization: `Bearer ${t.secrets.internal}` },
      { authorization: `Bearer ${admin.token}` },
      { authorization: `internal ${t.secrets.internal}` },
    ];
    for (const e of endpoints()) {
      for (const headers of attempts) {
        expect({ endpoint: e.name, headers, ...(await call(e, headers)) }).toEqual({ endpoint: e.name, headers, status: 401, body: REFUSED });
      }
    }
  });

  it("with the secret, each answers (the tenants' endpoints with their data; a bogus key is still refused as a key)", async () => {
    const [revocations, retention, exchange, ingest] = await Promise.all(endpoints().slice(0, 4).map((e) => call(e, internalHeaders(t.secrets.internal))));
    expect(revocations.status).toBe(200);
    expect(revocations.body).toMatchObject({ suspendedTenants: expect.any(Array) });
    expect(retention.status).toBe(200);
    expect((retention.body as { tenants: { tenantId: string }[] }).tenants.map((p) => p.tenantId)).toContain(admin.tenantId);
    expect(exchange).toEqual({ status: 401, body: { error: "invalid_api_key" } });
    expect(ingest.status).toBe(200);
  });
});
