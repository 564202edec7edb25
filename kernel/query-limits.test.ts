// Query cost limits on the real API schema: every operation the clients ship passes, the bad shapes don't.
import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { Supergraph } from "@apollo/federation-internals";
import { parse, type GraphQLError } from "graphql";
import { DEFAULT_QUERY_LIMITS, QueryCostGuard } from "./query-limits.js";

const schema = Supergraph.build(readFileSync("schema/supergraph.graphql", "utf8")).apiSchema().toGraphQLJSSchema();
const guard = new QueryCostGuard(DEFAULT_QUERY_LIMITS);
const check = (query: string, variables?: Record<string, unknown>): GraphQLError | undefined =>
  guard.checkTokens(query) ?? guard.checkOperation(schema, parse(query), undefined, variables);
const codeOf = (e: GraphQLError | undefined) => e?.extensions.code;

describe("QueryCostGuard", () => {
  it("passes the widest queries clients send through the gateway", () => {
    // test/operations/overview.graphql (all four subgraphs): 1 + 1 + 50 × (1 + 1 + 50) + 50 + 20 × 2 = 2,692.
    const overview = `{ me { id email tenant { id name connectors { id name kind tenant { id slug } syncRuns { id status } } }
      auditTrail { action } } auditEvents(first: 20) { nodes { action actorType actor { email } } } }`;
    const lists = `{ syncRuns(first: 200) { nodes { id status connector { id name } triggeredBy { email } } }
      auditEvents(first: 500) { nodes { id action actor { id email } } } users(first: 200) { nodes { id email } } }`;
    for (const query of [overview, lists]) expect(check(query)).toBeUndefined();
  });

  it("refuses depth beyond the limit (fragments expanded, adding no level of their own)", () => {
    // Cost is not what is tested here: lists nest, so the cost budget is lifted.
    const depthOnly = new QueryCostGuard({ ...DEFAULT_QUERY_LIMITS, maxCost: Number.MAX_SAFE_INTEGER });
    const depth = (query: string) => codeOf(depthOnly.checkOperation(schema, parse(query)));
    // me, then tenant/connectors pairs, then id: 12 and 14 levels.
    const nest = (pairs: number): string => (pairs === 0 ? "id" : `tenant { connectors { ${nest(pairs - 1)} } }`);
    expect(depth(`{ me { ${nest(5)} } }`)).toBeUndefined();
    expect(depth(`{ me { ...F } } fragment F on User { ${nest(5)} }`)).toBeUndefined();
    expect(depth(`{ me { ${nest(6)} } }`)).toBe("QUERY_TOO_COMPLEX");
    expect(depth(`{ me { ...F } } fragment F on User { ${nest(6)} }`)).toBe("QUERY_TOO_COMPLEX");
  });

  it("refuses more than 30 aliases", () => {
    const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: me { id }`).join(" ")} }`;
    expect(check(aliases(30))).toBeUndefined();
    expect(codeOf(check(aliases(31)))).toBe("QUERY_TOO_COMPLEX");
  });

  it("refuses more than 5,000 tokens before parsing", () => {
    expect(codeOf(guard.checkTokens(`{ me { ${"id ".repeat(5_000)} } }`))).toBe("QUERY_TOO_COMPLEX");
    expect(guard.checkTokens(`{ me { ${"id ".repeat(4_000)} } }`)).toBeUndefined();
    // Comments are not tokens; a lexical error is left to the parser.
    expect(guard.checkTokens(`# ${"x ".repeat(10_000)}\n{ me { id } }`)).toBeUndefined();
    expect(guard.checkTokens(`{ me { id "unterminated } }`)).toBeUndefined();
  });

  it("multiplies list fields by their limit argument, or by 50 without one", () => {
    // 200 runs × (run + connector) = 400: fine. connectors (50, no argument) × Connector.syncRuns (its default first:
    // 20) × (run + connector + syncRuns (20)).
    expect(check(`{ syncRuns(first: 200) { nodes { id connector { id } } } }`)).toBeUndefined();
    const fanOut = check(`{ connectors { syncRuns { connector { syncRuns { id } } } } }`);
    expect(codeOf(fanOut)).toBe("QUERY_TOO_COMPLEX");
    expect(fanOut?.extensions.cost).toBe(50 * (1 + 20 * (1 + 1 + 20)));
    // An explicit argument counts as given.
    expect(check(`{ connectors { syncRuns(first: 100) { connector { syncRuns(first: 100) { id } } } } }`)?.extensions.cost).toBe(50 * (1 + 100 * (1 + 1 + 100)));
    // Variables count: the same query is fine or not depending on $limit.
    // Variables count: the same document (as Apollo's document cache hands it over) is fine or not depending on $n.
    const byVariable = parse(`query($n: Int!) { auditEvents(first: $n) { nodes { actor { auditTrail { id } } } } }`);
    expect(guard.checkOperation(schema, byVariable, undefined, { n: 1 })).toBeUndefined();
    expect(codeOf(guard.checkOperation(schema, byVariable, undefined, { n: 500 }))).toBe("QUERY_TOO_COMPLEX");
    expect(guard.checkOperation(schema, byVariable, undefined, { n: 2 })).toBeUndefined();
  });

  it("counts a limit above maxListSize (500) as 500: the subgraphs refuse it themselves (BAD_USER_INPUT)", () => {
    expect(check(`{ syncRuns(first: 100000) { nodes { id } } }`)).toBeUndefined();
    // A page (AuditEventPage): 1 + 500 × (node + actor + 50 trail items).
    expect(check(`{ auditEvents(first: 100000) { nodes { actor { auditTrail { id } } } } }`)?.extensions.cost).toBe(1 + 500 * 52);
  });

  it("scales a page's items by its first/limit argument", () => {
    // users(first) is a UserPage whose nodes list has no size of its own.
    const page = (first: number) => `{ users(first: ${first}) { nodes { auditTrail { id } } } }`;
    expect(check(page(10))).toBeUndefined();
    expect(check(page(200))?.extensions).toMatchObject({ code: "QUERY_TOO_COMPLEX", cost: 1 + 200 * 51 });
  });

  it("leaves bad variables to execution (not a cost error)", () => {
    expect(check(`query($n: Int!) { auditEvents(limit: $n) { id } }`, { n: "many" })).toBeUndefined();
  });

  it("stops fragment fan-out bombs (2^30 expansions) quickly", () => {
    const fragments = Array.from({ length: 30 }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`).join("\n");
    const bomb = parse(`{ ...F0 }\n${fragments}\nfragment F30 on Query { me { id } }`);
    const started = performance.now();
    expect(codeOf(guard.checkOperation(schema, bomb))).toBe("QUERY_TOO_COMPLEX");
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it("does not count introspection (allowed or refused by the INTROSPECTION setting)", () => {
    expect(check(`{ __schema { types { name fields { name args { name type { name ofType { name } } } } } } }`)).toBeUndefined();
  });
});
