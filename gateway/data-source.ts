import http from "node:http";
import { RemoteGraphQLDataSource } from "@apollo/gateway";
import { GraphQLError } from "graphql";
import { ErrorCode } from "../kernel/errors.js";
import { localEndpoint } from "../kernel/graphql-endpoint.js";
import { GATEWAY_PROOF_HEADER } from "../kernel/query-limits.js";
import { parseFramed, RAW_JSON_HEADER, rawJsonNonce } from "../kernel/http.js";

import { CLIENT_IP_HEADER, CLIENT_USER_AGENT_HEADER, REQUEST_ID_HEADER } from "../kernel/request-id.js";

/** What a gateway request carries to the subgraphs. */
export interface ForwardedContext {
  authorization?: string;
  requestId: string;
  clientIp?: string;
  userAgent?: string;
  /**
   * Set for operations whose result the gateway serialises itself (HTTP): subgraphs may then send JSON values they hold
   * as text (a pull's documents) framed, and those values pass through the gateway as text (kernel/http.ts, RawJson).
   */
  rawJson?: boolean;
  /**
   * The client's request body (its bytes and the object parsed from them), when it holds only query, operationName and
   * variables: an operation that passes through unchanged can forward it as it came (gateway/passthrough.ts).
   */
  clientBody?: { bytes: Buffer; parsed: Record<string, unknown> };
}

type FetcherRequestInit = NonNullable<Parameters<RemoteGraphQLDataSource["fetcher"]>[1]>;
type FetcherResponse = Awaited<ReturnType<RemoteGraphQLDataSource["fetcher"]>>;

/** Keep-alive connections to the subgraphs, shared by every data source of the process (closed before the subgraph's
 * own idle timeout, which it announces in `Keep-Alive`). */
const subgraphAgent = new http.Agent({ keepAlive: true, scheduling: "lifo" });

/** A subgraph's answer, read in full (what Apollo's data source needs of a fetch Response). */
class SubgraphResponse implements FetcherResponse {
  readonly bodyUsed = false;
  readonly redirected = false;

  constructor(
    readonly url: string,
    readonly status: number,
    readonly statusText: string,
    readonly headers: Headers,
    private readonly body: string,
  ) {}

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  async text(): Promise<string> {
    return this.body;
  }

  async json(): Promise<unknown> {
    return JSON.parse(this.body);
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    return new TextEncoder().encode(this.body).buffer as ArrayBuffer;
  }

  /** The body is kept as text, so it can be read any number of times. */
  clone(): FetcherResponse {
    return this;
  }
}

/**
 * POSTs to a subgraph: in-process when a subgraph of this process serves `url` (kernel/graphql-endpoint.ts; the
 * embedded default; `parsed`, when given, is the body already parsed and is handed over as it is), else with node:http
 * over kept-alive connections. (Measured: reading a 1,000-document pull page
 * through fetch/undici's web streams cost the gateway 1.5–2 ms more CPU than reading it as plain buffers.)
 */
export async function postToSubgraph(url: string, init: FetcherRequestInit = {}, parsed?: object): Promise<FetcherResponse> {
  const body = init.body ?? "";
  const local = localEndpoint(url);
  if (local) {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(init.headers ?? {})) headers[name.toLowerCase()] = String(value);
    const answer = await local({ method: init.method ?? "POST", headers, search: "", body, parsed });
    return new SubgraphResponse(url, answer.status, http.STATUS_CODES[answer.status] ?? "", new Headers([...answer.headers]), answer.body);
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: init.method ?? "POST", agent: subgraphAgent, headers: { ...init.headers, "content-length": String(Buffer.byteLength(body)) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (Array.isArray(value)) for (const v of value) headers.append(name, v);
            else if (value !== undefined) headers.set(name, value);
          }
          const text = (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString("utf8");
          resolve(new SubgraphResponse(url, res.statusCode ?? 0, res.statusMessage ?? "", headers, text));
        });
      },
    );
    // As fetch (undici) did: a subgraph that goes silent for 5 minutes fails the request (UPSTREAM_UNAVAILABLE).
    req.setTimeout(300_000, () => req.destroy(Object.assign(new Error("subgraph request timed out (ETIMEDOUT)"), { code: "ETIMEDOUT" })));
    req.on("error", reject);
    req.end(body);
  });
}

/** What every request to a subgraph carries of the caller's: token, request id, client address and user agent. */
function forwardedHeaders(ctx: Partial<ForwardedContext>): Record<string, string> {
  const headers: Record<string, string> = {};
  if (ctx.authorization) headers.authorization = ctx.authorization;
  if (ctx.requestId) headers[REQUEST_ID_HEADER] = ctx.requestId;
  if (ctx.clientIp) headers[CLIENT_IP_HEADER] = ctx.clientIp;
  if (ctx.userAgent) headers[CLIENT_USER_AGENT_HEADER] = ctx.userAgent;
  return headers;
}

/** Fetches from a subgraph, forwarding the caller's token (every subgraph verifies it itself) and the request id. */
export class ForwardingDataSource extends RemoteGraphQLDataSource<ForwardedContext & Record<string, unknown>> {
  private readonly proof: Record<string, string>;

  /**
   * Plain node:http with pooled keep-alive connections instead of Apollo's default make-fetch-happen layers.
   * `internalSecret` proves to the subgraph that the gateway sent the operation (planner bounds apply there, see
   * kernel/query-limits.ts).
   */
  constructor(config: ConstructorParameters<typeof RemoteGraphQLDataSource>[0] & { internalSecret?: string }) {
    const { internalSecret, ...rest } = config;
    super({ fetcher: postToSubgraph, ...rest });
    this.proof = internalSecret ? { [GATEWAY_PROOF_HEADER]: internalSecret } : {};
  }

  override willSendRequest({ request, context }: Parameters<RemoteGraphQLDataSource["willSendRequest"] & {}>[0]): void {
    const ctx = context as Partial<ForwardedContext>;
    for (const [name, value] of Object.entries({ ...forwardedHeaders(ctx), ...this.proof })) request.http?.headers.set(name, value);
    if (ctx.rawJson) request.http?.headers.set(RAW_JSON_HEADER, rawJsonNonce());
  }

  /**
   * Sends an operation of the query plan as the general path does (same headers), for the gateway's pass-through
   * (gateway/passthrough.ts); `extra` are further request headers. The body is the operation to send, or the client's
   * own body when it asks exactly that (then it is not serialised again; in-process, not even parsed again).
   * Resolves with the answer's status and body text.
   */
  async passthrough(
    body: { query: string; operationName?: string; variables: Record<string, unknown> } | { client: NonNullable<ForwardedContext["clientBody"]> },
    ctx: Partial<ForwardedContext>,
    extra: Record<string, string>,
  ): Promise<{ status: number; text: string }> {
    const headers = { "content-type": "application/json", ...forwardedHeaders(ctx), ...this.proof, ...extra };
    const res =
      "client" in body
        ? await postToSubgraph(this.url!, { method: "POST", headers, body: body.client.bytes }, body.client.parsed)
        : await postToSubgraph(this.url!, { method: "POST", headers, body: JSON.stringify(body) });
    return { status: res.status, text: await res.text() };
  }

  /** A request that carried a raw-JSON nonce may get a framed answer (kernel/http.ts); others parse as usual. */
  override async parseBody(
    response: Parameters<RemoteGraphQLDataSource["parseBody"]>[0],
    request?: Parameters<RemoteGraphQLDataSource["parseBody"]>[1],
    context?: ForwardedContext & Record<string, unknown>,
  ): Promise<object | string> {
    const nonce = request?.headers.get(RAW_JSON_HEADER);
    const type = response.headers.get("content-type") ?? "";
    if (!nonce || !(type.startsWith("application/json") || type.startsWith("application/graphql-response+json"))) return super.parseBody(response, request, context);
    return parseFramed(await response.text(), nonce) as object;
  }

  /**
   * A subgraph that refuses a request before executing it (bad or revoked token, suspended tenant) answers with a
   * non-2xx status and a GraphQL error body; keep its public code instead of Apollo's generic status mapping.
   */
  override async errorFromResponse(response: Parameters<RemoteGraphQLDataSource["errorFromResponse"]>[0]): Promise<GraphQLError> {
    const body = (await response.clone().json().catch(() => null)) as { errors?: { message?: string; extensions?: { code?: unknown } }[] } | null;
    const first = body?.errors?.[0];
    const code = first?.extensions?.code;
    if (typeof code === "string" && (Object.values(ErrorCode) as string[]).includes(code)) {
      return new GraphQLError(first?.message ?? code, { extensions: { code } });
    }
    return super.errorFromResponse(response);
  }
}
