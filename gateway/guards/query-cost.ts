// Query cost limits, checked before anything is planned or sent to a subgraph: tokens (before parsing), then depth,
// aliases and a list-aware cost (after validation, with the request's variables).
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
  type DocumentNode,
  type GraphQLError,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type ValidationContext,
  type ValidationRule,
} from "graphql";
import { getComplexity, type ComplexityEstimator } from "graphql-query-complexity";
import { appError, ErrorCode } from "../../kernel/errors.js";

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
    const size = Number.isInteger(requested) && requested >= 0 ? Math.min(requested, limits.maxListSize) : undefined;
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
   * Apollo hands over the same DocumentNode for a repeated query (its document cache), so the verdict on an operation
   * without variables, which cannot change, is remembered per document and operation name.
   */
  private readonly verdicts = new WeakMap<DocumentNode, Map<string, GraphQLError | null>>();

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
    if (operation.variableDefinitions?.length) return this.evaluate(schema, document, operation, variables) ?? undefined;
    const known = this.verdicts.get(document) ?? new Map<string, GraphQLError | null>();
    this.verdicts.set(document, known);
    const key = operationName ?? "";
    if (!known.has(key)) known.set(key, this.evaluate(schema, document, operation, variables));
    return known.get(key) ?? undefined;
  }

  private evaluate(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables?: Record<string, unknown> | null): GraphQLError | null {
    const [ruleError] = validate(schema, document, this.rules);
    if (ruleError) return ruleError;
    // Bad variables are execution's to report (BAD_USER_INPUT); every other failure below is the query's size.
    if (getVariableValues(schema, operation.variableDefinitions ?? [], variables ?? {}).errors) return null;
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
