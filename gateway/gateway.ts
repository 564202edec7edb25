import { readFile } from "node:fs/promises";
import http from "node:http";
import { ApolloGateway } from "@apollo/gateway";
import { ApolloServer, type ApolloServerPlugin } from "@apollo/server";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import { ApolloServerPluginLandingPageLocalDefault, ApolloServerPluginLandingPageProductionDefault } from "@apollo/server/plugin/landingPage/default";
import { expressMiddleware } from "@as-integrations/express5";
import cors from "cors";
import express from "express";
import { GraphQLError, print, type ExecutionResult, type GraphQLFormattedError } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import type { Logger } from "pino";
import { WebSocketServer } from "ws";
import { TokenVerifier, type Caller } from "../kernel/auth.js";
import { Errors, ErrorCode, formatErrorFor, UNAVAILABLE_RETRY_AFTER_SECONDS, withHttpStatus } from "../kernel/errors.js";
import type { PubSub } from "../kernel/pubsub/pubsub.js";
import { SUBGRAPH_NAMES, type GatewayConfig, type SubgraphName } from "./config.js";
import { listenGraphQL, mountHealth, operationLogPlugin, socketRefusal, stringifyWithRawJson, watchSocketCaller, type Readiness, type ReadinessReport } from "../kernel/http.js";
import { ANONYMOUS_BODY_BYTES, graphqlJsonBody, jsonBodyBytes, jsonBodyErrors, MAX_BODY_BYTES, rejectNulCharacters } from "../kernel/input-guards.js";
import { API_KEY_EXCHANGE_PATH, REVOCATIONS_PATH } from "../kernel/internal-auth.js";
import { REQUEST_ID_HEADER, normalizeRequestId } from "../kernel/request-id.js";
import { PassthroughGateway } from "./passthrough.js";
import { GATEWAY_PROOF_HEADER } from "../kernel/query-limits.js";
import { ForwardingDataSource, type ForwardedContext } from "./data-source.js";
import { FederatedSubscriptions, type SubscriptionContext } from "./subscriptions/federated-subscriptions.js";
import { GatewayIdentity } from "./identity.js";
import { MemoryPubSub } from "../kernel/pubsub/memory.pubsub.js";
import { RevocationList, httpSnapshot } from "../kernel/revocations.js";
import { GatewayGuards, prepareWsOperation } from "./guards/guards.js";
import { mountDashboard } from "./dashboard.js";
import { mountWebhookProxy } from "./webhooks.js";
import { RATE_LIMIT_HEADER_NAMES } from "./guards/rate-limit.js";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

/** The gateway's per-request context. */
export interface GatewayContext extends ForwardedContext {
  principal?: Caller;
}

export interface RunningGateway {
  url: string;
  wsUrl: string;
  port: number;
  subscriptions: FederatedSubscriptions;
  /** Counts of the pass-through (gateway/passthrough.ts), for tests and benchmarks. */
  passthrough: PassthroughGateway["stats"];
  stop(): Promise<void>;
}


/**
 * Starts the public entry point: Apollo Gateway over the committed supergraph on `/graphql` (HTTP), graphql-ws on the
 * same path (federated subscriptions), Apollo Sandbox in development, `/healthz` and `/readyz`.
 */
export async function startGateway(config: GatewayConfig, deps: { logger: Logger; pubsub?: PubSub }): Promise<RunningGateway> {
  const logger = deps.logger.child({ service: "gateway" });
  const supergraphSdl = await readFile(config.supergraphPath, "utf8");
  const urlOf = (name: string, composedUrl: string) => config.subgraphUrls[name as SubgraphName] ?? composedUrl;
  const verifier = new TokenVerifier({ jwks: config.jwt.jwksUrl, issuer: config.jwt.issuer, audience: config.jwt.audience });
  // Revocations (suspended tenants, ended sessions, revoked API keys) from pub/sub plus the tenants service's snapshot.
  // Without a shared pub/sub (no REDIS_URL in a distributed setup) revocations arrive by the snapshot, polled.
  const ownPubsub = deps.pubsub ? undefined : new MemoryPubSub();
  const pubsub = deps.pubsub ?? ownPubsub!;
  const revocations = new RevocationList({ pubsub, snapshot: httpSnapshot(new URL(REVOCATIONS_PATH, config.jwt.jwksUrl).toString(), config.internalSecret), logger });
  await revocations.start();
  const identity = new GatewayIdentity({ verifier, revocations, exchangeUrl: new URL(API_KEY_EXCHANGE_PATH, config.jwt.jwksUrl).toString(), internalSecret: config.internalSecret, logger });
  identity.start();
  // Guards (gateway/guards/): rate limits per tenant plan and query cost limits. Absent only in benchmarks, where the
  // gateway does not verify tokens either.
  if (config.benchmarkOnlyDisableGuards && process.env.NODE_ENV === "production") throw new Error("benchmarkOnlyDisableGuards is refused in production");
  const guards = config.benchmarkOnlyDisableGuards ? undefined : await GatewayGuards.create(config.guards ?? {}, { logger, redisUrl: config.redisUrl });
  if (!guards) logger.warn("gateway guards disabled (benchmark only): no token verification, rate limits or cost limits");

  // Operations one subgraph answers whole pass through (gateway/passthrough.ts); the planner's hook tells which.
  let passthrough: PassthroughGateway | undefined;
  const apolloGateway = new ApolloGateway({
    supergraphSdl,
    buildService: ({ name, url }) => new ForwardingDataSource({ url: urlOf(name, url!), internalSecret: config.internalSecret }),
    experimental_didResolveQueryPlan: (resolved) => passthrough?.didResolveQueryPlan(resolved),
  });
  passthrough = new PassthroughGateway(apolloGateway);
  const gateway = passthrough;
  const subscriptions = new FederatedSubscriptions({
    logger,
    dataSourceFor: (name, url) => new ForwardingDataSource({ url: urlOf(name, url), internalSecret: config.internalSecret }),
    wsUrlFor: (name, url) => urlOf(name, url).replace(/^http/, "ws"),
    // The gateway's proof on its upstream sockets (planner bounds at the subgraph, kernel/query-limits.ts).
    upstreamConnectionParams: { [GATEWAY_PROOF_HEADER]: config.internalSecret },
    // Change streams are never shared: recordsChanged reads from each subscriber's own checkpoint, and a late joiner
    // of syncRunsUpdated needs every active run first, not the stream's latest event.
    shareable: (field) => field !== "recordsChanged" && field !== "syncRunsUpdated",
    // A record stream whose upstream reconnects continues from the last batch it forwarded (no replay, no gap).
    resumable: (field) => (field === "recordsChanged" ? { argument: "checkpoint", field: "checkpoint", type: "String" } : undefined),
  });
  // Registered before Apollo starts the gateway, so the first load is seen.
  gateway.onSchemaLoadOrUpdate(({ coreSupergraphSdl }) => subscriptions.load(coreSupergraphSdl));

  const app = express();
  app.disable("x-powered-by");
  // No ETag: operations come as POSTs (never revalidated), and even for a GET the answer is computed in full before an
  // ETag could match; hashing every body (a pull page is hundreds of kilobytes) costs CPU on the busiest path.
  app.set("etag", false);
  const httpServer = http.createServer(app);
  const formatError = gatewayFormatError(logger);

  const wss = new WebSocketServer({ server: httpServer, path: "/graphql" });
  const expiryTimers = new WeakMap<object, () => void>();
  const untrack = new WeakMap<object, () => void>();
  let apollo!: ApolloServer<GatewayContext>;
  const wsServer = useServer<Record<string, unknown> | undefined, { principal?: Caller; authorization?: string; requestId?: string }>(
    {
      schema: () => subscriptions.apiSchema,
      // The caller is verified at `connection_init`: a socket without a valid token (none at all included) is refused
      // there with 4401 (4403 for a suspended tenant), before any operation, and nothing is logged as an error.
      onConnect: async (ctx) => {
        const authorization = ctx.connectionParams?.authorization;
        ctx.extra.requestId = normalizeRequestId(ctx.connectionParams?.[REQUEST_ID_HEADER]);
        const close = (code: number, reason: string) => ctx.extra.socket.close(code, reason);
        try {
          if (authorization === undefined || authorization === null || authorization === "") {
            throw Errors.unauthenticated("A token is required: connectionParams { authorization: \"Bearer <token>\" }");
          }
          if (typeof authorization !== "string") throw Errors.unauthenticated("authorization must be a string");
          const { caller, forward } = await identity.authenticate(authorization, { requestId: ctx.extra.requestId, ip: ctx.extra.request.socket.remoteAddress });
          ctx.extra.principal = caller;
          ctx.extra.authorization = forward;
        } catch (err) {
          const refusal = socketRefusal(err, logger);
          close(refusal.code, refusal.reason);
          return false;
        }
        // Revoked (tenant suspended, session ended) while connected: closed at once.
        untrack.set(ctx, identity.track(ctx.extra.principal, close));
        // A socket lives longer than its token: close it when the token expires (the client reconnects with a new one).
        expiryTimers.set(ctx, watchSocketCaller(ctx.extra.principal, close));
        return true;
      },
      onClose: (ctx) => {
        expiryTimers.get(ctx)?.();
        untrack.get(ctx)?.();
      },
      // Every operation on the socket (query, mutation or subscribe request) is parsed, validated and guarded here,
      // with the rules that apply over HTTP.
      onSubscribe: (ctx, _id, payload) =>
        prepareWsOperation({ schema: subscriptions.apiSchema, payload, introspection: config.introspection, guards, caller: ctx.extra.principal, request: ctx.extra.request }),
      context: (ctx): SubscriptionContext & { clientIp?: string; userAgent?: string } => ({
        authorization: ctx.extra.principal ? ctx.extra.authorization : undefined,
        clientIp: guards ? guards.clientIp(ctx.extra.request) : ctx.extra.request.socket.remoteAddress,
        userAgent: ctx.extra.request.headers["user-agent"],
        requestId: ctx.extra.requestId ?? crypto.randomUUID(),
        tenantId: ctx.extra.principal?.kind === "platform" ? undefined : ctx.extra.principal?.tenantId,
      }),
      subscribe: async (args) => {
        const ctx = args.contextValue as SubscriptionContext;
        // Refused before any upstream work: subscriptions always need a verified caller.
        if (!ctx.authorization) return { errors: [Errors.unauthenticated("Subscriptions need a token in connectionParams.authorization")] };
        return subscriptions.subscribe(args);
      },
      // Queries and mutations sent over the socket run through Apollo (and so through the gateway's planner).
      execute: async (args) => {
        const ctx = args.contextValue as SubscriptionContext & { clientIp?: string; userAgent?: string };
        const res = await apollo.executeOperation(
          { query: print(args.document), variables: (args.variableValues ?? undefined) as Record<string, unknown> | undefined, operationName: args.operationName ?? undefined },
          { contextValue: { authorization: ctx.authorization, requestId: ctx.requestId, clientIp: ctx.clientIp, userAgent: ctx.userAgent } },
        );
        return res.body.kind === "single" ? (res.body.singleResult as ExecutionResult) : { errors: [Errors.badInput("Incremental delivery is not supported over WebSocket")] };
      },
      onNext: (_ctx, _id, _payload, _args, result) => maskResult(result as ExecutionResult, formatError),
    },
    wss,
  );

  apollo = new ApolloServer<GatewayContext>({
    gateway,
    formatError,
    includeStacktraceInErrorResponses: false,
    // Signals belong to the process (kernel/process.ts): Apollo's own SIGTERM handler would stop the server and then
    // send the signal again, which the process took for a second Ctrl-C and exited 1 before draining the rest.
    stopOnTerminationSignals: false,
    introspection: config.introspection,
    allowBatchedHttpRequests: guards?.allowBatchedHttpRequests ?? false,
    // Raw JSON values from subgraphs (a pull's documents) are spliced into the response as the text they arrived as.
    stringifyResult: stringifyWithRawJson,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      { async serverWillStart() { return { async drainServer() { await wsServer.dispose(); await subscriptions.close(); } }; } },
      config.sandbox
        ? ApolloServerPluginLandingPageLocalDefault({ embed: { initialState: { pollForSchemaUpdates: false } }, includeCookies: false })
        : ApolloServerPluginLandingPageProductionDefault({ footer: false }),
      operationLogPlugin(logger) as ApolloServerPlugin<GatewayContext>,
      // A push's rows are checked one by one by the sync subgraph, which rejects a bad row alone.
      rejectNulCharacters<GatewayContext>({ rowInputs: ["PushRowInput"] }),
      ...(guards ? [guards.apolloPlugin<GatewayContext>()] : []),
    ],
  });
  await apollo.start();

  mountHealth(app, () => readiness(config, deps.pubsub));
  // Audit CSV export (issue 6): streamed from the audit subgraph, same token (API keys exchanged) and rate limit.
  app.get(AUDIT_EXPORT_PATH, (req, res) => void proxyAuditExport(req, res, { auditUrl: config.subgraphUrls.audit, identity, guards, logger }));
  // Signed Odoo webhooks (issue 5), verified by the connectors service.
  mountWebhookProxy(app, { connectorsUrl: config.subgraphUrls.connectors, guards, logger });
  // The dashboard SPA at /dashboard (issue 7).
  mountDashboard(app, { logger });
  app.use(
    "/graphql",
    cors<cors.CorsRequest>({ exposedHeaders: [REQUEST_ID_HEADER, ...RATE_LIMIT_HEADER_NAMES] }),
    // Bodies over 1 MiB (a push of large documents) are read only for a caller whose token verifies.
    (req: express.Request, res: express.Response, next: express.NextFunction) => {
      const length = Number(req.headers["content-length"]);
      if (req.method !== "POST" || (Number.isFinite(length) && length <= ANONYMOUS_BODY_BYTES)) return next();
      const authorization = req.headers.authorization;
      const requestId = normalizeRequestId(req.headers[REQUEST_ID_HEADER]);
      const verified = authorization
        ? identity.authenticate(authorization, { ip: guards ? guards.clientIp(req) : req.socket.remoteAddress, requestId })
        : Promise.reject(Errors.unauthenticated(`A request body over ${ANONYMOUS_BODY_BYTES} bytes needs a token`));
      verified.then(
        () => next(),
        async (err: unknown) => {
          await guards?.chargeHttp(req, res).catch(() => undefined);
          const code = err instanceof GraphQLError && typeof err.extensions.code === "string" ? err.extensions.code : ErrorCode.UNAUTHENTICATED;
          const status = code === ErrorCode.TENANT_SUSPENDED ? 403 : code === ErrorCode.UPSTREAM_UNAVAILABLE ? 503 : code === ErrorCode.RATE_LIMITED ? 429 : 401;
          if (!res.headersSent) res.status(status).setHeader(REQUEST_ID_HEADER, requestId).json({ errors: [{ message: (err as Error).message, extensions: { code } }] });
        },
      );
    },
    ...graphqlJsonBody(MAX_BODY_BYTES),
    ...(guards ? [guards.documentLimits] : []),
    expressMiddleware(apollo, {
      context: async ({ req, res }): Promise<GatewayContext> => {
        const requestId = normalizeRequestId(req.headers[REQUEST_ID_HEADER]);
        res.setHeader(REQUEST_ID_HEADER, requestId);
        const authorization = req.headers.authorization || undefined;
        // Verified before planning: a bad token never reaches a subgraph.
        let principal: Caller | undefined;
        // The client as far as trusted proxies tell (TRUST_PROXY), forwarded so subgraphs audit and throttle logins by it.
        const clientIp = guards ? guards.clientIp(req) : req.socket.remoteAddress;
        // An API key is forwarded as the short-lived token it was exchanged for: subgraphs only ever see JWTs.
        let forward = authorization;
        if (authorization && guards) {
          try {
            ({ caller: principal, forward } = await identity.authenticate(authorization, { ip: clientIp, requestId }));
          } catch (err) {
            // Charged to the client IP: guessing tokens is rate limited like any anonymous call.
            await guards.chargeHttp(req, res);
            const code = err instanceof GraphQLError ? err.extensions.code : undefined;
            throw withStatus(err, code === ErrorCode.TENANT_SUSPENDED ? 403 : code === ErrorCode.UPSTREAM_UNAVAILABLE ? 503 : 401);
          }
        }
        // Charged before parsing and planning: a limited client costs neither.
        await guards?.chargeHttp(req, res, principal);
        return { authorization: forward, requestId, principal, clientIp, userAgent: req.headers["user-agent"], rawJson: true, clientBody: clientBodyOf(req) };
      },
    }),
  );
  app.use(jsonBodyErrors);

  const { port, url, wsUrl } = await listenGraphQL(httpServer, config.host, config.port);
  logger.info({ port }, "gateway listening");
  return {
    port,
    url,
    wsUrl,
    subscriptions,
    passthrough: passthrough.stats,
    async stop() {
      await apollo.stop();
      identity.stop();
      await revocations.stop();
      await ownPubsub?.close();
      await guards?.close();
    },
  };
}

/**
 * Readiness: every subgraph ready (each checks its own database; a degraded one serves, and what it reports as
 * affected is passed on as `<subgraph>.<dependency>`), and this gateway's pub/sub (optional: revocations then come by
 * periodic refresh).
 */
async function readiness(config: GatewayConfig, pubsub?: PubSub): Promise<Readiness> {
  const required: Record<string, boolean> = {};
  const optional: NonNullable<Readiness["optional"]> = {};
  await Promise.all(
    SUBGRAPH_NAMES.map(async (name) => {
      const url = config.subgraphUrls[name].replace(/\/graphql\/?$/, "/readyz");
      const report = await fetch(url, { signal: AbortSignal.timeout(2_000) }).then(
        async (r) => (r.ok ? ((await r.json().catch(() => ({}))) as Partial<ReadinessReport>) : null),
        () => null,
      );
      required[name] = report !== null;
      for (const [dependency, affects] of Object.entries(report?.degraded ?? {})) optional[`${name}.${dependency}`] = { ok: false, affects };
    }),
  );
  if (pubsub) optional.pubsub = { ok: await pubsub.ping(), affects: "token revocations reach this gateway by a reload every 5 s instead of at once" };
  return { required, optional };
}

/** The kernel's masking, plus: a subgraph that cannot be reached is UPSTREAM_UNAVAILABLE, not an internal error. */
function gatewayFormatError(logger: Logger) {
  const base = formatErrorFor(logger);
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const cause = String((error as { originalError?: { message?: string } })?.originalError?.message ?? formatted.message);
    if (!formatted.extensions?.code || formatted.extensions.code === "DOWNSTREAM_SERVICE_ERROR" || formatted.extensions.code === ErrorCode.INTERNAL_SERVER_ERROR) {
      if (/ECONNREFUSED|ECONNRESET|fetch failed|socket hang up|ETIMEDOUT/i.test(cause)) {
        logger.warn({ cause }, "subgraph unavailable");
        return { message: "A backing service is unavailable", path: formatted.path, extensions: { code: ErrorCode.UPSTREAM_UNAVAILABLE, retryAfter: UNAVAILABLE_RETRY_AFTER_SECONDS } };
      }
    }
    // Which subgraph answered is the deployment's business, not the client's: Apollo's `serviceName` is dropped.
    const out = base(formatted, error);
    if (out.extensions && "serviceName" in out.extensions) {
      const { serviceName: _internal, ...extensions } = out.extensions;
      return { ...out, extensions };
    }
    return out;
  };
}

/** Applies HTTP error formatting to results sent over the socket too. */
function maskResult(result: ExecutionResult, format: (f: GraphQLFormattedError, e: unknown) => GraphQLFormattedError): ExecutionResult {
  if (!result.errors?.length) return result;
  const errors = result.errors.map((e) => {
    const formatted = format(e instanceof GraphQLError ? e.toJSON() : (e as GraphQLFormattedError), e);
    return new GraphQLError(formatted.message, { path: formatted.path, extensions: formatted.extensions });
  });
  return { ...result, errors };
}

/** A GraphQL request body as the client sent it (bytes and parsed), when it holds nothing but query, operationName and variables. */
function clientBodyOf(req: express.Request): ForwardedContext["clientBody"] {
  const bytes = jsonBodyBytes(req);
  const body = req.body as Record<string, unknown> | undefined;
  if (!bytes || !body || typeof body !== "object" || Array.isArray(body) || typeof body.query !== "string") return undefined;
  for (const key in body) if (key !== "query" && key !== "operationName" && key !== "variables") return undefined;
  return { bytes, parsed: body };
}

function withStatus(err: unknown, status: number): GraphQLError {
  return withHttpStatus(err instanceof GraphQLError && typeof err.extensions.code === "string" ? err : Errors.unauthenticated(), status);
}

// ---- Audit CSV export proxy (issue 6) --------------------------------------------------------------------------------

const AUDIT_EXPORT_PATH = "/audit/export.csv";

/**
 * Forwards `GET /audit/export.csv` to the audit subgraph and streams its response back (no buffering; a client that
 * goes away aborts the upstream request). The token is verified here first like on /graphql (API keys exchanged for
 * the short-lived token, revocations checked, rate limit charged); the audit subgraph verifies it again.
 */
async function proxyAuditExport(
  req: express.Request,
  res: express.Response,
  deps: { auditUrl: string; identity: GatewayIdentity; guards?: GatewayGuards; logger: Logger },
): Promise<void> {
  const requestId = normalizeRequestId(req.headers[REQUEST_ID_HEADER]);
  res.setHeader(REQUEST_ID_HEADER, requestId);
  const abort = new AbortController();
  res.on("close", () => abort.abort());
  try {
    const authorization = req.headers.authorization || undefined;
    let principal: Caller | undefined;
    let forward = authorization;
    if (authorization && deps.guards) {
      try {
        ({ caller: principal, forward } = await deps.identity.authenticate(authorization, { ip: deps.guards.clientIp(req), requestId }));
      } catch (err) {
        await deps.guards.chargeHttp(req, res);
        throw err;
      }
    }
    await deps.guards?.chargeHttp(req, res, principal);
    const target = new URL(AUDIT_EXPORT_PATH, deps.auditUrl);
    target.search = new URL(req.originalUrl, "http://gateway").search;
    const headers: Record<string, string> = { [REQUEST_ID_HEADER]: requestId };
    if (forward) headers.authorization = forward;
    const upstream = await fetch(target, { headers, signal: abort.signal });
    res.status(upstream.status);
    for (const name of ["content-type", "content-disposition", "cache-control"]) {
      const value = upstream.headers.get(name);
      if (value) res.setHeader(name, value);
    }
    if (!upstream.body) return void res.end();
    await pipeline(Readable.fromWeb(upstream.body as import("node:stream/web").ReadableStream), res);
  } catch (err) {
    if (abort.signal.aborted) return;
    if (res.headersSent) {
      deps.logger.warn({ err }, "audit export proxy cut");
      return void res.destroy();
    }
    const gql = err instanceof GraphQLError && typeof err.extensions.code === "string" ? err : undefined;
    const code = gql ? String(gql.extensions.code) : /ECONNREFUSED|fetch failed/i.test(String((err as Error)?.message)) ? ErrorCode.UPSTREAM_UNAVAILABLE : ErrorCode.INTERNAL_SERVER_ERROR;
    const status =
      code === ErrorCode.RATE_LIMITED ? 429
      : code === ErrorCode.TENANT_SUSPENDED || code === ErrorCode.FORBIDDEN ? 403
      : code === ErrorCode.UPSTREAM_UNAVAILABLE ? 503
      : code === ErrorCode.INTERNAL_SERVER_ERROR ? 500
      : 401;
    if (status === 500) deps.logger.error({ err }, "audit export proxy failed");
    const { http: _http, ...extensions } = gql?.extensions ?? {};
    res.status(status).json({ errors: [{ message: gql?.message ?? "Audit export unavailable", extensions: { ...extensions, code } }] });
  }
}
