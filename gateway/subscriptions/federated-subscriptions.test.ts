import { describe, it, expect, afterEach } from "@jest/globals";
import { EventEmitter } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginInlineTraceDisabled } from "@apollo/server/plugin/disabled";
import { expressMiddleware } from "@as-integrations/express5";
import { buildSubgraphSchema } from "@apollo/subgraph";
import { composeServices } from "@apollo/composition";
import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from "@apollo/gateway";
import { GraphQLError, parse, type ExecutionResult, type GraphQLSchema } from "graphql";
import { createClient, type Client, type FormattedExecutionResult } from "graphql-ws";
import { useServer } from "graphql-ws/use/ws";
import WebSocket, { WebSocketServer } from "ws";
import { pino } from "pino";
import { FederatedSubscriptions, type FederatedSubscriptionsOptions, type SubscriptionContext } from "./federated-subscriptions.js";

// ---------------------------------------------------------------------------------------------------------------
// Two tiny subgraphs, composed; a graphql-ws "gateway" whose subscribe hook is FederatedSubscriptions.subscribe.
// ---------------------------------------------------------------------------------------------------------------

const RUNS_SDL = /* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
  type Run @key(fields: "id") {
    id: ID!
    status: String!
    owner: User!
  }
  type User @key(fields: "id", resolvable: false) {
    id: ID!
  }
  type Query {
    run(id: ID!): Run
  }
  type Subscription {
    runUpdated(id: ID!): Run!
  }
`;

const USERS_SDL = /* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
  type User @key(fields: "id") {
    id: ID!
    email: String!
  }
  type Query {
    user(id: ID!): User
  }
`;

const RUN_UPDATED = /* GraphQL */ `
  subscription RunUpdated($id: ID!) {
    runUpdated(id: $id) {
      id
      status
      owner {
        email
      }
    }
  }
`;

const TOKEN = "Bearer alice-secret-token";

/** What subgraph A publishes; `fail` makes the event's resolver throw with that code. */
interface RunEvent {
  status: string;
  ownerId: string;
  fail?: string;
}

interface Closer {
  (): Promise<void>;
}

const cleanups: Closer[] = [];
afterEach(async () => {
  // Reverse order: downstream clients, gateway, FederatedSubscriptions, then subgraphs.
  while (cleanups.length) await cleanups.pop()!();
});

async function listen(server: Server, port = 0): Promise<number> {
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

async function closeHttp(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/**
 * An async iterator over emitter events whose `return()` takes effect at once (a native async generator would only
 * notice it at the next event), so the test can observe exactly when the gateway ends the upstream subscription.
 */
function eventStream<T>(emitter: EventEmitter, topic: string, onReturn: () => void): AsyncIterableIterator<T> {
  const buffer: T[] = [];
  let waiter: ((r: IteratorResult<T>) => void) | undefined;
  let done = false;
  const listener = (value: T) => {
    if (waiter) {
      const w = waiter;
      waiter = undefined;
      w({ done: false, value });
    } else buffer.push(value);
  };
  emitter.on(topic, listener);
  const finish = (): IteratorResult<T> => {
    if (!done) {
      done = true;
      emitter.off(topic, listener);
      onReturn();
      waiter?.({ done: true, value: undefined });
      waiter = undefined;
    }
    return { done: true, value: undefined };
  };
  return {
    next: () => {
      if (buffer.length) return Promise.resolve({ done: false, value: buffer.shift()! });
      if (done) return Promise.resolve({ done: true, value: undefined });
      return new Promise((resolve) => (waiter = resolve));
    },
    return: async () => finish(),
    throw: async () => finish(),
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/**
 * Subgraph A: owns Run and Subscription.runUpdated, over HTTP and graphql-ws on the same path. `port` restarts it
 * where a killed instance was.
 */
async function startRunsSubgraph(port = 0) {
  const emitter = new EventEmitter();
  const state = {
    subscribed: 0,
    returned: 0,
    connectionParams: [] as Record<string, unknown>[],
  };
  const schema = buildSubgraphSchema({
    typeDefs: parse(RUNS_SDL),
    resolvers: {
      Query: { run: (_: unknown, { id }: { id: string }) => ({ id, status: "IDLE", owner: { id: "u0" } }) },
      Subscription: {
        runUpdated: {
          subscribe: (_: unknown, { id }: { id: string }, ctx: unknown) => {
            if (!(ctx as { authorization?: string }).authorization) throw new GraphQLError("Sign in first", { extensions: { code: "UNAUTHENTICATED" } });
            if (id === "missing") throw new GraphQLError(`Run ${id} not found`, { extensions: { code: "NOT_FOUND" } });
            state.subscribed++;
            return eventStream<RunEvent>(emitter, `run:${id}`, () => state.returned++);
          },
          resolve: (event: RunEvent, { id }: { id: string }) => {
            if (event.fail) throw new GraphQLError(`Run ${id} failed`, { extensions: { code: event.fail } });
            return { id, status: event.status, owner: { id: event.ownerId } };
          },
        },
      },
    },
  });
  const app = express();
  const http = createServer(app);
  const wss = new WebSocketServer({ server: http, path: "/graphql" });
  const ws = useServer(
    {
      schema,
      onConnect: (ctx) => {
        state.connectionParams.push({ ...(ctx.connectionParams ?? {}) });
      },
      context: (ctx) => ({ authorization: ctx.connectionParams?.authorization as string | undefined }),
    },
    wss,
  );
  const apollo = new ApolloServer({ schema, plugins: [ApolloServerPluginInlineTraceDisabled()] });
  await apollo.start();
  app.use("/graphql", express.json(), expressMiddleware(apollo));
  port = await listen(http, port);

  let stopped = false;
  /** Crash-like: drops every socket abruptly, then stops listening. */
  const kill = async () => {
    if (stopped) return;
    stopped = true;
    for (const socket of wss.clients) socket.terminate();
    await ws.dispose();
    await apollo.stop();
    await closeHttp(http);
  };
  cleanups.push(kill);
  return {
    ...state,
    state,
    port,
    url: `http://127.0.0.1:${port}/graphql`,
    publish: (id: string, event: RunEvent) => emitter.emit(`run:${id}`, event),
    listeners: (id: string) => emitter.listenerCount(`run:${id}`),
    kill,
  };
}

/** Subgraph B: owns User.email, over HTTP; records every `_entities` fetch with its forwarded headers. */
async function startUsersSubgraph() {
  const entityFetches: { authorization?: string; requestId?: string }[] = [];
  const schema = buildSubgraphSchema({
    typeDefs: parse(USERS_SDL),
    resolvers: {
      Query: { user: (_: unknown, { id }: { id: string }) => ({ id }) },
      User: {
        __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
        email: (user: { id: string }) => `${user.id}@example.com`,
      },
    },
  });
  const apollo = new ApolloServer({ schema, plugins: [ApolloServerPluginInlineTraceDisabled()] });
  await apollo.start();
  const app = express();
  app.use(
    "/graphql",
    express.json(),
    (req, _res, next) => {
      const query: unknown = req.body?.query;
      if (typeof query === "string" && query.includes("_entities")) {
        entityFetches.push({ authorization: req.headers.authorization, requestId: req.headers["x-request-id"] as string | undefined });
      }
      next();
    },
    expressMiddleware(apollo),
  );
  const http = createServer(app);
  const port = await listen(http);
  cleanups.push(async () => {
    await apollo.stop();
    await closeHttp(http);
  });
  return { url: `http://127.0.0.1:${port}/graphql`, entityFetches };
}

/** What the gateway's data source does for queries: forward authorization and the request id. */
class ForwardingDataSource extends RemoteGraphQLDataSource<SubscriptionContext> {
  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<SubscriptionContext>): void {
    if (context.authorization) request.http?.headers.set("authorization", context.authorization);
    if (context.requestId) request.http?.headers.set("x-request-id", context.requestId);
  }
}

/** Starts both subgraphs, composes them, and serves FederatedSubscriptions over graphql-ws. */
async function startStack(options: Partial<FederatedSubscriptionsOptions> = {}) {
  const runs = await startRunsSubgraph();
  const users = await startUsersSubgraph();
  const composed = composeServices([
    { name: "runs", typeDefs: parse(RUNS_SDL), url: runs.url },
    { name: "users", typeDefs: parse(USERS_SDL), url: users.url },
  ]);
  if (composed.errors) throw new Error(composed.errors.map((e) => e.message).join("\n"));

  const logs: string[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => void logs.push(line) });
  const subs = new FederatedSubscriptions({
    logger,
    dataSourceFor: (_name, url) => new ForwardingDataSource({ url }),
    retry: { attempts: 2, baseDelayMs: 20 },
    ...options,
  });
  subs.load(composed.supergraphSdl);
  cleanups.push(() => subs.close());

  const http = createServer();
  const wss = new WebSocketServer({ server: http, path: "/graphql" });
  let requests = 0;
  const ws = useServer(
    {
      schema: () => subs.apiSchema,
      context: (ctx): SubscriptionContext => ({
        authorization: typeof ctx.connectionParams?.authorization === "string" ? ctx.connectionParams.authorization : undefined,
        requestId: `req-${++requests}`,
      }),
      subscribe: subs.subscribe,
    },
    wss,
  );
  const port = await listen(http);
  cleanups.push(async () => {
    await ws.dispose();
    await closeHttp(http);
  });

  const clients: Client[] = [];
  cleanups.push(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
  });

  /** A downstream graphql-ws client (one socket) with the given authorization (null: none). */
  const connect = (authorization: string | null = TOKEN): Client => {
    const client = createClient({
      url: `ws://127.0.0.1:${port}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: authorization ? { authorization } : {},
      retryAttempts: 0,
    });
    clients.push(client);
    return client;
  };
  return { runs, users, subs, logs, connect, supergraphSdl: composed.supergraphSdl };
}

/** Subscribes and records what arrives. */
function watch(client: Client, variables: Record<string, unknown>, query = RUN_UPDATED) {
  const sub = {
    results: [] as FormattedExecutionResult<Record<string, unknown>, unknown>[],
    completed: false,
    error: undefined as unknown,
    dispose: () => {},
  };
  sub.dispose = client.subscribe(
    { query, variables },
    {
      next: (r) => void sub.results.push(r),
      error: (e) => void (sub.error = e),
      complete: () => void (sub.completed = true),
    },
  );
  return sub;
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const codes = (r: { errors?: ReadonlyArray<{ extensions?: unknown }> } | undefined) =>
  (r?.errors ?? []).map((e) => (e.extensions as { code?: unknown } | undefined)?.code);

/** `args` for calling FederatedSubscriptions.subscribe directly, the way graphql-ws does. */
function directArgs(schema: GraphQLSchema, variables: Record<string, unknown>, context: SubscriptionContext, query = RUN_UPDATED) {
  return { schema, document: parse(query), variableValues: variables, operationName: "RunUpdated", contextValue: context };
}

// ---------------------------------------------------------------------------------------------------------------

describe("FederatedSubscriptions", () => {
  it("resolves owner.email from the users subgraph per event, forwarding authorization and request id", async () => {
    const { runs, users, subs, logs, connect } = await startStack();
    const sub = watch(connect(), { id: "1" });
    await waitFor("upstream subscription", () => runs.listeners("1") === 1);

    runs.publish("1", { status: "RUNNING", ownerId: "u1" });
    runs.publish("1", { status: "DONE", ownerId: "u2" });
    await waitFor("two events", () => sub.results.length === 2);

    expect(sub.results).toEqual([
      { data: { runUpdated: { id: "1", status: "RUNNING", owner: { email: "u1@example.com" } } } },
      { data: { runUpdated: { id: "1", status: "DONE", owner: { email: "u2@example.com" } } } },
    ]);
    expect(runs.connectionParams).toEqual([{ authorization: TOKEN, "x-request-id": "req-1" }]);
    expect(users.entityFetches).toEqual([
      { authorization: TOKEN, requestId: "req-1" },
      { authorization: TOKEN, requestId: "req-1" },
    ]);
    expect(subs.stats()).toEqual({ upstreams: 1, subscribers: 1, connections: 1 });
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.join("\n")).not.toContain("alice-secret-token");
  });

  it("shares ONE upstream subscription and ONE _entities fetch per event between identical subscriptions", async () => {
    const { runs, users, subs, connect } = await startStack();
    const a = watch(connect(), { id: "1" });
    const b = watch(connect(), { id: "1" });
    await waitFor("both subscribers", () => subs.stats().subscribers === 2);
    await waitFor("upstream subscription", () => runs.listeners("1") === 1);

    runs.publish("1", { status: "RUNNING", ownerId: "u1" });
    runs.publish("1", { status: "DONE", ownerId: "u1" });
    await waitFor("events at both", () => a.results.length === 2 && b.results.length === 2);

    expect(a.results).toEqual(b.results);
    expect(runs.state.subscribed).toBe(1);
    expect(users.entityFetches).toHaveLength(2);
    expect(subs.stats()).toEqual({ upstreams: 1, subscribers: 2, connections: 1 });
  });

  it("opens separate upstreams for different variables and different authorization", async () => {
    const { runs, subs, connect } = await startStack();
    const one = watch(connect(), { id: "1" });
    const two = watch(connect(), { id: "2" });
    const bob = watch(connect("Bearer bob"), { id: "1" });
    await waitFor("three upstream subscriptions", () => runs.state.subscribed === 3);
    await waitFor("listeners", () => runs.listeners("1") === 2 && runs.listeners("2") === 1);
    // Same authorization shares one socket; another authorization gets its own.
    expect(subs.stats()).toEqual({ upstreams: 3, subscribers: 3, connections: 2 });

    runs.publish("1", { status: "RUNNING", ownerId: "u1" });
    await waitFor("event on run 1", () => one.results.length === 1 && bob.results.length === 1);
    runs.publish("2", { status: "QUEUED", ownerId: "u2" });
    await waitFor("event on run 2", () => two.results.length === 1);
    expect(one.results).toHaveLength(1);
    expect(two.results[0]).toEqual({ data: { runUpdated: { id: "2", status: "QUEUED", owner: { email: "u2@example.com" } } } });
  });

  it("closes the upstream subscription (and socket) when the last subscriber leaves", async () => {
    const { runs, subs, connect } = await startStack();
    const a = watch(connect(), { id: "1" });
    const b = watch(connect(), { id: "1" });
    await waitFor("both subscribers", () => subs.stats().subscribers === 2 && runs.listeners("1") === 1);

    a.dispose();
    await waitFor("first subscriber gone", () => subs.stats().subscribers === 1);
    expect(runs.state.returned).toBe(0);
    runs.publish("1", { status: "RUNNING", ownerId: "u1" });
    await waitFor("event for the remaining subscriber", () => b.results.length === 1);

    b.dispose();
    await waitFor("upstream iterator returned", () => runs.state.returned === 1);
    await waitFor("nothing left", () => subs.stats().connections === 0);
    expect(subs.stats()).toEqual({ upstreams: 0, subscribers: 0, connections: 0 });
    expect(runs.listeners("1")).toBe(0);
  });

  it("passes upstream GraphQL errors on with their extensions.code", async () => {
    const { runs, connect } = await startStack();

    // Refused at subscribe time by the owning subgraph.
    const missing = watch(connect(), { id: "missing" });
    await waitFor("NOT_FOUND", () => missing.completed);
    expect(missing.results).toHaveLength(1);
    expect(codes(missing.results[0])).toEqual(["NOT_FOUND"]);

    const anonymous = watch(connect(null), { id: "1" });
    await waitFor("UNAUTHENTICATED", () => anonymous.completed);
    expect(codes(anonymous.results[0])).toEqual(["UNAUTHENTICATED"]);

    // Failing for one event, then carrying on.
    const live = watch(connect(), { id: "1" });
    await waitFor("upstream subscription", () => runs.listeners("1") === 1);
    runs.publish("1", { status: "?", ownerId: "u1", fail: "NOT_FOUND" });
    runs.publish("1", { status: "RUNNING", ownerId: "u1" });
    await waitFor("two results", () => live.results.length === 2);
    expect(live.results[0].data).toBeNull();
    expect(codes(live.results[0])).toEqual(["NOT_FOUND"]);
    expect(live.results[0].errors?.[0].path).toEqual(["runUpdated"]);
    expect(live.results[1].data).toEqual({ runUpdated: { id: "1", status: "RUNNING", owner: { email: "u1@example.com" } } });
    expect(live.completed).toBe(false);
  });

  it("ends the stream with UPSTREAM_UNAVAILABLE when the owning subgraph dies and does not come back", async () => {
    const { runs, subs, connect } = await startStack({ retry: { attempts: 2, baseDelayMs: 10 } });
    const sub = watch(connect(), { id: "1" });
    await waitFor("upstream subscription", () => runs.listeners("1") === 1);
    runs.publish("1", { status: "RUNNING", ownerId: "u1" });
    await waitFor("first event", () => sub.results.length === 1);

    await runs.kill();
    await waitFor("downstream completed", () => sub.completed);

    expect(sub.error).toBeUndefined();
    expect(sub.results).toHaveLength(2);
    expect(codes(sub.results[1])).toEqual(["UPSTREAM_UNAVAILABLE"]);
    expect(subs.stats()).toEqual({ upstreams: 0, subscribers: 0, connections: 0 });

    // The gateway is still serving: a new subscription fails the same way instead of hanging or crashing.
    const again = watch(connect(), { id: "1" });
    await waitFor("second attempt completed", () => again.completed);
    expect(codes(again.results[0])).toEqual(["UPSTREAM_UNAVAILABLE"]);
  });

  it("reconnects and resubscribes after a brief upstream outage", async () => {
    const { runs, subs, connect } = await startStack({ retry: { attempts: 5, baseDelayMs: 50 } });
    const sub = watch(connect(), { id: "1" });
    await waitFor("upstream subscription", () => runs.listeners("1") === 1);

    await runs.kill();
    const revived = await startRunsSubgraph(runs.port);
    await waitFor("resubscribed upstream", () => revived.listeners("1") === 1);
    revived.publish("1", { status: "RESUMED", ownerId: "u1" });
    await waitFor("event after the outage", () => sub.results.length === 1);

    expect(sub.results).toEqual([{ data: { runUpdated: { id: "1", status: "RESUMED", owner: { email: "u1@example.com" } } } }]);
    expect(sub.completed).toBe(false);
    expect(revived.connectionParams).toEqual([{ authorization: TOKEN, "x-request-id": "req-1" }]);
    expect(subs.stats()).toEqual({ upstreams: 1, subscribers: 1, connections: 1 });
  });

  it("cuts off a subscriber that does not read with SUBSCRIPTION_OVERFLOW, without disturbing the others", async () => {
    const { runs, subs } = await startStack({ bufferSize: 2 });
    const context: SubscriptionContext = { authorization: TOKEN, requestId: "direct" };
    const stalled = await subs.subscribe(directArgs(subs.apiSchema, { id: "1" }, context));
    const reader = await subs.subscribe(directArgs(subs.apiSchema, { id: "1" }, { ...context, requestId: "reader" }));
    if (!(Symbol.asyncIterator in stalled) || !(Symbol.asyncIterator in reader)) throw new Error("expected streams");

    const read: ExecutionResult[] = [];
    const reading = (async () => {
      for await (const r of reader) {
        read.push(r);
        if (read.length === 5) break;
      }
    })();
    await waitFor("upstream subscription", () => runs.listeners("1") === 1);
    for (let i = 0; i < 5; i++) runs.publish("1", { status: `S${i}`, ownerId: "u1" });
    await reading;

    // The stalled subscriber was dropped as soon as its buffer overflowed; the reader kept the upstream alive.
    expect(read.map((r) => (r.data as { runUpdated: { status: string } }).runUpdated.status)).toEqual(["S0", "S1", "S2", "S3", "S4"]);
    const stalledResults: ExecutionResult[] = [];
    for await (const r of stalled) stalledResults.push(r);
    expect(stalledResults).toHaveLength(1);
    expect(codes(stalledResults[0])).toEqual(["SUBSCRIPTION_OVERFLOW"]);

    // The reader broke out of its loop: last subscriber gone, upstream closed.
    await waitFor("upstream iterator returned", () => runs.state.returned === 1);
    expect(subs.stats()).toEqual({ upstreams: 0, subscribers: 0, connections: 0 });
  });

  it("close() completes open subscriptions and ends the upstreams", async () => {
    const { runs, subs, connect } = await startStack();
    const one = watch(connect(), { id: "1" });
    const two = watch(connect(), { id: "2" });
    await waitFor("upstream subscriptions", () => runs.listeners("1") === 1 && runs.listeners("2") === 1);

    await subs.close();
    await waitFor("downstream completed", () => one.completed && two.completed);
    expect(one.results).toEqual([]);
    expect(one.error).toBeUndefined();
    await waitFor("upstream iterators returned", () => runs.state.returned === 2);
    expect(subs.stats()).toEqual({ upstreams: 0, subscribers: 0, connections: 0 });

    const late = await subs.subscribe(directArgs(subs.apiSchema, { id: "1" }, { authorization: TOKEN, requestId: "late" }));
    expect(codes(late as ExecutionResult)).toEqual(["INTERNAL_SERVER_ERROR"]);
  });

  it("returns stable error codes when a subscription cannot be planned", async () => {
    const { subs } = await startStack();
    const context: SubscriptionContext = { requestId: "bad" };
    const invalid = await subs.subscribe(
      directArgs(subs.apiSchema, { id: "1" }, context, "subscription RunUpdated($id: ID!) { runUpdated(id: $id) { nope } }"),
    );
    expect(Symbol.asyncIterator in invalid).toBe(false);
    expect(codes(invalid as ExecutionResult)).toEqual(["GRAPHQL_VALIDATION_FAILED"]);

    const unloaded = new FederatedSubscriptions({ logger: pino({ level: "silent" }), dataSourceFor: (_n, url) => new ForwardingDataSource({ url }) });
    const early = await unloaded.subscribe(directArgs(subs.apiSchema, { id: "1" }, context));
    expect(codes(early as ExecutionResult)).toEqual(["INTERNAL_SERVER_ERROR"]);
    expect(() => unloaded.apiSchema).toThrow();
  });
});
