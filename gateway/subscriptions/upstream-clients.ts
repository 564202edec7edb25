import { GraphQLError, type GraphQLFormattedError } from "graphql";
import { createClient, type Client } from "graphql-ws";
import type { Logger } from "pino";
import WebSocket from "ws";
import { appError, ErrorCode, Errors } from "../../kernel/errors.js";

/** How a dropped upstream socket is retried before its subscriptions fail with UPSTREAM_UNAVAILABLE. */
export interface UpstreamRetryOptions {
  /**
   * Reconnect attempts after a drop; default 8 (about 23–45 s of backoff in all, enough for a subgraph process to be
   * restarted by its supervisor on a loaded machine before its subscribers are told UPSTREAM_UNAVAILABLE). 0 fails at
   * once.
   */
  attempts?: number;
  /** First backoff delay, doubled per attempt, with jitter; default 500 ms. */
  baseDelayMs?: number;
  /** Backoff ceiling; default 10 s. */
  maxDelayMs?: number;
}

/** Options of an {@link UpstreamClientPool}. */
export interface UpstreamClientPoolOptions {
  logger: Logger;
  retry?: UpstreamRetryOptions;
  /**
   * Ping interval; a socket whose pong does not come back within the same interval is dropped and retried, so a
   * half-open TCP connection is noticed. Default 12 s; 0 disables.
   */
  keepAliveMs?: number;
  /** How long to wait for `connection_ack`; default 10 s. */
  ackTimeoutMs?: number;
  /** Sent in every socket's connection parameters besides the caller's token and request id. */
  connectionParams?: Record<string, string>;
}

/** Who an upstream connection belongs to. Connections are shared only between identical identities. */
export interface UpstreamIdentity {
  subgraph: string;
  url: string;
  authorization?: string;
  tenantId?: string;
  /** Request id of the subscriber that opens the connection; forwarded for log correlation. */
  requestId: string;
}

/** A reference-counted use of a pooled client; call `release()` exactly once. */
export interface UpstreamLease {
  readonly client: Client;
  release(): void;
}

interface PooledClient {
  client: Client;
  subgraph: string;
  refs: number;
  /** Resolves pending backoff waits so disposal is not held up by a timer. */
  cancelWaits(): void;
  stopKeepAlive(): void;
}

// graphql-ws close codes that mean "who you are" rather than "the network failed".
const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_FORBIDDEN = 4403;

/**
 * One graphql-ws client per (subgraph, url, authorization, tenant), shared by every upstream subscription with that
 * identity (graphql-ws multiplexes them on one socket) and disposed when the last one is released.
 */
export class UpstreamClientPool {
  private readonly clients = new Map<string, PooledClient>();
  private readonly log: Logger;

  constructor(private readonly opts: UpstreamClientPoolOptions) {
    this.log = opts.logger;
  }

  /** Open (or shared) clients. */
  get size(): number {
    return this.clients.size;
  }

  /** Takes a reference on the client for `identity`, creating it (lazily connecting) if needed. */
  acquire(identity: UpstreamIdentity): UpstreamLease {
    const key = JSON.stringify([identity.subgraph, identity.url, identity.authorization ?? null, identity.tenantId ?? null]);
    let pooled = this.clients.get(key);
    if (!pooled) {
      pooled = this.create(identity);
      this.clients.set(key, pooled);
    }
    const entry = pooled;
    entry.refs++;
    let released = false;
    return {
      client: entry.client,
      release: () => {
        if (released) return;
        released = true;
        if (--entry.refs > 0) return;
        if (this.clients.get(key) === entry) this.clients.delete(key);
        void this.dispose(entry);
      },
    };
  }

  /** Disposes every client, leased or not. */
  async close(): Promise<void> {
    const entries = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(entries.map((e) => this.dispose(e)));
  }

  private async dispose(entry: PooledClient): Promise<void> {
    entry.stopKeepAlive();
    entry.cancelWaits();
    try {
      await entry.client.dispose();
    } catch (err) {
      // A client whose last connect attempt failed rejects here; there is nothing left to close.
      this.log.debug({ subgraph: entry.subgraph, failure: describeFailure(err) }, "upstream client disposed after failure");
    }
  }

  private create(identity: UpstreamIdentity): PooledClient {
    const { subgraph, url } = identity;
    const log = this.log.child({ subgraph });
    const attempts = this.opts.retry?.attempts ?? 8;
    const baseDelayMs = this.opts.retry?.baseDelayMs ?? 500;
    const maxDelayMs = this.opts.retry?.maxDelayMs ?? 10_000;
    const keepAliveMs = this.opts.keepAliveMs ?? 12_000;

    const waits = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
    let disposed = false;
    let pongTimer: NodeJS.Timeout | undefined;
    const stopKeepAlive = () => clearTimeout(pongTimer);

    // The keys subgraphs read from connection params (kernel/http.ts: `authorization`, REQUEST_ID_HEADER). The
    // request id is the opener's; every lease has the same authorization and tenant.
    const connectionParams: Record<string, string> = { ...this.opts.connectionParams, "x-request-id": identity.requestId };
    if (identity.authorization) connectionParams.authorization = identity.authorization;

    const client: Client = createClient({
      url,
      webSocketImpl: WebSocket,
      lazy: true,
      connectionParams,
      connectionAckWaitTimeout: this.opts.ackTimeoutMs ?? 10_000,
      keepAlive: keepAliveMs,
      retryAttempts: attempts,
      // Retry network errors too (graphql-ws only retries close events by default, so a refused reconnect would end
      // the retries at once); "forbidden" will not change by retrying.
      shouldRetry: (err) => !(isCloseEvent(err) && err.code === CLOSE_FORBIDDEN),
      // Must resolve, never reject: graphql-ws awaits it inside a promise executor.
      retryWait: (retries) =>
        new Promise<void>((resolve) => {
          if (disposed) return resolve();
          const delay = Math.min(maxDelayMs, baseDelayMs * 2 ** retries);
          const wait = {
            resolve: () => {
              clearTimeout(wait.timer);
              waits.delete(wait);
              resolve();
            },
            timer: setTimeout(() => wait.resolve(), delay / 2 + Math.random() * (delay / 2)),
          };
          waits.add(wait);
          log.warn({ retry: retries + 1, of: attempts }, "upstream connection lost or refused; retrying");
        }),
      on: {
        connected: (_socket, _payload, wasRetry) => {
          if (wasRetry) log.info("upstream socket reconnected");
        },
        ping: (received) => {
          if (received || keepAliveMs <= 0) return;
          clearTimeout(pongTimer);
          pongTimer = setTimeout(() => {
            log.warn("upstream pong timed out; dropping socket");
            client.terminate();
          }, keepAliveMs);
        },
        pong: (received) => {
          if (received) clearTimeout(pongTimer);
        },
        closed: (event) => {
          clearTimeout(pongTimer);
          if (!disposed && isCloseEvent(event) && event.code !== 1000) log.debug({ code: event.code }, "upstream socket closed");
        },
      },
    });

    return {
      client,
      subgraph,
      refs: 0,
      stopKeepAlive,
      cancelWaits: () => {
        disposed = true;
        for (const w of [...waits]) w.resolve();
      },
    };
  }
}

/** Shape of a close event (the browser's CloseEvent, ws's, or graphql-ws's TerminatedCloseEvent). */
function isCloseEvent(value: unknown): value is { code: number; reason: string } {
  return typeof value === "object" && value !== null && "code" in value && "reason" in value && typeof value.code === "number";
}

/** True for an array of GraphQL errors, which graphql-ws throws when the subgraph sends an `error` message. */
function isFormattedErrors(value: unknown): value is GraphQLFormattedError[] {
  return Array.isArray(value) && value.every((e) => typeof e === "object" && e !== null && typeof e.message === "string");
}

/**
 * Re-creates errors a subgraph sent, keeping its `extensions.code` (clients switch on it) and naming the subgraph;
 * errors without a code become UPSTREAM_ERROR.
 */
export function upstreamGraphQLErrors(errors: readonly GraphQLFormattedError[], subgraph: string): GraphQLError[] {
  return errors.map((e) => {
    const extensions = { ...(e.extensions ?? {}) } as Record<string, unknown>;
    if (typeof extensions.code !== "string") extensions.code = ErrorCode.UPSTREAM_ERROR;
    extensions.serviceName = subgraph;
    return new GraphQLError(e.message, { path: e.path, extensions });
  });
}

/**
 * Maps whatever a graphql-ws iterator threw to the errors a downstream subscriber receives: the subgraph's own GraphQL
 * errors, UNAUTHENTICATED / FORBIDDEN for the matching close codes, otherwise UPSTREAM_UNAVAILABLE (retries
 * exhausted, refused, timed out).
 */
export function upstreamFailureErrors(err: unknown, subgraph: string): GraphQLError[] {
  if (isFormattedErrors(err)) return upstreamGraphQLErrors(err, subgraph);
  if (isCloseEvent(err) && err.code === CLOSE_UNAUTHORIZED) return [Errors.unauthenticated(`${subgraph} refused the credentials`)];
  if (isCloseEvent(err) && err.code === CLOSE_FORBIDDEN) return [appError(ErrorCode.FORBIDDEN, `${subgraph} refused the subscription`)];
  return [Errors.upstreamUnavailable(subgraph)];
}

/** A loggable summary of an upstream failure (never the connection params). */
export function describeFailure(err: unknown): Record<string, unknown> {
  if (isFormattedErrors(err)) return { errors: err.map((e) => ({ message: e.message, code: e.extensions?.code })) };
  if (isCloseEvent(err)) return { closeCode: err.code, closeReason: err.reason };
  if (err instanceof Error) return { message: err.message, name: err.name };
  if (typeof err === "object" && err !== null && "message" in err) return { message: String(err.message) };
  return { message: String(err) };
}
