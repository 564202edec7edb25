import { describe, it, expect } from "@jest/globals";
import { pino } from "pino";
import { UpstreamClientPool, upstreamFailureErrors, upstreamGraphQLErrors } from "./upstream-clients.js";

const codeOf = (errors: { extensions: Record<string, unknown> }[]) => errors.map((e) => e.extensions.code);

describe("upstreamFailureErrors", () => {
  it("keeps the codes of GraphQL errors the subgraph sent, naming the subgraph", () => {
    const errors = upstreamFailureErrors([{ message: "no", extensions: { code: "NOT_FOUND", id: "1" } }, { message: "?" }], "runs");
    expect(codeOf(errors)).toEqual(["NOT_FOUND", "UPSTREAM_ERROR"]);
    expect(errors[0].extensions).toEqual({ code: "NOT_FOUND", id: "1", serviceName: "runs" });
  });

  it("maps auth close codes to UNAUTHENTICATED / FORBIDDEN", () => {
    expect(codeOf(upstreamFailureErrors({ code: 4401, reason: "Unauthorized" }, "runs"))).toEqual(["UNAUTHENTICATED"]);
    expect(codeOf(upstreamFailureErrors({ code: 4403, reason: "Forbidden" }, "runs"))).toEqual(["FORBIDDEN"]);
  });

  it("maps network failures and other close codes to UPSTREAM_UNAVAILABLE", () => {
    expect(codeOf(upstreamFailureErrors({ code: 1006, reason: "" }, "runs"))).toEqual(["UPSTREAM_UNAVAILABLE"]);
    expect(codeOf(upstreamFailureErrors({ code: 4500, reason: "boom" }, "runs"))).toEqual(["UPSTREAM_UNAVAILABLE"]);
    expect(codeOf(upstreamFailureErrors(new Error("connect ECONNREFUSED"), "runs"))).toEqual(["UPSTREAM_UNAVAILABLE"]);
    expect(codeOf(upstreamFailureErrors({ type: "error", message: "socket hang up" }, "runs"))).toEqual(["UPSTREAM_UNAVAILABLE"]);
  });

  it("upstreamGraphQLErrors keeps paths", () => {
    expect(upstreamGraphQLErrors([{ message: "x", path: ["runUpdated"] }], "runs")[0].path).toEqual(["runUpdated"]);
  });
});

describe("UpstreamClientPool", () => {
  const pool = () => new UpstreamClientPool({ logger: pino({ level: "silent" }) });
  const identity = { subgraph: "runs", url: "ws://127.0.0.1:1/graphql", requestId: "r1" };

  it("shares one client per identity and disposes it when the last lease is released", async () => {
    const p = pool();
    const a = p.acquire({ ...identity, authorization: "Bearer a" });
    const b = p.acquire({ ...identity, authorization: "Bearer a", requestId: "r2" });
    const c = p.acquire({ ...identity, authorization: "Bearer c" });
    const t = p.acquire({ ...identity, authorization: "Bearer a", tenantId: "t2" });
    expect(a.client).toBe(b.client);
    expect(c.client).not.toBe(a.client);
    expect(t.client).not.toBe(a.client);
    expect(p.size).toBe(3);

    a.release();
    a.release(); // idempotent
    expect(p.size).toBe(3);
    b.release();
    expect(p.size).toBe(2);
    await p.close();
    expect(p.size).toBe(0);
    c.release();
    t.release();
  });
});
