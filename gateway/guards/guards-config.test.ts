// The guards' environment variables (gateway/config.ts).
import { describe, expect, it } from "@jest/globals";
import { parseGatewayConfig } from "../config.js";

describe("gateway guards configuration", () => {
  it("introspection and Sandbox: on by default, off in production, each switchable; Sandbox needs introspection", () => {
    expect(parseGatewayConfig({})).toMatchObject({ introspection: true, sandbox: true });
    expect(parseGatewayConfig({ NODE_ENV: "production" })).toMatchObject({ introspection: false, sandbox: false });
    expect(parseGatewayConfig({ NODE_ENV: "production", INTROSPECTION: "true" })).toMatchObject({ introspection: true, sandbox: false });
    expect(parseGatewayConfig({ INTROSPECTION: "false" })).toMatchObject({ introspection: false, sandbox: false });
    expect(parseGatewayConfig({ SANDBOX: "false" })).toMatchObject({ introspection: true, sandbox: false });
  });

  it("rate limit overrides, query limits and trusted proxies", () => {
    const c = parseGatewayConfig({
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
    expect(parseGatewayConfig({ TRUST_PROXY: "2" }).guards?.trustProxy).toBe(2);
    expect(parseGatewayConfig({ TRUST_PROXY: "true" }).guards?.trustProxy).toBe(true);
    expect(parseGatewayConfig({}).guards).toEqual({ rateLimit: { overrides: {} }, queryLimits: {}, trustProxy: false });
  });

  it("reports every bad variable at once", () => {
    expect(() => parseGatewayConfig({ RATE_LIMIT_OVERRIDES: "{not json", QUERY_LIMITS: '{"maxDepth":0}', INTROSPECTION: "yes" })).toThrow(
      /INTROSPECTION[\s\S]*RATE_LIMIT_OVERRIDES[\s\S]*QUERY_LIMITS/,
    );
    expect(() => parseGatewayConfig({ RATE_LIMIT_OVERRIDES: '{"GOLD":{"perHour":5}}' })).toThrow(/RATE_LIMIT_OVERRIDES/);
  });
});
