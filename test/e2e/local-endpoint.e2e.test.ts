// In-process subgraph calls (kernel/graphql-endpoint.ts): in one process (the embedded default, this stack) the gateway
// calls a subgraph's GraphQL endpoint directly instead of over loopback HTTP. A subgraph must not be able to tell the
// difference: each request here goes to a subgraph both ways, over its HTTP port and in-process (the gateway's
// transport), and the answers must be the same: status, body, content type, request id.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { postToSubgraph } from "../../gateway/data-source.js";
import { localEndpoint, registerLocalEndpoint, type GraphQLEndpoint } from "../../kernel/graphql-endpoint.js";
import { REQUEST_ID_HEADER } from "../../kernel/request-id.js";
import { CreateCollectionDocument } from "../__generated__/graphql.js";
import { startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";

const PULL = 'query Pull($checkpoint: String) { pullChanges(collections: ["notes"], checkpoint: $checkpoint, limit: 5) { documents checkpoint hasMore } }';
const PUSH = "mutation Push($input: PushChangesInput!) { pushChanges(input: $input) { applied conflicts replayed rejected { index code message } } }";

interface Answer {
  status: number;
  type: string | null;
  requestId: string | null;
  body: string;
}

describe("in-process subgraph endpoint", () => {
  let t: TestStack;
  let a: TenantLogin;
  let url: string;

  const overHttp = async (headers: Record<string, string>, body: string | undefined, method = "POST", search = ""): Promise<Answer> => {
    const res = await fetch(url + search, { method, headers, body });
    return { status: res.status, type: res.headers.get("content-type"), requestId: res.headers.get(REQUEST_ID_HEADER), body: await res.text() };
  };
  const inProcess = async (headers: Record<string, string>, body: string | undefined, method = "POST", search = ""): Promise<Answer> => {
    const endpoint = localEndpoint(url)!;
    const answer = await endpoint({ method, headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])), search, body });
    return { status: answer.status, type: answer.headers.get("content-type") ?? null, requestId: answer.headers.get(REQUEST_ID_HEADER) ?? null, body: answer.body };
  };
  /** Both ways, with the same request id; the answers must be equal. */
  const both = async (headers: Record<string, string>, body: string | undefined, method = "POST", search = "") => {
    const h = { [REQUEST_ID_HEADER]: `req-${Math.random().toString(36).slice(2)}`, ...headers };
    const viaHttp = await overHttp(h, body, method, search);
    const local = await inProcess(h, body, method, search);
    expect(local).toEqual(viaHttp);
    return local;
  };
  const json = (token?: string) => ({ "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) });

  beforeAll(async () => {
    t = await startTestStack();
    url = t.stack.sync.url;
    a = await t.tenant("local-endpoint");
    const res = await t.request(CreateCollectionDocument, { input: { name: "notes", jsonSchema: { type: "object", properties: { n: { type: "integer" } }, required: ["n"] } } }, a.token);
    expect(res.errors).toBeUndefined();
    const rows = Array.from({ length: 7 }, (_, i) => ({ assumedMasterState: null, newDocumentState: { id: `n${i}`, n: i } }));
    const pushed = await t.raw(JSON.stringify({ query: PUSH, variables: { input: { collection: "notes", rows } } }), { authorization: `Bearer ${a.token}` });
    expect(pushed.body.data.pushChanges.applied).toBe(7);
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("serves each subgraph of the stack in-process while it runs", () => {
    for (const service of [t.stack.tenants, t.stack.sync, t.stack.connectors, t.stack.audit]) expect(localEndpoint(service.url)).toBeDefined();
  });

  it("answers operations, execution errors and validation errors as over HTTP", async () => {
    const page = await both(json(a.token), JSON.stringify({ query: PULL, variables: { checkpoint: null } }));
    expect(page.status).toBe(200);
    expect(JSON.parse(page.body).data.pullChanges.documents).toHaveLength(5);
    // An execution error (a foreign checkpoint).
    const bad = await both(json(a.token), JSON.stringify({ query: PULL, variables: { checkpoint: "not-a-checkpoint" } }));
    expect(JSON.parse(bad.body).errors[0].extensions.code).toBe("BAD_USER_INPUT");
    // Validation (unknown field) and bad variables: refused before execution.
    const invalid = await both(json(a.token), JSON.stringify({ query: "{ nope }" }));
    expect(invalid.status).toBe(400);
    const badVariables = await both(json(a.token), JSON.stringify({ query: PULL, variables: { checkpoint: 12 } }));
    expect(badVariables.status).toBe(400);
    // A push applied the first way is seen the second way: another new state "as new" conflicts with it.
    const row = { assumedMasterState: null, newDocumentState: { id: "solo", n: 1 } };
    const viaHttp = await overHttp(json(a.token), JSON.stringify({ query: PUSH, variables: { input: { collection: "notes", rows: [row] } } }));
    expect(JSON.parse(viaHttp.body).data.pushChanges.applied).toBe(1);
    const other = { assumedMasterState: null, newDocumentState: { id: "solo", n: 2 } };
    const local = await inProcess(json(a.token), JSON.stringify({ query: PUSH, variables: { input: { collection: "notes", rows: [other] } } }));
    expect(JSON.parse(local.body).data.pushChanges.conflicts).toEqual([{ id: "solo", n: 1, _deleted: false }]);
  });

  it("refuses missing and bad tokens with the same status and code", async () => {
    // No token: the context is anonymous and the resolver refuses (an execution error).
    const none = await both(json(), JSON.stringify({ query: PULL, variables: { checkpoint: null } }));
    expect(JSON.parse(none.body).errors[0].extensions.code).toBe("UNAUTHENTICATED");
    const forged = await both(json("eyJhbGciOiJFZERTQSJ9.e30.c2ln"), JSON.stringify({ query: PULL, variables: { checkpoint: null } }));
    expect(forged.status).toBe(401);
    expect(JSON.parse(forged.body).errors[0].extensions.code).toBe("UNAUTHENTICATED");
  });

  it("refuses unreadable bodies as over HTTP: malformed, not an object, too large, NUL, not JSON", async () => {
    const malformed = await both(json(a.token), '{"query": ');
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.body).errors[0].extensions.code).toBe("BAD_REQUEST");
    expect((await both(json(a.token), '"just a string"')).status).toBe(400);
    // Over the 64 MiB every GraphQL endpoint reads (kernel/input-guards.ts MAX_BODY_BYTES).
    const huge = JSON.stringify({ query: PULL, variables: { checkpoint: "x".repeat(64 * 1024 * 1024) } });
    const tooLarge = await both(json(a.token), huge);
    expect(tooLarge.status).toBe(413);
    expect(JSON.parse(tooLarge.body).errors[0].message).toBe("Request body too large");
    expect(JSON.parse(tooLarge.body).errors[0].extensions).toEqual({ code: "PAYLOAD_TOO_LARGE", maxBytes: 64 * 1024 * 1024 });
    const nul = await both(json(a.token), JSON.stringify({ query: PULL, variables: { checkpoint: "a\u0000b" } }));
    expect(JSON.parse(nul.body).errors[0].extensions.code).toBe("BAD_USER_INPUT");
    const text = await both({ "content-type": "text/plain", authorization: `Bearer ${a.token}` }, JSON.stringify({ query: PULL }));
    expect(text.status).toBeGreaterThanOrEqual(400);
  });

  it("answers GET queries as over HTTP (Apollo's CSRF prevention included)", async () => {
    const search = `?query=${encodeURIComponent("{ __typename }")}`;
    const blocked = await both({ authorization: `Bearer ${a.token}` }, undefined, "GET", search);
    expect(blocked.status).toBe(400);
    const allowed = await both({ authorization: `Bearer ${a.token}`, "apollo-require-preflight": "true" }, undefined, "GET", search);
    expect(allowed.status).toBe(200);
    expect(JSON.parse(allowed.body).data.__typename).toBe("Query");
  });

  it("is what the gateway uses in this process, and HTTP serves the URL once unregistered", async () => {
    const original = localEndpoint(url)!;
    let calls = 0;
    const counting: GraphQLEndpoint = (request) => {
      calls++;
      return original(request);
    };
    const restore = registerLocalEndpoint(url, counting);
    try {
      const res = await t.raw(JSON.stringify({ query: PULL, variables: { checkpoint: null } }), { authorization: `Bearer ${a.token}` });
      expect(res.body.data.pullChanges.documents).toHaveLength(5);
      expect(calls).toBe(1);
    } finally {
      restore();
      registerLocalEndpoint(url, original);
    }
    // Without a registered endpoint the same transport goes over HTTP, to the same answer.
    const body = JSON.stringify({ query: PULL, variables: { checkpoint: null } });
    const local = await postToSubgraph(url, { method: "POST", headers: json(a.token), body });
    registerLocalEndpoint(url, original)();
    try {
      expect(localEndpoint(url)).toBeUndefined();
      const viaHttp = await postToSubgraph(url, { method: "POST", headers: json(a.token), body });
      expect(viaHttp.status).toBe(200);
      expect(await viaHttp.text()).toBe(await local.text());
    } finally {
      registerLocalEndpoint(url, original);
    }
  });
});
