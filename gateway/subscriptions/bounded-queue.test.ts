import { describe, it, expect } from "@jest/globals";
import { GraphQLError, type ExecutionResult } from "graphql";
import { BoundedQueue, type QueueCloseReason } from "./bounded-queue.js";

const ev = (n: number): ExecutionResult => ({ data: { n } });

async function drain(q: AsyncIterable<ExecutionResult>): Promise<ExecutionResult[]> {
  const out: ExecutionResult[] = [];
  for await (const r of q) out.push(r);
  return out;
}

describe("BoundedQueue", () => {
  it("delivers pushed results in order, then completes on end()", async () => {
    const q = new BoundedQueue({ capacity: 4 });
    q.push(ev(1));
    q.push(ev(2));
    const pending = q.next(); // buffered value comes first
    q.end();
    expect(await pending).toEqual({ done: false, value: ev(1) });
    expect(await drain(q)).toEqual([ev(2)]);
    expect(q.push(ev(3))).toBe(false);
  });

  it("hands a pushed result straight to a waiting consumer", async () => {
    const q = new BoundedQueue({ capacity: 1 });
    const pending = q.next();
    expect(q.push(ev(1))).toBe(true);
    expect(await pending).toEqual({ done: false, value: ev(1) });
    expect(q.size).toBe(0);
  });

  it("cuts off a slow consumer with ONE final SUBSCRIPTION_OVERFLOW result", async () => {
    const reasons: QueueCloseReason[] = [];
    const q = new BoundedQueue({ capacity: 2, onClose: (r) => reasons.push(r) });
    expect(q.push(ev(1))).toBe(true);
    expect(q.push(ev(2))).toBe(true);
    expect(q.push(ev(3))).toBe(false); // overflow
    expect(q.push(ev(4))).toBe(false); // no longer accepting
    expect(reasons).toEqual(["overflow"]);
    expect(q.closeReason).toBe("overflow");

    const results = await drain(q);
    expect(results).toHaveLength(1);
    expect(results[0].data).toBeUndefined();
    expect(results[0].errors).toHaveLength(1);
    expect(results[0].errors![0].extensions.code).toBe("SUBSCRIPTION_OVERFLOW");
    expect(await q.next()).toEqual({ done: true, value: undefined });
  });

  it("delivers the overflow result to a consumer already waiting", async () => {
    const q = new BoundedQueue({ capacity: 1 });
    q.push(ev(1));
    expect((await q.next()).value).toEqual(ev(1));
    q.push(ev(2));
    q.push(ev(3)); // overflow while nobody waits
    const r = await q.next();
    expect(r.done).toBe(false);
    expect(r.value?.errors?.[0].extensions.code).toBe("SUBSCRIPTION_OVERFLOW");
    expect((await q.next()).done).toBe(true);
  });

  it("fail() delivers buffered results, then the errors as one final result, keeping their codes", async () => {
    const q = new BoundedQueue({ capacity: 2 });
    q.push(ev(1));
    q.push(ev(2)); // full: fail must still fit
    q.fail(new GraphQLError("gone", { extensions: { code: "UPSTREAM_UNAVAILABLE" } }));
    const results = await drain(q);
    expect(results.slice(0, 2)).toEqual([ev(1), ev(2)]);
    expect(results).toHaveLength(3);
    expect(results[2].errors?.map((e) => e.extensions.code)).toEqual(["UPSTREAM_UNAVAILABLE"]);
  });

  it("fail() wakes a waiting consumer with the errors", async () => {
    const q = new BoundedQueue();
    const pending = q.next();
    q.fail([new GraphQLError("a", { extensions: { code: "NOT_FOUND" } }), new GraphQLError("b")]);
    const r = await pending;
    expect(r.value?.errors).toHaveLength(2);
    expect((await q.next()).done).toBe(true);
  });

  it("return() frees the queue at once, even with a next() pending, and calls onClose once", async () => {
    let closes = 0;
    const q = new BoundedQueue({ capacity: 2, onClose: () => closes++ });
    const pending = q.next();
    expect(await q.return()).toEqual({ done: true, value: undefined });
    expect(await pending).toEqual({ done: true, value: undefined });
    await q.return();
    q.end();
    q.fail(new GraphQLError("late"));
    expect(closes).toBe(1);
    expect(q.closeReason).toBe("return");
    expect(q.push(ev(1))).toBe(false);
    expect(q.size).toBe(0);
  });

  it("calls onClose once when the producer ends, not again when the consumer returns", async () => {
    const reasons: QueueCloseReason[] = [];
    const q = new BoundedQueue({ onClose: (r) => reasons.push(r) });
    q.push(ev(1));
    q.end();
    await q.return();
    expect(reasons).toEqual(["end"]);
  });

  it("breaking out of for-await leaves the queue", async () => {
    let closed = false;
    const q = new BoundedQueue({ onClose: () => (closed = true) });
    q.push(ev(1));
    q.push(ev(2));
    for await (const r of q) {
      expect(r).toEqual(ev(1));
      break;
    }
    expect(closed).toBe(true);
    expect(q.push(ev(3))).toBe(false);
  });

  it("rejects a capacity that is not a positive integer", () => {
    expect(() => new BoundedQueue({ capacity: 0 })).toThrow(RangeError);
    expect(() => new BoundedQueue({ capacity: 1.5 })).toThrow(RangeError);
  });
});
