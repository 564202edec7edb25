import type { ApolloServerPlugin, BaseContext } from "@apollo/server";
import express, { type ErrorRequestHandler, type RequestHandler } from "express";
import { getNamedType, isInputObjectType, isListType, isNonNullType, Kind, TypeInfo, typeFromAST, visit, visitWithTypeInfo, type DocumentNode, type GraphQLInputType, type GraphQLSchema, type OperationDefinitionNode } from "graphql";
import { ErrorCode, Errors, withHttpStatus } from "./errors.js";

/**
 * The largest GraphQL request body read, at the gateway and at every subgraph alike: a push of the most rows (500)
 * whose new and assumed states are both documents of the largest size (64 KiB of JSON each) is about 63 MiB with its
 * JSON framing (checked by subgraphs/sync/records/records-limits.test.ts). Larger bodies are PAYLOAD_TOO_LARGE (413).
 */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** The gateway reads bodies over this size only for a caller whose token verifies (nobody parses 64 MiB anonymously). */
export const ANONYMOUS_BODY_BYTES = 1024 * 1024;

/** `\u0000`: the only way JSON text can write U+0000 (a raw control character is not valid JSON). */
const NUL_ESCAPE = "\\u0000";

/**
 * How deep a request's variables may nest (each object or array one level, counted from the variables themselves). A
 * value nested deeper is refused (BAD_USER_INPUT, HTTP 400) — except inside a row input (below), where it is cut at this
 * depth so that the row's owner sees it is too deep and rejects that row alone. Either way nothing recursive (the
 * gateway's JSON.stringify of a fetch, deep equality, JSON Schema validation) ever sees a deeper value: about 5,000
 * levels overflow the stack of JSON.stringify. Row documents have their own, lower documented limit.
 */
export const MAX_VARIABLES_DEPTH = 128;

/** Variables of request bodies whose JSON text held no `\u0000` and nested at most MAX_VARIABLES_DEPTH: nothing to walk. */
const cleanVariables = new WeakSet<object>();

/**
 * Whether JSON `text` nests deeper than `max` (objects and arrays; brackets inside strings ignored). One pass over the
 * bytes, no recursion: it is how a request's depth is known before anything recursive touches its parsed value.
 */
export function jsonDeeperThan(text: string | Buffer, max: number): boolean {
  const bytes = typeof text === "string" ? null : text;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    // The characters that matter are ASCII: a string's UTF-16 code units and a buffer's UTF-8 bytes read alike.
    const c = bytes ? bytes[i] : (text as string).charCodeAt(i);
    if (c === 0x22) {
      // A string: jump to its closing quote (one not escaped by an odd run of backslashes).
      for (;;) {
        i = bytes ? bytes.indexOf(0x22, i + 1) : (text as string).indexOf('"', i + 1);
        if (i < 0) return false;
        let backslashes = 0;
        while ((bytes ? bytes[i - 1 - backslashes] : (text as string).charCodeAt(i - 1 - backslashes)) === 0x5c) backslashes++;
        if (backslashes % 2 === 0) break;
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/**
 * Notes that the variables of `body` (parsed from `text`) need no walk when `text` holds no `\u0000` and does not nest
 * deeper than the variables may (the body's own two levels added).
 */
export function noteNulFreeVariables(body: unknown, text: string | Buffer): void {
  const variables = (body as { variables?: unknown } | undefined)?.variables;
  if (!variables || typeof variables !== "object" || cleanVariables.has(variables)) return;
  if (!text.includes(NUL_ESCAPE) && !jsonDeeperThan(text, MAX_VARIABLES_DEPTH + 2)) cleanVariables.add(variables);
}

/**
 * The GraphQL endpoint's JSON body parser (`limit` as express.json's): it also notes bodies whose text holds no
 * `\u0000` and nests within bounds, so that {@link rejectNulCharacters} need not walk their variables (a 500-row push
 * is 200 kB of them).
 */
export function graphqlJsonBody(limit: string | number): RequestHandler[] {
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
 * Whether a string literal of `document` holds NUL, outside object literals of `rowInputs` types (left to their owner).
 * GraphQL writes U+0000 only as an escape (`\u0000`, `\u{0}`): a document whose text has no `\u` needs no walk.
 */
function documentHasNul(schema: GraphQLSchema, document: DocumentNode, rowInputs: ReadonlySet<string>): boolean {
  if (document.loc && !document.loc.source.body.includes("\\u")) return false;
  const typeInfo = new TypeInfo(schema);
  const rows: boolean[] = [];
  let found = false;
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      [Kind.OBJECT]: {
        enter: () => {
          const type = getNamedType(typeInfo.getInputType());
          rows.push(rows.at(-1) === true || (!!type && rowInputs.has(type.name)));
        },
        leave: () => void rows.pop(),
      },
      [Kind.STRING]: (node) => {
        if (rows.at(-1) !== true && node.value.includes("\u0000")) found = true;
      },
    }),
  );
  return found;
}

/**
 * What is wrong with `variables` of `operation`, walked without recursion along their types: a NUL character (in a value
 * or a key) or nesting deeper than MAX_VARIABLES_DEPTH, or null. Inside values of a `rowInputs` type (rows whose owner
 * checks each one and rejects it alone, such as a push's rows) NUL is left to the owner, and too-deep values are cut at
 * MAX_VARIABLES_DEPTH (replaced by an empty object or array there), in place.
 */
export function variablesProblem(schema: GraphQLSchema, operation: OperationDefinitionNode, variables: Record<string, unknown>, rowInputs: ReadonlySet<string>): string | null {
  type Item = { value: unknown; type: GraphQLInputType | null; depth: number; row: boolean; holder: Record<string, unknown> | unknown[]; key: string | number };
  const stack: Item[] = [];
  const defined = new Map((operation.variableDefinitions ?? []).map((d) => [d.variable.name.value, d]));
  for (const [name, value] of Object.entries(variables)) {
    if (name.includes("\u0000")) return "nul";
    const definition = defined.get(name);
    const type = definition ? (typeFromAST(schema, definition.type as never) as GraphQLInputType | undefined) : undefined;
    stack.push({ value, type: type ?? null, depth: 0, row: false, holder: variables, key: name });
  }
  while (stack.length) {
    const item = stack.pop()!;
    const { value, depth } = item;
    let { type, row } = item;
    if (type && isNonNullType(type)) type = type.ofType;
    if (!row && type && isInputObjectType(type) && rowInputs.has(type.name)) row = true;
    if (typeof value === "string") {
      if (!row && value.includes("\u0000")) return "nul";
      continue;
    }
    if (value === null || typeof value !== "object") continue;
    if (depth >= MAX_VARIABLES_DEPTH) {
      if (!row) return "deep";
      (item.holder as Record<string | number, unknown>)[item.key] = Array.isArray(value) ? [] : {};
      continue;
    }
    if (Array.isArray(value)) {
      const of = type && isListType(type) ? (type.ofType as GraphQLInputType) : null;
      for (let i = 0; i < value.length; i++) stack.push({ value: value[i], type: of, depth: depth + 1, row, holder: value, key: i });
      continue;
    }
    const fields = type && isInputObjectType(type) ? type.getFields() : null;
    for (const key of Object.keys(value)) {
      if (!row && key.includes("\u0000")) return "nul";
      const field = fields?.[key];
      stack.push({ value: (value as Record<string, unknown>)[key], type: field ? field.type : null, depth: depth + 1, row, holder: value as Record<string, unknown>, key });
    }
  }
  return null;
}

/**
 * PostgreSQL text cannot hold U+0000: refuse it up front (literals and variables) with BAD_USER_INPUT (HTTP 400)
 * instead of letting it fail as a database error deep in a resolver; the same for variables nested deeper than
 * MAX_VARIABLES_DEPTH. Values of `rowInputs` input types (e.g. a push's rows) are checked row by row by their owner,
 * which rejects a bad row alone (see {@link variablesProblem}).
 */
export function rejectNulCharacters<T extends BaseContext>(opts: { rowInputs?: readonly string[] } = {}): ApolloServerPlugin<T> {
  const rowInputs = new Set(opts.rowInputs ?? []);
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, request, operation, schema }) {
          const variables = request.variables;
          const problem = variables && !cleanVariables.has(variables) && operation ? variablesProblem(schema, operation, variables, rowInputs) : null;
          if (problem === "deep") throw withHttpStatus(Errors.badInput(`Variables must not nest deeper than ${MAX_VARIABLES_DEPTH} levels`), 400);
          if (problem === "nul" || documentHasNul(schema, document, rowInputs)) throw withHttpStatus(Errors.badInput("Text must not contain the NUL character (U+0000)"), 400);
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
  res.status(status).json(bodyErrorResult(status, typeof err?.limit === "number" ? err.limit : MAX_BODY_BYTES));
};

/**
 * The answer to a request body that cannot be read: HTTP 413 PAYLOAD_TOO_LARGE (with the limit in
 * `extensions.maxBytes`), other 4xx BAD_REQUEST, or 500.
 */
export function bodyErrorResult(status: number, maxBytes = MAX_BODY_BYTES): { errors: { message: string; extensions: { code: string; maxBytes?: number } }[] } {
  if (status === 413) return { errors: [{ message: "Request body too large", extensions: { code: ErrorCode.PAYLOAD_TOO_LARGE, maxBytes } }] };
  const message = status < 500 ? "Malformed request body" : "Internal server error";
  return { errors: [{ message, extensions: { code: status < 500 ? "BAD_REQUEST" : "INTERNAL_SERVER_ERROR" } }] };
}
