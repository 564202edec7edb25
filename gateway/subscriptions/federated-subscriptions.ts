/**
 * Federated subscriptions for @apollo/gateway, which itself refuses to execute a subscription plan.
 *
 * Per client subscription: plan it with @apollo/query-planner (`{ kind: "Subscription", primary, rest }`), forward
 * `primary` to the owning subgraph over graphql-ws, and for every upstream event run `rest` (entity fetches to other
 * subgraphs) with @apollo/gateway's exported `executeQueryPlan`, seeded by a synthetic data source that answers the
 * primary fetch with the event. Identical subscriptions share one upstream subscription and one `rest` execution per
 * event.
 *
 * Relies on exported but undocumented gateway internals (`executeQueryPlan`, `buildOperationContext`): versions are
 * pinned and the end-to-end test beside this file is the upgrade gate.
 */
import {
  GraphQLError,
  Kind,
  parse,
  print,
  valueFromASTUntyped,
  type FieldNode,
  type VariableDefinitionNode,
  type VariableNode,
  type OperationDefinitionNode,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLSchema,
} from "graphql";
import type { FormattedExecutionResult } from "graphql-ws";
import type { Logger } from "pino";
import { buildOperationContext, executeQueryPlan, type GraphQLDataSource } from "@apollo/gateway";
import { Supergraph, operationFromDocument, type Schema } from "@apollo/federation-internals";
import { QueryPlanner, type FetchNode, type PlanNode, type QueryPlan } from "@apollo/query-planner";
import { appError, ErrorCode } from "../../kernel/errors.js";
import { BoundedQueue, DEFAULT_QUEUE_CAPACITY } from "./bounded-queue.js";
import {
  describeFailure,
  upstreamFailureErrors,
  upstreamGraphQLErrors,
  UpstreamClientPool,
  type UpstreamLease,
  type UpstreamRetryOptions,
} from "./upstream-clients.js";

/** The graphql-ws `contextValue` the gateway builds per downstream connection. */
export interface SubscriptionContext {
  /** Forwarded to subgraphs as is (connection params and HTTP header); never logged. */
  authorization?: string;
  requestId: string;
  tenantId?: string;
}

/** Options of {@link FederatedSubscriptions}. */
export interface FederatedSubscriptionsOptions {
  logger: Logger;
  /** Sent in every upstream socket's connection parameters besides the caller's token (the gateway's proof). */
  upstreamConnectionParams?: Record<string, string>;
  /** HTTP data source per subgraph name, the same the gateway uses for queries (forwards auth + request id headers). */
  dataSourceFor(name: string, url: string): GraphQLDataSource;
  /** ws URL of a subgraph given its name and composed http url; default: http->ws on the same url. */
  wsUrlFor?(name: string, httpUrl: string): string;
  /** Undelivered results held per subscriber before it gets SUBSCRIPTION_OVERFLOW; default 256. */
  bufferSize?: number;
  /** Reconnect policy for dropped upstream sockets. */
  retry?: UpstreamRetryOptions;
  /** Upstream ping interval (and pong timeout); default 12 s, 0 disables. */
  keepAliveMs?: number;
  /** Planned operations kept; default 1000. */
  planCacheSize?: number;
  /**
   * Whether identical subscriptions to this root field may share one upstream. Only for state streams (each event
   * is the whole state, so a late joiner is served by the latest one); change streams (batches after a checkpoint)
   * must not be shared. Default: every field.
   */
  shareable?(rootField: string): boolean;
  /**
   * Change streams the gateway can resume without duplicates when their upstream socket reconnects: the upstream
   * operation's `argument` (e.g. `checkpoint`) is then re-sent as the `field` (e.g. `checkpoint`) of the last event
   * forwarded, instead of the value the client started with (which would replay what it already has).
   */
  resumable?(rootField: string): ResumeSpec | undefined;
}

/** How a change stream resumes: which argument takes which field of the latest event, and the argument's type. */
export interface ResumeSpec {
  argument: string;
  field: string;
  type: string;
}

/** Counters for health and metrics. */
export interface SubscriptionStats {
  /** Upstream subscriptions (each shared by identical downstream subscriptions). */
  upstreams: number;
  /** Downstream subscriptions. */
  subscribers: number;
  /** Upstream graphql-ws connections. */
  connections: number;
}

/** Everything derived from one supergraph; swapped whole by `load()` so running upstreams keep theirs. */
interface Loaded {
  generation: number;
  planner: QueryPlanner;
  apiSchema: Schema;
  apiGraphQLSchema: GraphQLSchema;
  supergraphSchema: GraphQLSchema;
  subgraphs: Map<string, { url: string; dataSource: GraphQLDataSource }>;
  plans: Map<string, QueryPlan>;
}

type RequestContext = Parameters<typeof executeQueryPlan>[2];
type OperationContext = Parameters<typeof executeQueryPlan>[3];

/** Service name of the synthetic data source that answers the primary fetch with the event. */
const EVENT_SOURCE = "__subscription_event__";

/**
 * Executes federated subscriptions for the gateway's graphql-ws server:
 *
 * ```ts
 * const subs = new FederatedSubscriptions({ logger, dataSourceFor: (name, url) => new AuthForwardingDataSource({ url }) });
 * gateway.onSchemaLoadOrUpdate(({ coreSupergraphSdl }) => subs.load(coreSupergraphSdl));
 * useServer({ schema: () => subs.apiSchema, context: (ctx) => toSubscriptionContext(ctx), subscribe: subs.subscribe }, wss);
 * ```
 */
export class FederatedSubscriptions {
  private loaded?: Loaded;
  private generation = 0;
  private readonly upstreams = new Map<string, Upstream>();
  private readonly pool: UpstreamClientPool;
  private readonly log: Logger;
  private readonly bufferSize: number;
  private readonly planCacheSize: number;
  private closed = false;
  private nextUpstreamId = 1;
  private unshared = 0;

  constructor(private readonly opts: FederatedSubscriptionsOptions) {
    this.log = opts.logger.child({ component: "federated-subscriptions" });
    this.bufferSize = opts.bufferSize ?? DEFAULT_QUEUE_CAPACITY;
    this.planCacheSize = opts.planCacheSize ?? 1000;
    this.pool = new UpstreamClientPool({ logger: this.log, retry: opts.retry, keepAliveMs: opts.keepAliveMs, connectionParams: opts.upstreamConnectionParams });
  }

  /**
   * Builds the planner, API schema and supergraph schema from a supergraph SDL and clears the plan cache. Running
   * subscriptions keep the supergraph they were planned with. Throws (keeping the previous supergraph) if invalid.
   */
  load(supergraphSdl: string): void {
    const supergraph = Supergraph.build(supergraphSdl);
    const apiSchema = supergraph.apiSchema();
    const subgraphs = new Map<string, { url: string; dataSource: GraphQLDataSource }>();
    for (const { name, url } of supergraph.subgraphsMetadata()) {
      subgraphs.set(name, { url, dataSource: this.opts.dataSourceFor(name, url) });
    }
    this.loaded = {
      generation: ++this.generation,
      planner: new QueryPlanner(supergraph),
      apiSchema,
      apiGraphQLSchema: apiSchema.toGraphQLJSSchema(),
      supergraphSchema: supergraph.schema.toGraphQLJSSchema(),
      subgraphs,
      plans: new Map(),
    };
    this.log.info({ generation: this.generation, subgraphs: [...subgraphs.keys()] }, "supergraph loaded");
  }

  /** The API schema clients see; give it to graphql-ws for validation. Throws before `load()`. */
  get apiSchema(): GraphQLSchema {
    if (!this.loaded) throw new Error("FederatedSubscriptions.load() has not been called");
    return this.loaded.apiGraphQLSchema;
  }

  /**
   * graphql-ws `subscribe` hook (an arrow property, so it can be passed unbound). Resolves to the subscriber's event
   * stream, or to `{ errors }` when the subscription cannot start. `args.contextValue` must be a
   * {@link SubscriptionContext}.
   */
  readonly subscribe = async (args: ExecutionArgs): Promise<AsyncGenerator<ExecutionResult> | ExecutionResult> => {
    // Everything up to registering the subscriber is synchronous, so concurrent identical subscriptions dedupe.
    const ctx = (args.contextValue as SubscriptionContext | undefined) ?? { requestId: "unknown" };
    const loaded = this.loaded;
    if (this.closed || !loaded) {
      return { errors: [appError(ErrorCode.INTERNAL_SERVER_ERROR, this.closed ? "Subscriptions are shutting down" : "Supergraph not loaded yet")] };
    }
    const operationName = args.operationName ?? undefined;
    const query = print(args.document);

    const rootField = rootFieldOf(args);
    const shareable = rootField !== undefined && (this.opts.shareable?.(rootField) ?? true);
    const key = stableStringify([
      shareable ? "shared" : `own:${++this.unshared}`,
      loaded.generation,
      operationName ?? null,
      query,
      args.variableValues ?? {},
      ctx.authorization ?? null,
      ctx.tenantId ?? null,
    ]);
    let upstream = this.upstreams.get(key);
    if (!upstream) {
      const started = this.startUpstream(key, loaded, args.document, query, operationName, args.variableValues ?? {}, ctx, rootField);
      if (!(started instanceof Upstream)) return started;
      upstream = started;
    }
    const shared = upstream;
    const queue = new BoundedQueue({
      capacity: this.bufferSize,
      onClose: (reason) => {
        if (reason === "overflow") {
          shared.log.warn({ requestId: ctx.requestId, capacity: this.bufferSize }, "subscriber overflowed; cut off");
        }
        shared.remove(queue);
      },
    });
    shared.add(queue);
    shared.log.debug({ requestId: ctx.requestId, subscribers: shared.size }, "subscriber joined");
    return queue;
  };

  /** Open upstream subscriptions, downstream subscribers and upstream connections. */
  stats(): SubscriptionStats {
    let subscribers = 0;
    for (const u of this.upstreams.values()) subscribers += u.size;
    return { upstreams: this.upstreams.size, subscribers, connections: this.pool.size };
  }

  /** Completes every downstream subscription, ends upstream subscriptions and closes upstream sockets. */
  async close(): Promise<void> {
    this.closed = true;
    const upstreams = [...this.upstreams.values()];
    this.upstreams.clear();
    await Promise.all(upstreams.map((u) => u.shutdown()));
    await this.pool.close();
  }

  private startUpstream(
    key: string,
    loaded: Loaded,
    document: DocumentNode,
    query: string,
    operationName: string | undefined,
    variables: Record<string, unknown>,
    ctx: SubscriptionContext,
    rootField: string | undefined,
  ): Upstream | ExecutionResult {
    let plan: QueryPlan;
    let operationContext: OperationContext;
    try {
      plan = this.planFor(loaded, document, query, operationName);
      operationContext = buildOperationContext({ schema: loaded.apiGraphQLSchema, operationDocument: document, operationName });
    } catch (err) {
      if (err instanceof GraphQLError) {
        // The operation does not fit the supergraph: a client error, keep the message.
        return { errors: [new GraphQLError(err.message, { extensions: { code: "GRAPHQL_VALIDATION_FAILED" } })] };
      }
      this.log.error({ err, requestId: ctx.requestId, operationName }, "subscription planning failed");
      return { errors: [appError(ErrorCode.INTERNAL_SERVER_ERROR, "Subscription could not be planned")] };
    }
    const node = plan.node;
    if (node?.kind !== "Subscription") {
      this.log.error({ requestId: ctx.requestId, operationName, kind: node?.kind }, "expected a subscription plan");
      return { errors: [appError(ErrorCode.INTERNAL_SERVER_ERROR, "Subscription could not be planned")] };
    }
    const subgraph = loaded.subgraphs.get(node.primary.serviceName);
    if (!subgraph) {
      this.log.error({ requestId: ctx.requestId, subgraph: node.primary.serviceName }, "subscription planned to an unknown subgraph");
      return { errors: [appError(ErrorCode.INTERNAL_SERVER_ERROR, "Subscription could not be planned")] };
    }

    const id = this.nextUpstreamId++;
    const lease = this.pool.acquire({
      subgraph: node.primary.serviceName,
      url: this.opts.wsUrlFor?.(node.primary.serviceName, subgraph.url) ?? subgraph.url.replace(/^http/, "ws"),
      authorization: ctx.authorization,
      tenantId: ctx.tenantId,
      requestId: ctx.requestId,
    });
    const upstream = new Upstream({
      log: this.log.child({ upstream: id, subgraph: node.primary.serviceName, operationName }),
      loaded,
      primary: node.primary,
      rest: node.rest,
      operationContext,
      query,
      operationName,
      variables,
      resume: rootField ? this.opts.resumable?.(rootField) : undefined,
      context: ctx,
      lease,
      onStop: (u) => {
        if (this.upstreams.get(key) === u) this.upstreams.delete(key);
      },
    });
    this.upstreams.set(key, upstream);
    upstream.start(ctx.requestId);
    return upstream;
  }

  private planFor(loaded: Loaded, document: DocumentNode, query: string, operationName: string | undefined): QueryPlan {
    const key = JSON.stringify([operationName ?? null, query]);
    const cached = loaded.plans.get(key);
    if (cached) {
      // Re-insert so the Map's insertion order approximates recency (cheap LRU).
      loaded.plans.delete(key);
      loaded.plans.set(key, cached);
      return cached;
    }
    const operation = operationFromDocument(loaded.apiSchema, document, { operationName });
    const plan = loaded.planner.buildQueryPlan(operation);
    loaded.plans.set(key, plan);
    if (loaded.plans.size > this.planCacheSize) loaded.plans.delete(loaded.plans.keys().next().value!);
    return plan;
  }
}

interface UpstreamInit {
  log: Logger;
  loaded: Loaded;
  primary: FetchNode;
  rest?: PlanNode;
  operationContext: OperationContext;
  query: string;
  operationName?: string;
  variables: Record<string, unknown>;
  resume?: ResumeSpec;
  /** Context of the subscriber that opened the upstream; same authorization and tenant as every other sharer. */
  context: SubscriptionContext;
  lease: UpstreamLease;
  onStop(upstream: Upstream): void;
}

/**
 * One upstream subscription and the downstream subscribers sharing it. Events are resolved once and pushed to every
 * subscriber in order; the upstream is completed when the last subscriber leaves.
 */
class Upstream {
  readonly log: Logger;
  private readonly subscribers = new Set<BoundedQueue>();
  private readonly plan: QueryPlan["node"];
  private readonly serviceMap: Record<string, GraphQLDataSource> = {};
  private source?: AsyncIterableIterator<FormattedExecutionResult>;
  /**
   * The latest result, replayed to subscribers that join later. Shared subscriptions are state streams (each event
   * is the whole current state, as `syncRunUpdated` sends), so the latest result is what a late joiner needs first.
   */
  private last?: ExecutionResult;
  private stopped = false;
  private done?: Promise<void>;
  private resumeFrom?: (event: FormattedExecutionResult) => void;

  constructor(private readonly init: UpstreamInit) {
    this.log = init.log;
    // The primary fetch is answered by the event itself; `rest` then runs exactly as for a query.
    const synthetic: FetchNode = { ...init.primary, serviceName: EVENT_SOURCE };
    const restNodes = init.rest ? (init.rest.kind === "Sequence" ? init.rest.nodes : [init.rest]) : [];
    this.plan = restNodes.length ? { kind: "Sequence", nodes: [synthetic, ...restNodes] } : synthetic;
    for (const [name, s] of init.loaded.subgraphs) this.serviceMap[name] = s.dataSource;
  }

  get size(): number {
    return this.subscribers.size;
  }

  add(queue: BoundedQueue): void {
    this.subscribers.add(queue);
    if (this.last) queue.push(this.last);
  }

  remove(queue: BoundedQueue): void {
    if (!this.subscribers.delete(queue)) return;
    if (this.subscribers.size === 0) this.stop("last subscriber left");
  }

  start(requestId: string): void {
    const { primary, variables } = this.init;
    const upstreamVariables: Record<string, unknown> = {};
    for (const name of primary.variableUsages ?? []) {
      if (Object.hasOwn(variables, name)) upstreamVariables[name] = variables[name];
    }
    let query = primary.operation;
    if (this.init.resume) {
      const resumable = resumableOperation(query, this.init.resume, upstreamVariables);
      if (resumable) {
        query = resumable.query;
        // graphql-ws re-sends this very payload object when it resubscribes after a reconnect: keeping its resume
        // variable at the latest event's position makes the retry continue where the stream was, not replay it.
        this.resumeFrom = (event) => {
          const value = (event.data?.[resumable.responseKey] as Record<string, unknown> | null | undefined)?.[RESUME_ALIAS];
          if (value !== undefined && value !== null) upstreamVariables[resumable.variable] = value;
        };
      }
    }
    this.source = this.init.lease.client.iterate({
      query,
      variables: upstreamVariables,
      operationName: primary.operationName,
    });
    this.log.info({ requestId }, "upstream subscription opened");
    this.done = this.pump();
  }

  /** Completes all subscribers and waits for the upstream to end. */
  async shutdown(): Promise<void> {
    this.stop("shutdown");
    for (const q of [...this.subscribers]) q.end();
    await this.done;
  }

  /** Ends the upstream subscription (graphql-ws sends `complete`); the pump then winds down. */
  private stop(why: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.init.onStop(this);
    this.log.info({ why }, "upstream subscription closing");
    void this.source?.return?.();
  }

  private async pump(): Promise<void> {
    const source = this.source!;
    let failure: GraphQLError[] | undefined;
    try {
      for await (const event of source) {
        if (this.stopped) break;
        this.resumeFrom?.(event);
        let result: ExecutionResult;
        try {
          result = await this.resolve(event);
        } catch (err) {
          // executeQueryPlan reports fetch failures as errors in the result; a throw is a bug. End the stream rather
          // than skip the event, so clients resubscribe from their checkpoint.
          this.log.error({ err }, "resolving a subscription event failed");
          failure = [appError(ErrorCode.INTERNAL_SERVER_ERROR, "Subscription event could not be resolved")];
          break;
        }
        this.last = result;
        // Snapshot: an overflowing subscriber removes itself while we iterate.
        for (const q of [...this.subscribers]) q.push(result);
      }
    } catch (err) {
      // graphql-ws gave up: retries exhausted, fatal close code, or an `error` message from the subgraph.
      failure = upstreamFailureErrors(err, this.init.primary.serviceName);
      this.log.warn({ failure: describeFailure(err) }, "upstream subscription failed");
    } finally {
      this.stopped = true;
      this.init.onStop(this);
      void source.return?.();
      const subscribers = [...this.subscribers];
      this.subscribers.clear();
      for (const q of subscribers) {
        if (failure) q.fail(failure);
        else q.end();
      }
      this.init.lease.release();
      this.log.info({ failed: !!failure }, "upstream subscription ended");
    }
  }

  /** Turns one upstream event into the client's result: runs `rest` seeded with the event. */
  private async resolve(event: FormattedExecutionResult): Promise<ExecutionResult> {
    const serviceName = this.init.primary.serviceName;
    if (event.data == null) {
      // Nothing to resolve foreign fields on: pass the subgraph's errors on with their codes.
      const errors = upstreamGraphQLErrors(event.errors ?? [{ message: "Empty event from upstream" }], serviceName);
      return event.data === null ? { data: null, errors } : { errors };
    }
    const eventSource: GraphQLDataSource = {
      process: async () => ({ data: event.data, errors: event.errors }),
    };
    const { loaded, context, query, operationName, variables } = this.init;
    // A fresh request context per event: executeQueryPlan accumulates into `metrics`.
    const requestContext = {
      request: { query, variables, operationName },
      context,
      logger: apolloLogger(this.log),
      metrics: {},
      cache: undefined,
      overallCachePolicy: undefined,
    } as unknown as RequestContext;
    const result = await executeQueryPlan(
      { kind: "QueryPlan", node: this.plan },
      { ...this.serviceMap, [EVENT_SOURCE]: eventSource },
      requestContext,
      this.init.operationContext,
      loaded.supergraphSchema,
      loaded.apiSchema,
    );
    if (!result.errors?.length) return result;
    // Errors from the event carry the synthetic service name; name the real subgraph.
    return {
      ...result,
      errors: result.errors.map((e) =>
        e.extensions?.serviceName === EVENT_SOURCE
          ? new GraphQLError(e.message, {
              nodes: e.nodes,
              source: e.source,
              positions: e.positions,
              path: e.path,
              originalError: e.originalError,
              extensions: { ...e.extensions, serviceName },
            })
          : e,
      ),
    };
  }
}

/** The Apollo logger interface over pino (executeQueryPlan logs through it). */
function apolloLogger(log: Logger) {
  return {
    debug: (message: unknown) => log.debug(String(message)),
    info: (message: unknown) => log.info(String(message)),
    warn: (message: unknown) => log.warn(String(message)),
    error: (message: unknown) => log.error(String(message)),
  };
}

/** JSON with sorted object keys, so `{a,b}` and `{b,a}` variables dedupe together. */
function stableStringify(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

/** The root field an operation subscribes to (the first selection of the chosen operation). */
function rootFieldOf(args: ExecutionArgs): string | undefined {
  const op = args.document.definitions.find(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION && (!args.operationName || d.name?.value === args.operationName),
  );
  const first = op?.selectionSet.selections[0];
  return first?.kind === Kind.FIELD ? first.name.value : undefined;
}

const RESUME_VARIABLE = "tributaryResumeFrom";
const RESUME_ALIAS = "tributaryResumeFrom";

/**
 * Rewrites an upstream subscription so it can resume: the root field's `spec.argument` is passed as a variable (the
 * client's own, or {@link RESUME_VARIABLE} initialised with its literal), and each event carries `spec.field` under
 * {@link RESUME_ALIAS}. Returns the variable to update, or undefined when the operation has no root field.
 */
export function resumableOperation(
  operation: string,
  spec: ResumeSpec,
  variables: Record<string, unknown>,
): { query: string; responseKey: string; variable: string } | undefined {
  const doc = parse(operation);
  const op = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const root = op?.selectionSet.selections[0];
  if (!op || !root || root.kind !== Kind.FIELD) return undefined;
  const given = root.arguments?.find((a) => a.name.value === spec.argument);
  // An argument passed as a variable keeps it (its value is updated in place); a literal or absent one gets ours.
  const existing = given?.value.kind === Kind.VARIABLE ? given.value.name.value : undefined;
  const name = existing ?? RESUME_VARIABLE;
  if (!existing) variables[name] = given ? valueFromASTUntyped(given.value) : null;
  const variable: VariableNode = { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: name } };
  const field: FieldNode = {
    ...root,
    arguments: [...(root.arguments ?? []).filter((a) => a.name.value !== spec.argument), { kind: Kind.ARGUMENT, name: { kind: Kind.NAME, value: spec.argument }, value: variable }],
    selectionSet: root.selectionSet && {
      ...root.selectionSet,
      selections: [
        ...root.selectionSet.selections,
        { kind: Kind.FIELD, alias: { kind: Kind.NAME, value: RESUME_ALIAS }, name: { kind: Kind.NAME, value: spec.field } },
      ],
    },
  };
  const definitions: VariableDefinitionNode[] = existing
    ? []
    : [{ kind: Kind.VARIABLE_DEFINITION, variable, type: { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: spec.type } } }];
  const rewritten: OperationDefinitionNode = {
    ...op,
    variableDefinitions: [...(op.variableDefinitions ?? []), ...definitions],
    selectionSet: { ...op.selectionSet, selections: [field, ...op.selectionSet.selections.slice(1)] },
  };
  return {
    query: print({ ...doc, definitions: doc.definitions.map((d) => (d === op ? rewritten : d)) }),
    responseKey: root.alias?.value ?? root.name.value,
    variable: name,
  };
}
