import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import { Redis } from "ioredis";
import { AuthErrors } from "./auth.errors.js";

/** Sign-in attempts allowed per account and per client address in a window (successes are given back). */
export const LOGIN_LIMITS = { perAccount: 10, perIp: 50, windowSeconds: 15 * 60 };

/**
 * Throttles failed logins per account (tenant + email) and per client IP, with rate-limiter-flexible: in process, or
 * in Redis when configured so every replica shares the counts. Every attempt counts; a success clears the account and gives the address its attempt back.
 */
export class LoginThrottle {
  private readonly account: RateLimiterAbstract;
  private readonly ip: RateLimiterAbstract;
  private readonly redis?: Redis;

  constructor(opts: { redisUrl?: string; keyPrefix?: string; limits?: typeof LOGIN_LIMITS }) {
    const limits = opts.limits ?? LOGIN_LIMITS;
    const prefix = `${opts.keyPrefix ?? "tributary:"}login`;
    if (opts.redisUrl) {
      this.redis = new Redis(opts.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false });
      this.redis.on("error", () => undefined); // reported by readiness; the limiter falls back to memory below
      const insurance = (points: number) => new RateLimiterMemory({ points, duration: limits.windowSeconds });
      this.account = new RateLimiterRedis({ storeClient: this.redis, keyPrefix: `${prefix}:acct`, points: limits.perAccount, duration: limits.windowSeconds, insuranceLimiter: insurance(limits.perAccount) });
      this.ip = new RateLimiterRedis({ storeClient: this.redis, keyPrefix: `${prefix}:ip`, points: limits.perIp, duration: limits.windowSeconds, insuranceLimiter: insurance(limits.perIp) });
    } else {
      this.account = new RateLimiterMemory({ keyPrefix: `${prefix}:acct`, points: limits.perAccount, duration: limits.windowSeconds });
      this.ip = new RateLimiterMemory({ keyPrefix: `${prefix}:ip`, points: limits.perIp, duration: limits.windowSeconds });
    }
  }

  /**
   * Counts an attempt before the password is checked (atomically, so parallel or batched guesses cannot all slip
   * through before the first failure is recorded). Throws RATE_LIMITED (with retryAfter seconds) when the account or
   * the address has used up its attempts; a success gives the account's attempt back.
   */
  async assertAllowed(accountKey: string, ip: string | undefined): Promise<void> {
    const results = await Promise.allSettled([this.account.consume(accountKey, 1), ip ? this.ip.consume(ip, 1) : Promise.resolve(null)]);
    const limited = results
      .filter((r): r is PromiseRejectedResult => r.status === "rejected" && r.reason instanceof RateLimiterRes)
      .map((r) => (r.reason as RateLimiterRes).msBeforeNext);
    if (limited.length) throw AuthErrors.tooManyAttempts(Math.max(1, Math.ceil(Math.max(...limited) / 1000)));
  }

  async succeeded(accountKey: string, ip?: string): Promise<void> {
    await Promise.all([this.account.delete(accountKey), ip ? this.ip.reward(ip, 1) : null]).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.redis?.disconnect();
  }
}
