import type { Logger } from "pino";
import { MemoryPubSub } from "./memory.pubsub.js";
import type { PubSub } from "./pubsub.js";
import { RedisPubSub } from "./redis.pubsub.js";

export type { PubSub } from "./pubsub.js";
export { DEFAULT_BUFFER_SIZE, MemoryPubSub, type MemoryPubSubOptions } from "./memory.pubsub.js";
export { RedisPubSub, type RedisPubSubOptions } from "./redis.pubsub.js";
export { publishWakeUp } from "./wake-up.js";

/** Options for {@link createPubSub}. */
export interface CreatePubSubOptions {
  /** When set, pub/sub goes through Redis (several processes); otherwise it stays in this process. */
  redisUrl?: string;
  /** Channel prefix for Redis (default "tributary:"); ignored in memory. */
  keyPrefix?: string;
  /** Logger for Redis connection errors. */
  logger?: Logger;
  /** Per-subscriber buffer size (default 1000). */
  bufferSize?: number;
}

/** Picks the implementation: Redis when `redisUrl` is set (connections open now), in-memory otherwise. */
export function createPubSub(opts: CreatePubSubOptions = {}): PubSub {
  if (opts.redisUrl) {
    const { redisUrl: url, keyPrefix, logger, bufferSize } = opts;
    return new RedisPubSub({ url, keyPrefix, logger, bufferSize });
  }
  return new MemoryPubSub({ bufferSize: opts.bufferSize });
}
