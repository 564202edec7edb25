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
const NUL_ESCAPE = Buffer.from("\\u0000");
/** Variables of request bodies whose JSON text held no `\u0000`: they hold no NUL, in values or keys, unwalked. */
const nulFreeVariables = new WeakSet<object>();

/**
 * The GraphQL endpoint's JSON body parser (`limit` as express.json's): it also notes bodies whose text holds no
 * `\u0000`, so that {@link rejectNulCharacters} need not walk their variables (a 500-row push is 200 kB of them).
 */
export function graphqlJsonBody(limit: string): RequestHandler[] {
  return [
    express.json({ limit, verify: (req, _res, buf) => void ((req as { nulFree?: boolean }).nulFree = !buf.includes(NUL_ESCAPE)) }),
    (req, _res, next) => {
      const variables = (req.body as { variables?: unknown } | undefined)?.variables;
      if ((req as { nulFree?: boolean }).nulFree && variables && typeof variables === "object") nulFreeVariables.add(variables);
      next();
    },
  ];
}

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
  const message = status === 413 ? "Request body too large" : status < 500 ? "Malformed request body" : "Internal server error";
  res.status(status).json({ errors: [{ message, extensions: { code: status < 500 ? "BAD_REQUEST" : "INTERNAL_SERVER_ERROR" } }] });
};
