import type { ApolloServerPlugin, BaseContext } from "@apollo/server";
import type { ErrorRequestHandler } from "express";
import { Kind, visit, type DocumentNode } from "graphql";
import { Errors } from "./errors.js";

function hasNul(value: unknown, depth = 0): boolean {
  if (typeof value === "string") return value.includes("\u0000");
  if (depth > 64 || value === null || typeof value !== "object") return false;
  return Object.values(value).some((v) => hasNul(v, depth + 1));
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

/**
 * PostgreSQL text cannot hold U+0000. Refuse it up front (literals and variables) with BAD_USER_INPUT instead of
 * letting it fail as a database error deep in a resolver.
 */
export function rejectNulCharacters<T extends BaseContext>(): ApolloServerPlugin<T> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, request }) {
          if (hasNul(request.variables) || documentHasNul(document)) {
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
