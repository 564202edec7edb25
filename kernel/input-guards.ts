import type { ApolloServerPlugin, BaseContext } from "@apollo/server";
import express, { type ErrorRequestHandler, type RequestHandler } from "express";
import { Kind, visit, type DocumentNode } from "graphql";
import { Errors } from "./errors.js";

function hasNul(value: unknown, depth = 0): boolean {
  if (typeof value === "string") return value.includes("\u0000");
  if (depth > 64 || value === null || typeof value !== "object") return false;
  return Object.entries(value).some(([k, v]) => k.includes("\u0000") || hasNul(v, depth + 1));
}

function documentHasNul(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    [Kind.STRING]: (node) => {
      if (node.value.includes("\u0000")) found = true;
    },
  });
  return found;
}

/** `\u0000`: the only way JSON text can write U+0000 (a raw control character is not valid JSON). */
const NUL_ESCAPE = "\\u0000";
/** Variables of request bodies whose JSON text held no `\u0000`: they hold no NUL, in values or keys, unwalked. */
const nulFreeVariables = new WeakSet<object>();

/** Notes that the variables of `body` (parsed from `text`) need no walk for NUL when `text` holds no `\u0000`. */
export function noteNulFreeVariables(body: unknown, text: string | Buffer): void {
  const variables = (body as { variables?: unknown } | undefined)?.variables;
  if (variables && typeof variables === "object" && !text.includes(NUL_ESCAPE)) nulFreeVariables.add(variables);
}

/**
 * The GraphQL endpoint's JSON body parser (`limit` as express.json's): it also notes bodies whose text holds no
 * `\u0000`, so that {@link rejectNulCharacters} need not walk their variables (a 500-row push is 200 kB of them).
 */
export function graphqlJsonBody(limit: string): RequestHandler[] {
  return [
    express.json({ limit, verify: (req, _res, buf) => void ((req as { bodyBytes?: Buffer }).bodyBytes = buf) }),
    (req, _res, next) => {
      const bytes = jsonBodyBytes(req);
      if (bytes) noteNulFreeVariables(req.body, bytes);
      next();
    },
  ];
}

/** The bytes of a request body {@link graphqlJsonBody} parsed (undefined for any other request). */
export const jsonBodyBytes = (req: object): Buffer | undefined => (req as { bodyBytes?: Buffer }).bodyBytes;

/**
 * PostgreSQL text cannot hold U+0000. Refuse it up front (literals and variables) with BAD_USER_INPUT instead of
 * letting it fail as a database error deep in a resolver.
 */
export function rejectNulCharacters<T extends BaseContext>(): ApolloServerPlugin<T> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, request }) {
          const variables = request.variables;
          if ((variables && !nulFreeVariables.has(variables) && hasNul(variables)) || documentHasNul(document)) {
            throw Errors.badInput("Text must not contain the NUL character (U+0000)");
          }
        },
      };
    },
  };
}

/**
 * Express error handler for body parsing: malformed or oversized JSON gets a GraphQL-shaped JSON error (never the
 * default HTML page with a stack trace).
 */
export const jsonBodyErrors: ErrorRequestHandler = (err, _req, res, next) => {
  if (res.headersSent) return next(err);
  const status = typeof err?.status === "number" && err.status >= 400 && err.status < 500 ? err.status : 500;
  res.status(status).json(bodyErrorResult(status));
};

/** The answer to a request body that cannot be read (HTTP status 413, other 4xx, or 500). */
export function bodyErrorResult(status: number): { errors: { message: string; extensions: { code: string } }[] } {
  const message = status === 413 ? "Request body too large" : status < 500 ? "Malformed request body" : "Internal server error";
  return { errors: [{ message, extensions: { code: status < 500 ? "BAD_REQUEST" : "INTERNAL_SERVER_ERROR" } }] };
}
