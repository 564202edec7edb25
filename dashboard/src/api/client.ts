// One urql client per signed-in session: HTTP for queries and mutations (with silent token refresh), graphql-ws for
// subscriptions. Signing out disposes it, so no cached data or open socket outlives the session.
import { authExchange } from "@urql/exchange-auth";
import { createClient as createWsClient, type Client as WsClient } from "graphql-ws/client";
import { Client, cacheExchange, fetchExchange, subscriptionExchange, type CombinedError } from "urql";
import { GRAPHQL_URL, GRAPHQL_WS_URL } from "./endpoints.js";
import { sessionStore } from "./session.js";

/** The live socket as the header shows it; `epoch` grows at every reconnect so pages re-read what they may have missed. */
export interface LiveState {
  status: "connecting" | "connected" | "reconnecting";
  epoch: number;
}

export class LiveConnection {
  private state: LiveState = { status: "connecting", epoch: 0 };
  private readonly listeners = new Set<() => void>();
  get = (): LiveState => this.state;
  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
  update(patch: Partial<LiveState>): void {
    this.state = { ...this.state, ...patch };
    for (const listener of this.listeners) listener();
  }
}

export interface ApiClients {
  client: Client;
  live: LiveConnection;
  dispose(): void;
}

// The gateway closes a socket with 4401 when its token expires or its session is revoked (README, Errors).
const CLOSE_UNAUTHORIZED = 4401;

export function createApiClients(): ApiClients {
  const live = new LiveConnection();
  let wsToken: string | null = null;
  let connectedOnce = false;

  const ws: WsClient = createWsClient({
    url: GRAPHQL_WS_URL,
    lazy: true,
    lazyCloseTimeout: 3_000,
    keepAlive: 20_000,
    // Every connection (and reconnection) presents a current token.
    connectionParams: async () => {
      wsToken = await sessionStore.accessToken();
      return wsToken ? { authorization: `Bearer ${wsToken}` } : {};
    },
    // Dropped sockets (network, gateway restart) reconnect for as long as the page is open, with backoff up to 10 s.
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: () => true,
    retryWait: async (retries) => {
      await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, 500 * 2 ** retries) * (0.75 + Math.random() / 2)));
    },
    on: {
      connecting: () => live.update({ status: connectedOnce ? "reconnecting" : "connecting" }),
      connected: () => {
        live.update({ status: "connected", epoch: connectedOnce ? live.get().epoch + 1 : live.get().epoch });
        connectedOnce = true;
      },
      closed: () => {
        if (connectedOnce) live.update({ status: "reconnecting" });
      },
    },
  });

  const client = new Client({
    url: GRAPHQL_URL,
    requestPolicy: "cache-and-network",
    // POST (JSON) always: GET queries would need Apollo's CSRF preflight header, and carry tokens-dependent answers
    // that no HTTP cache may keep anyway.
    preferGetMethod: false,
    exchanges: [
      cacheExchange,
      authExchange(async (utils) => ({
        addAuthToOperation(operation) {
          const token = sessionStore.current?.accessToken;
          return token ? utils.appendHeaders(operation, { Authorization: `Bearer ${token}` }) : operation;
        },
        willAuthError: () => sessionStore.expiresSoon(),
        didAuthError: (error: CombinedError) =>
          error.graphQLErrors.some((e) => e.extensions?.code === "UNAUTHENTICATED") || (error.response as Response | undefined)?.status === 401,
        refreshAuth: async () => {
          await sessionStore.refresh();
        },
      })),
      subscriptionExchange({
        forwardSubscription(request) {
          const payload = { ...request, query: request.query ?? "" };
          return {
            subscribe(sink) {
              let stop = () => {};
              let stopped = false;
              // graphql-ws treats 4401 as fatal; here it means "token expired or revoked": refresh (once per token) and
              // subscribe again on a new socket. A revoked session fails to refresh and ends (sign-in page).
              const start = () => {
                stop = ws.subscribe(payload, {
                  next: (value) => sink.next(value as never),
                  complete: () => sink.complete(),
                  error: (err) => {
                    if (stopped) return;
                    const code = (err as { code?: number } | null)?.code;
                    if (code === CLOSE_UNAUTHORIZED) {
                      void sessionStore.refresh(wsToken ?? undefined).then((ok) => {
                        if (stopped) return;
                        if (ok) start();
                        else sink.error(err);
                      });
                      return;
                    }
                    sink.error(err);
                  },
                });
              };
              start();
              return {
                unsubscribe: () => {
                  stopped = true;
                  stop();
                },
              };
            },
          };
        },
      }),
      fetchExchange,
    ],
  });

  return {
    client,
    live,
    dispose: () => void ws.dispose(),
  };
}
