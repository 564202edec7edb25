// Many graphql-ws subscribers of `recordsChanged`, run in a worker thread so that the subscribers do not share an
// event loop with the in-process stack they measure. Every subscriber notes when it first received each document id
// (monotonic clock, comparable with the main thread's), so the main thread can ask "when did each subscriber have
// all of these ids" after a push, whether the documents arrived before or after it asked.
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";

export interface StreamClientsOptions {
  /** The gateway's graphql-ws URL. */
  url: string;
  token: string;
  /** WebSocket connections; subscriptions are spread over them round-robin. */
  sockets: number;
  subscriptions: number;
  collections: string[];
  checkpoint: string | null;
}

export interface StreamStats {
  /** Documents received more than once by the same subscriber. */
  duplicates: number;
  /** Documents received, over all subscribers. */
  received: number;
  /** Subscription errors and unexpected completions (should be empty). */
  errors: string[];
}

type ToWorker = { type: "wait"; tag: number; ids: string[]; timeoutMs: number } | { type: "stats"; tag: number } | { type: "close"; tag: number };
type FromWorker = { type: "started" } | { type: "reply"; tag: number; value: unknown };

const SUBSCRIPTION = "subscription Live($collections: [String!]!, $checkpoint: String) { recordsChanged(collections: $collections, checkpoint: $checkpoint) { documents checkpoint } }";
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

/** The main thread's handle on the subscribers' worker. */
export class StreamClients {
  private nextTag = 1;
  private readonly replies = new Map<number, (value: unknown) => void>();

  private constructor(private readonly worker: Worker) {
    worker.on("message", (msg: FromWorker) => {
      if (msg.type !== "reply") return;
      this.replies.get(msg.tag)?.(msg.value);
      this.replies.delete(msg.tag);
    });
  }

  /** Starts the worker and opens every subscription (their first result only comes with the first change). */
  static async start(opts: StreamClientsOptions): Promise<StreamClients> {
    const worker = new Worker(new URL(import.meta.url), { workerData: opts });
    await new Promise<void>((resolve, reject) => {
      worker.once("error", reject);
      worker.once("exit", (code) => reject(new Error(`stream clients worker exited with ${code}`)));
      worker.once("message", (msg: FromWorker) => (msg.type === "started" ? resolve() : reject(new Error(`unexpected ${msg.type}`))));
    });
    worker.removeAllListeners("exit");
    return new StreamClients(worker);
  }

  /**
   * For each subscriber, the monotonic time (ms) at which it had received every one of `ids` (NaN: not within
   * `timeoutMs`). Resolves as soon as all have them.
   */
  waitFor(ids: string[], timeoutMs: number): Promise<number[]> {
    return this.ask({ type: "wait", tag: 0, ids, timeoutMs }) as Promise<number[]>;
  }

  stats(): Promise<StreamStats> {
    return this.ask({ type: "stats", tag: 0 }) as Promise<StreamStats>;
  }

  async close(): Promise<void> {
    await Promise.race([this.ask({ type: "close", tag: 0 }), new Promise((r) => setTimeout(r, 10_000).unref())]);
    await this.worker.terminate();
  }

  private ask(msg: ToWorker): Promise<unknown> {
    const tag = this.nextTag++;
    return new Promise((resolve) => {
      this.replies.set(tag, resolve);
      this.worker.postMessage({ ...msg, tag });
    });
  }
}

if (!isMainThread) {
  const opts = workerData as StreamClientsOptions;
  const port = parentPort!;
  const clients: Client[] = [];
  for (let i = 0; i < opts.sockets; i++) {
    clients.push(
      createClient({
        url: opts.url,
        webSocketImpl: WebSocket,
        lazy: true,
        retryAttempts: 0,
        connectionParams: { authorization: `Bearer ${opts.token}` },
      }),
    );
  }
  /** Per subscriber: document id -> time it was first received. */
  const seen: Map<string, number>[] = [];
  const errors: string[] = [];
  let duplicates = 0;
  let received = 0;

  interface Wait {
    ids: Set<string>;
    /** Per subscriber: ids still missing. */
    missing: number[];
    /** Per subscriber: time the last missing id arrived. */
    times: number[];
    left: number;
    done(): void;
  }
  const waits = new Set<Wait>();

  const onDocuments = (sub: number, docs: Record<string, unknown>[]) => {
    const t = nowMs();
    const mine = seen[sub];
    for (const doc of docs) {
      const id = String(doc.id);
      received++;
      if (mine.has(id)) {
        duplicates++;
        continue;
      }
      mine.set(id, t);
      for (const w of waits) {
        if (!w.ids.has(id) || w.missing[sub] === 0) continue;
        if (--w.missing[sub] === 0) {
          w.times[sub] = t;
          if (--w.left === 0) w.done();
        }
      }
    }
  };

  for (let sub = 0; sub < opts.subscriptions; sub++) {
    seen.push(new Map());
    const describe = (what: string) => `subscription ${sub}: ${what}`;
    clients[sub % opts.sockets].subscribe<{ recordsChanged: { documents: Record<string, unknown>[]; checkpoint: string } }>(
      { query: SUBSCRIPTION, variables: { collections: opts.collections, checkpoint: opts.checkpoint } },
      {
        next: (result) => {
          if (result.errors?.length) errors.push(describe(JSON.stringify(result.errors)));
          else if (result.data) onDocuments(sub, result.data.recordsChanged.documents);
        },
        error: (err) => errors.push(describe(err instanceof Error ? err.message : Array.isArray(err) ? JSON.stringify(err) : `closed ${(err as { code?: number }).code ?? ""} ${(err as { reason?: string }).reason ?? ""}`)),
        complete: () => errors.push(describe("completed unexpectedly")),
      },
    );
  }

  port.on("message", (msg: ToWorker) => {
    const reply = (value: unknown) => port.postMessage({ type: "reply", tag: msg.tag, value } satisfies FromWorker);
    if (msg.type === "stats") return reply({ duplicates, received, errors: errors.slice(0, 20).concat(errors.length > 20 ? [`... ${errors.length - 20} more`] : []) } satisfies StreamStats);
    if (msg.type === "close") {
      void Promise.allSettled(clients.map((c) => c.dispose())).then(() => reply(null));
      return;
    }
    // wait: what has already arrived counts (a subscriber may have the documents before the push is acknowledged).
    const ids = new Set(msg.ids);
    const w: Wait = { ids, missing: [], times: [], left: 0, done: () => undefined };
    for (let sub = 0; sub < opts.subscriptions; sub++) {
      let missing = 0;
      let last = -Infinity;
      for (const id of ids) {
        const t = seen[sub].get(id);
        if (t === undefined) missing++;
        else last = Math.max(last, t);
      }
      w.missing.push(missing);
      w.times.push(missing ? NaN : last);
      if (missing) w.left++;
    }
    const finish = () => {
      clearTimeout(timer);
      waits.delete(w);
      reply(w.times);
    };
    const timer = setTimeout(finish, msg.timeoutMs);
    w.done = finish;
    if (w.left === 0) finish();
    else waits.add(w);
  });
  port.postMessage({ type: "started" } satisfies FromWorker);
}
