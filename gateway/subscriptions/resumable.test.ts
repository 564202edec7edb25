import { describe, expect, it } from "@jest/globals";
import { parse, print } from "graphql";
import { resumableOperation } from "./federated-subscriptions.js";

const spec = { argument: "checkpoint", field: "checkpoint", type: "String" };

describe("resumableOperation", () => {
  it("turns a literal checkpoint into a variable initialised with it and asks events for their checkpoint", () => {
    const variables: Record<string, unknown> = {};
    const out = resumableOperation('subscription S { feed: recordsChanged(collections: ["a"], checkpoint: "c0") { documents } }', spec, variables)!;
    expect(out.responseKey).toBe("feed");
    expect(variables[out.variable]).toBe("c0");
    expect(print(parse(out.query))).toBe(
      print(parse(`subscription S($${out.variable}: String) { feed: recordsChanged(collections: ["a"], checkpoint: $${out.variable}) { documents tributaryResumeFrom: checkpoint } }`)),
    );
  });

  it("keeps a client's variable (updated in place later) and starts from null when the argument is absent", () => {
    const vars: Record<string, unknown> = { cp: "c9" };
    const withVar = resumableOperation("subscription ($cp: String) { recordsChanged(collections: [], checkpoint: $cp) { checkpoint } }", spec, vars)!;
    expect(withVar.variable).toBe("cp");
    expect(vars).toEqual({ cp: "c9" });
    expect(withVar.query).not.toContain("tributaryResumeFrom: String");
    const none: Record<string, unknown> = {};
    const absent = resumableOperation("subscription { recordsChanged(collections: []) { checkpoint } }", spec, none)!;
    expect(none[absent.variable]).toBeNull();
    expect(absent.query).toContain(`checkpoint: $${absent.variable}`);
  });
});
