// Per-tenant plan rate limits (hourly and daily windows) with rate-limiter-flexible: counters in Redis when the
// gateway has REDIS_URL (shared by every gateway replica), in memory otherwise.
import { once } from "node:events";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract, type RateLimiterRes } from "rate-limiter-flexible";
import { appError, ErrorCode } from "../../kernel/errors.js";
import { limitTable, planOf, type LimitTable, type RateLimitOverrides, type WindowLimits } from "./plans.js";

export interface RateLimitConfig {
  /** Prefix of the counters' Redis keys, so deployments or test runs sharing a Redis don't share counters. */
  keyPrefix: string;
  /** Replaced rows of the plan table (gateway/guards/plans.ts). */
  overrides: RateLimitOverrides;
}

export const DEFAULT_RATE_LIMIT: RateLimitConfig = { keyPrefix: "tributary:ratelimit:", overrides: {} };

/** The verified caller, as far as rate limiting is concerned (a kernel/auth.ts Caller). */
export interface RateLimitedCaller {
  kind: string;
  userId: string;
  tenantId?: string;
  plan?: string;
}

/** Whom a request is charged to, and the limits that apply. */
export interface RateLimitSubject {
  key: string;
  limits: WindowLimits;
}

/** What one charge decided: the window shown is the one closest to exhaustion (the exhausted one when refused). */
export interface RateLimitDecision {
  allowed: boolean;
  window: string;
  limit: number;
  remaining: number;
  /** Seconds until the shown window resets: RateLimit-Reset, and Retry-After / `retryAfter` when refused. */
  reset: number;
  /** Every window, in RateLimit-Policy syntax: `1000;w=3600, 10000;w=86400`. */
  policy: string;
}

const WINDOWS = [
  { name: "hour", seconds: 3_600, field: "perHour" },
  { name: "day", seconds: 86_400, field: "perDay" },
] as const;

/** How often a store outage is logged while it lasts. */
const WARN_EVERY_MS = 30_000;

export class PlanRateLimiter {
  private lastWarning = 0;

  private constructor(
    private readonly table: LimitTable,
    private readonly windows: RateLimiterAbstract[],
    private readonly logger: Logger,
    private readonly redis?: Redis,
  ) {}

  /** With `redisUrl`, waits up to a second for Redis; an unreachable Redis does not stop the gateway from starting. */
  static async create(config: RateLimitConfig, deps: { logger: Logger; redisUrl?: string }): Promise<PlanRateLimiter> {
    // The counters only count: the plan's limit is compared in consume(), so one counter per key serves every plan
    // and a plan change applies at once (rate-limiter-flexible's own `points` would need one limiter per plan).
    const common = { points: Number.MAX_SAFE_INTEGER };
    if (!deps.redisUrl) {
      const windows = WINDOWS.map((w) => new RateLimiterMemory({ ...common, keyPrefix: `${config.keyPrefix}${w.name}`, duration: w.seconds }));
      return new PlanRateLimiter(limitTable(config.overrides), windows, deps.logger);
    }
    // No offline queue and a command timeout: while Redis is down or slow a request fails open at once instead of
    // waiting for a reconnect.
    const redis = new Redis(deps.redisUrl, { enableOfflineQueue: false, commandTimeout: 500, disconnectTimeout: 200 });
    const windows = WINDOWS.map(
      (w) => new RateLimiterRedis({ ...common, storeClient: redis, rejectIfRedisNotReady: true, keyPrefix: `${config.keyPrefix}${w.name}`, duration: w.seconds }),
    );
    const limiter = new PlanRateLimiter(limitTable(config.overrides), windows, deps.logger, redis);
    redis.on("error", (err: Error) => limiter.warnFailOpen(err));
    await Promise.race([once(redis, "ready"), new Promise((resolve) => setTimeout(resolve, 1_000).unref())]).catch(() => undefined);
    return limiter;
  }

  /** A tenant's caller is counted per tenant on its plan; a platform operator per user; no caller per client IP. */
  subjectOf(caller: RateLimitedCaller | undefined, clientIp: string | undefined): RateLimitSubject {
    if (caller?.tenantId) return { key: `tenant:${caller.tenantId}`, limits: this.table[planOf(caller.plan)] };
    if (caller) return { key: `user:${caller.userId}`, limits: this.table.ENTERPRISE };
    return { key: `ip:${clientIp ?? "unknown"}`, limits: this.table.ANONYMOUS };
  }

  /**
   * Charges `points` requests to `subject` in every window. Returns undefined when the counters cannot be reached:
   * the request then goes through (fail open, logged). Refusing every request while Redis is down would turn a cache
   * outage into a full outage, and the subgraphs still authenticate and authorize every call.
   */
  async consume(subject: RateLimitSubject, points = 1): Promise<RateLimitDecision | undefined> {
    let results: RateLimiterRes[];
    try {
      results = await Promise.all(this.windows.map((w) => w.consume(subject.key, points)));
    } catch (err) {
      this.warnFailOpen(err);
      return undefined;
    }
    const windows = WINDOWS.map((w, i) => {
      const limit = subject.limits[w.field];
      const used = results[i]!.consumedPoints;
      return { name: w.name, seconds: w.seconds, limit, used, remaining: Math.max(0, limit - used), reset: Math.max(1, Math.ceil(results[i]!.msBeforeNext / 1000)) };
    });
    const exhausted = windows.filter((w) => w.used > w.limit);
    // Refused: show the exhausted window that resets last (a retry before then is refused again).
    const shown = exhausted.length
      ? exhausted.reduce((a, b) => (b.reset > a.reset ? b : a))
      : windows.reduce((a, b) => (b.remaining < a.remaining ? b : a));
    return {
      allowed: exhausted.length === 0,
      window: shown.name,
      limit: shown.limit,
      remaining: shown.remaining,
      reset: shown.reset,
      policy: windows.map((w) => `${w.limit};w=${w.seconds}`).join(", "),
    };
  }

  async close(): Promise<void> {
    if (!this.redis) return;
    if (this.redis.status === "ready") await Promise.race([this.redis.quit(), new Promise((r) => setTimeout(r, 1_000).unref())]).catch(() => undefined);
    this.redis.disconnect();
  }

  private warnFailOpen(err: unknown): void {
    if (Date.now() - this.lastWarning < WARN_EVERY_MS) return;
    this.lastWarning = Date.now();
    this.logger.warn({ err }, "rate limit store unavailable: requests are not rate limited until it is back");
  }
}

/** Response headers: draft-ietf-httpapi-ratelimit-headers (the separate `RateLimit-*` fields of drafts 06/07). */
export function rateLimitHeaders(d: RateLimitDecision): Record<string, string> {
  const headers: Record<string, string> = {
    "RateLimit-Limit": String(d.limit),
    "RateLimit-Remaining": String(d.remaining),
    "RateLimit-Reset": String(d.reset),
    "RateLimit-Policy": d.policy,
  };
  if (!d.allowed) headers["Retry-After"] = String(d.reset);
  return headers;
}

/** Headers browsers may read (CORS). */
export const RATE_LIMIT_HEADER_NAMES = ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy", "Retry-After"];

export function rateLimitedError(d: RateLimitDecision): ReturnType<typeof appError> {
  return appError(ErrorCode.RATE_LIMITED, `Rate limit of ${d.limit} requests per ${d.window} exceeded`, { retryAfter: d.reset });
}
