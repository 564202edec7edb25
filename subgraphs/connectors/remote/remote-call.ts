// How every connector client calls its remote system: a per-attempt timeout, retries with exponential backoff on
// transient failures only (p-retry), and a rate limit toward the remote (p-throttle), so a sync job never hammers a
// tenant's ERP. Non-transient failures (auth, validation, ...) are thrown at once.
import pRetry, { AbortError } from "p-retry";
import pThrottle from "p-throttle";
import { RemoteError, RemoteErrorKind } from "./remote.errors.js";

export interface RemoteCallOptions {
  /** Per-attempt timeout (ms). Moodle course creation can take minutes: jobs configure long ones. */
  timeoutMs?: number;
  /** Retries after the first attempt, for transient failures only. */
  retries?: number;
  /** First backoff delay (ms); doubles per retry, with jitter, up to `maxBackoffMs`. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** At most this many requests per second toward the remote (0 or undefined: unlimited). */
  requestsPerSecond?: number;
  /** The HTTP client (tests inject faults). */
  fetch?: typeof fetch;
}

export const REMOTE_CALL_DEFAULTS = {
  timeoutMs: 30_000,
  retries: 3,
  minBackoffMs: 200,
  maxBackoffMs: 5_000,
} as const;

/** A transport shared by all calls of one client instance: `send` runs one HTTP exchange under the policy. */
export class RemoteCaller {
  private readonly options: Required<Omit<RemoteCallOptions, "requestsPerSecond" | "fetch">> & { fetch: typeof fetch };
  private readonly gate: <T>(fn: () => Promise<T>) => Promise<T>;

  constructor(options: RemoteCallOptions = {}) {
    this.options = {
      timeoutMs: options.timeoutMs ?? REMOTE_CALL_DEFAULTS.timeoutMs,
      retries: options.retries ?? REMOTE_CALL_DEFAULTS.retries,
      minBackoffMs: options.minBackoffMs ?? REMOTE_CALL_DEFAULTS.minBackoffMs,
      maxBackoffMs: options.maxBackoffMs ?? REMOTE_CALL_DEFAULTS.maxBackoffMs,
      fetch: options.fetch ?? fetch,
    };
    const rps = options.requestsPerSecond ?? 0;
    if (rps > 0) {
      const throttle = pThrottle({ limit: Math.max(1, Math.floor(rps)), interval: 1_000 });
      const throttled = throttle(<T>(fn: () => Promise<T>) => fn());
      this.gate = <T>(fn: () => Promise<T>) => throttled(fn) as Promise<T>;
    } else {
      this.gate = <T>(fn: () => Promise<T>) => fn();
    }
  }

  /**
   * Runs `attempt` (one HTTP exchange plus decoding) with the timeout signal, retrying transient RemoteErrors.
   * `attempt` must turn every failure it understands into a RemoteError; anything else thrown by fetch
   * (connection refused, DNS, reset) becomes UNAVAILABLE, and an abort by the timeout becomes TIMEOUT.
   */
  send<T>(attempt: (fetchFn: typeof fetch, signal: AbortSignal) => Promise<T>, opts: { signal?: AbortSignal } = {}): Promise<T> {
    const { timeoutMs, retries, minBackoffMs, maxBackoffMs } = this.options;
    return pRetry(
      () =>
        this.gate(async () => {
          const timeout = AbortSignal.timeout(timeoutMs);
          const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
          try {
            return await attempt(this.options.fetch, signal);
          } catch (err) {
            const mapped = toRemoteError(err, timeout, timeoutMs);
            // p-retry retries anything but AbortError: stop at once on what retrying cannot fix.
            if (!mapped.transient || opts.signal?.aborted) throw new AbortError(mapped);
            throw mapped;
          }
        }),
      { retries, minTimeout: minBackoffMs, maxTimeout: maxBackoffMs, factor: 2, randomize: true, signal: opts.signal },
    ).catch((err: unknown) => {
      // p-retry rethrows the AbortError's original error; keep only RemoteErrors (and a caller's abort) leaving here.
      if (err instanceof RemoteError) throw err;
      if (opts.signal?.aborted) throw opts.signal.reason ?? err;
      throw toRemoteError(err, undefined, timeoutMs);
    });
  }
}

function toRemoteError(err: unknown, timeout: AbortSignal | undefined, timeoutMs: number): RemoteError {
  if (err instanceof RemoteError) return err;
  if (timeout?.aborted || (err instanceof DOMException && err.name === "TimeoutError")) {
    return new RemoteError(RemoteErrorKind.TIMEOUT, `No answer within ${timeoutMs} ms`, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new RemoteError(RemoteErrorKind.UNAVAILABLE, `Remote unreachable: ${message}`, { cause: err });
}

/** Maps an HTTP status that is not the protocol's success to a kind (for both protocols). */
export function kindOfHttpStatus(status: number): RemoteErrorKind {
  if (status === 401) return RemoteErrorKind.AUTH;
  if (status === 403) return RemoteErrorKind.PERMISSION;
  if (status === 404) return RemoteErrorKind.NOT_FOUND;
  if (status === 429) return RemoteErrorKind.RATE_LIMITED;
  if (status >= 500) return RemoteErrorKind.UNAVAILABLE;
  return RemoteErrorKind.VALIDATION;
}
