import type { ApolloGateway, GatewayConfig } from "@apollo/gateway";
import type { ApolloServerOptionsWithGateway, BaseContext } from "@apollo/server";
import type { FetchNode, QueryPlan } from "@apollo/query-planner";
import { GraphQLError, Kind, parse, print, type DocumentNode, type GraphQLFormattedError, type OperationDefinitionNode } from "graphql";
import { parseSplit, RawJson, rawJsonNonce, SPLIT_RESULT_HEADER } from "../kernel/http.js";
import type { ForwardedContext, ForwardingDataSource } from "./data-source.js";

// ---- Pass-through of operations one subgraph answers whole -----------------------------------------------------------
//
// Most traffic (a device's pullChanges and pushChanges, a login) is an operation whose query plan is one fetch from one
// subgraph, asking exactly what the client asked. For those the gateway's general machinery (building the federation
// operation, merging the fetch's result into a fresh tree, shaping it against the operation, serialising it again) only
// copies the subgraph's answer. A pull page is a megabyte of such copying. So once the planner has shown that an
// operation is such a plan, later requests of the same parsed document are sent to that subgraph as the plan would send
// them, and the subgraph's `data` comes back as JSON text (a split result, kernel/http.ts) that goes into the client's
// response as it is. Everything before execution (token, rate limit, cost, document validation, the plan itself) is
// unchanged; the variables are checked by the subgraph, and any it refuses go to the general path (below).
//
// An operation passes through only when the fetch's selection is the client's, printed alike: no fragments to expand,
// no `__typename` or aliases added by the planner (@skip/@include travel in the fetch, as on the general path), no
// rewrites, no entity lookups. A subgraph that refuses a request before executing it (non-2xx: bad variables, token
// refused) leaves the request to the general path, which answers with the gateway's own errors as before; errors from
// execution are reported as the general path reports them (message, path, the subgraph's extensions plus serviceName).

// The gateway interface as Apollo Server takes it (types of the version it depends on).
type GatewayInterface = ApolloServerOptionsWithGateway<BaseContext>["gateway"];
type GatewayLoadResult = Awaited<ReturnType<GatewayInterface["load"]>>;
type GatewayExecutor = NonNullable<GatewayLoadResult["executor"]>;
type GatewayGraphQLRequestContext = Parameters<GatewayExecutor>[0];
type ResolvedPlan = Parameters<NonNullable<GatewayConfig["experimental_didResolveQueryPlan"]>>[0];

/** How a passing-through operation is sent: the plan's single fetch. */
interface Route {
  fetch: FetchNode;
  dataSource: ForwardingDataSource;
  /** The fetch's operation is the client's, but for its name: the client's own request body can be sent as it came. */
  verbatim: boolean;
}

/**
 * Whether `node` is a fetch the client's operation can pass through (see above), and whether it is the client's
 * operation but for its name (same variable definitions too): then the client's request can go to the subgraph as it is.
 */
export function passthroughFetch(queryPlan: QueryPlan, operation: OperationDefinitionNode, document: DocumentNode): { fetch: FetchNode; verbatim: boolean } | null {
  const node = queryPlan.node;
  if (!node || node.kind !== "Fetch") return null;
  if (node.requires?.length || node.inputRewrites?.length || node.outputRewrites?.length || node.contextRewrites?.length || node.hasDefers) return null;
  if (operation.operation === "subscription" || node.operationKind !== operation.operation) return null;
  // The client's document holds just this operation (a subgraph validates the whole document it is sent).
  if (document.definitions.length !== 1) return null;
  let fetched: DocumentNode;
  try {
    fetched = parse(node.operation);
  } catch {
    return null;
  }
  const fetchedOp = fetched.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (!fetchedOp || fetched.definitions.length !== 1) return null;
  if (operation.directives?.length || fetchedOp.directives?.length) return null;
  if (print(fetchedOp.selectionSet) !== print(operation.selectionSet)) return null;
  const definitions = (op: OperationDefinitionNode) => (op.variableDefinitions ?? []).map((d) => print(d)).join(",");
  return { fetch: node, verbatim: definitions(fetchedOp) === definitions(operation) };
}

/**
 * Apollo Server's gateway: the ApolloGateway given, with its executor answering passing-through operations itself.
 * `attach` must be called with the gateway's config hook before the gateway loads.
 */
export class PassthroughGateway implements GatewayInterface {
  private routes = new WeakMap<DocumentNode, Map<string, Route | null>>();
  /**
   * Operations answered by pass-through (`asIs`: of them, those sent as the client's own body), and those a subgraph
   * refused before executing (then answered by the general path).
   */
  readonly stats = { passedThrough: 0, asIs: 0, refused: 0 };

  constructor(private readonly inner: ApolloGateway) {}

  /** For the ApolloGateway's `experimental_didResolveQueryPlan`: learns from each plan whether its operation passes through. */
  readonly didResolveQueryPlan = ({ queryPlan, requestContext, serviceMap }: ResolvedPlan) => {
    const { document, operation } = requestContext;
    if (!document || !operation) return;
    const key = requestContext.request.operationName ?? "";
    let byName = this.routes.get(document);
    if (!byName) this.routes.set(document, (byName = new Map()));
    if (byName.has(key)) return;
    const found = passthroughFetch(queryPlan, operation, document);
    const dataSource: unknown = found ? serviceMap[found.fetch.serviceName] : undefined;
    byName.set(key, found && dataSource && typeof (dataSource as ForwardingDataSource).passthrough === "function" ? { ...found, dataSource: dataSource as ForwardingDataSource } : null);
  };

  async load(options: Parameters<GatewayInterface["load"]>[0]): Promise<GatewayLoadResult> {
    const loaded = await this.inner.load(options);
    const executor = loaded.executor;
    if (!executor) return loaded;
    return { ...loaded, executor: (requestContext) => this.execute(requestContext, executor) };
  }

  onSchemaLoadOrUpdate(callback: Parameters<GatewayInterface["onSchemaLoadOrUpdate"]>[0]) {
    return this.inner.onSchemaLoadOrUpdate((schema) => {
      this.routes = new WeakMap(); // plans of another supergraph
      callback(schema);
    });
  }

  stop(): Promise<void> {
    return this.inner.stop();
  }

  /** The fetch's operation with the client's values of the variables it uses. */
  private fetchBody(fetch: FetchNode, requestContext: GatewayGraphQLRequestContext): { query: string; operationName?: string; variables: Record<string, unknown> } {
    const variables: Record<string, unknown> = {};
    const given = requestContext.request.variables ?? {};
    for (const name of fetch.variableUsages ?? []) if (Object.hasOwn(given, name) && given[name] !== undefined) variables[name] = given[name];
    return { query: fetch.operation, operationName: fetch.operationName, variables };
  }

  private async execute(requestContext: GatewayGraphQLRequestContext, general: GatewayExecutor): ReturnType<GatewayExecutor> {
    const context = requestContext.context as Partial<ForwardedContext>;
    const route = context.rawJson && requestContext.document ? this.routes.get(requestContext.document)?.get(requestContext.request.operationName ?? "") : undefined;
    if (!route) return general(requestContext);
    const { fetch, dataSource } = route;
    const nonce = rawJsonNonce();
    let answer: { status: number; text: string };
    try {
      // The client's body as it came when it asks just what the fetch asks (the same document text, as parsed and
      // planned); otherwise the fetch's operation with the variables it uses.
      const client = context.clientBody;
      const asIs = route.verbatim && client !== undefined && client.parsed.query === requestContext.request.query;
      answer = await dataSource.passthrough(asIs ? { client } : this.fetchBody(fetch, requestContext), context, { [SPLIT_RESULT_HEADER]: nonce });
      if (asIs && answer.status >= 200 && answer.status < 300) this.stats.asIs++;
    } catch (err) {
      // Reported as the general path reports an unreachable subgraph (the gateway's formatError maps it).
      const error = new GraphQLError(`Error while fetching subquery from service "${fetch.serviceName}": ${(err as Error).message}`, {
        originalError: err as Error,
        extensions: { code: "DOWNSTREAM_SERVICE_ERROR", serviceName: fetch.serviceName },
      });
      return { errors: [error], data: null };
    }
    // Refused before execution (nothing ran): the general path answers, with the gateway's own validation and errors.
    if (answer.status < 200 || answer.status >= 300) {
      this.stats.refused++;
      return general(requestContext);
    }
    this.stats.passedThrough++;
    const split = parseSplit(answer.text, nonce);
    const result = split ? { ...split.head, data: split.dataText ? new RawJson(split.dataText) : undefined } : (JSON.parse(answer.text) as { data?: unknown; errors?: GraphQLFormattedError[] });
    const errors = result.errors?.map((e) => downstreamError(e, fetch.serviceName));
    const data = result.data === undefined ? null : (result.data as Record<string, unknown> | null);
    return errors?.length ? { errors, data } : { data };
  }
}

/** A subgraph's execution error as the gateway's general path reports it (its message, path and extensions, plus serviceName). */
function downstreamError(error: GraphQLFormattedError, serviceName: string): GraphQLError {
  const extensions: Record<string, unknown> = { ...error.extensions, serviceName };
  if (!error.extensions?.code) extensions.code = "DOWNSTREAM_SERVICE_ERROR";
  return new GraphQLError(error.message || `Error while fetching subquery from service "${serviceName}"`, {
    path: error.path,
    extensions,
    originalError: Object.assign(new Error(error.message), { extensions: error.extensions, path: error.path }),
  });
}
