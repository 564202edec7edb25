// The gateway's guards, wired for both transports. Everything here runs before a query is planned:
//
//   HTTP      express: batch size, tokens (before parsing) → Apollo context function: JWT (gateway.ts), then the
//             rate limit charge → Apollo plugin: depth / aliases / cost (after validation)
//   WebSocket graphql-ws onSubscribe, for every operation on the socket (queries, mutations and subscribe requests):
//             rate limit charge, tokens, parse, validate, depth / aliases / cost
//
// Rate limiting is charged in the context function rather than in a plugin hook: it runs once per HTTP request
// before parsing, so a limited client costs no parse or validation, invalid documents are counted too, and the
// response headers (429, Retry-After, RateLimit-*) can be set directly.
import type { IncomingMessage } from "node:http";
import type { ApolloServerPlugin, BaseContext } from "@apollo/server";
import type { Request, RequestHandler, Response } from "express";
import { GraphQLError, NoSchemaIntrospectionCustomRule, specifiedRules, type ExecutionArgs, type GraphQLSchema } from "graphql";
import type { SubscribePayload } from "graphql-ws";
import type { Logger } from "pino";
import proxyaddr from "proxy-addr";
import { withHttpStatus } from "../../kernel/errors.js";
import { parseAndValidate } from "../../kernel/http.js";
import { DEFAULT_QUERY_LIMITS, QueryCostGuard, queryTooComplex, type QueryLimits } from "../../kernel/query-limits.js";
import {
  DEFAULT_RATE_LIMIT,
  PlanRateLimiter,
  rateLimitedError,
  rateLimitHeaders,
  type RateLimitConfig,
  type RateLimitedCaller,
} from "./rate-limit.js";

/** Which proxies' X-Forwarded-For to believe for the client IP, in express' `trust proxy` syntax. */
export type TrustProxy = boolean | number | string;

export interface GuardsConfig {
  rateLimit?: Partial<RateLimitConfig>;
  queryLimits?: Partial<QueryLimits>;
  /** Default false: the client IP is the socket's peer address. */
  trustProxy?: TrustProxy;
}

export class GatewayGuards {
  readonly cost: QueryCostGuard;
  private readonly trust: (addr: string, hop: number) => boolean;

  private constructor(
    config: GuardsConfig,
    private readonly limiter: PlanRateLimiter,
  ) {
    this.cost = new QueryCostGuard({ ...DEFAULT_QUERY_LIMITS, ...config.queryLimits });
    this.trust = compileTrust(config.trustProxy ?? false);
  }

  static async create(config: GuardsConfig, deps: { logger: Logger; redisUrl?: string }): Promise<GatewayGuards> {
    const limiter = await PlanRateLimiter.create({ ...DEFAULT_RATE_LIMIT, ...config.rateLimit }, deps);
    return new GatewayGuards(config, limiter);
  }

  /** The client's address (through trusted proxies only), for the rate limit of unauthenticated calls. */
  clientIp(req: IncomingMessage): string {
    return proxyaddr(req, this.trust);
  }

  get allowBatchedHttpRequests(): boolean {
    return this.cost.limits.maxBatch > 1;
  }

  /**
   * Express middleware, before Apollo: a JSON array body holds at most `maxBatch` operations (Apollo refuses arrays
   * itself when it is 1), and no document has more than `maxTokens` tokens. Tokens are checked here because Apollo
   * has no hook before parsing that can refuse a request (an error thrown from `didResolveSource` becomes a 500).
   */
  readonly documentLimits: RequestHandler = (req, res, next) => {
    const refuse = (error: GraphQLError) => void res.status(400).json({ errors: [error.toJSON()] });
    const max = this.cost.limits.maxBatch;
    if (Array.isArray(req.body) && req.body.length > max && max > 1) return refuse(queryTooComplex(`A batch may hold at most ${max} operations`, { maxBatch: max }));
    const operations: unknown[] = Array.isArray(req.body) ? req.body : [req.method === "GET" ? req.query : req.body];
    for (const operation of operations) {
      const query = (operation as { query?: unknown } | null)?.query;
      const error = typeof query === "string" ? this.cost.checkTokens(query) : undefined;
      if (error) return refuse(error);
    }
    next();
  };

  /**
   * Charges the request (each operation of a batch) to the caller's tenant, or to the client IP without a caller.
   * Sets the RateLimit headers; when over the limit throws RATE_LIMITED with HTTP 429 and Retry-After.
   */
  async chargeHttp(req: Request, res: Response, caller?: RateLimitedCaller): Promise<void> {
    const points = Array.isArray(req.body) ? Math.max(1, req.body.length) : 1;
    const decision = await this.limiter.consume(this.limiter.subjectOf(caller, this.clientIp(req)), points);
    if (!decision) return;
    for (const [name, value] of Object.entries(rateLimitHeaders(decision))) res.setHeader(name, value);
    if (!decision.allowed) throw withHttpStatus(rateLimitedError(decision), 429);
  }

  /** Apollo plugin: depth / aliases / cost once the operation is validated (each operation of a batch on its own). */
  apolloPlugin<T extends BaseContext>(): ApolloServerPlugin<T> {
    const cost = this.cost;
    return {
      async requestDidStart() {
        return {
          async didResolveOperation({ schema, document, request }) {
            const error = cost.checkOperation(schema, document, request.operationName, request.variables);
            if (error) throw withHttpStatus(error, 400);
          },
        };
      },
    };
  }

  /** graphql-ws: charges one request for every operation started on the socket. */
  async chargeWs(caller: RateLimitedCaller | undefined, request: IncomingMessage): Promise<GraphQLError | undefined> {
    const decision = await this.limiter.consume(this.limiter.subjectOf(caller, this.clientIp(request)));
    return decision && !decision.allowed ? rateLimitedError(decision) : undefined;
  }

  close(): Promise<void> {
    return this.limiter.close();
  }
}

/**
 * graphql-ws `onSubscribe`: builds the execution arguments itself so that the same rules apply as over HTTP
 * (introspection refused when it is off; with guards, the rate limit and the cost limits). Errors carry the codes
 * Apollo uses over HTTP.
 */
export async function prepareWsOperation(opts: {
  schema: GraphQLSchema;
  payload: SubscribePayload;
  introspection: boolean;
  guards?: GatewayGuards;
  caller?: RateLimitedCaller;
  request: IncomingMessage;
}): Promise<ExecutionArgs | GraphQLError[]> {
  const { schema, payload, guards } = opts;
  const limited = await guards?.chargeWs(opts.caller, opts.request);
  if (limited) return [limited];
  const tooManyTokens = guards?.cost.checkTokens(payload.query);
  if (tooManyTokens) return [tooManyTokens];
  const rules = opts.introspection ? specifiedRules : [...specifiedRules, NoSchemaIntrospectionCustomRule];
  const document = parseAndValidate(schema, payload.query, rules);
  if (Array.isArray(document)) return document;
  const tooComplex = guards?.cost.checkOperation(schema, document, payload.operationName, payload.variables);
  if (tooComplex) return [tooComplex];
  return { schema, document, operationName: payload.operationName, variableValues: payload.variables };
}

/** express' `trust proxy` semantics: true trusts every hop, a number that many hops, a string these addresses/subnets. */
function compileTrust(value: TrustProxy): (addr: string, hop: number) => boolean {
  if (typeof value === "boolean") return () => value;
  if (typeof value === "number") return (_addr, hop) => hop < value;
  return proxyaddr.compile(value.split(",").map((s) => s.trim()));
}

