import { describe, expect, it } from "@jest/globals";
import { buildSchema, parse, type OperationDefinitionNode } from "graphql";
import { jsonDeeperThan, MAX_VARIABLES_DEPTH, variablesProblem } from "./input-guards.js";

const deepText = (n: number) => `${'{"x":'.repeat(n - 1)}{}${"}".repeat(n - 1)}`;

describe("jsonDeeperThan", () => {
  it("counts objects and arrays, not brackets inside strings, in text and in bytes", () => {
    for (const read of [(s: string) => s, (s: string) => Buffer.from(s)]) {
      expect(jsonDeeperThan(read(deepText(10)), 10)).toBe(false);
      expect(jsonDeeperThan(read(deepText(11)), 10)).toBe(true);
      expect(jsonDeeperThan(read(`[[["]]]]]]]\\"[[[[[[["]]]`), 3)).toBe(false);
      expect(jsonDeeperThan(read(`[[[{"a":"\\\\"}]]]`), 3)).toBe(true);
      expect(jsonDeeperThan(read(deepText(100_000)), 128)).toBe(true);
    }
  });
});

describe("variablesProblem", () => {
  const schema = buildSchema(`
    scalar JSONObject
    input Row { doc: JSONObject! }
    input Push { name: String!, rows: [Row!]!, meta: JSONObject }
    type Query { a: Int }
    type Mutation { push(input: Push!): Int }
  `);
  const operation = parse("mutation($input: Push!) { push(input: $input) }").definitions[0] as OperationDefinitionNode;
  const deep = (n: number) => JSON.parse(deepText(n)) as Record<string, unknown>;
  const depthOf = (v: unknown) => {
    let d = 0;
    for (let at = v as Record<string, unknown> | undefined; at && typeof at === "object"; at = at.x as Record<string, unknown> | undefined) d++;
    return d;
  };

  it("leaves NUL inside row inputs to their owner and refuses it elsewhere (values and keys)", () => {
    const rows = new Set(["Row"]);
    expect(variablesProblem(schema, operation, { input: { name: "ok", rows: [{ doc: { t: "a\u0000", ["k\u0000"]: 1 } }] } }, rows)).toBeNull();
    expect(variablesProblem(schema, operation, { input: { name: "a\u0000", rows: [] } }, rows)).toBe("nul");
    expect(variablesProblem(schema, operation, { input: { name: "ok", rows: [], meta: { ["k\u0000"]: 1 } } }, rows)).toBe("nul");
    expect(variablesProblem(schema, operation, { input: { name: "ok", rows: [{ doc: { t: "a\u0000" } }] } }, new Set())).toBe("nul");
  });

  it("cuts too-deep values inside row inputs (still deeper than any row may be) and refuses them elsewhere", () => {
    const variables = { input: { name: "ok", rows: [{ doc: deep(5_000) }] } };
    expect(variablesProblem(schema, operation, variables, new Set(["Row"]))).toBeNull();
    const cut = depthOf(variables.input.rows[0].doc);
    expect(cut).toBeGreaterThan(64);
    expect(cut).toBeLessThanOrEqual(MAX_VARIABLES_DEPTH);
    expect(() => JSON.stringify(variables)).not.toThrow();
    expect(variablesProblem(schema, operation, { input: { name: "ok", rows: [], meta: deep(5_000) } }, new Set(["Row"]))).toBe("deep");
  });
});
