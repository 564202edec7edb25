import { describe, expect, it } from "@jest/globals";
import { DriverException } from "@mikro-orm/core";
import { GraphQLError } from "graphql";
import pg from "pg";
import { pino } from "pino";
import { freePort } from "./embedded-postgres.js";
import { ErrorCode, formatErrorFor, isUnavailableError, UNAVAILABLE_RETRY_AFTER_SECONDS } from "./errors.js";

const silent = pino({ level: "silent" });
const format = formatErrorFor(silent);
/** What Apollo hands formatError for an error thrown by a resolver. */
const asThrown = (err: Error) => {
  const wrapped = new GraphQLError(err.message, { originalError: err, path: ["x"] });
  return format({ message: err.message, path: ["x"], extensions: { code: "INTERNAL_SERVER_ERROR" } }, wrapped);
};
const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe("connection-class errors are UPSTREAM_UNAVAILABLE with retryAfter, others stay masked", () => {
  it("a real refused PostgreSQL connection (node-postgres against a closed port)", async () => {
    const client = new pg.Client({ connectionString: `postgres://x:y@127.0.0.1:${await freePort()}/db` });
    const err = await client.connect().then(
      () => null,
      (e: Error) => e,
    );
    expect(err).not.toBeNull();
    expect(isUnavailableError(err)).toBe(true);
    // As MikroORM rethrows it (properties copied onto a DriverException), and wrapped by a resolver.
    expect(asThrown(new DriverException(err!))).toEqual({
      message: expect.any(String),
      path: ["x"],
      extensions: { code: ErrorCode.UPSTREAM_UNAVAILABLE, retryAfter: UNAVAILABLE_RETRY_AFTER_SECONDS },
    });
  });

  it.each([
    ["admin_shutdown (a PostgreSQL restart)", withCode("terminating connection due to administrator command", "57P01")],
    ["cannot_connect_now (PostgreSQL starting up)", withCode("the database system is starting up", "57P03")],
    ["a class 08 connection exception", withCode("connection failure", "08006")],
    ["too many connections", withCode("sorry, too many clients already", "53300")],
    ["a connection dropped mid-query", new Error("Connection terminated unexpectedly")],
    ["the pool's acquire timeout", new Error("timeout exceeded when trying to connect")],
    ["an error marked unavailable (e.g. by the pool wrapper)", Object.assign(new Error("pool exhausted"), { unavailable: true })],
    ["a plain object thrown by the pool (graphql-js wraps it as NonErrorThrown)", Object.assign(new Error("Unexpected error value"), { thrownValue: { errno: -111, code: "ECONNREFUSED", syscall: "connect" } })],
    ["a cause chain", new Error("query failed", { cause: withCode("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED") })],
    ["an AggregateError of refused addresses", new AggregateError([withCode("connect ECONNREFUSED ::1:5432", "ECONNREFUSED"), withCode("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED")], "")],
  ])("%s", (_label, err) => {
    expect(isUnavailableError(err)).toBe(true);
    expect(asThrown(err).extensions).toEqual({ code: ErrorCode.UPSTREAM_UNAVAILABLE, retryAfter: UNAVAILABLE_RETRY_AFTER_SECONDS });
  });

  it.each([
    ["a unique violation", withCode('duplicate key value violates unique constraint "x"', "23505")],
    ["a syntax error", withCode("syntax error at or near", "42601")],
    ["a plain bug", new TypeError("cannot read properties of undefined")],
  ])("%s stays INTERNAL_SERVER_ERROR, its message hidden", (_label, err) => {
    expect(isUnavailableError(err)).toBe(false);
    expect(asThrown(err)).toEqual({ message: "Internal server error", path: ["x"], extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } });
  });

  it("a public code is kept as it is", () => {
    const err = new GraphQLError("nope", { extensions: { code: ErrorCode.FORBIDDEN } });
    expect(format({ message: "nope", extensions: { code: ErrorCode.FORBIDDEN } }, err)).toEqual({ message: "nope", extensions: { code: ErrorCode.FORBIDDEN } });
  });
});
