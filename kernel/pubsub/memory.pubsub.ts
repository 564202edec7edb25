import type { PubSub } from "./pubsub.js";

/** Default per-subscriber buffer size (messages held for a subscriber that is not reading). */
export const DEFAULT_BUFFER_SIZE = 1000;

/**
 * Serializes a payload the way both implementations carry it. `JSON.stringify` returns undefined for undefined,
 * functions and symbols; those travel as `null` so every message is valid JSON on the wire.
 */
export function serializePayload(payload: unknown): string {
  return JSON.stringify(payload) ?? "null";
}

/** Validates the `bufferSize` option (a positive integer), falling back to the default. */
export function resolveBufferSize(bufferSize: number | undefined): number {
  const size = bufferSize ?? DEFAULT_BUFFER_SIZE;
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`pubsub bufferSize must be a positive integer, got ${size}`);
  }
  return size;
}

/**
 * The iterator handed out by `subscribe()` in both implementations: a bounded queue between the transport (which
 * `push`es) and the reader (which calls `next()`).
 *
 * Why not graphql-subscriptions' own iterator: it subscribes lazily on the first `next()` (so a publish right after
 * `subscribe()` resolves could be missed) and its queue is unbounded (a stalled reader would grow memory forever).
 * Here the buffer holds at most `capacity` messages and drops the OLDEST on overflow: pub/sub is only a wake-up
 * signal, readers re-read from their own cursor, so the newest message is the one worth keeping.
 */
export class SubscriptionIterator<T> implements AsyncIterableIterator<T> {
  private readonly buffer: T[] = [];
  private readonly waiting: Array<(result: IteratorResult<T>) => void> = [];
  private ended = false;

  /**
   * @param capacity maximum buffered messages
   * @param onDrop called once per message dropped on overflow (feeds the owner's `dropped` counter)
   * @param onEnd called once when the iterator ends (by `return()` or the owner's `close()`): unsubscribe here
   */
  constructor(
    private readonly capacity: number,
    private readonly onDrop: () => void,
    private readonly onEnd: () => void,
  ) {}

  /** Delivers a message: straight to a pending `next()` if there is one, else into the bounded buffer. */
  push(value: T): void {
    if (this.ended) return;
    const waiter = this.waiting.shift();
    if (waiter) {
      waiter({ value, done: false });
      return;
    }
    if (this.buffer.length >= this.capacity) {
      this.buffer.shift();
      this.onDrop();
    }
    this.buffer.push(value);
  }

  next(): Promise<IteratorResult<T>> {
    if (this.buffer.length > 0) return Promise.resolve({ value: this.buffer.shift() as T, done: false });
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Unsubscribes; pending and later `next()` calls resolve with `done: true`. */
  return(): Promise<IteratorResult<T>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  /** Ends the iterator (idempotent): drops buffered messages, settles pending `next()` calls, unsubscribes. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.buffer.length = 0;
    for (const resolve of this.waiting.splice(0)) resolve({ value: undefined, done: true });
    this.onEnd();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** Options for {@link MemoryPubSub}. */
export interface MemoryPubSubOptions {
  /** Per-subscriber buffer size; on overflow the oldest message is dropped. Default {@link DEFAULT_BUFFER_SIZE}. */
  bufferSize?: number;
}

/**
 * In-process pub/sub (embedded mode, tests). Same observable semantics as the Redis implementation: payloads are
 * JSON-cloned on publish, delivered in publish order, buffered per subscriber with drop-oldest on overflow.
 *
 * A plain topic → subscribers map rather than graphql-subscriptions' `PubSub`: that engine is an EventEmitter
 * (a topic named "error" throws when nobody listens, >10 subscribers print a leak warning) and its iterator does
 * not fit the semantics above (see {@link SubscriptionIterator}), so it would add workarounds, not remove code.
 */
export class MemoryPubSub implements PubSub {
  private readonly topics = new Map<string, Set<SubscriptionIterator<unknown>>>();
  private readonly bufferSize: number;
  private droppedCount = 0;
  private closed = false;

  constructor(options: MemoryPubSubOptions = {}) {
    this.bufferSize = resolveBufferSize(options.bufferSize);
  }

  /** Messages dropped so far because a subscriber's buffer was full (across all subscribers). */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Number of active subscriptions on `topic` (diagnostics and tests). */
  subscriberCount(topic: string): number {
    return this.topics.get(topic)?.size ?? 0;
  }

  async publish<T>(topic: string, payload: T): Promise<void> {
    if (this.closed) throw new Error("pubsub is closed");
    // Serialize even without subscribers so a non-serializable payload (BigInt, cycle) fails here as with Redis.
    const text = serializePayload(payload);
    const subscribers = this.topics.get(topic);
    if (!subscribers) return;
    // One clone per publish, shared by the subscribers: the Redis engine also parses once per message and process.
    const message: unknown = JSON.parse(text);
    for (const subscriber of subscribers) subscriber.push(message);
  }

  async subscribe<T>(topic: string): Promise<AsyncIterableIterator<T>> {
    if (this.closed) throw new Error("pubsub is closed");
    let subscribers = this.topics.get(topic);
    if (!subscribers) {
      subscribers = new Set();
      this.topics.set(topic, subscribers);
    }
    const set = subscribers;
    const iterator: SubscriptionIterator<unknown> = new SubscriptionIterator<unknown>(
      this.bufferSize,
      () => this.droppedCount++,
      () => {
        set.delete(iterator);
        if (set.size === 0 && this.topics.get(topic) === set) this.topics.delete(topic);
      },
    );
    set.add(iterator);
    return iterator as SubscriptionIterator<T>;
  }

  async ping(): Promise<boolean> {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const subscribers of [...this.topics.values()]) {
      for (const iterator of [...subscribers]) iterator.end();
    }
    this.topics.clear();
  }
}
