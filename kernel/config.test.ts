import { describe, expect, it } from "@jest/globals";
import { parseGatewayConfig } from "../gateway/config.js";
import { ConfigError, parseServiceConfig } from "./config.js";

describe("configuration", () => {
  it("lists every bad variable of a subgraph in one error", () => {
    let error: unknown;
    try {
      parseServiceConfig(4102, { jwks: true }, { DATABASE_URL: "mysql://x/y", PORT: "70000", LOG_LEVEL: "chatty", REDIS_URL: "http://r" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join("\n");
    for (const name of ["DATABASE_URL", "PORT", "LOG_LEVEL", "REDIS_URL", "JWKS_URL"]) expect(problems).toContain(name);
  });

  it("has no database default outside the embedded root", () => {
    expect(() => parseServiceConfig(4101, { jwks: false }, {})).toThrow(ConfigError);
  });

  it("parses a valid subgraph environment with defaults", () => {
    const c = parseServiceConfig(4103, { jwks: true }, { DATABASE_URL: "postgres://u:p@db:5432/t", JWKS_URL: "http://tenants:4101/.well-known/jwks.json" });
    expect(c).toMatchObject({ port: 4103, host: "127.0.0.1", logLevel: "info", jwt: { issuer: "tributary", audience: "tributary-api" } });
  });

  it("derives the gateway's JWKS URL from the tenants URL and turns Sandbox off in production", () => {
    const secret = "s".repeat(32);
    const c = parseGatewayConfig({ TENANTS_URL: "http://tenants:4101/graphql", NODE_ENV: "production", INTERNAL_SECRET: secret });
    expect(c.jwt.jwksUrl).toBe("http://tenants:4101/.well-known/jwks.json");
    expect(c.sandbox).toBe(false);
    expect(c.internalSecret).toBe(secret);
    expect(() => parseGatewayConfig({ PORT: "-1", SYNC_URL: "not a url", INTERNAL_SECRET: secret })).toThrow(/PORT[\s\S]*SYNC_URL|SYNC_URL[\s\S]*PORT/);
    // The service secret is required, and must be long enough.
    expect(() => parseGatewayConfig({})).toThrow(/INTERNAL_SECRET/);
    expect(() => parseGatewayConfig({ INTERNAL_SECRET: "short" })).toThrow(/INTERNAL_SECRET: must be at least 32 characters/);
  });
});
