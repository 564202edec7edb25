// Live record streams. One feed per tenant per process reads each new batch of changes ONCE and hands it to every
// stream at the head; each stream keeps its own cursor, applies its own collections, grants and row filters, and
// catches up by itself (from its checkpoint, after a slow patch, or when it starts behind). Pub/sub only wakes the
// feed, and the feed re-reads on a timer too, so a dropped message delays a change but never loses it.
import type { MikroORM } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import type { PubSub } from "../../../kernel/pubsub/pubsub.js";
import { boundSql } from "../../../kernel/db.js";
import { forkForTenant } from "../../../kernel/tenancy.js";
import type { Caller } from "./access.js";
import { Collection } from "./collection.entity.js";
import type { Doc, Sql } from "./record-writer.js";
import { encodeCheckpoint, recordsChannel, rulesFor, STREAM_POLL_MS, type RecordsService } from "./records.service.js";
import { CHANGED_ROW_COLUMNS, viewOf, type ChangedRow } from "./visibility.js";

export interface StreamBatch {
  documents: Doc[];
  checkpoint: string;
}

const AsyncGeneratorReturn = Object.getPrototypeOf(async function* () {}).prototype.return as (this: AsyncGenerator, value: never) => Promise<IteratorResult<unknown>>;

/** Changes read per feed query and per catch-up page. */
const FEED_BATCH = 1000;
const CATCH_UP_PAGE = 500;
/** A "from now" stream re-sends the changes of this last stretch of time (see {@link ChangeFeeds.recentStart}). */
export const FROM_NOW_OVERLAP_MS = 30_000;
/** Batches a stream may hold undelivered before it leaves the feed and catches up by itself (memory stays bounded). */
const MAX_QUEUED_BATCHES = 64;
const MAX_QUEUED_DOCUMENTS = 2_000;

/** One live stream: its own cursor, collections and caller. */
class Stream {
  queue: StreamBatch[] = [];
  joined = false;
  closed = false;
  error: unknown = null;
  wake: (() => void) | null = null;

  constructor(
    readonly caller: Caller,
    readonly collections: Collection[],
    readonly names: Set<string>,
    public cursor: bigint,
  ) {}

  /** Documents waiting in `queue`. */
  queued = 0;

  deliver(batch: StreamBatch): void {
    this.queue.push(batch);
    this.queued += batch.documents.length;
    this.wake?.();
  }

  take(): StreamBatch | undefined {
    const next = this.queue.shift();
    if (next) this.queued -= next.documents.length;
    return next;
  }

  fail(error: unknown): void {
    this.error = error;
    this.wake?.();
  }
}

class TenantFeed {
  head = 0n;
  readonly members = new Set<Stream>();
  users = 0;
  private reading = false;
  private again = false;
  private timer?: NodeJS.Timeout;
  private wakeups?: AsyncIterableIterator<unknown>;
  /** Feed reads so far (for tests and benchmarks: one per batch, whatever the number of streams). */
  reads = 0;

  constructor(
    private readonly feeds: ChangeFeeds,
    readonly tenantId: string,
  ) {}

  async start(): Promise<void> {
    this.head = await this.feeds.committedSeq(this.tenantId);
    const wakeups = await this.feeds.pubsub.subscribe<unknown>(recordsChannel(this.tenantId));
    this.wakeups = wakeups;
    void (async () => {
      for await (const _ of wakeups) this.read();
    })().catch((err: unknown) => this.feeds.logger.warn({ err }, "records wake-ups ended"));
    this.timer = setInterval(() => this.read(), STREAM_POLL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.wakeups?.return?.();
  }

  /** A stream at or past the head joins the feed; one behind must catch up first. */
  join(stream: Stream): boolean {
    if (stream.cursor < this.head) return false;
    stream.joined = true;
    this.members.add(stream);
    return true;
  }

  leave(stream: Stream): void {
    stream.joined = false;
    this.members.delete(stream);
  }

  read(): void {
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    void this.readAll()
      .catch((err: unknown) => this.feeds.logger.warn({ err, tenantId: this.tenantId }, "records feed read failed; retrying on the next wake-up"))
      .finally(() => {
        this.reading = false;
        if (this.again) this.read();
      });
  }

  private async readAll(): Promise<void> {
    do {
      this.again = false;
      for (;;) {
        const rows = (await this.feeds.sql(
          `select ${CHANGED_ROW_COLUMNS} from sync.record where tenant_id = ? and seq > ?::bigint order by seq limit ?`,
          [this.tenantId, this.head.toString(), FEED_BATCH],
        )) as ChangedRow[];
        this.reads++;
        if (!rows.length) break;
        const last = BigInt(rows[rows.length - 1].seq);
        this.head = last; // synchronously with the read: a stream joining from now on needs only what comes next
        await Promise.all([...this.members].map((s) => this.fanOut(s, rows, last)));
        if (rows.length < FEED_BATCH) break;
      }
    } while (this.again);
  }

  private async fanOut(stream: Stream, rows: ChangedRow[], last: bigint): Promise<void> {
    const after = stream.cursor;
    const mine = rows.filter((r) => BigInt(r.seq) > after && stream.names.has(r.collection));
    if (!mine.length) {
      if (last > stream.cursor) stream.cursor = last;
      return;
    }
    try {
      const rules = rulesFor(stream.collections, await this.feeds.records.grants.grantsFor(stream.caller));
      const visible = await viewOf(this.feeds.sql, this.tenantId, mine, rules, after);
      if (last > stream.cursor) stream.cursor = last;
      if (visible.length) stream.deliver({ documents: visible.map((v) => v.document), checkpoint: encodeCheckpoint(this.tenantId, stream.cursor) });
      // A slow stream leaves and catches up by itself once it has drained: memory per stream stays bounded.
      if (stream.queue.length > MAX_QUEUED_BATCHES || stream.queued > MAX_QUEUED_DOCUMENTS) this.leave(stream);
    } catch (err) {
      this.leave(stream);
      stream.fail(err);
    }
  }
}

/** The feeds of this process, one per tenant with open streams. */
export class ChangeFeeds {
  private readonly feeds = new Map<string, Promise<TenantFeed>>();
  private readonly streams = new Set<Stream>();
  readonly sql: Sql;

  constructor(
    readonly orm: MikroORM,
    readonly pubsub: PubSub,
    readonly records: RecordsService,
    readonly logger: Logger,
  ) {
    this.sql = boundSql(orm.em);
  }

  /** The tenant's last committed seq: every change up to it is visible (commit order is seq order). */
  async committedSeq(tenantId: string): Promise<bigint> {
    const rows = (await this.sql("select value from sync.tenant_seq where tenant_id = ?", [tenantId])) as { value: string }[];
    return rows.length ? BigInt(rows[0].value) : 0n;
  }

  /**
   * Where a "from now" stream starts: just before the changes of the last {@link FROM_NOW_OVERLAP_MS}, so a client that
   * pulled moments before subscribing (RxDB pulls when its socket connects) cannot fall into the gap between its pull
   * and the stream's start. Replayed changes are states, not deltas: receiving one again changes nothing.
   */
  async recentStart(tenantId: string): Promise<bigint> {
    const head = await this.committedSeq(tenantId);
    const rows = (await this.sql("select min(seq) as first from sync.record where tenant_id = ? and updated_at > ?", [
      tenantId,
      new Date(Date.now() - FROM_NOW_OVERLAP_MS),
    ])) as { first: string | null }[];
    return rows[0]?.first ? BigInt(rows[0].first) - 1n : head;
  }

  /** Feed reads of a tenant so far (0 without a feed). */
  async readsOf(tenantId: string): Promise<number> {
    const feed = this.feeds.get(tenantId);
    return feed ? (await feed).reads : 0;
  }

  private async acquire(tenantId: string): Promise<TenantFeed> {
    for (;;) {
      let pending = this.feeds.get(tenantId);
      if (!pending) {
        const feed = new TenantFeed(this, tenantId);
        pending = feed.start().then(() => feed);
        pending.catch(() => this.feeds.delete(tenantId));
        this.feeds.set(tenantId, pending);
      }
      const feed = await pending;
      // Released and stopped while we waited: take (or start) the current one instead.
      if (this.feeds.get(tenantId) !== pending) continue;
      feed.users++;
      return feed;
    }
  }

  private async release(feed: TenantFeed): Promise<void> {
    if (--feed.users > 0) return;
    this.feeds.delete(feed.tenantId);
    await feed.stop();
  }

  /**
   * A live stream of change batches after `checkpoint` for `caller`. Arguments, access and the checkpoint are checked
   * before anything is subscribed (errors reach the client as the subscription's error).
   */
  async open(caller: Caller, collections: string[], checkpoint: string | null, fromNow = false): Promise<AsyncGenerator<StreamBatch>> {
    const tenantId = caller.principal.tenantId;
    const em = forkForTenant(this.orm, tenantId);
    const { names, after } = await this.records.preparePull(em, caller, collections, checkpoint, 1);
    const metas = await em.find(Collection, { name: { $in: names } });
    const start = fromNow && !checkpoint ? await this.recentStart(tenantId) : after;
    const feed = await this.acquire(tenantId);
    const stream = new Stream(caller, metas, new Set(names), start);
    const records = this.records;
    const release = () => {
      this.streams.delete(stream);
      feed.leave(stream);
      return this.release(feed);
    };
    const generator = (async function* () {
      try {
        for (;;) {
          if (stream.closed) return;
          const next = stream.take();
          if (next) {
            yield next;
            continue;
          }
          if (stream.error) throw stream.error;
          if (!stream.joined) {
            const rules = rulesFor(metas, await records.grants.grantsFor(caller));
            // Everything up to the feed's head was committed before this read began: once the read finds nothing
            // more, the stream is at least there even if the last changes were in other collections (or unused seq
            // values), so it can join instead of reading again and again.
            const head = feed.head;
            const page = await records.readChanges(forkForTenant(records.orm, tenantId), tenantId, rules, names, stream.cursor, CATCH_UP_PAGE);
            if (page.cursor > stream.cursor) stream.cursor = page.cursor;
            if (!page.hasMore && head > stream.cursor) stream.cursor = head;
            if (!page.hasMore) feed.join(stream);
            if (page.items.length) yield { documents: page.items.map((i) => i.document), checkpoint: encodeCheckpoint(tenantId, stream.cursor) };
            continue;
          }
          await new Promise<void>((resolve) => {
            stream.wake = resolve;
          });
          stream.wake = null;
        }
      } finally {
        await release();
      }
    })();
    this.streams.add(stream);
    const streams = this.streams;
    // A generator's return() waits for the step in progress, and an idle stream waits for a change that may never
    // come: closing wakes it first, so an unsubscribed stream releases its feed at once.
    return Object.assign(generator, {
      return: (value?: unknown) => {
        stream.closed = true;
        streams.delete(stream);
        stream.wake?.();
        return AsyncGeneratorReturn.call(generator, value as never);
      },
    });
  }

  /** Ends every stream and feed (the subgraph is stopping). */
  async stop(): Promise<void> {
    for (const stream of this.streams) {
      stream.closed = true;
      stream.wake?.();
    }
    this.streams.clear();
    const feeds = await Promise.allSettled([...this.feeds.values()]);
    this.feeds.clear();
    await Promise.all(feeds.map((f) => (f.status === "fulfilled" ? f.value.stop() : undefined)));
  }
}
