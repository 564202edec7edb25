import { HeaderMap, type ApolloServer, type BaseContext } from "@apollo/server";
import bytes from "bytes";
import express, { type Express, type Request, type RequestHandler } from "express";
import { GraphQLError } from "graphql";
import { CLIENT_IP_HEADER, CLIENT_USER_AGENT_HEADER, REQUEST_ID_HEADER, normalizeRequestId, type ClientInfo } from "./request-id.js";
import { Errors, isUnavailableError, withHttpStatus } from "./errors.js";
import { ANONYMOUS_BODY_BYTES, bodyErrorResult, noteNulFreeVariables } from "./input-guards.js";

// ---- A subgraph's GraphQL endpoint, over HTTP and in-process ---------------------------------------------------------
//
// A subgraph answers GraphQL requests through one function of the request (method, headers, body text), whichever way
// the request came: its HTTP route (`/graphql`) adapts express requests to it, and a gateway in the same process (the
// embedded default runs the whole stack in one process) calls it directly, without a loopback socket: no HTTP framing,
// no copying a pull page through the kernel and back, no decoding it again (measured: about 3 ms of a 1,000-document
// pull page's 14 at the sync subgraph). The subgraph cannot tell the difference: same body limit, same parsing, same
// headers (token, request id, client), same context, same status codes. Processes that serve a URL register their
// endpoint under it while they run (see {@link localEndpoint}); callers fall back to HTTP for any other URL.

/** A GraphQL request to a subgraph. Header names are lower case. */
export interface EndpointRequest {
  method: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The URL's query string (`?…`, GET requests), or "". */
  search: string;
  /** The body (undefined: no body). */
  body: string | Buffer | undefined;
  /**
   * The body already parsed (in-process callers that hold it: a gateway forwarding its client's body as it came). It is
   * used as it is: the caller must not use it afterwards.
   */
  parsed?: object;
  /** The TCP peer (HTTP only). */
  remoteAddress?: string;
}

/** A subgraph's answer: status, headers (names in lower case) and the body's text. */
export interface EndpointResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
}

export type GraphQLEndpoint = (request: EndpointRequest) => Promise<EndpointResponse>;

/** What a subgraph's context is built from: the raw authorization value, the request id and the original client. */
export interface EndpointContextInput {
  authorization?: string;
  requestId: string;
  client: ClientInfo;
}

const JSON_MEDIA_TYPE = /^application\/json\s*(;|$)/i;

/**
 * The GraphQL endpoint of `apollo`: bodies up to `limit` (as express.json's: e.g. "2mb") of media type
 * application/json, parsed; the caller verified by `context` (a refusal before execution gets 401 for who-are-you
 * problems, 503 when a dependency is down, 403 otherwise, with the error's code in the body); the request id echoed.
 */
export function graphqlEndpoint<TContext extends BaseContext>(
  apollo: ApolloServer<TContext>,
  limit: string | number,
  context: (input: EndpointContextInput) => Promise<TContext>,
  /** Checks of the request before Apollo parses it (the query's token count): an error is answered with HTTP 400. */
  precheck?: (request: { headers: HeaderMap; search: string; body: unknown }) => GraphQLError | undefined,
): GraphQLEndpoint {
  const maxBytes = bytes.parse(limit) ?? 0;
  return async (request) => {
    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(request.headers)) if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
    let body: unknown;
    if (request.body !== undefined && JSON_MEDIA_TYPE.test(headers.get("content-type") ?? "")) {
      if (Buffer.byteLength(request.body) > maxBytes) return bodyError(413, maxBytes);
      try {
        body = request.parsed ?? JSON.parse(typeof request.body === "string" ? request.body : request.body.toString("utf8"));
      } catch {
        return bodyError(400);
      }
      // As express.json (strict): a JSON object or array.
      if (body === null || typeof body !== "object") return bodyError(400);
      noteNulFreeVariables(body, request.body);
    }
    const refused = precheck?.({ headers, search: request.search, body });
    if (refused) return { status: 400, headers: new Map([["content-type", "application/json; charset=utf-8"]]), body: JSON.stringify({ errors: [refused.toJSON()] }) };
    const requestId = normalizeRequestId(headers.get(REQUEST_ID_HEADER));
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: request.method.toUpperCase(), headers, search: request.search, body },
      context: async () => {
        try {
          return await context({ authorization: headers.get("authorization") || undefined, requestId, client: clientOf(headers, request.remoteAddress) });
        } catch (err) {
          // Refused before execution: 401 for who-are-you problems, 403 for suspended tenants; the body keeps the code.
          if (err instanceof GraphQLError && typeof err.extensions.code === "string") {
            throw withHttpStatus(err, err.extensions.code === "UNAUTHENTICATED" ? 401 : err.extensions.code === "UPSTREAM_UNAVAILABLE" ? 503 : 403);
          }
          // The database (or a service the context asks) is unreachable: retryable, not an internal error.
          if (isUnavailableError(err)) throw withHttpStatus(Errors.unavailable(), 503);
          throw err;
        }
      },
    });
    const answer = new Map<string, string>(response.headers);
    answer.set(REQUEST_ID_HEADER, requestId);
    let text: string;
    if (response.body.kind === "complete") text = response.body.string;
    else {
      // Incremental delivery (never asked of a subgraph by the gateway): the parts, in order, as one body.
      text = "";
      for await (const chunk of response.body.asyncIterator) text += chunk;
    }
    return { status: response.status ?? 200, headers: answer, body: text };
  };
}

function bodyError(status: number, maxBytes?: number): EndpointResponse {
  return { status, headers: new Map([["content-type", "application/json; charset=utf-8"]]), body: JSON.stringify(bodyErrorResult(status, maxBytes)) };
}

/** The original client as the gateway reports it (subgraphs are internal: only the gateway calls them). */
function clientOf(headers: HeaderMap, remoteAddress: string | undefined): ClientInfo {
  const ip = headers.get(CLIENT_IP_HEADER);
  const ua = headers.get(CLIENT_USER_AGENT_HEADER) ?? headers.get("user-agent");
  return {
    ip: ip !== undefined && ip.length <= 64 ? ip : remoteAddress,
    userAgent: ua !== undefined ? ua.slice(0, 512) : undefined,
  };
}

/**
 * Serves `endpoint` on `path` of `app`: the body read as text (up to `limit`; too large or unreadable bodies are
 * answered by the app's body error handler), then answered by the endpoint.
 */
export function mountGraphQLEndpoint(app: Express, path: string, limit: string | number, endpoint: GraphQLEndpoint): void {
  // A body over 1 MiB (up to the limit: a large push) is read only when it comes with a token (the gateway forwards its
  // caller's; the context verifies it): nobody makes a subgraph parse 64 MiB anonymously.
  const anonymous: RequestHandler = (req, res, next) => {
    const length = Number(req.headers["content-length"]);
    if (req.method !== "POST" || req.headers.authorization || (Number.isFinite(length) && length <= ANONYMOUS_BODY_BYTES)) return next();
    res.status(401).json({ errors: [{ message: `A request body over ${ANONYMOUS_BODY_BYTES} bytes needs a token`, extensions: { code: "UNAUTHENTICATED" } }] });
  };
  app.use(path, anonymous, express.text({ type: () => true, limit }), (req: Request, res, next) => {
    const query = req.url.indexOf("?");
    endpoint({ method: req.method, headers: req.headers, search: query >= 0 ? req.url.slice(query) : "", body: typeof req.body === "string" ? req.body : undefined, remoteAddress: req.socket.remoteAddress })
      .then((answer) => {
        for (const [name, value] of answer.headers) res.setHeader(name, value);
        res.status(answer.status).send(answer.body);
      })
      .catch(next);
  });
}

// ---- In-process endpoints ---------------------------------------------------------------------------------------------

const localEndpoints = new Map<string, GraphQLEndpoint>();

/** Registers `endpoint` as serving `url` in this process (until the returned function is called). */
export function registerLocalEndpoint(url: string, endpoint: GraphQLEndpoint): () => void {
  localEndpoints.set(url, endpoint);
  return () => {
    if (localEndpoints.get(url) === endpoint) localEndpoints.delete(url);
  };
}

/** The endpoint serving `url` in this process, if one does (see the section comment). */
export function localEndpoint(url: string): GraphQLEndpoint | undefined {
  return localEndpoints.get(url);
}
