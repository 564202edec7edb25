import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { MeDocument, OverviewDocument } from "../__generated__/graphql.js";
import { startTestStack, type TestStack } from "../harness/stack.js";

describe("smoke", () => {
  let t: TestStack;
  beforeAll(async () => {
    t = await startTestStack();
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("logs in and reads from all four subgraphs", async () => {
    const a = await t.tenant("acme");
    const me = await t.request(MeDocument, {}, a.token);
    expect(me.data?.me.email).toBe("admin@acme.example");
    const res = await t.request(OverviewDocument, {}, a.token);
    expect(res.errors).toBeUndefined();
    expect(res.data?.me.tenant.id).toBe(a.tenantId);
  });
});
