import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { print } from "graphql";
import { pino } from "pino";
import { CreateConnectorDocument, OverviewDocument } from "../__generated__/graphql.js";
import { startTestStack, type TestStack } from "../harness/stack.js";

describe("structured logs and request ids", () => {
  let t: TestStack;
  const lines: Record<string, unknown>[] = [];
  beforeAll(async () => {
    const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    t = await startTestStack({ logger });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("passes the caller's request id from the gateway to every subgraph the query touches, and echoes it", async () => {
    const a = await t.tenant("logs");
    // A connector makes the query reach sync too (Connector.syncRuns).
    await t.request(CreateConnectorDocument, { input: { kind: "ODOO", name: "erp", baseUrl: "https://erp.example.com" } }, a.token);
    const requestId = "req-observability-0001";
    const res = await fetch(t.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${a.token}`, "x-request-id": requestId },
      body: JSON.stringify({ query: print(OverviewDocument) }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toBe(requestId);
    const services = new Set(lines.filter((l) => l.requestId === requestId && l.msg === "graphql operation").map((l) => l.service));
    expect([...services].sort()).toEqual(["audit", "connectors", "gateway", "sync", "tenants"]);
  });

  it("gives a request without an id a fresh one, and never logs tokens or passwords", async () => {
    const res = await fetch(t.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "{ __typename }" }) });
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const a = await t.tenant("logs2");
    const all = JSON.stringify(lines);
    expect(all).not.toContain(a.token);
    expect(all).not.toMatch(/"password"\s*:\s*"[^[]/);
  });
});
