import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import express, { type Express } from "express";
import { ApolloServer, type ApolloServerPlugin, type BaseContext } from "@apollo/server";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import { ApolloServerPluginInlineTraceDisabled, ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import { GraphQLError, parse, validate, type DocumentNode, type FormattedExecutionResult, type GraphQLSchema, type ValidationRule } from "graphql";
import { WebSocketServer } from "ws";
import { useServer } from "graphql-ws/use/ws";
import type { Logger } from "pino";
import { REQUEST_ID_HEADER, normalizeRequestId } from "./request-id.js";
import { graphqlEndpoint, mountGraphQLEndpoint, registerLocalEndpoint, type EndpointContextInput } from "./graphql-endpoint.js";
import { formatErrorFor } from "./errors.js";
import { jsonBodyErrors, MAX_BODY_BYTES, rejectNulCharacters } from "./input-guards.js";
import type { AuthContext, Caller } from "./auth.js";
import { revocationCloseCode, type RevocationList } from "./revocations.js";
import { GATEWAY_PROOF_HEADER, type SubgraphQueryBounds } from "./query-limits.js";

/** What a running HTTP service exposes to its composition root. */
export interface RunningService {
  name: string;
  url: string;
  wsUrl: string;
  port: number;
  stop(): Promise<void>;
}

/** What a service's readiness depends on. */
export interface Readiness {
  /** Dependencies it cannot serve without (its database): any false makes it not ready. */
  required: Record<string, boolean>;
  /**
   * Dependencies it serves without, in a lesser way (Redis pub/sub: live updates come by re-read): while one is down the
   * service is ready but `degraded`, and says what is affected.
   */
  optional?: Record<string, { ok: boolean; affects: string }>;
}

/** Readiness checks, run on each /readyz. */
export type ReadinessCheck = () => Promise<Readiness>;

/** The /readyz answer: `ready` (200), `degraded` (200: serving, with what is affected) or `unavailable` (503). */
export interface ReadinessReport {
  status: "ready" | "degraded" | "unavailable";
  checks: Record<string, boolean>;
  /** Optional dependencies that are down: name → what is affected. */
  degraded?: Record<string, string>;
}

/** Folds a {@link Readiness} into the report /readyz sends. */
export function readinessReport(readiness: Readiness): ReadinessReport {
  const checks: Record<string, boolean> = { ...readiness.required };
  const degraded: Record<string, string> = {};
  for (const [name, { ok, affects }] of Object.entries(readiness.optional ?? {})) {
    checks[name] = ok;
    if (!ok) degraded[name] = affects;
  }
  if (!Object.values(readiness.required).every(Boolean)) return { status: "unavailable", checks, ...(Object.keys(degraded).length ? { degraded } : {}) };
  return Object.keys(degraded).length ? { status: "degraded", checks, degraded } : { status: "ready", checks };
}

/**
 * Liveness and readiness endpoints, shared by every service. /healthz: the process is alive (restart it if not).
 * /readyz: 200 while it can serve — `ready`, or `degraded` when an optional dependency such as Redis is down (what is
 * affected is listed) — and 503 `unavailable` when a required one (its database) is down: take it out of rotation.
 */
export function mountHealth(app: Express, ready: ReadinessCheck): void {
  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/readyz", async (_req, res) => {
    const report = readinessReport(await ready().catch((): Readiness => ({ required: { readiness: false } })));
    res.status(report.status === "unavailable" ? 503 : 200).json(report);
  });
}

/** Logs one line per GraphQL operation with its request id, duration and error codes. */
export function operationLogPlugin(logger: Logger): ApolloServerPlugin<BaseContext> {
  return {
    async requestDidStart({ request, contextValue }) {
      const started = performance.now();
      const requestId = (contextValue as { requestId?: string }).requestId;
      return {
        async willSendResponse({ errors, operationName }) {
          const codes = (errors ?? []).map((e) => e.extensions?.code ?? "INTERNAL_SERVER_ERROR");
          logger.info(
            { requestId, operation: operationName ?? request.operationName ?? null, ms: Math.round(performance.now() - started), errors: codes.length ? codes : undefined },
            "graphql operation",
          );
        },
      };
    },
  };
}

// ---- Raw JSON values -------------------------------------------------------------------------------------------------
//
// Large JSON scalars that a service already holds as JSON text (a pull's documents, read from jsonb as text) travel as
// that text: never parsed into objects and serialised again at each hop. A resolver returns a `RawJson`; the response
// text is built around it (the value is spliced in). Between a subgraph and the gateway (which asks for it with a
// per-request nonce in RAW_JSON_HEADER) the body is framed: the result JSON with placeholders, then the raw texts, so
// the gateway neither parses nor re-serialises them either. Anything else that serialises a RawJson (graphql-ws, a
// plain JSON.stringify) gets the parsed value from toJSON: always correct, only slower.

/** Request header by which the gateway asks a subgraph for framed raw JSON; its value is a per-request nonce. */
export const RAW_JSON_HEADER = "x-tributary-raw-json";
const NONCE = /^[0-9a-f]{32}$/;

/** A fresh nonce/placeholder marker: unguessable, so no value in a response can pose as a placeholder. */
export const rawJsonNonce = (): string => randomUUID().replace(/-/g, "");

/** Raw texts collected while stringifying: a RawJson's text, or the elements of a joined array of them. */
type Raw = string | readonly RawJson[];
let collecting: { marker: string; raws: Raw[] } | null = null;

/** A JSON value kept as its (valid JSON) text; see the section comment. */
export class RawJson {
  constructor(readonly text: string) {}

  toJSON(): unknown {
    if (!collecting) return JSON.parse(this.text);
    collecting.raws.push(this.text);
    return `${collecting.marker}${collecting.raws.length - 1}`;
  }
}

/** An array of RawJson values, written as one raw text (see {@link joinRawArrays}). */
class RawJsonArray {
  constructor(readonly items: readonly RawJson[]) {}

  toJSON(): unknown {
    if (!collecting) return this.items.map((item) => item.toJSON());
    collecting.raws.push(this.items);
    return `${collecting.marker}${collecting.raws.length - 1}`;
  }
}

/**
 * Replaces (in place) each array of two or more elements that are all RawJson by one RawJsonArray: a pull page's
 * thousand documents then take one placeholder and go into the response text in one piece.
 */
function joinRawArrays(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== "object" || value instanceof RawJson || depth > 64) return value;
  if (Array.isArray(value)) {
    if (value.length > 1 && value.every((v) => v instanceof RawJson)) return new RawJsonArray(value as RawJson[]);
    for (let i = 0; i < value.length; i++) value[i] = joinRawArrays(value[i], depth + 1);
    return value;
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return value;
  const o = value as Record<string, unknown>;
  for (const key in o) if (Object.hasOwn(o, key)) o[key] = joinRawArrays(o[key], depth + 1);
  return value;
}

/** JSON.stringify, with each RawJson replaced by the placeholder string `marker + index` (in output order). */
function stringifyCollecting(value: unknown, marker: string, joinArrays: boolean): { json: string; raws: Raw[] } {
  const outer = collecting;
  const mine = { marker, raws: [] as Raw[] };
  collecting = mine;
  try {
    return { json: JSON.stringify(joinArrays ? joinRawArrays(value) : value), raws: mine.raws };
  } finally {
    collecting = outer;
  }
}

/**
 * `prefix`, then `json` with each raw text put where its placeholder is (they appear in order, each exactly once), then
 * `suffix`, joined once: the result is one flat string, which the socket encodes (or a reader slices) without first
 * copying it again (a string built by `+` is flattened, that is copied, by the first indexOf, slice or write).
 */
function splice(json: string, marker: string, raws: Raw[], prefix: string, suffix: string): string {
  if (!raws.length) return prefix + json + suffix;
  const parts: string[] = [prefix];
  let pos = 0;
  for (let i = 0; i < raws.length; i++) {
    const token = `"${marker}${i}"`;
    const at = json.indexOf(token, pos);
    if (at < 0) throw new Error("raw JSON placeholder not found");
    parts.push(json.slice(pos, at));
    const raw = raws[i];
    if (typeof raw === "string") parts.push(raw);
    else {
      parts.push("[");
      for (let j = 0; j < raw.length; j++) parts.push(j ? "," : "", raw[j].text);
      parts.push("]");
    }
    pos = at + token.length;
  }
  parts.push(json.slice(pos), suffix);
  return parts.join("");
}

/** The JSON text of `value` with RawJson values spliced in (what Apollo's default stringifier would give, faster). */
export function stringifyWithRawJson(value: unknown): string {
  const marker = rawJsonNonce();
  const { json, raws } = stringifyCollecting(value, marker, true);
  return splice(json, marker, raws, "", "\n");
}

/**
 * A framed body for the gateway: `nonce:len,len,…\n` + the result JSON with placeholders `nonce + index` + `\n` + the
 * raw texts back to back. Plain JSON (as {@link stringifyWithRawJson}) when the result holds no RawJson.
 */
export function stringifyFramed(value: unknown, nonce: string): string {
  // Arrays stay arrays here: the gateway shapes this result against the operation, element by element.
  const { json, raws: collected } = stringifyCollecting(value, nonce, false);
  const raws = collected as string[]; // no arrays joined: each raw is one value's text
  if (!raws.length) return `${json}\n`;
  return `${nonce}:${raws.map((r) => r.length).join(",")}\n${json}\n${raws.join("")}`;
}

/**
 * Reads a subgraph's answer to a request that carried `nonce`: a framed body becomes the result with RawJson values
 * in place of the placeholders; anything else is parsed as JSON.
 */
export function parseFramed(text: string, nonce: string): unknown {
  if (!text.startsWith(`${nonce}:`)) return JSON.parse(text);
  const head = text.indexOf("\n");
  const end = text.indexOf("\n", head + 1); // JSON.stringify never writes a raw newline
  if (head < 0 || end < 0) throw new Error("malformed framed response");
  const lengths = text.slice(nonce.length + 1, head).split(",").map(Number);
  let offset = end + 1;
  const raws = lengths.map((length) => {
    if (!Number.isInteger(length) || length < 0) throw new Error("malformed framed response");
    const raw = text.slice(offset, offset + length);
    offset += length;
    return raw;
  });
  if (offset !== text.length) throw new Error("malformed framed response");
  const restore = (v: unknown): unknown => {
    if (typeof v === "string") {
      if (!v.startsWith(nonce)) return v;
      const i = Number(v.slice(nonce.length));
      return Number.isInteger(i) && i >= 0 && i < raws.length ? new RawJson(raws[i]) : v;
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) v[i] = restore(v[i]);
      return v;
    }
    if (v && typeof v === "object") {
      const o = v as Record<string, unknown>;
      for (const key of Object.keys(o)) o[key] = restore(o[key]);
    }
    return v;
  };
  return restore(JSON.parse(text.slice(head + 1, end)));
}

// ---- Split results (the gateway's pass-through) -----------------------------------------------------------------------
//
// When the gateway forwards an operation that one subgraph answers whole (gateway/passthrough.ts), it asks with a
// nonce in SPLIT_RESULT_HEADER for the result split in two: `nonce\n` + the result without `data` (errors,
// extensions) as JSON + `\n` + the JSON text of `data`. The gateway then parses only the small head and hands `data`
// on as text, to be spliced into its own response (it is already the client's answer).

/** Request header by which the gateway asks a subgraph for a split result; its value is a per-request nonce. */
export const SPLIT_RESULT_HEADER = "x-tributary-split-result";

/** A split result (see above); plain JSON when there is no data object to split off. */
export function stringifySplit(value: FormattedExecutionResult, nonce: string): string {
  const { data, ...rest } = value;
  if (!data) return stringifyWithRawJson(value);
  const marker = rawJsonNonce();
  const { json, raws } = stringifyCollecting(data, marker, true);
  return splice(json, marker, raws, `${nonce}\n${JSON.stringify(rest)}\n`, "");
}

/**
 * Reads a subgraph's answer to a request that asked for a split result with `nonce`: the head parsed and the data as
 * text, or null when the body is plain JSON (no data to split off; the caller parses it).
 */
export function parseSplit(text: string, nonce: string): { head: Omit<FormattedExecutionResult, "data">; dataText: string } | null {
  if (!text.startsWith(`${nonce}\n`)) return null;
  const end = text.indexOf("\n", nonce.length + 1); // JSON.stringify never writes a raw newline
  if (end < 0) throw new Error("malformed split response");
  return { head: JSON.parse(text.slice(nonce.length + 1, end)) as Omit<FormattedExecutionResult, "data">, dataText: text.slice(end + 1) };
}

/**
 * Subgraph side: results of requests whose RAW_JSON_HEADER carries a valid nonce are sent framed (see
 * {@link stringifyFramed}), those whose SPLIT_RESULT_HEADER does are sent split (see {@link stringifySplit}); the
 * plugin marks them by their data object, the server's stringifier reads the mark.
 */
function rawJsonResponses(): { plugin: ApolloServerPlugin<BaseContext>; stringify: (value: FormattedExecutionResult) => string } {
  const marked = new WeakMap<object, { nonce: string; split: boolean }>();
  return {
    plugin: {
      async requestDidStart({ request }) {
        const split = request.http?.headers.get(SPLIT_RESULT_HEADER);
        const framed = request.http?.headers.get(RAW_JSON_HEADER);
        const mark = split && NONCE.test(split) ? { nonce: split, split: true } : framed && NONCE.test(framed) ? { nonce: framed, split: false } : null;
        if (!mark) return;
        return {
          async willSendResponse({ response }) {
            if (response.body.kind === "single" && response.body.singleResult.data) marked.set(response.body.singleResult.data, mark);
          },
        };
      },
    },
    stringify: (value) => {
      const mark = value.data ? marked.get(value.data) : undefined;
      if (!mark) return stringifyWithRawJson(value);
      return mark.split ? stringifySplit(value, mark.nonce) : stringifyFramed(value, mark.nonce);
    },
  };
}

/**
 * Starts a subgraph: Apollo Server on `/graphql` (HTTP) and graphql-ws on the same path, plus `/healthz` and
 * `/readyz`. `context` receives the raw authorization value and request id; it verifies the caller itself.
 */
export async function startSubgraphServer<TContext extends BaseContext>(opts: {
  name: string;
  host: string;
  port: number;
  schema: GraphQLSchema;
  logger: Logger;
  context: (input: EndpointContextInput) => Promise<TContext>;
  ready: ReadinessCheck;
  routes?: (app: Express) => void;
  /** Revocations heard by this process: open sockets of revoked callers are closed (4401, or 4403 for a tenant). */
  revocations?: RevocationList;
  /** Input types whose values the service checks row by row itself (see rejectNulCharacters). */
  rowInputs?: readonly string[];
  /** Bounds on the operations this subgraph executes (kernel/query-limits.ts), over HTTP and graphql-ws. */
  queryBounds?: SubgraphQueryBounds;
}): Promise<RunningService> {
  const bounds = opts.queryBounds;
  const app = express();
  app.disable("x-powered-by");
  // No ETag: only the gateway calls a subgraph, with POSTs that are never revalidated, and hashing every response body
  // (a pull page is hundreds of kilobytes) costs CPU for nothing.
  app.set("etag", false);
  const httpServer = http.createServer(app);
  const wss = new WebSocketServer({ server: httpServer, path: "/graphql" });
  const wsServer = useServer<Record<string, unknown> | undefined, SubgraphSocketExtra>(
    {
      schema: opts.schema,
      // The caller is verified at `connection_init`: a socket without a valid token is refused there (4401, 4403 for a
      // suspended tenant), before any operation, and closed when its token expires or is revoked.
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        const input: EndpointContextInput = {
          authorization: typeof params.authorization === "string" && params.authorization ? params.authorization : undefined,
          requestId: normalizeRequestId(params[REQUEST_ID_HEADER]),
          client: {},
        };
        const close = (code: number, reason: string) => ctx.extra.socket.close(code, reason);
        if (!input.authorization) {
          close(4401, params.authorization === undefined ? "A token is required in connectionParams.authorization" : "authorization must be a string");
          return false;
        }
        let caller: Caller | undefined;
        try {
          caller = callerOf(await opts.context(input));
        } catch (err) {
          const refusal = socketRefusal(err, opts.logger);
          close(refusal.code, refusal.reason);
          return false;
        }
        if (!caller) {
          close(4401, "Invalid token");
          return false;
        }
        ctx.extra.input = input;
        ctx.extra.fromGateway = bounds?.fromGateway(params[GATEWAY_PROOF_HEADER]) ?? false;
        ctx.extra.release = watchSocketCaller(caller, close, opts.revocations);
        return true;
      },
      onClose: (ctx) => ctx.extra.release?.(),
      // Each operation gets its own context (a fresh EntityManager); the token is checked again, so one that expired
      // or was revoked a moment ago closes the socket as at connect (never a 4500 with a logged stack).
      onSubscribe: async (ctx, _id, payload) => {
        const fromGateway = ctx.extra.fromGateway ?? false;
        const tooManyTokens = bounds?.checkTokens(payload.query, fromGateway);
        if (tooManyTokens) return [tooManyTokens];
        const document = parseAndValidate(opts.schema, payload.query);
        if (Array.isArray(document)) return document;
        const tooComplex = bounds?.checkOperation(opts.schema, document, payload.operationName, payload.variables, fromGateway);
        if (tooComplex) return [tooComplex];
        let contextValue: TContext;
        try {
          contextValue = await opts.context(ctx.extra.input!);
        } catch (err) {
          const refusal = socketRefusal(err, opts.logger);
          ctx.extra.socket.close(refusal.code, refusal.reason);
          return [err instanceof GraphQLError ? err : new GraphQLError(refusal.reason)];
        }
        return { schema: opts.schema, document, operationName: payload.operationName, variableValues: payload.variables, contextValue };
      },
      onError: (_ctx, _id, _payload, errors) => {
        opts.logger.warn({ errors: errors.map((e) => e.message) }, "subscription error");
      },
    },
    wss,
  );

  const raw = rawJsonResponses();
  const apollo = new ApolloServer<TContext>({
    schema: opts.schema,
    formatError: formatErrorFor(opts.logger),
    includeStacktraceInErrorResponses: false,
    // Signals belong to the process (kernel/process.ts), not to Apollo: see the gateway's note.
    stopOnTerminationSignals: false,
    stringifyResult: raw.stringify,
    plugins: [
      raw.plugin as ApolloServerPlugin<TContext>,
      ApolloServerPluginDrainHttpServer({ httpServer }),
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
      operationLogPlugin(opts.logger) as ApolloServerPlugin<TContext>,
      rejectNulCharacters<TContext>({ rowInputs: opts.rowInputs }),
      ...(bounds ? [bounds.plugin<TContext>()] : []),
      { async serverWillStart() { return { async drainServer() { await wsServer.dispose(); } }; } },
    ],
  });
  await apollo.start();

  mountHealth(app, opts.ready);
  opts.routes?.(app);
  // The gateway's limit: what it accepts, it can forward.
  const endpoint = graphqlEndpoint(
    apollo,
    MAX_BODY_BYTES,
    opts.context,
    bounds
      ? ({ headers, search, body }) => {
          const fromGateway = bounds.fromGateway(headers.get(GATEWAY_PROOF_HEADER));
          // A GET carries the query in the URL; a POST in the body (an array, a batch, is refused by Apollo itself).
          const query = body && typeof body === "object" && !Array.isArray(body) ? (body as { query?: unknown }).query : new URLSearchParams(search).get("query");
          return bounds.checkTokens(query, fromGateway);
        }
      : undefined,
  );
  mountGraphQLEndpoint(app, "/graphql", MAX_BODY_BYTES, endpoint);
  app.use(jsonBodyErrors);

  const { port, url, wsUrl } = await listenGraphQL(httpServer, opts.host, opts.port);
  // A gateway in this process calls the endpoint directly (kernel/graphql-endpoint.ts).
  const unregister = registerLocalEndpoint(url, endpoint);
  opts.logger.info({ port }, `${opts.name} listening`);
  return {
    name: opts.name,
    port,
    url,
    wsUrl,
    async stop() {
      unregister();
      await apollo.stop();
    },
  };
}

// ---- WebSocket callers ------------------------------------------------------------------------------------------------

/** What a subgraph keeps per socket: the verified connection's context input, and what to undo when it closes. */
type SubgraphSocketExtra = {
  input?: EndpointContextInput;
  /** The gateway's socket (its proof in the connection parameters): planner bounds apply. */
  fromGateway?: boolean;
  release?: () => void;
};

/** The caller a context was built for (contexts of every service carry `principal` or `platform`). */
function callerOf(context: unknown): Caller | undefined {
  const c = context as Partial<AuthContext> | null | undefined;
  return c?.principal ?? c?.platform;
}

/**
 * How a socket whose caller was refused is closed: 4401 for who-are-you problems (no, bad, expired or revoked token),
 * 4403 for a suspended tenant or a forbidden caller, 1013 (try again later) when a dependency such as the token keys is
 * unavailable, 1011 for anything unexpected (logged). Expected refusals are not logged as errors.
 */
export function socketRefusal(err: unknown, logger?: Logger): { code: number; reason: string } {
  const code = err instanceof GraphQLError ? err.extensions.code : undefined;
  const reason = (err instanceof GraphQLError ? err.message : "Unauthorized").slice(0, 120);
  if (code === "UNAUTHENTICATED") return { code: 4401, reason };
  if (code === "TENANT_SUSPENDED" || code === "FORBIDDEN") return { code: 4403, reason };
  if (code === "UPSTREAM_UNAVAILABLE") return { code: 1013, reason };
  logger?.error({ err }, "socket authentication failed");
  return { code: 1011, reason: "Internal server error" };
}

/**
 * Closes a socket when its caller's token expires (4401) or a revocation reaches the caller (4401, or 4403 for a
 * suspended tenant). Returns the function that stops watching (call it when the socket closes).
 */
export function watchSocketCaller(caller: Caller, close: (code: number, reason: string) => void, revocations?: RevocationList): () => void {
  const timer = setTimeout(() => close(4401, "Token expired"), Math.max(0, caller.expiresAt.getTime() - Date.now())).unref();
  const unlisten = revocations?.onRevocation((r) => {
    const code = revocationCloseCode(r, caller);
    if (code !== undefined) close(code, code === 4403 ? "Tenant suspended" : "Session revoked");
  });
  return () => {
    clearTimeout(timer);
    unlisten?.();
  };
}

/**
 * An operation sent over a socket, parsed and validated as over HTTP: the document, or the errors to answer with
 * (`GRAPHQL_PARSE_FAILED`, `GRAPHQL_VALIDATION_FAILED`). Used by every subgraph's socket and the gateway's.
 */
export function parseAndValidate(schema: GraphQLSchema, query: string, rules?: readonly ValidationRule[]): DocumentNode | GraphQLError[] {
  let document: DocumentNode;
  try {
    document = parse(query);
  } catch (err) {
    return [withCode(err, "GRAPHQL_PARSE_FAILED")];
  }
  const invalid = validate(schema, document, rules);
  return invalid.length ? invalid.map((e) => withCode(e, "GRAPHQL_VALIDATION_FAILED")) : document;
}

function withCode(err: unknown, code: string): GraphQLError {
  const e = err instanceof GraphQLError ? err : new GraphQLError(String(err));
  return new GraphQLError(e.message, { nodes: e.nodes, source: e.source, positions: e.positions, extensions: { ...e.extensions, code } });
}

/** Listens on host:port (0 = any free port) and returns the GraphQL URLs of the server. */
export async function listenGraphQL(httpServer: http.Server, host: string, port: number): Promise<{ port: number; url: string; wsUrl: string }> {
  await new Promise<void>((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(port, host, () => resolve());
  });
  const actual = (httpServer.address() as AddressInfo).port;
  const reachable = host === "0.0.0.0" ? "127.0.0.1" : host;
  return { port: actual, url: `http://${reachable}:${actual}/graphql`, wsUrl: `ws://${reachable}:${actual}/graphql` };
}
