// The gateway's pass-through (gateway/passthrough.ts): operations that one subgraph answers whole are sent to it as
// the query plan would send them and its answer goes to the client as it is. Each test sends the same operation twice
// in forms that differ only in how the gateway handles them: plain (passes through once the planner has seen it) and
// through a fragment (the general path: the planner expands the fragment, so the fetch no longer prints like the
// client's operation). The answers must be the same, and the gateway's counters show which path answered. (A subgraph
// that cannot be reached is covered by records-stream.e2e: its pushes pass through while sync processes are killed,
// and must get UPSTREAM_UNAVAILABLE.)
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { CreateCollectionDocument } from "../__generated__/graphql.js";
import { startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";

const PULL = "query Pull($checkpoint: String, $limit: Int!) { pullChanges(collections: [\"notes\"], checkpoint: $checkpoint, limit: $limit) { documents checkpoint hasMore } }";
const PULL_GENERAL =
  "query Pull($checkpoint: String, $limit: Int!) { pullChanges(collections: [\"notes\"], checkpoint: $checkpoint, limit: $limit) { ...Page } } fragment Page on PullPage { documents checkpoint hasMore }";
const PUSH = "mutation Push($input: PushChangesInput!) { pushChanges(input: $input) { applied conflicts replayed rejected { index code message } } }";
const PUSH_GENERAL =
  "mutation Push($input: PushChangesInput!) { pushChanges(input: $input) { ...Result } } fragment Result on PushResult { applied conflicts replayed rejected { index code message } }";

describe("gateway pass-through", () => {
  let t: TestStack;
  let a: TenantLogin;
  const send = (query: string, variables: Record<string, unknown>, token = a.token) =>
    t.raw(JSON.stringify({ query, variables }), { authorization: `Bearer ${token}` });
  const counts = () => ({ ...t.stack.gateway.passthrough });

  beforeAll(async () => {
    t = await startTestStack();
    a = await t.tenant("passthrough-a");
    const res = await t.request(CreateCollectionDocument, { input: { name: "notes", jsonSchema: { type: "object", properties: { n: { type: "integer" } }, required: ["n"] } } }, a.token);
    expect(res.errors).toBeUndefined();
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("answers pulls and pushes exactly as the general path does, and passes them through", async () => {
    const rows = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ assumedMasterState: null, newDocumentState: { id: `n${from + i}`, n: from + i } }));
    // The first of a document learns its plan on the general path; later ones pass through.
    const first = await send(PUSH, { input: { collection: "notes", rows: rows(0, 10) } });
    expect(first.body).toEqual({ data: { pushChanges: { applied: 10, conflicts: [], replayed: false, rejected: [] } } });
    const before = counts();
    const plain = await send(PUSH, { input: { collection: "notes", rows: rows(10, 10) } });
    const general = await send(PUSH_GENERAL, { input: { collection: "notes", rows: rows(20, 10) } });
    expect(counts().passedThrough).toBe(before.passedThrough + 1);
    expect(plain.status).toBe(200);
    expect(plain.body).toEqual(general.body);
    expect(plain.body.data.pushChanges.applied).toBe(10);

    // Pages: the same documents, checkpoints and hasMore both ways, page after page.
    await send(PULL, { checkpoint: null, limit: 1 });
    let checkpoint: string | null = null;
    const seen: number[] = [];
    for (let page = 0; page < 4; page++) {
      const mark = counts().passedThrough;
      const p = await send(PULL, { checkpoint, limit: 8 });
      const g = await send(PULL_GENERAL, { checkpoint, limit: 8 });
      expect(counts().passedThrough).toBe(mark + 1);
      expect(p.body).toEqual(g.body);
      const data = p.body.data.pullChanges as { documents: { n: number; _deleted: boolean }[]; checkpoint: string; hasMore: boolean };
      seen.push(...data.documents.map((d) => d.n));
      expect(data.documents.every((d) => d._deleted === false)).toBe(true);
      checkpoint = data.checkpoint;
      if (!data.hasMore) break;
    }
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it("sends the client's own body when the fetch asks just that, else the plan's operation: the same answers", async () => {
    const rows = (from: number) => [{ assumedMasterState: null, newDocumentState: { id: `as-is-${from}`, n: from } }];
    await send(PUSH, { input: { collection: "notes", rows: rows(0) } });
    let mark = counts();
    const plain = await send(PUSH, { input: { collection: "notes", rows: rows(1) } });
    expect(counts()).toMatchObject({ passedThrough: mark.passedThrough + 1, asIs: mark.asIs + 1 });
    expect(plain.body).toEqual({ data: { pushChanges: { applied: 1, conflicts: [], replayed: false, rejected: [] } } });
    // A body with more than query, operationName and variables (here extensions) is not forwarded as it came.
    mark = counts();
    const withExtensions = await t.raw(JSON.stringify({ query: PUSH, variables: { input: { collection: "notes", rows: rows(2) } }, extensions: {} }), { authorization: `Bearer ${a.token}` });
    expect(counts()).toMatchObject({ passedThrough: mark.passedThrough + 1, asIs: mark.asIs });
    expect(withExtensions.body).toEqual(plain.body);
    // Variable definitions the planner writes otherwise (a default value): the plan's operation is sent.
    const withDefault = 'query Pull($checkpoint: String, $limit: Int! = 2) { pullChanges(collections: ["notes"], checkpoint: $checkpoint, limit: $limit) { documents checkpoint hasMore } }';
    await send(withDefault, { checkpoint: null });
    mark = counts();
    const a1 = await send(withDefault, { checkpoint: null });
    expect(counts().passedThrough).toBe(mark.passedThrough + 1);
    const g1 = await send(PULL_GENERAL, { checkpoint: null, limit: 2 });
    expect(a1.body).toEqual(g1.body);
    expect(a1.body.data.pullChanges.documents).toHaveLength(2);
    // Every pushed row arrived once.
    const listed = await send('query { records(collection: "notes", search: "as-is-") { nodes { id } } }', {});
    expect(listed.body.data.records.nodes.map((r: { id: string }) => r.id).sort()).toEqual(["as-is-0", "as-is-1", "as-is-2"]);
  });

  it("keeps the client's aliases and the order of its fields", async () => {
    const query = 'query { p: pullChanges(collections: ["notes"], limit: 3) { more: hasMore docs: documents } }';
    await send(query, {});
    const mark = counts().passedThrough;
    const res = await send(query, {});
    expect(counts().passedThrough).toBe(mark + 1);
    expect(Object.keys(res.body.data.p)).toEqual(["more", "docs"]);
    expect(res.body.data.p.more).toBe(true);
    expect(res.body.data.p.docs.map((d: { id: string }) => d.id)).toEqual(["n0", "n1", "n2"]);
  });

  it("reports a subgraph's execution errors as the general path does, with their code and path", async () => {
    const input = { input: { collection: "no-such-collection", rows: [{ assumedMasterState: null, newDocumentState: { id: "x", n: 1 } }] } };
    await send(PUSH, input);
    const mark = counts().passedThrough;
    const plain = await send(PUSH, input);
    const general = await send(PUSH_GENERAL, input);
    expect(counts().passedThrough).toBe(mark + 1);
    expect(plain.body).toEqual(general.body);
    expect(plain.body.data).toBeNull();
    expect(plain.body.errors).toHaveLength(1);
    expect(plain.body.errors[0]).toMatchObject({ path: ["pushChanges"], extensions: { code: "BAD_USER_INPUT" } });
    // Which subgraph answered stays inside the deployment.
    expect(plain.body.errors[0].extensions.serviceName).toBeUndefined();
  });

  it("leaves operations the subgraph refuses before executing to the general path: the gateway's own error, nothing applied", async () => {
    const bad = { checkpoint: null, limit: "ten" };
    const mark = counts();
    const plain = await send(PULL, bad);
    const general = await send(PULL_GENERAL, bad);
    expect(plain.status).toBe(general.status);
    expect(plain.body).toEqual(general.body);
    expect(plain.body.errors[0].extensions.code).toBe("BAD_USER_INPUT");
    // Refused by the subgraph before executing (HTTP 400), so the general path answered with the gateway's own error.
    expect(counts().passedThrough).toBe(mark.passedThrough);
    expect(counts().refused).toBe(mark.refused + 1);

    // A variable the supergraph accepts is checked again by the subgraph; a push row the subgraph rejects is reported
    // per row and nothing else of the push is lost.
    const res = await send(PUSH, { input: { collection: "notes", rows: [{ assumedMasterState: null, newDocumentState: { id: "bad", n: "not a number" } }, { assumedMasterState: null, newDocumentState: { id: "good", n: 99 } }] } });
    expect(res.body.data.pushChanges).toMatchObject({ applied: 1, rejected: [{ index: 0 }] });
  });

  it("rejects a pushed row with U+0000 in its values or keys (BAD_USER_INPUT for that row, nothing written), and takes the text \\u0000 as it is", async () => {
    const row = (doc: Record<string, unknown>) => ({ input: { collection: "notes", rows: [{ assumedMasterState: null, newDocumentState: doc }] } });
    for (const doc of [{ id: "nul-value", n: 1, text: "a\u0000b" }, { id: "nul-key", n: 1, ["k\u0000"]: 1 }]) {
      const res = await send(PUSH, row(doc));
      expect([res.status, res.body.errors, res.body.data?.pushChanges.applied, res.body.data?.pushChanges.rejected.map((r: { code: string }) => r.code)]).toEqual([200, undefined, 0, ["BAD_USER_INPUT"]]);
    }
    const none = await send('query { records(collection: "notes", search: "nul-") { nodes { id } } }', {});
    expect(none.body.data.records.nodes).toEqual([]);
    // A backslash followed by "u0000" is ordinary text (its JSON holds \\u0000, which contains \u0000: checked, not refused).
    const literal = await send(PUSH, row({ id: "literal", n: 1, text: "\\u0000" }));
    expect(literal.body.data.pushChanges.applied).toBe(1);
    const page = await send('query { records(collection: "notes", search: "literal") { nodes { id document } } }', {});
    expect(page.body.data.records.nodes.map((r: { id: string }) => r.id)).toEqual(["literal"]);
    expect(page.body.data.records.nodes[0].document).toMatchObject({ id: "literal", n: 1, text: "\\u0000" });
  });

  it("does not pass through documents with several operations, or operations that need several subgraphs", async () => {
    const two = `${PULL} query Other { collections { name } }`;
    const body = (operationName: string) => JSON.stringify({ query: two, operationName, variables: { checkpoint: null, limit: 2 } });
    await t.raw(body("Pull"), { authorization: `Bearer ${a.token}` });
    const mark = counts().passedThrough;
    const res = await t.raw(body("Pull"), { authorization: `Bearer ${a.token}` });
    expect(res.body.data.pullChanges.documents).toHaveLength(2);
    expect(counts().passedThrough).toBe(mark);

    // A connector's runs come from the sync subgraph: two fetches, the general path.
    const joined = "query { connectors { id syncRuns(first: 1) { id } } }";
    await send(joined, {});
    const before = counts().passedThrough;
    const joinedRes = await send(joined, {});
    expect(joinedRes.body.errors).toBeUndefined();
    expect(counts().passedThrough).toBe(before);
  });

  it("keeps each tenant to its own data: a pass-through request carries the caller's token to the subgraph", async () => {
    const b = await t.tenant("passthrough-b");
    await send(PULL, { checkpoint: null, limit: 5 }, b.token);
    const res = await send(PULL, { checkpoint: null, limit: 5 }, b.token);
    expect(res.body.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT"); // tenant b has no "notes" collection
    const anonymous = await t.raw(JSON.stringify({ query: PULL, variables: { checkpoint: null, limit: 5 } }));
    expect(anonymous.body.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("pulls pages holding exactly the stored documents: tombstones, unicode, escapes, _deleted in text and as a nested key, several collections", async () => {
    for (const name of ["misc-a", "misc-b"]) expect((await t.request(CreateCollectionDocument, { input: { name } }, a.token)).errors).toBeUndefined();
    const docsA: Record<string, unknown>[] = [
      { id: "a1", s: "plain" },
      { id: "a2", s: "emoji \u{1F600} and é, 中文", nested: { deep: [1, { x: null }] } },
      { id: "a3", note: 'a "_deleted": true},{ inside a string' },
      { id: "a4", nested: { _deleted: true } },
      { id: "a5", s: "line\nbreak\ttab \\ backslash" },
    ];
    const docsB: Record<string, unknown>[] = [{ id: "b1", n: 1 }, { id: "b2", arr: [] }];
    const push = (collection: string, rows: Record<string, unknown>[]) =>
      send(PUSH, { input: { collection, rows: rows.map((d) => ({ assumedMasterState: null, newDocumentState: d })) } });
    expect((await push("misc-a", docsA)).body.data.pushChanges.applied).toBe(docsA.length);
    expect((await push("misc-b", docsB)).body.data.pushChanges.applied).toBe(docsB.length);
    // A tombstone: deleted, body kept.
    const del = await send(PUSH, { input: { collection: "misc-a", rows: [{ assumedMasterState: { ...docsA[0], _deleted: false }, newDocumentState: { ...docsA[0], _deleted: true } }] } });
    expect(del.body.data.pushChanges.applied).toBe(1);
    const expected = new Map<string, unknown>([
      ...docsA.slice(1).map((d) => [d.id as string, { ...d, _deleted: false }] as const),
      ["a1", { ...docsA[0], _deleted: true }],
      ...docsB.map((d) => [d.id as string, { ...d, _deleted: false }] as const),
    ]);
    const both = 'query Pull($checkpoint: String, $limit: Int!) { pullChanges(collections: ["misc-a", "misc-b"], checkpoint: $checkpoint, limit: $limit) { documents checkpoint hasMore } }';
    for (const limit of [1, 2, 3, 50]) {
      await send(both, { checkpoint: null, limit });
      const got = new Map<string, unknown>();
      let checkpoint: string | null = null;
      for (let page = 0; page < 20; page++) {
        const res = await send(both, { checkpoint, limit });
        const data = res.body.data.pullChanges as { documents: { id: string }[]; checkpoint: string; hasMore: boolean };
        expect(data.documents.length).toBeLessThanOrEqual(limit);
        for (const d of data.documents) got.set(d.id, d);
        checkpoint = data.checkpoint;
        if (!data.hasMore) break;
      }
      expect({ limit, got: Object.fromEntries(got) }).toEqual({ limit, got: Object.fromEntries(expected) });
    }
  });
});
