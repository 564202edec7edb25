import { RedisPubSub as RedisEngine } from "graphql-redis-subscriptions";
import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "pino";
import { resolveBufferSize, serializePayload, SubscriptionIterator } from "./memory.pubsub.js";
import type { PubSub } from "./pubsub.js";

/** Options for {@link RedisPubSub}. */
export interface RedisPubSubOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6379/0`. */
  url: string;
  /** Prepended to every topic to form the Redis channel, so deployments or test runs sharing a Redis don't cross. */
  keyPrefix?: string;
  /**
   * Receives connection errors (warn: first of an outage, then every 10th) and recoveries (info). Without it they are
   * not logged; ping() still reports the outage.
   */
  logger?: Logger;
  /** Per-subscriber buffer size; on overflow the oldest message is dropped. Default 1000. */
  bufferSize?: number;
  /** How long `ping()` waits for PONG before reporting false. Default 1000 ms. */
  pingTimeoutMs?: number;
  /** How long a publish waits for Redis' answer before failing (a hung server). Default 1000 ms. */
  publishTimeoutMs?: number;
}

// graphql-redis-subscriptions declares ioredis 5 types; ioredis 6 clients are compatible at runtime.
type EngineOptions = NonNullable<ConstructorParameters<typeof RedisEngine>[0]>;
type EngineClient = NonNullable<EngineOptions["publisher"]>;

/** After the first error of an outage, log every this many consecutive errors (~20 s apart at the 2 s retry cap). */
const ERROR_LOG_EVERY = 10;
const QUIT_TIMEOUT_MS = 1000;

/**
 * Redis pub/sub for multi-process deployments: graphql-redis-subscriptions' engine (channel ref-counting, message
 * fan-out) over two ioredis connections, one publishing and one subscribed.
 *
 * Semantics match the in-memory implementation: JSON payloads, publish order per publisher, bounded per-subscriber
 * buffers with drop-oldest. `subscribe()` resolves only after Redis confirmed the SUBSCRIBE (the engine's `subscribe()`
 * promise), so a publish issued after it resolves reaches the subscriber. ioredis re-subscribes after a reconnect
 * (`autoResubscribe`); messages published while disconnected are lost, which readers tolerate by re-reading from
 * their cursor.
 */
export class RedisPubSub implements PubSub {
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly engine: RedisEngine;
  private readonly prefix: string;
  private readonly bufferSize: number;
  private readonly pingTimeoutMs: number;
  private readonly logger?: Logger;
  private readonly iterators = new Set<SubscriptionIterator<unknown>>();
  private droppedCount = 0;
  private closed = false;
  /** The subscribing connection was ready once (before that, subscribe() waits for Redis as a service start does). */
  private subscriberWasReady = false;
  /** The publishing connection was ready once (before that, a publish waits for the first connection). */
  private publisherWasReady = false;
  /**
   * Rejects when close() is called. ioredis never settles commands queued while it is reconnecting if the client is
   * then disconnected, so publish()/subscribe() race against this to always settle.
   */
  private readonly closedSignal: Promise<never>;
  private signalClosed: (error: Error) => void = () => {};

  constructor(options: RedisPubSubOptions) {
    this.prefix = options.keyPrefix ?? "tributary:";
    this.bufferSize = resolveBufferSize(options.bufferSize);
    this.pingTimeoutMs = options.pingTimeoutMs ?? 1000;
    this.logger = options.logger;
    this.closedSignal = new Promise<never>((_, reject) => (this.signalClosed = reject));
    this.closedSignal.catch(() => {}); // only ever observed through untilClosed()
    // disconnectTimeout: on a forced close() of an already-dead socket ioredis arms a destroy timer that nothing
    // clears (the socket's "close" already fired); 200 ms instead of 2 s keeps it from holding the process open.
    const clientOptions: RedisOptions = { autoResubscribe: true, disconnectTimeout: 200 };
    // The publisher never waits out an outage: a publish is a wake-up, worth nothing once late. While Redis is down or
    // reconnecting publish() fails at once (see there), one sent just before a connection dropped fails at the first
    // reconnect attempt instead of being resent later (maxRetriesPerRequest 0), and one a hung Redis never answers
    // fails after `publishTimeoutMs`. So an outage neither stalls publishers nor grows a queue in memory.
    const publisherOptions: RedisOptions = { ...clientOptions, maxRetriesPerRequest: 0, commandTimeout: options.publishTimeoutMs ?? 1000 };
    this.publisher = this.watch(new Redis(options.url, publisherOptions), "publisher");
    this.subscriber = this.watch(new Redis(options.url, clientOptions), "subscriber");
    this.guardUnsubscribe(this.subscriber);
    this.subscriber.once("ready", () => (this.subscriberWasReady = true));
    this.publisher.once("ready", () => (this.publisherWasReady = true));
    this.engine = new RedisEngine({
      publisher: this.publisher as unknown as EngineClient,
      subscriber: this.subscriber as unknown as EngineClient,
      serializer: serializePayload,
    });
  }

  /** Messages dropped so far because a subscriber's buffer was full (across all subscribers of this instance). */
  get dropped(): number {
    return this.droppedCount;
  }

  async publish<T>(topic: string, payload: T): Promise<void> {
    if (this.closed) throw new Error("pubsub is closed");
    // Lost connection: fail now rather than queue in ioredis until Redis is back (the first connection is waited for,
    // as a service start waits for Redis). Subscribers re-read on their own timers meanwhile.
    if (this.publisherWasReady && this.publisher.status !== "ready") throw new Error(`redis pubsub is disconnected (${this.publisher.status}); not published`);
    await this.untilClosed(this.engine.publish(this.prefix + topic, payload));
  }

  async subscribe<T>(topic: string): Promise<AsyncIterableIterator<T>> {
    if (this.closed) throw new Error("pubsub is closed");
    let subscriptionId: number | undefined;
    const iterator: SubscriptionIterator<unknown> = new SubscriptionIterator<unknown>(
      this.bufferSize,
      () => this.droppedCount++,
      () => {
        this.iterators.delete(iterator);
        if (subscriptionId !== undefined) this.engine.unsubscribe(subscriptionId);
      },
    );
    // The listener is registered with the engine before SUBSCRIBE is sent, and the engine's promise resolves on
    // Redis' confirmation: nothing published after this await can be missed.
    const subscribed = this.engine.subscribe(this.prefix + topic, (message: unknown) => iterator.push(message));
    this.observePendingSubscribe(this.prefix + topic);
    if (this.subscriber.status !== "ready" && this.subscriberWasReady) {
      // Redis went down: waiting for the confirmation would hold the subscriber (a live stream
      // being opened) for the whole outage. The SUBSCRIBE waits in ioredis' queue and is sent on reconnect; the
      // subscription is live from then on, and until then its reader re-reads on its own timer as it does for any
      // lost wake-up.
      subscribed.then(
        (id) => {
          if (this.iterators.has(iterator)) subscriptionId = id;
          else this.engine.unsubscribe(id);
        },
        (err: unknown) => this.logger?.debug({ err, topic }, "redis pubsub subscribe failed"),
      );
    } else {
      try {
        subscriptionId = await this.untilClosed(subscribed);
      } catch (error) {
        iterator.end();
        throw error;
      }
    }
    if (this.closed) {
      // close() ran while SUBSCRIBE was in flight.
      iterator.end();
      throw new Error("pubsub is closed");
    }
    this.iterators.add(iterator);
    return iterator as SubscriptionIterator<T>;
  }

  /** True when both connections answer PING within `pingTimeoutMs`; never throws. */
  async ping(): Promise<boolean> {
    // Known down: answer at once rather than queue PINGs that wait out the timeout.
    const down = (client: Redis) => ["reconnecting", "close", "end"].includes(client.status);
    if (this.closed || down(this.publisher) || down(this.subscriber)) return false;
    // While (re)connecting the PINGs wait in ioredis' offline queue; they settle (ignored) when it is flushed.
    const probe = Promise.all([this.publisher.ping(), this.subscriber.ping()]).then(
      () => true,
      () => false,
    );
    return withTimeout(probe, this.pingTimeoutMs, false);
  }

  /** Ends every iterator (unsubscribing) and quits both connections (forcibly if QUIT is not answered). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.signalClosed(new Error("pubsub is closed"));
    for (const iterator of [...this.iterators]) iterator.end();
    await Promise.all([quit(this.publisher), quit(this.subscriber)]);
  }

  /**
   * graphql-redis-subscriptions 2.7 keeps an internal promise per channel with a SUBSCRIBE in flight and rejects it
   * when SUBSCRIBE fails (e.g. the connection closes); unless a second subscriber waits on it, nobody handles it and
   * Node crashes on the unhandled rejection. The failure still reaches us through the engine's subscribe() promise.
   */
  private observePendingSubscribe(channel: string): void {
    const internals = this.engine as unknown as { subsPendingRefsMap?: Map<string, { pending?: Promise<unknown> }> };
    internals.subsPendingRefsMap?.get(channel)?.pending?.catch(() => {});
  }

  private untilClosed<T>(operation: Promise<T>): Promise<T> {
    return Promise.race([operation, this.closedSignal]);
  }

  /** Logs connection trouble instead of leaving ioredis to print "Unhandled error event" or retry unnoticed. */
  private watch(client: Redis, role: string): Redis {
    let failures = 0;
    client.on("error", (err: Error) => {
      failures++;
      if (failures === 1 || failures % ERROR_LOG_EVERY === 0) {
        this.logger?.warn({ err, role, failures }, "redis pubsub connection error, reconnecting");
      } else {
        this.logger?.debug({ err, role, failures }, "redis pubsub connection error");
      }
    });
    client.on("ready", () => {
      if (failures > 0) this.logger?.info({ role, failures }, "redis pubsub connection restored");
      failures = 0;
    });
    return client;
  }

  /**
   * The engine calls `unsubscribe`/`punsubscribe` without awaiting them. If the connection is down those promises
   * reject later (queue flushed, or connection closed) and, unhandled, would crash Node. Log instead.
   */
  private guardUnsubscribe(client: Redis): void {
    for (const name of ["unsubscribe", "punsubscribe"] as const) {
      const original = client[name].bind(client) as (...args: unknown[]) => Promise<unknown>;
      Object.defineProperty(client, name, {
        configurable: true,
        value: (...args: unknown[]) => {
          const result = original(...args);
          result.catch((err: unknown) => this.logger?.debug({ err, command: name }, "redis pubsub unsubscribe failed"));
          return result;
        },
      });
    }
  }
}

/** Resolves with `promise`, or with `fallback` after `ms` (the timer never keeps the process alive). */
function withTimeout<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** QUIT when connected (flushes what is queued), then make sure the socket and any reconnect timer are gone. */
async function quit(client: Redis): Promise<void> {
  if (client.status === "ready") {
    await withTimeout(client.quit().then(() => undefined, () => undefined), QUIT_TIMEOUT_MS, undefined);
  }
  if (client.status !== "end") client.disconnect();
}
