// Query bounds: tokens (before parsing), then depth, aliases and a list-aware cost (after validation, with the request's
// variables). The gateway checks every client operation before planning (gateway/guards/); each subgraph checks the
// operations it is sent again (defense in depth where a subgraph port is reachable), with planner-generated operations
// from the gateway held to looser bounds (see SubgraphQueryBounds).
import { createHash, timingSafeEqual } from "node:crypto";
import type { ApolloServerPlugin, BaseContext } from "@apollo/server";
import { maxAliasesRule } from "@escape.tech/graphql-armor-max-aliases";
import { maxDepthRule } from "@escape.tech/graphql-armor-max-depth";
import {
  getNamedType,
  getNullableType,
  getOperationAST,
  getVariableValues,
  isLeafType,
  isListType,
  Lexer,
  Source,
  TokenKind,
  validate,
  visit,
  type ArgumentNode,
  type DirectiveNode,
  type DocumentNode,
  type GraphQLError,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type ValidationContext,
  type ValidationRule,
} from "graphql";
import { getComplexity, type ComplexityEstimator } from "graphql-query-complexity";
import { z } from "zod";
import { appError, ErrorCode, withHttpStatus } from "./errors.js";

export interface QueryLimits {
  /** Nesting of selections (fragments count as they expand; introspection is not counted). */
  maxDepth: number;
  maxAliases: number;
  /** Lexical tokens of the document, counted before it is parsed. */
  maxTokens: number;
  /** Budget of {@link listAwareEstimator}: roughly the objects a query may make the subgraphs load. */
  maxCost: number;
  /** Assumed size of a list field without a `limit`/`first` argument. */
  defaultListSize: number;
  /**
   * A larger `limit`/`first` counts as this: it is the largest page any field serves (auditEvents, 1 to 500), and the
   * subgraphs refuse larger ones themselves with BAD_USER_INPUT, so such a query never fetches more.
   */
  maxListSize: number;
  /** Operations in one batched HTTP request (a JSON array body); 1 turns batching off. */
  maxBatch: number;
}

export const DEFAULT_QUERY_LIMITS: QueryLimits = {
  maxDepth: 12,
  maxAliases: 30,
  maxTokens: 5_000,
  maxCost: 5_000,
  defaultListSize: 50,
  maxListSize: 500,
  maxBatch: 10,
};

/**
 * Value objects that travel inside their parent's row (JSON columns or computed from it): selecting them loads nothing
 * more, so they cost nothing of their own — only the objects they may contain do.
 */
export const INLINE_TYPES: ReadonlySet<string> = new Set([
  "RecordChange",
  "RejectedRow",
  "PulledItem",
  "RowFilter",
  "RowFilterGroup",
  "SyncRunError",
  "SyncStatsBucket",
  "PermissionMatrixCell",
]);

export const queryTooComplex = (message: string, extensions: Record<string, unknown> = {}) => appError(ErrorCode.QUERY_TOO_COMPLEX, message, extensions);

/**
 * Cost of a field: 1 per object (a row or an entity fetch for the subgraphs), 0 per leaf (tokens and aliases bound
 * those), and a list multiplies its items' cost by its `limit`/`first` argument (at most `maxListSize`), or by
 * `defaultListSize`. A page (an object field with `first`/`limit`, e.g. `users(first: 10) { nodes { … } }`) scales
 * its inner lists, priced at `defaultListSize`, to that size.
 * Introspection is free: it is bounded by the schema, and allowed or refused by the INTROSPECTION setting.
 */
export function listAwareEstimator(limits: Pick<QueryLimits, "defaultListSize" | "maxListSize">): ComplexityEstimator {
  return ({ field, args, childComplexity }) => {
    if (field.name.startsWith("__")) return 0;
    const named = getNamedType(field.type);
    const own = isLeafType(named) || INLINE_TYPES.has(named.name) ? 0 : 1;
    const requested = Number(args.limit ?? args.first);
    // A federation entity fetch (`_entities`, sent by the gateway's planner or by someone calling a subgraph
    // directly) loads one object per representation: its size is known, and no page limit caps it.
    const size =
      field.name === "_entities" && Array.isArray(args.representations)
        ? args.representations.length
        : Number.isInteger(requested) && requested >= 0
          ? Math.min(requested, limits.maxListSize)
          : undefined;
    if (isListType(getNullableType(field.type))) return (size ?? limits.defaultListSize) * (own + childComplexity);
    if (size !== undefined) return own + Math.ceil((childComplexity * size) / limits.defaultListSize);
    return own + childComplexity;
  };
}

/** The checks, shared by the HTTP pipeline (an Apollo plugin) and graphql-ws (the gateway's onSubscribe). */
export class QueryCostGuard {
  private readonly rules: ValidationRule[];
  private readonly estimators: ComplexityEstimator[];
  /**
   * Apollo hands over the same DocumentNode for a repeated query (its document cache), so verdicts are remembered per
   * document: per operation name when no variable can change the cost, else per operation and values of those variables.
   */
  private readonly verdicts = new WeakMap<DocumentNode, Map<string, GraphQLError | null>>();
  /** Depth and aliases: a property of the document alone, checked once per document. */
  private readonly ruleVerdicts = new WeakMap<DocumentNode, GraphQLError | null>();
  /** The variables of each document that can change its cost (see {@link costVariables}). */
  private readonly variableCost = new WeakMap<DocumentNode, string[]>();

  constructor(readonly limits: QueryLimits) {
    // graphql-armor's rules throw a plain error by default; report ours (with the code) instead.
    const report = (ctx: ValidationContext | null, err: GraphQLError) => ctx?.reportError(queryTooComplex(err.message.replace(/^Syntax Error: /, "")));
    const options = { onReject: [report], propagateOnRejection: false };
    // flattenFragments: a fragment adds no level of its own (clients' codegen fragments don't count against them).
    this.rules = [maxDepthRule({ n: limits.maxDepth, flattenFragments: true, ...options }), maxAliasesRule({ n: limits.maxAliases, ...options })];
    this.estimators = [listAwareEstimator(limits)];
  }

  /**
   * Before parsing (parsing itself is the cost to avoid): counts tokens with graphql-js' lexer, stopping at the limit.
   * graphql-js' own `maxTokens` parse option would do the same but fail as a plain syntax error.
   */
  checkTokens(source: string): GraphQLError | undefined {
    const lexer = new Lexer(new Source(source));
    try {
      for (let tokens = 1; lexer.advance().kind !== TokenKind.EOF; tokens++) {
        if (tokens > this.limits.maxTokens) return queryTooComplex(`Token limit of ${this.limits.maxTokens} exceeded`);
      }
    } catch {
      // A lexical error: the parser reports it.
    }
    return undefined;
  }

  /** After validation: depth, aliases, then cost (which needs the variables, so it cannot be a validation rule). */
  checkOperation(schema: GraphQLSchema, document: DocumentNode, operationName?: string | null, variables?: Record<string, unknown> | null): GraphQLError | undefined {
    const operation = getOperationAST(document, operationName);
    if (!operation) return undefined; // execution reports it
    const known = this.verdicts.get(document) ?? new Map<string, GraphQLError | null>();
    this.verdicts.set(document, known);
    const name = operationName ?? "";
    const relevant = this.costVariables(document);
    if (!relevant.length) {
      // No variable can change the cost (e.g. a push: `input: $input`, however large): one verdict per operation,
      // kept once it has been evaluated with valid variables, so large variables are not coerced again.
      if (known.has(name)) return known.get(name) ?? undefined;
      const ruleError = this.ruleError(schema, document);
      if (ruleError) return ruleError;
      if (getVariableValues(schema, operation.variableDefinitions ?? [], variables ?? {}).errors) return undefined;
      const verdict = this.cost(schema, document, operation, variables);
      known.set(name, verdict);
      return verdict ?? undefined;
    }
    const ruleError = this.ruleError(schema, document);
    if (ruleError) return ruleError;
    // Bad variables are execution's to report (BAD_USER_INPUT); every other failure below is the query's size.
    const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables ?? {});
    if (coerced.errors) return undefined;
    // The verdict for these values of the variables that matter (e.g. a pull's $limit), remembered per value.
    const key = `${name}\u0000${JSON.stringify(relevant.map((v) => coerced.coerced[v] ?? null))}`;
    if (known.has(key)) return known.get(key) ?? undefined;
    const verdict = this.cost(schema, document, operation, variables);
    if (known.size < 1_000) known.set(key, verdict);
    return verdict ?? undefined;
  }

  /**
   * The variables that can change the document's cost: the estimator reads only `limit`/`first` arguments, and
   * @skip/@include decide which selections count, so those used inside one of them.
   */
  private costVariables(document: DocumentNode): string[] {
    let names = this.variableCost.get(document);
    if (!names) {
      const found = new Set<string>();
      const collect = (node: ArgumentNode | DirectiveNode) => void visit(node, { Variable: (v) => void found.add(v.name.value) });
      visit(document, {
        Argument: (node) => (node.name.value === "limit" || node.name.value === "first" ? collect(node) : undefined),
        Directive: (node) => collect(node),
      });
      names = [...found].sort();
      this.variableCost.set(document, names);
    }
    return names;
  }

  /** Depth and aliases: a property of the document alone, checked once per document. */
  private ruleError(schema: GraphQLSchema, document: DocumentNode): GraphQLError | null {
    let error = this.ruleVerdicts.get(document);
    if (error === undefined) {
      error = validate(schema, document, this.rules)[0] ?? null;
      this.ruleVerdicts.set(document, error);
    }
    return error;
  }

  /** The cost verdict (null: within the limit); the variables are valid. */
  private cost(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables?: Record<string, unknown> | null): GraphQLError | null {
    const operationName = operation.name?.value;
    let cost: number;
    try {
      // maxQueryNodes (default 10,000 visited nodes) stops fragment fan-out bombs before they are expanded.
      cost = getComplexity({ schema, query: document, operationName, variables: variables ?? {}, estimators: this.estimators });
    } catch {
      return queryTooComplex("Query is too large to estimate");
    }
    if (cost > this.limits.maxCost) return queryTooComplex(`Query cost ${cost} exceeds the limit of ${this.limits.maxCost}`, { cost, maxCost: this.limits.maxCost });
    return null;
  }
}

/** QUERY_LIMITS (JSON) as every service reads it, e.g. `{"maxDepth":10,"maxCost":2000}`. */
export const queryLimitsEnvSchema = z.strictObject({
  maxDepth: z.number().int().positive().optional(),
  maxAliases: z.number().int().positive().optional(),
  maxTokens: z.number().int().positive().optional(),
  maxCost: z.number().int().positive().optional(),
  defaultListSize: z.number().int().positive().optional(),
  maxListSize: z.number().int().positive().optional(),
  maxBatch: z.number().int().positive().optional(),
});

// ---- Subgraphs -------------------------------------------------------------------------------------------------------

/**
 * Request header (and graphql-ws connection parameter) by which the gateway proves to a subgraph that it sent an
 * operation: the service secret (INTERNAL_SECRET), as on every internal call.
 */
export const GATEWAY_PROOF_HEADER = "x-tributary-gateway";

/**
 * A subgraph's own bounds on the operations it executes, over HTTP and graphql-ws.
 *
 * - **Clients** (anything without the gateway's proof: a caller that reached a subgraph port directly, another service
 *   asking on a user's behalf) get the gateway's limits: tokens, depth, aliases and cost, with `_entities` priced by
 *   its representations. Batches are refused (Apollo Server's default).
 * - **The gateway's operations** (its query planner's fetches, the client's own operation passed through) were priced
 *   as the client's operation before planning. What the planner writes is bounded by it, but not in the same units:
 *   it expands fragments (more tokens and aliases than the client sent) and an entity fetch holds as many
 *   representations as the data has (a list priced at its default size may hold more). Pricing them again would
 *   refuse operations the gateway admitted, so they keep only a structural bound: depth at most twice the limit (the
 *   planner adds at most a level or two: `_entities` and the key fields).
 */
export class SubgraphQueryBounds {
  readonly client: QueryCostGuard;
  private readonly plannerRules: ValidationRule[];
  private readonly plannerVerdicts = new WeakMap<DocumentNode, GraphQLError | null>();
  private readonly proof?: Buffer;

  constructor(limits: QueryLimits, internalSecret?: string) {
    this.client = new QueryCostGuard(limits);
    const report = (ctx: ValidationContext | null, err: GraphQLError) => ctx?.reportError(queryTooComplex(err.message.replace(/^Syntax Error: /, "")));
    this.plannerRules = [maxDepthRule({ n: 2 * limits.maxDepth, flattenFragments: true, onReject: [report], propagateOnRejection: false })];
    this.proof = internalSecret ? digest(internalSecret) : undefined;
  }

  /** Whether a header or connection parameter value is the gateway's proof. */
  fromGateway(value: unknown): boolean {
    return this.proof !== undefined && typeof value === "string" && timingSafeEqual(digest(value), this.proof);
  }

  /** Before parsing: tokens of a client's document (the gateway's are not counted). */
  checkTokens(query: unknown, fromGateway: boolean): GraphQLError | undefined {
    return fromGateway || typeof query !== "string" ? undefined : this.client.checkTokens(query);
  }

  /** After validation: the client's bounds, or the planner's (see the class comment). */
  checkOperation(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, variables: Record<string, unknown> | null | undefined, fromGateway: boolean): GraphQLError | undefined {
    if (!fromGateway) return this.client.checkOperation(schema, document, operationName, variables);
    let verdict = this.plannerVerdicts.get(document);
    if (verdict === undefined) {
      verdict = validate(schema, document, this.plannerRules)[0] ?? null;
      this.plannerVerdicts.set(document, verdict);
    }
    return verdict ?? undefined;
  }

  /** Apollo plugin (HTTP and in-process calls): the operation's bounds once it is validated, refused with HTTP 400. */
  plugin<T extends BaseContext>(): ApolloServerPlugin<T> {
    return {
      requestDidStart: async ({ request }) => {
        const fromGateway = this.fromGateway(request.http?.headers.get(GATEWAY_PROOF_HEADER));
        return {
          didResolveOperation: async ({ schema, document, request }) => {
            const error = this.checkOperation(schema, document, request.operationName, request.variables, fromGateway);
            if (error) throw withHttpStatus(error, 400);
          },
        };
      },
    };
  }
}

const digest = (s: string) => createHash("sha256").update(s).digest();
