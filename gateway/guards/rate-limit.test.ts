// PlanRateLimiter: windows, plans, headers, and failing open when Redis cannot be reached.
import { afterAll, describe, expect, it } from "@jest/globals";
import { randomUUID } from "node:crypto";
import { pino } from "pino";
import { freePort } from "../../kernel/embedded-postgres.js";
import { redisUrlOrFail } from "../../test/harness/stack.js";
import { limitTable } from "./plans.js";
import { PlanRateLimiter, rateLimitedError, rateLimitHeaders } from "./rate-limit.js";

const logger = pino({ level: "silent" });
const limiters: PlanRateLimiter[] = [];
afterAll(async () => {
  await Promise.all(limiters.map((l) => l.close()));
});

async function limiter(redisUrl?: string, overrides = { FREE: { perHour: 3, perDay: 5 } }) {
  const l = await PlanRateLimiter.create({ keyPrefix: `test:${randomUUID()}:`, overrides }, { logger, redisUrl });
  limiters.push(l);
  return l;
}

const REDIS_URL = redisUrlOrFail();
const stores: [string, string | undefined][] = [["memory", undefined]];
if (REDIS_URL) stores.push(["redis", REDIS_URL]);

describe.each(stores)("PlanRateLimiter (%s)", (_name, redisUrl) => {
  it("counts per tenant in hourly and daily windows; the window closest to exhaustion is reported", async () => {
    const l = await limiter(redisUrl);
    const a = l.subjectOf({ kind: "user", userId: "u1", tenantId: "A", plan: "FREE" }, "10.0.0.1");
    const b = l.subjectOf({ kind: "user", userId: "u2", tenantId: "B", plan: "FREE" }, "10.0.0.1");
    const first = await l.consume(a);
    expect(first).toMatchObject({ allowed: true, window: "hour", limit: 3, remaining: 2, policy: "3;w=3600, 5;w=86400" });
    expect(first!.reset).toBeGreaterThan(3_590);
    await l.consume(a, 2);
    const over = await l.consume(a);
    expect(over).toMatchObject({ allowed: false, window: "hour", limit: 3, remaining: 0 });
    expect(rateLimitHeaders(over!)).toMatchObject({ "RateLimit-Limit": "3", "RateLimit-Remaining": "0", "Retry-After": String(over!.reset) });
    expect(rateLimitedError(over!).extensions).toMatchObject({ code: "RATE_LIMITED", retryAfter: over!.reset });
    expect(await l.consume(b)).toMatchObject({ allowed: true, remaining: 2 });
  });

  it("keys callers without a tenant by user, and anonymous calls by client IP", async () => {
    const l = await limiter(redisUrl);
    expect(l.subjectOf({ kind: "platform", userId: "p1" }, "10.0.0.1")).toEqual({ key: "user:p1", limits: limitTable().ENTERPRISE });
    expect(l.subjectOf(undefined, "10.0.0.1")).toEqual({ key: "ip:10.0.0.1", limits: limitTable().ANONYMOUS });
    // An unknown plan claim gets FREE.
    expect(l.subjectOf({ kind: "user", userId: "u", tenantId: "T", plan: "GOLD" }, undefined).limits).toEqual({ perHour: 3, perDay: 5 });
  });
});

describe("PlanRateLimiter with Redis down", () => {
  it("fails open at once (no waiting for a reconnect) and logs a warning", async () => {
    const warnings: unknown[] = [];
    const spy = pino({ level: "warn" }, { write: (line: string) => void warnings.push(JSON.parse(line)) });
    const l = await PlanRateLimiter.create({ keyPrefix: "x:", overrides: {} }, { logger: spy, redisUrl: `redis://127.0.0.1:${await freePort()}` });
    limiters.push(l);
    const started = performance.now();
    const subject = l.subjectOf(undefined, "10.0.0.9");
    for (let i = 0; i < 5; i++) expect(await l.consume(subject)).toBeUndefined();
    expect(performance.now() - started).toBeLessThan(200);
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    expect(warnings.length).toBeLessThanOrEqual(2); // throttled, not one per request
  });
});
