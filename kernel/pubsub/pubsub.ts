/**
 * One publish/subscribe interface for live events, with an in-process implementation (embedded default) and a
 * Redis one (when REDIS_URL is set). Payloads are plain JSON: what goes in comes out as JSON.parse(JSON.stringify(x)).
 * Pub/sub is a wake-up signal, not a log: subscribers that need every change read from their own cursor.
 */
export interface PubSub {
  /** Publishes `payload` to every current subscriber of `topic` (in this process or, for Redis, any process). */
  publish<T>(topic: string, payload: T): Promise<void>;
  /**
   * Subscribes to `topic`. The subscription is active once the returned promise resolves (no message published
   * after that is missed while the connection is healthy). Calling `return()` on the iterator unsubscribes.
   */
  subscribe<T>(topic: string): Promise<AsyncIterableIterator<T>>;
  /** Readiness probe (in-memory: always true; Redis: PING answered). */
  ping(): Promise<boolean>;
  /** Ends every subscription and releases connections. */
  close(): Promise<void>;
}
