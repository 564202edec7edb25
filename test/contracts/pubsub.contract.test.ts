import { randomUUID } from "node:crypto";
import { connect, createServer, type Server, type Socket } from "node:net";
import { Writable } from "node:stream";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { Redis } from "ioredis";
import { pino } from "pino";
import { createPubSub, DEFAULT_BUFFER_SIZE, MemoryPubSub, RedisPubSub, type PubSub } from "../../kernel/pubsub/index.js";

/** What the contract needs beyond the interface: both implementations count dropped messages. */
type TestPubSub = PubSub & { readonly dropped: number };
type Factory = (opts?: { bufferSize?: number }) => TestPubSub;

interface ContractHooks {
  /** Subscriptions currently registered for `topic` at the transport (memory: map; Redis: PUBSUB NUMSUB). */
  subscriberCount(pubsub: TestPubSub, topic: string): Promise<number>;
}

const silent = pino({ level: "silent" });
let topicSeq = 0;
/** A topic no other test uses (Redis tests also share a per-run key prefix). */
const freshTopic = (label: string): string => `${label}-${++topicSeq}`;

/** Reads `count` messages, failing with what arrived so far if they don't all come within `ms`. */
async function take<T>(iterator: AsyncIterator<T>, count: number, ms = 5000): Promise<T[]> {
  const got: T[] = [];
  const deadline = Date.now() + ms;
  while (got.length < count) {
    const result = await withDeadline(iterator.next(), deadline - Date.now());
    if (result === "timeout") {
      throw new Error(`timed out after ${got.length}/${count} messages, last: ${JSON.stringify(got.slice(-5))}`);
    }
    if (result.done) throw new Error(`iterator ended after ${got.length}/${count} messages`);
    got.push(result.value);
  }
  return got;
}

/** Asserts nothing arrives within `ms` (leaves a pending next(), which return()/close() settles in afterEach). */
async function expectNothing<T>(iterator: AsyncIterator<T>, ms = 150): Promise<void> {
  const result = await withDeadline(iterator.next(), ms);
  expect(result).toBe("timeout");
}

async function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), Math.max(ms, 0))));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` until true; Redis delivery and UNSUBSCRIBE are asynchronous to the calls that cause them. */
async function eventually(check: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The behaviour every PubSub implementation must have. */
function describePubSubContract(name: string, factory: Factory, hooks: ContractHooks): void {
  describe(name, () => {
    const open: TestPubSub[] = [];
    /** Creates an instance that afterEach closes. */
    const make: Factory = (opts) => {
      const pubsub = factory(opts);
      open.push(pubsub);
      return pubsub;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((pubsub) => pubsub.close()));
    });

    it("delivers 200 messages in publish order", async () => {
      const pubsub = make();
      const topic = freshTopic("order");
      const iterator = await pubsub.subscribe<{ i: number }>(topic);
      const sent = Array.from({ length: 200 }, (_, i) => i);
      // Not awaited one by one: call order alone must define delivery order.
      await Promise.all(sent.map((i) => pubsub.publish(topic, { i })));
      const received = await take(iterator, 200);
      expect(received.map((m) => m.i)).toEqual(sent);
    });

    it("delivers every message to each of two subscribers", async () => {
      const pubsub = make();
      const topic = freshTopic("fanout");
      const first = await pubsub.subscribe<number>(topic);
      const second = await pubsub.subscribe<number>(topic);
      const sent = Array.from({ length: 50 }, (_, i) => i);
      for (const i of sent) await pubsub.publish(topic, i);
      expect(await take(first, 50)).toEqual(sent);
      expect(await take(second, 50)).toEqual(sent);
    });

    it("keeps topics isolated, including a topic that extends another's name", async () => {
      const pubsub = make();
      const topic = freshTopic("iso");
      const longer = `${topic}:sub`;
      const short = await pubsub.subscribe<string>(topic);
      const long = await pubsub.subscribe<string>(longer);
      await pubsub.publish(topic, "a1");
      await pubsub.publish(longer, "b1");
      await pubsub.publish(topic, "a2");
      expect(await take(short, 2)).toEqual(["a1", "a2"]);
      expect(await take(long, 1)).toEqual(["b1"]);
      await expectNothing(short);
      await expectNothing(long);
    });

    it("return() unsubscribes that subscriber only, and the last one releases the topic", async () => {
      const pubsub = make();
      const topic = freshTopic("return");
      const leaving = await pubsub.subscribe<number>(topic);
      const staying = await pubsub.subscribe<number>(topic);
      expect(await hooks.subscriberCount(pubsub, topic)).toBeGreaterThan(0);

      await pubsub.publish(topic, 1);
      expect(await take(leaving, 1)).toEqual([1]);
      await expect(leaving.return!()).resolves.toEqual({ value: undefined, done: true });
      await pubsub.publish(topic, 2);
      expect(await take(staying, 2)).toEqual([1, 2]);
      await expect(leaving.next()).resolves.toEqual({ value: undefined, done: true });
      expect(await hooks.subscriberCount(pubsub, topic)).toBeGreaterThan(0);

      await staying.return!();
      await eventually(async () => (await hooks.subscriberCount(pubsub, topic)) === 0, `no subscription left on ${topic}`);
    });

    it("return() ends a pending next()", async () => {
      const pubsub = make();
      const iterator = await pubsub.subscribe(freshTopic("pending"));
      const pending = iterator.next();
      await iterator.return!();
      await expect(pending).resolves.toEqual({ value: undefined, done: true });
    });

    it("carries payloads as JSON: Dates become ISO strings, undefined fields vanish, nesting survives", async () => {
      const pubsub = make();
      const topic = freshTopic("json");
      const iterator = await pubsub.subscribe<Record<string, unknown>>(topic);
      const at = new Date("2024-05-06T07:08:09.010Z");
      const payload = { at, gone: undefined, nested: { list: [1, { deep: "yes", none: null }], flag: true } };
      await pubsub.publish(topic, payload);
      payload.nested.flag = false; // a clone was published: later mutation must not leak to subscribers
      await pubsub.publish(topic, undefined);
      const [message, nothing] = await take(iterator, 2);
      expect(message).toStrictEqual({ at: "2024-05-06T07:08:09.010Z", nested: { list: [1, { deep: "yes", none: null }], flag: true } });
      expect("gone" in message!).toBe(false);
      expect(nothing).toBeNull();
    });

    it("publish without subscribers resolves", async () => {
      const pubsub = make();
      await expect(pubsub.publish(freshTopic("nobody"), { x: 1 })).resolves.toBeUndefined();
    });

    it("never misses a publish made right after subscribe() resolves (50 fresh subscriptions)", async () => {
      const pubsub = make();
      const reused = freshTopic("reused");
      for (let i = 0; i < 50; i++) {
        // Alternate a brand-new topic (new SUBSCRIBE) and re-subscribing a topic just released (UNSUBSCRIBE in flight).
        const topic = i % 2 === 0 ? freshTopic("race") : reused;
        const iterator = await pubsub.subscribe<number>(topic);
        await pubsub.publish(topic, i);
        expect(await take(iterator, 1, 2000)).toEqual([i]);
        await iterator.return!();
      }
    });

    it("on overflow drops the oldest messages and keeps the newest", async () => {
      const pubsub = make({ bufferSize: 10 });
      const topic = freshTopic("overflow");
      const iterator = await pubsub.subscribe<number>(topic);
      const sent = Array.from({ length: 25 }, (_, i) => i);
      for (const i of sent) await pubsub.publish(topic, i);
      await eventually(() => pubsub.dropped === 15, `15 dropped (now ${pubsub.dropped})`);
      expect(await take(iterator, 10)).toEqual(sent.slice(15));
      await expectNothing(iterator);
      expect(pubsub.dropped).toBe(15);
    });

    it(`buffers ${DEFAULT_BUFFER_SIZE} messages per subscriber by default`, async () => {
      const pubsub = make();
      const topic = freshTopic("default-buffer");
      const iterator = await pubsub.subscribe<number>(topic);
      const total = DEFAULT_BUFFER_SIZE + 1;
      await Promise.all(Array.from({ length: total }, (_, i) => pubsub.publish(topic, i)));
      await eventually(() => pubsub.dropped === 1, `1 dropped (now ${pubsub.dropped})`);
      const [first] = await take(iterator, 1);
      expect(first).toBe(1);
    });

    it("ping() is true when up", async () => {
      await expect(make().ping()).resolves.toBe(true);
    });

    it("close() ends active iterators and refuses new subscriptions", async () => {
      const pubsub = make();
      const iterator = await pubsub.subscribe(freshTopic("close"));
      const pending = iterator.next();
      await pubsub.close();
      await expect(pending).resolves.toEqual({ value: undefined, done: true });
      await expect(iterator.next()).resolves.toEqual({ value: undefined, done: true });
      await expect(pubsub.subscribe(freshTopic("closed"))).rejects.toThrow(/closed/);
    });
  });
}

describePubSubContract("MemoryPubSub", (opts) => new MemoryPubSub(opts), {
  subscriberCount: async (pubsub, topic) => (pubsub as MemoryPubSub).subscriberCount(topic),
});

describe("createPubSub", () => {
  it("picks memory without redisUrl", async () => {
    const pubsub = createPubSub({});
    expect(pubsub).toBeInstanceOf(MemoryPubSub);
    await pubsub.close();
  });
});

const REDIS_URL = process.env.REDIS_URL;
// One prefix per test run, so parallel runs (or leftovers) on a shared Redis never see each other's messages.
const RUN_PREFIX = `tributary-test:${randomUUID()}:`;

if (!REDIS_URL && process.env.CI === "true") {
  describe("RedisPubSub", () => {
    it("needs REDIS_URL in CI", () => {
      throw new Error("REDIS_URL is not set: the Redis pub/sub contract must run in CI (e.g. REDIS_URL=redis://127.0.0.1:6379)");
    });
  });
} else {
  // Without REDIS_URL outside CI the suite is registered but skipped, so the report shows what did not run.
  (REDIS_URL ? describe : describe.skip)("RedisPubSub (REDIS_URL)", () => {
    const url = (): string => {
      if (!REDIS_URL) throw new Error("REDIS_URL is not set");
      return REDIS_URL;
    };
    /** A client of its own, for PUBSUB NUMSUB: what Redis itself sees. */
    let admin: Redis;
    beforeAll(() => {
      admin = new Redis(url());
    });
    afterAll(async () => {
      await admin.quit();
    });
    /** Subscribers Redis counts on the topic's channel (over all connections). */
    const numsub = async (topic: string): Promise<number> => {
      const reply = (await admin.pubsub("NUMSUB", RUN_PREFIX + topic)) as [string, number];
      return Number(reply[1]);
    };

    const factory: Factory = (opts) =>
      new RedisPubSub({ url: url(), keyPrefix: RUN_PREFIX, logger: silent, bufferSize: opts?.bufferSize });

    describePubSubContract("contract", factory, { subscriberCount: (_pubsub, topic) => numsub(topic) });

    describe("across processes", () => {
      const open: RedisPubSub[] = [];
      const make = (options: Partial<ConstructorParameters<typeof RedisPubSub>[0]> = {}): RedisPubSub => {
        const pubsub = new RedisPubSub({ url: url(), keyPrefix: RUN_PREFIX, logger: silent, ...options });
        open.push(pubsub);
        return pubsub;
      };
      afterEach(async () => {
        await Promise.all(open.splice(0).map((pubsub) => pubsub.close()));
      });

      it("a message published by one instance reaches a subscriber of another, in order", async () => {
        const publisherProcess = make();
        const subscriberProcess = make();
        const topic = freshTopic("cross");
        const iterator = await subscriberProcess.subscribe<{ n: number }>(topic);
        const sent = Array.from({ length: 20 }, (_, n) => n);
        for (const n of sent) await publisherProcess.publish(topic, { n });
        expect((await take(iterator, 20)).map((m) => m.n)).toEqual(sent);
      });

      it("instances with different key prefixes do not see each other", async () => {
        const ours = make();
        const theirs = make({ keyPrefix: `${RUN_PREFIX}other:` });
        const topic = freshTopic("prefix");
        const iterator = await ours.subscribe<string>(topic);
        await theirs.publish(topic, "theirs");
        await ours.publish(topic, "ours");
        expect(await take(iterator, 1)).toEqual(["ours"]);
        await expectNothing(iterator);
      });

      it("createPubSub picks Redis with redisUrl", async () => {
        const pubsub = createPubSub({ redisUrl: url(), keyPrefix: RUN_PREFIX, logger: silent });
        expect(pubsub).toBeInstanceOf(RedisPubSub);
        open.push(pubsub as RedisPubSub);
        await expect(pubsub.ping()).resolves.toBe(true);
      });

      it("after an outage the subscriber reconnects, re-subscribes and receives again", async () => {
        // A TCP proxy in front of Redis that the test can cut, to simulate the network or Redis going away.
        const target = new URL(url());
        const sockets = new Set<Socket>();
        const proxy = createServer((client) => {
          const upstream = connect(Number(target.port || 6379), target.hostname);
          for (const socket of [client, upstream]) {
            sockets.add(socket);
            socket.on("error", () => socket.destroy());
            socket.on("close", () => sockets.delete(socket));
          }
          client.pipe(upstream).pipe(client);
        });
        const listen = (port: number) => new Promise<void>((resolve) => proxy.listen(port, "127.0.0.1", () => resolve()));
        const cut = async () => {
          await Promise.all([new Promise((resolve) => proxy.close(resolve)), ...[...sockets].map((socket) => socket.destroy())]);
        };
        await listen(0);
        const port = (proxy.address() as { port: number }).port;
        const viaProxy = new URL(target);
        viaProxy.hostname = "127.0.0.1";
        viaProxy.port = String(port);
        try {
          const subscriber = make({ url: viaProxy.toString() });
          const publisher = make();
          const topic = freshTopic("outage");
          const iterator = await subscriber.subscribe<string>(topic);
          await publisher.publish(topic, "before");
          expect(await take(iterator, 1)).toEqual(["before"]);

          await cut();
          await eventually(async () => !(await subscriber.ping()), "ping() false during the outage");
          await eventually(async () => (await numsub(topic)) === 0, "Redis dropped the subscription");
          // During the outage a publish fails at once (never queued until Redis returns), and a new subscription
          // does not wait for Redis either: it is live once the connection is back.
          const publishing = performance.now();
          await expect(subscriber.publish(topic, "lost")).rejects.toThrow(/disconnected/);
          expect(performance.now() - publishing).toBeLessThan(100);
          const subscribing = performance.now();
          const openedTopic = freshTopic("opened-in-outage");
          const opened = await subscriber.subscribe<string>(openedTopic);
          expect(performance.now() - subscribing).toBeLessThan(100);

          await listen(port);
          await eventually(() => subscriber.ping(), "ping() true after the outage", 10_000);
          await eventually(async () => (await numsub(topic)) > 0, "re-subscribed");
          await publisher.publish(topic, "after");
          expect(await take(iterator, 1)).toEqual(["after"]);
          await eventually(async () => (await numsub(openedTopic)) > 0, "the subscription opened during the outage is live");
          await publisher.publish(openedTopic, "hello");
          expect(await take(opened, 1)).toEqual(["hello"]);
        } finally {
          await Promise.all(open.splice(0).map((pubsub) => pubsub.close()));
          await cut();
        }
      }, 20_000);
    });
  });
}

// Failure handling needs no real Redis (a closed port, a fake server), so it runs everywhere.
describe("RedisPubSub when Redis is unreachable or failing", () => {
  const DEAD_URL = "redis://127.0.0.1:1";
  const open: RedisPubSub[] = [];
  let fake: Server | undefined;
  afterEach(async () => {
    await Promise.all(open.splice(0).map((pubsub) => pubsub.close()));
    await new Promise<void>((resolve) => (fake ? fake.close(() => resolve()) : resolve()));
    fake = undefined;
  });
  afterAll(async () => {
    // ioredis arms a destroy timer (disconnectTimeout, 200 ms) even for an already-dead socket; let it run out so
    // --detectOpenHandles stays quiet.
    await new Promise((resolve) => setTimeout(resolve, 250));
  });
  const make = (options: ConstructorParameters<typeof RedisPubSub>[0]): RedisPubSub => {
    const pubsub = new RedisPubSub({ logger: silent, ...options });
    open.push(pubsub);
    return pubsub;
  };

  it("ping() is false, within its timeout, when nothing listens; the failure is logged", async () => {
    const lines: string[] = [];
    const capture = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const pubsub = make({ url: DEAD_URL, logger: pino({ level: "warn" }, capture), pingTimeoutMs: 500 });
    const started = Date.now();
    await expect(pubsub.ping()).resolves.toBe(false);
    expect(Date.now() - started).toBeLessThan(2000);
    await eventually(() => lines.some((line) => line.includes("redis pubsub connection error")), "a logged connection error");
  });

  it("ping() is false, not a throw, when the server answers PING with an error", async () => {
    // Answers every command with an error reply, so the PING is rejected (not merely left waiting).
    fake = createServer((socket) =>
      socket.on("data", (data) => socket.write("-ERR fake server\r\n".repeat(data.toString().match(/\*\d+\r\n/g)?.length ?? 0))),
    );
    await new Promise<void>((resolve) => fake!.listen(0, "127.0.0.1", () => resolve()));
    const { port } = fake.address() as { port: number };
    const pubsub = make({ url: `redis://127.0.0.1:${port}`, pingTimeoutMs: 5000 });
    const started = Date.now();
    await expect(pubsub.ping()).resolves.toBe(false);
    expect(Date.now() - started).toBeLessThan(4000); // answered by the rejection, not the timeout
  });

  it("close() while Redis is unreachable settles pending publish and subscribe", async () => {
    const pubsub = make({ url: DEAD_URL });
    const publishing = pubsub.publish(freshTopic("outage"), 1);
    const subscribing = pubsub.subscribe(freshTopic("outage"));
    await pubsub.close();
    await expect(publishing).rejects.toThrow(/closed/);
    await expect(subscribing).rejects.toThrow(/closed/);
  }, 10_000);
});
