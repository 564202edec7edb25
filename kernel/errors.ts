import { GraphQLError, type GraphQLFormattedError } from "graphql";
import type { Logger } from "pino";

/**
 * The public error contract: every error a client sees carries one of these in `extensions.code`.
 * Codes are stable; clients switch on them. Messages are for people and may change.
 */
export const ErrorCode = {
  UNAUTHENTICATED: "UNAUTHENTICATED",
  FORBIDDEN: "FORBIDDEN",
  NOT_FOUND: "NOT_FOUND",
  BAD_USER_INPUT: "BAD_USER_INPUT",
  CONFLICT: "CONFLICT",
  RATE_LIMITED: "RATE_LIMITED",
  /** Refused before execution: too deep, too many aliases or tokens, too costly, or too big a batch (gateway guards). */
  QUERY_TOO_COMPLEX: "QUERY_TOO_COMPLEX",
  TENANT_SUSPENDED: "TENANT_SUSPENDED",
  PLAN_LIMIT_REACHED: "PLAN_LIMIT_REACHED",
  UPSTREAM_UNAVAILABLE: "UPSTREAM_UNAVAILABLE",
  UPSTREAM_ERROR: "UPSTREAM_ERROR",
  SUBSCRIPTION_OVERFLOW: "SUBSCRIPTION_OVERFLOW",
  /** A sync checkpoint too old to continue from (tombstones purged since, or the device was reset): pull from null. */
  CHECKPOINT_EXPIRED: "CHECKPOINT_EXPIRED",
  /** A request body over the limit (HTTP 413, `extensions.maxBytes`): split it (a push: fewer rows per request). */
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  INTERNAL_SERVER_ERROR: "INTERNAL_SERVER_ERROR",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Codes Apollo Server and graphql-js produce themselves; passed through unchanged. */
const FRAMEWORK_CODES = new Set([
  "GRAPHQL_PARSE_FAILED",
  "GRAPHQL_VALIDATION_FAILED",
  "BAD_REQUEST",
  "PERSISTED_QUERY_NOT_FOUND",
  "PERSISTED_QUERY_NOT_SUPPORTED",
  "OPERATION_RESOLUTION_FAILURE",
]);
const PUBLIC_CODES = new Set<string>([...Object.values(ErrorCode), ...FRAMEWORK_CODES]);

/** Builds a GraphQL error with a public code. Features wrap this in named factories. */
export function appError(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { ...extensions, code } });
}

/** The error with an HTTP status for Apollo, which reads `extensions.http` for the response status and strips it from the body. */
export function withHttpStatus(error: GraphQLError, status: number): GraphQLError {
  return new GraphQLError(error.message, { extensions: { ...error.extensions, http: { status } } });
}

/** Seconds a client is told to wait (`extensions.retryAfter`) before retrying after UPSTREAM_UNAVAILABLE. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/** Node socket errors that mean "could not reach the other side" (not "it answered no"). */
const CONNECTION_ERRNOS = new Set(["ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);
/**
 * PostgreSQL SQLSTATEs of an unreachable or restarting server: class 08 (connection exception), 57P01 admin_shutdown,
 * 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up), 53300 too_many_connections.
 */
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[123]|53300)$/;
/**
 * Messages of connection failures that carry no code: node-postgres' "Connection terminated (unexpectedly | due to
 * connection timeout)", its pool's acquire timeout ("timeout exceeded when trying to connect"), ioredis' "Connection is
 * closed", and fetch's "fetch failed" (the cause holds the errno, but not always).
 */
const UNAVAILABLE_MESSAGE = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection is closed|fetch failed)/i;

/**
 * True when `err` (or what it wraps: `cause`, `originalError`, graphql-js' `thrownValue` of a non-Error thrown — the
 * pool's refused connect arrives as a plain `{ code: "ECONNREFUSED", ... }` object —, an AggregateError's errors) says a backing service —
 * PostgreSQL above all, or another service over the network — could not be reached or went away mid-request. Such
 * errors are transient and say nothing about the request: clients get UPSTREAM_UNAVAILABLE with `retryAfter`, never
 * INTERNAL_SERVER_ERROR. The one place that decides it (formatErrorFor and the context refusal use it); anything that
 * adds a new failure of this class (a pool acquire timeout, ...) marks it with `unavailable: true` or a code above.
 */
export function isUnavailableError(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== "object" || depth > 6) return false;
  const e = err as { code?: unknown; sqlState?: unknown; message?: unknown; unavailable?: unknown; cause?: unknown; originalError?: unknown; thrownValue?: unknown; errors?: unknown };
  if (e.unavailable === true) return true;
  if (err instanceof GraphQLError && e.code === undefined) return isUnavailableError(err.originalError, depth + 1);
  for (const code of [e.code, e.sqlState]) {
    if (typeof code === "string" && (CONNECTION_ERRNOS.has(code) || UNAVAILABLE_SQLSTATE.test(code))) return true;
  }
  if (typeof e.message === "string" && UNAVAILABLE_MESSAGE.test(e.message)) return true;
  if (Array.isArray(e.errors) && e.errors.some((inner) => isUnavailableError(inner, depth + 1))) return true;
  return isUnavailableError(e.cause, depth + 1) || isUnavailableError(e.originalError, depth + 1) || isUnavailableError(e.thrownValue, depth + 1);
}

/** Cross-cutting factories; features add their own (`TenantErrors.notFound(id)`). */
export const Errors = {
  unauthenticated: (reason = "Authentication required") => appError(ErrorCode.UNAUTHENTICATED, reason),
  forbidden: (reason = "Not allowed") => appError(ErrorCode.FORBIDDEN, reason),
  notFound: (type: string, id: string) => appError(ErrorCode.NOT_FOUND, `${type} ${id} not found`, { type, id }),
  badInput: (message: string, field?: string) => appError(ErrorCode.BAD_USER_INPUT, message, field ? { field } : {}),
  tenantSuspended: () => appError(ErrorCode.TENANT_SUSPENDED, "This tenant is suspended"),
  conflict: (message: string, field?: string) => appError(ErrorCode.CONFLICT, message, field ? { field } : {}),
  planLimit: (limit: string, max: number) => appError(ErrorCode.PLAN_LIMIT_REACHED, `The plan allows at most ${max} ${limit}`, { limit, max }),
  upstreamUnavailable: (service: string) =>
    appError(ErrorCode.UPSTREAM_UNAVAILABLE, `${service} is unavailable`, { service, retryAfter: UNAVAILABLE_RETRY_AFTER_SECONDS }),
  /** A backing service (the database, ...) could not be reached: transient, retry after `retryAfter` seconds. */
  unavailable: () =>
    appError(ErrorCode.UPSTREAM_UNAVAILABLE, "A backing service is unavailable; retry later", { retryAfter: UNAVAILABLE_RETRY_AFTER_SECONDS }),
};

/**
 * Apollo `formatError`: keeps public codes, turns connection failures ({@link isUnavailableError}) into
 * UPSTREAM_UNAVAILABLE with `retryAfter`, masks everything else as INTERNAL_SERVER_ERROR (logged with the request id),
 * and never lets a stack trace or SQL reach a client.
 */
export function formatErrorFor(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const code = formatted.extensions?.code;
    // INTERNAL_SERVER_ERROR is what Apollo stamps on any unexpected error: its message is never shown.
    if (typeof code === "string" && PUBLIC_CODES.has(code) && code !== ErrorCode.INTERNAL_SERVER_ERROR) {
      const { stacktrace: _s, exception: _e, ...extensions } = (formatted.extensions ?? {}) as Record<string, unknown>;
      return { ...formatted, extensions };
    }
    // Upstream errors forwarded by the gateway keep their subgraph's code when it is public.
    const original = (error as { originalError?: unknown })?.originalError ?? error;
    if (isUnavailableError(original)) {
      logger.warn({ err: original, path: formatted.path }, "backing service unavailable");
      const unavailable = Errors.unavailable();
      return { message: unavailable.message, path: formatted.path, locations: formatted.locations, extensions: unavailable.extensions };
    }
    logger.error({ err: original, path: formatted.path }, "unexpected error");
    return {
      message: "Internal server error",
      path: formatted.path,
      locations: formatted.locations,
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
    };
  };
}
