// Shared helpers of the end-to-end suites (not a test file: jest only runs *.test.ts).
import { print, type ExecutionResult, type FormattedExecutionResult } from "graphql";
import type { Client } from "graphql-ws";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { PullChangesDocument, type PullChangesQuery } from "../__generated__/graphql.js";

type Truthy<T> = Exclude<T, undefined | null | false | 0 | "">;

/** Polls `check` until it returns a truthy value (returned) or `timeoutMs` passes (throws with `what`). */
export async function waitUntil<T>(check: () => T | Promise<T>, what: string, timeoutMs = 5_000, intervalMs = 20): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const last = await check();
    if (last) return last as Truthy<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A raw GraphQL POST (any URL: gateway or a subgraph); returns HTTP status and parsed body (text if not JSON). */
export async function post(url: string, query: string, variables?: Record<string, unknown>, token?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    return { status: res.status, body: text };
  }
}

/** The `extensions.code` of every error of a response body (empty when there are none). */
export function codesOf(body: { errors?: readonly { extensions?: Record<string, unknown> }[] } | undefined | null): unknown[] {
  return (body?.errors ?? []).map((e) => e.extensions?.code);
}

/**
 * A live subscription: results are collected in the background so a test can interleave mutations with
 * expectations (`await feed.nth(2)`), and see whether (and how) the stream ended.
 */
export class Feed<T> {
  readonly results: ExecutionResult<T>[] = [];
  /** True once the stream completed or failed. */
  done = false;
  /** What the iterator threw (a close event, or GraphQL errors sent as an `error` message). */
  error: unknown;
  readonly finished: Promise<void>;
  private readonly iterator: AsyncIterableIterator<ExecutionResult<T>>;

  constructor(client: Client, doc: TypedDocumentNode<T, any>, variables: Record<string, unknown>) {
    const iterator = client.iterate<T>({ query: print(doc), variables }) as AsyncIterableIterator<ExecutionResult<T>>;
    this.iterator = iterator;
    this.finished = (async () => {
      try {
        for await (const r of iterator) this.results.push(r);
      } catch (err) {
        this.error = err;
      } finally {
        this.done = true;
      }
    })();
  }

  /** Waits for the n-th result (1-based) and returns it; fails if the stream ends first or time runs out. */
  async nth(n: number, timeoutMs = 10_000): Promise<ExecutionResult<T>> {
    await waitUntil(() => this.results.length >= n || this.done, `result #${n} (got ${JSON.stringify(this.results)})`, timeoutMs, 5);
    if (this.results.length < n) {
      throw new Error(`stream ended after ${this.results.length} results (wanted ${n}): ${JSON.stringify({ results: this.results, error: describe(this.error) })}`);
    }
    return this.results[n - 1]!;
  }

  /** Waits until the stream has ended (completed or failed). */
  async ended(timeoutMs = 10_000): Promise<void> {
    await waitUntil(() => this.done, `the stream to end (got ${JSON.stringify(this.results)})`, timeoutMs, 5);
  }

  /** Unsubscribes (idempotent). */
  async close(): Promise<void> {
    await this.iterator.return?.();
    await this.finished;
  }
}

function describe(err: unknown): unknown {
  if (err && typeof err === "object" && "code" in err) return { code: (err as { code: unknown }).code, reason: (err as { reason?: unknown }).reason };
  return err;
}

/** Fragments that only appear in a response when a stack trace or SQL leaked. */
const LEAK_PATTERNS: RegExp[] = [
  /stacktrace/i,
  /\bat [\w.<>]+ \(/, // "at fn (file:line)"
  /node_modules/,
  /\.ts:\d+/,
  /\.js:\d+/,
  /\bselect\b[\s\S]*\bfrom\b/i,
  /\binsert into\b/i,
  /\bupdate\s+"[^"]+"\s*\.\s*"[^"]+"/i,
  /"(sync|tenants|connectors|audit)"\."\w+"/,
  /syntax error at or near/i,
  /violates .* constraint/i,
  /invalid input syntax/i,
  /invalid byte sequence/i,
  /duplicate key value/i,
];

/** The fragments of `body` (any JSON or text) that look like a stack trace or SQL. */
export function leaksIn(body: unknown): string[] {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return LEAK_PATTERNS.filter((p) => p.test(text)).map((p) => `${p} ~ ${text.match(p)?.[0]}`);
}

/** A small seeded PRNG (mulberry32): randomized tests print their seed and can be replayed with E2E_SEED. */
export { prng } from "../../simulators/kit.js";

/**
 * A typed GraphQL POST to any gateway (or subgraph) URL. Network failures and non-JSON answers come back as
 * `{ networkError }` ("aborted" when `signal` cut it off) so callers can decide to retry.
 */
export async function gqlAt<T, V>(
  url: string,
  doc: TypedDocumentNode<T, V>,
  variables: V,
  token: string,
  signal?: AbortSignal,
): Promise<FormattedExecutionResult<T> & { status: number; networkError?: string }> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: print(doc), variables }),
      signal,
    });
    const text = await res.text();
    try {
      return { ...(JSON.parse(text) as FormattedExecutionResult<T>), status: res.status };
    } catch {
      return { status: res.status, networkError: `HTTP ${res.status}, non-JSON answer: ${text.slice(0, 200)}` };
    }
  } catch (err) {
    return { status: 0, networkError: String((err as Error).name === "AbortError" ? "aborted" : ((err as Error).cause ?? err)) };
  }
}

/** A collection's current state on the server, pulled from the start in pages of 1,000, and the head checkpoint. */
export async function pulledState<D extends { id: string }>(url: string, token: string, collection: string): Promise<{ state: Map<string, D>; checkpoint: string | null }> {
  const state = new Map<string, D>();
  let checkpoint: string | null = null;
  for (;;) {
    const res = await gqlAt(url, PullChangesDocument, { collections: [collection], checkpoint, limit: 1000 }, token);
    if (!res.data) throw new Error(`pull failed: ${JSON.stringify(res)}`);
    const page: PullChangesQuery["pullChanges"] = res.data.pullChanges;
    for (const d of page.documents as D[]) state.set(d.id, d);
    checkpoint = page.checkpoint ?? checkpoint;
    if (!page.hasMore) return { state, checkpoint };
  }
}

/**
 * A raw graphql-transport-ws handshake: opens `url`, sends `connection_init` with `payload`, and reports how it ended:
 * acknowledged (`code` undefined; the socket is then closed by us), or closed by the server with `code` and `reason`.
 * `then` runs after the acknowledgement, with the open socket (e.g. to wait for a revocation to close it).
 */
export async function socketHandshake(
  url: string,
  payload: unknown,
  then?: (socket: import("ws").WebSocket) => Promise<void>,
): Promise<{ acknowledged: boolean; code?: number; reason?: string; messages: unknown[] }> {
  const { WebSocket } = await import("ws");
  const socket = new WebSocket(url, "graphql-transport-ws");
  const messages: unknown[] = [];
  let acknowledged = false;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.on("close", (code, reason) => resolve({ code, reason: String(reason) })));
  socket.on("error", () => undefined);
  socket.on("open", () => socket.send(JSON.stringify({ type: "connection_init", ...(payload === undefined ? {} : { payload }) })));
  const acked = new Promise<boolean>((resolve) => {
    socket.on("message", (m) => {
      const message = JSON.parse(String(m)) as { type?: string };
      messages.push(message);
      if (message.type === "connection_ack") resolve(true);
    });
    void closed.then(() => resolve(false));
  });
  acknowledged = await acked;
  if (!acknowledged) return { acknowledged, ...(await closed), messages };
  if (then) {
    await then(socket);
    if (socket.readyState === socket.CLOSED || socket.readyState === socket.CLOSING) return { acknowledged, ...(await closed), messages };
  }
  socket.close(1000);
  await closed;
  return { acknowledged, messages };
}
