import http from "node:http";
import type { AddressInfo } from "node:net";
import express, { type Express, type Request } from "express";
import { ApolloServer, type ApolloServerPlugin, type BaseContext } from "@apollo/server";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import { ApolloServerPluginInlineTraceDisabled, ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import { expressMiddleware } from "@as-integrations/express5";
import { GraphQLError, type GraphQLSchema } from "graphql";
import { WebSocketServer } from "ws";
import { useServer } from "graphql-ws/use/ws";
import type { Logger } from "pino";
import { CLIENT_IP_HEADER, CLIENT_USER_AGENT_HEADER, REQUEST_ID_HEADER, normalizeRequestId, type ClientInfo } from "./request-id.js";
import { formatErrorFor } from "./errors.js";
import { jsonBodyErrors, rejectNulCharacters } from "./input-guards.js";

/** What a running HTTP service exposes to its composition root. */
export interface RunningService {
  name: string;
  url: string;
  wsUrl: string;
  port: number;
  stop(): Promise<void>;
}

/** Readiness checks: name → healthy. */
export type ReadinessCheck = () => Promise<Record<string, boolean>>;

/** Liveness and readiness endpoints, shared by every service. */
export function mountHealth(app: Express, ready: ReadinessCheck): void {
  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/readyz", async (_req, res) => {
    const checks = await ready().catch(() => ({ readiness: false }));
    const ok = Object.values(checks).every(Boolean);
    res.status(ok ? 200 : 503).json({ status: ok ? "ready" : "unavailable", checks });
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
  context: (input: { authorization?: string; requestId: string; client: ClientInfo }) => Promise<TContext>;
  ready: ReadinessCheck;
  routes?: (app: Express) => void;
}): Promise<RunningService> {
  const app = express();
  app.disable("x-powered-by");
  const httpServer = http.createServer(app);
  const wss = new WebSocketServer({ server: httpServer, path: "/graphql" });
  const wsServer = useServer<Record<string, unknown> | undefined, { requestId?: string }>(
    {
      schema: opts.schema,
      context: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        return opts.context({
          authorization: typeof params.authorization === "string" ? params.authorization : undefined,
          requestId: normalizeRequestId(params[REQUEST_ID_HEADER]),
          client: {},
        });
      },
      onError: (_ctx, _id, _payload, errors) => {
        opts.logger.warn({ errors: errors.map((e) => e.message) }, "subscription error");
      },
    },
    wss,
  );

  const apollo = new ApolloServer<TContext>({
    schema: opts.schema,
    formatError: formatErrorFor(opts.logger),
    includeStacktraceInErrorResponses: false,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
      operationLogPlugin(opts.logger) as ApolloServerPlugin<TContext>,
      rejectNulCharacters<TContext>(),
      { async serverWillStart() { return { async drainServer() { await wsServer.dispose(); } }; } },
    ],
  });
  await apollo.start();

  mountHealth(app, opts.ready);
  opts.routes?.(app);
  app.use(
    "/graphql",
    express.json({ limit: "2mb" }),
    expressMiddleware(apollo, {
      context: async ({ req, res }) => {
        const requestId = normalizeRequestId(req.headers[REQUEST_ID_HEADER]);
        res.setHeader(REQUEST_ID_HEADER, requestId);
        try {
          return await opts.context({ authorization: authorizationOf(req), requestId, client: clientOf(req) });
        } catch (err) {
          // Refused before execution: 401 for who-are-you problems, 403 for suspended tenants; the body keeps the code.
          if (err instanceof GraphQLError && typeof err.extensions.code === "string") {
            throw withHttpStatus(err, err.extensions.code === "UNAUTHENTICATED" ? 401 : err.extensions.code === "UPSTREAM_UNAVAILABLE" ? 503 : 403);
          }
          throw err;
        }
      },
    }),
  );
  app.use(jsonBodyErrors);

  const { port, url, wsUrl } = await listenGraphQL(httpServer, opts.host, opts.port);
  opts.logger.info({ port }, `${opts.name} listening`);
  return {
    name: opts.name,
    port,
    url,
    wsUrl,
    async stop() {
      await apollo.stop();
    },
  };
}

/** The original client as the gateway reports it (subgraphs are internal: only the gateway calls them). */
function clientOf(req: Request): ClientInfo {
  const ip = req.headers[CLIENT_IP_HEADER];
  const ua = req.headers[CLIENT_USER_AGENT_HEADER] ?? req.headers["user-agent"];
  return {
    ip: typeof ip === "string" && ip.length <= 64 ? ip : req.socket.remoteAddress,
    userAgent: typeof ua === "string" ? ua.slice(0, 512) : undefined,
  };
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

function authorizationOf(req: Request): string | undefined {
  const value = req.headers.authorization;
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

/** Marks a context-creation error (bad token) with an HTTP status for Apollo. */
export function withHttpStatus(error: GraphQLError, status: number): GraphQLError {
  return new GraphQLError(error.message, { extensions: { ...error.extensions, http: { status } } });
}
