import { RemoteGraphQLDataSource } from "@apollo/gateway";
import { GraphQLError } from "graphql";
import { ErrorCode } from "../kernel/errors.js";

import { CLIENT_IP_HEADER, CLIENT_USER_AGENT_HEADER, REQUEST_ID_HEADER } from "../kernel/request-id.js";

/** What a gateway request carries to the subgraphs. */
export interface ForwardedContext {
  authorization?: string;
  requestId: string;
  clientIp?: string;
  userAgent?: string;
}

/** Fetches from a subgraph, forwarding the caller's token (every subgraph verifies it itself) and the request id. */
export class ForwardingDataSource extends RemoteGraphQLDataSource<ForwardedContext & Record<string, unknown>> {
  /** Node's own fetch (undici, pooled keep-alive connections) instead of Apollo's default make-fetch-happen layers. */
  constructor(config: ConstructorParameters<typeof RemoteGraphQLDataSource>[0]) {
    super({ fetcher: globalThis.fetch as never, ...config });
  }

  override willSendRequest({ request, context }: Parameters<RemoteGraphQLDataSource["willSendRequest"] & {}>[0]): void {
    const ctx = context as Partial<ForwardedContext>;
    if (ctx.authorization) request.http?.headers.set("authorization", ctx.authorization);
    if (ctx.requestId) request.http?.headers.set(REQUEST_ID_HEADER, ctx.requestId);
    if (ctx.clientIp) request.http?.headers.set(CLIENT_IP_HEADER, ctx.clientIp);
    if (ctx.userAgent) request.http?.headers.set(CLIENT_USER_AGENT_HEADER, ctx.userAgent);
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
