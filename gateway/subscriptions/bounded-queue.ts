import type { ExecutionResult, GraphQLError } from "graphql";
import { appError, ErrorCode } from "../../kernel/errors.js";

/** Why a {@link BoundedQueue} stopped accepting values. */
export type QueueCloseReason = "return" | "overflow" | "end" | "fail";

/** Options of a {@link BoundedQueue}. */
export interface BoundedQueueOptions {
  /** Undelivered results held for a slow consumer before it is cut off; default 256. */
  capacity?: number;
  /**
   * Called once, when the queue stops accepting values: the consumer called `return()`/`throw()`, the buffer
   * overflowed, or the producer called `end()`/`fail()`. Producers use it to forget the subscriber.
   */
  onClose?: (reason: QueueCloseReason) => void;
}

/** Default per-subscriber buffer. */
export const DEFAULT_QUEUE_CAPACITY = 256;

type State = "open" | "ending" | "closed";

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * A bounded async queue of GraphQL results for ONE downstream subscriber, consumed as an async generator (what
 * graphql-ws expects from a `subscribe` hook).
 *
 * - A consumer too slow to keep `capacity` results drained is cut off: its buffer is dropped and it gets ONE final
 *   result `{ errors: [SUBSCRIPTION_OVERFLOW] }`, then the stream completes. Change streams must never lose events
 *   silently; the client resubscribes from its last checkpoint instead.
 * - `fail()` delivers errors as a final *result*, not a thrown error: graphql-ws turns a thrown error into a bare
 *   `error` message and drops its `extensions.code`.
 * - `return()` takes effect at once, even while a `next()` is pending (a native async generator would only see it
 *   after the next value arrives, leaking idle subscribers).
 */
export class BoundedQueue implements AsyncGenerator<ExecutionResult, undefined, unknown> {
  /** Maximum number of undelivered results. */
  readonly capacity: number;
  private readonly onClose?: (reason: QueueCloseReason) => void;
  private buffer: ExecutionResult[] = [];
  /** Delivered after the buffer drains, then the stream is done (overflow or failure). */
  private final?: ExecutionResult;
  private state: State = "open";
  private reason?: QueueCloseReason;
  private waiters: Array<(r: IteratorResult<ExecutionResult, undefined>) => void> = [];

  constructor(opts: BoundedQueueOptions = {}) {
    const capacity = opts.capacity ?? DEFAULT_QUEUE_CAPACITY;
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.onClose = opts.onClose;
  }

  /** Results buffered and not yet taken by the consumer. */
  get size(): number {
    return this.buffer.length;
  }

  /** Why the queue stopped accepting values, or undefined while it is open. */
  get closeReason(): QueueCloseReason | undefined {
    return this.reason;
  }

  /**
   * Offers a result. Returns false if the queue no longer accepts values (closed, ended, or it overflowed with
   * this very push).
   */
  push(value: ExecutionResult): boolean {
    if (this.state !== "open") return false;
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter({ done: false, value });
      return true;
    }
    if (this.buffer.length >= this.capacity) {
      // Drop what is buffered: the client will replay from its checkpoint anyway, and a stuck consumer should not
      // pin `capacity` results in memory.
      this.buffer = [];
      this.terminate("overflow", {
        errors: [
          appError(
            ErrorCode.SUBSCRIPTION_OVERFLOW,
            `Subscriber fell more than ${this.capacity} events behind; resubscribe from your last checkpoint`,
            { capacity: this.capacity },
          ),
        ],
      });
      return false;
    }
    this.buffer.push(value);
    return true;
  }

  /** Producer is done: the consumer gets what is buffered, then completion. */
  end(): void {
    if (this.state === "open") this.terminate("end");
  }

  /** Producer failed: the consumer gets what is buffered, then ONE final `{ errors }` result, then completion. */
  fail(errors: GraphQLError | readonly GraphQLError[]): void {
    if (this.state !== "open") return;
    this.terminate("fail", { errors: Array.isArray(errors) ? [...errors] : [errors as GraphQLError] });
  }

  next(): Promise<IteratorResult<ExecutionResult, undefined>> {
    const value = this.buffer.shift();
    if (value !== undefined) return Promise.resolve({ done: false, value });
    if (this.final) {
      const final = this.final;
      this.final = undefined;
      this.state = "closed";
      return Promise.resolve({ done: false, value: final });
    }
    if (this.state !== "open") {
      this.state = "closed";
      return Promise.resolve(DONE);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Consumer leaves: frees the buffer and calls `onClose` (once) right away. */
  return(): Promise<IteratorResult<ExecutionResult, undefined>> {
    this.close();
    return Promise.resolve(DONE);
  }

  /** Consumer aborts with an error: same as `return()`, then rejects with that error (generator semantics). */
  throw(error: unknown): Promise<IteratorResult<ExecutionResult, undefined>> {
    this.close();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  private close(): void {
    const wasOpen = this.state === "open";
    this.state = "closed";
    this.buffer = [];
    this.final = undefined;
    this.flushWaiters();
    if (wasOpen) this.notifyClose("return");
  }

  private terminate(reason: QueueCloseReason, final?: ExecutionResult): void {
    this.state = "ending";
    this.final = final;
    // A waiting consumer implies an empty buffer: hand it the final result (or completion) now.
    const waiter = this.waiters.shift();
    if (waiter) {
      if (final) {
        this.final = undefined;
        this.state = "closed";
        waiter({ done: false, value: final });
      } else {
        this.state = "closed";
        waiter(DONE);
      }
      this.flushWaiters();
    }
    this.notifyClose(reason);
  }

  private flushWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w(DONE);
  }

  private notifyClose(reason: QueueCloseReason): void {
    if (this.reason) return;
    this.reason = reason;
    this.onClose?.(reason);
  }
}
