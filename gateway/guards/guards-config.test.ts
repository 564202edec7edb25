// The guards' environment variables (gateway/config.ts).
import { describe, expect, it } from "@jest/globals";
import { parseGatewayConfig } from "../config.js";

/** Every gateway needs the service secret of the tenants service's internal endpoints. */
const SECRET = { INTERNAL_SECRET: "x".repeat(32) };

describe("gateway guards configuration", () => {
  it("introspection and Sandbox: on by default, off in production, each switchable; Sandbox needs introspection", () => {
    expect(parseGatewayConfig(SECRET)).toMatchObject({ introspection: true, sandbox: true });
    expect(parseGatewayConfig({ ...SECRET, NODE_ENV: "production" })).toMatchObject({ introspection: false, sandbox: false });
    expect(parseGatewayConfig({ ...SECRET, NODE_ENV: "production", INTROSPECTION: "true" })).toMatchObject({ introspection: true, sandbox: false });
    expect(parseGatewayConfig({ ...SECRET, INTROSPECTION: "false" })).toMatchObject({ introspection: false, sandbox: false });
    expect(parseGatewayConfig({ ...SECRET, SANDBOX: "false" })).toMatchObject({ introspection: true, sandbox: false });
  });

  it("rate limit overrides, query limits and trusted proxies", () => {
    const c = parseGatewayConfig({
      ...SECRET,
      RATE_LIMIT_OVERRIDES: '{"FREE":{"perHour":5},"ANONYMOUS":{"perDay":100}}',
      RATE_LIMIT_KEY_PREFIX: "prod:rl:",
      QUERY_LIMITS: '{"maxDepth":8,"maxBatch":1}',
      TRUST_PROXY: "loopback, 10.0.0.0/8",
    });
    expect(c.guards).toEqual({
      rateLimit: { overrides: { FREE: { perHour: 5 }, ANONYMOUS: { perDay: 100 } }, keyPrefix: "prod:rl:" },
      queryLimits: { maxDepth: 8, maxBatch: 1 },
      trustProxy: "loopback, 10.0.0.0/8",
    });
    expect(parseGatewayConfig({ ...SECRET, TRUST_PROXY: "2" }).guards?.trustProxy).toBe(2);
    expect(parseGatewayConfig({ ...SECRET, TRUST_PROXY: "true" }).guards?.trustProxy).toBe(true);
    expect(parseGatewayConfig(SECRET).guards).toEqual({ rateLimit: { overrides: {} }, queryLimits: {}, trustProxy: false });
  });

  it("reports every bad variable at once", () => {
    expect(() => parseGatewayConfig({ ...SECRET, RATE_LIMIT_OVERRIDES: "{not json", QUERY_LIMITS: '{"maxDepth":0}', INTROSPECTION: "yes" })).toThrow(
      /INTROSPECTION[\s\S]*RATE_LIMIT_OVERRIDES[\s\S]*QUERY_LIMITS/,
    );
    expect(() => parseGatewayConfig({ ...SECRET, RATE_LIMIT_OVERRIDES: '{"GOLD":{"perHour":5}}' })).toThrow(/RATE_LIMIT_OVERRIDES/);
  });
});
