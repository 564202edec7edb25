// The sync protocol's edges, end to end through the gateway (issue 17, "Sync protocol"): repeated pushes, one bad row
// among good ones (NUL, depth, size), request size, convergence of rejected rows, reused mutation ids.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { RaConflictsDocument, RaCreateCollectionDocument, RaPullDocument, RaPushDocument, type RaPullQuery } from "../__generated__/graphql.js";
import { startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";
import { codesOf } from "./e2e-helpers.js";

/** A push as an RxDB client sends it; the gateway's first request of a query text takes its general path, later ones pass through. */
const PUSH = `mutation P($input: PushChangesInput!) { pushChanges(input: $input) { applied conflicts rejected { index id code message } replayed } }`;
/** A value nested `levels` deep (objects within objects), built without recursion. */
function nested(levels: number): Doc {
  const root: Doc = {};
  let at = root;
  for (let i = 1; i < levels; i++) at = (at.x = {}) as Doc;
  return root;
}
/**
 * JSON text of a request: `"@deep:N"` strings become objects nested N deep (written as text: JSON.stringify itself
 * overflows the stack on about 5,000 levels).
 */
const jsonWithDeep = (value: unknown) => JSON.stringify(value).replace(/"@deep:(\d+)"/g, (_m, n: string) => `${'{"x":'.repeat(Number(n) - 1)}{}${"}".repeat(Number(n) - 1)}`);

type Doc = Record<string, unknown>;
type Row = { assumedMasterState?: Doc | null; newDocumentState: Doc };
const TITLE_SCHEMA = { type: "object", properties: { title: { type: "string", maxLength: 50 } }, required: ["title"] };

describe("sync protocol: repeated pushes, bad rows, request size, convergence, mutation ids", () => {
  let t: TestStack;
  let a: TenantLogin;

  const push = (collection: string, rows: Row[], extra: Doc = {}) => t.request(RaPushDocument, { input: { collection, rows, ...extra } }, a.token);
  const pushOk = async (collection: string, rows: Row[], extra: Doc = {}) => {
    const res = await push(collection, rows, extra);
    expect(res.errors).toBeUndefined();
    return res.data!.pushChanges;
  };
  const serverState = async (collection: string) => {
    const res = await t.request(RaPullDocument, { collections: [collection], checkpoint: null, limit: 1000 }, a.token);
    expect(res.errors).toBeUndefined();
    const page: RaPullQuery["pullChanges"] = res.data!.pullChanges;
    return new Map((page.documents as Doc[]).map((d) => [String(d.id), d]));
  };

  beforeAll(async () => {
    t = await startTestStack();
    a = await t.tenant("protocol-a");
    expect((await t.request(RaCreateCollectionDocument, { input: { name: "notes" } as never }, a.token)).errors).toBeUndefined();
    for (const name of ["tasks", "manual"]) {
      const res = await t.request(RaCreateCollectionDocument, { input: { name, jsonSchema: TITLE_SCHEMA, ...(name === "manual" ? { conflictStrategy: "MANUAL" } : {}) } as never }, a.token);
      expect(res.errors).toBeUndefined();
    }
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("a push whose new state already is the server's state is a no-op success under every strategy (never a conflict)", async () => {
    for (const strategy of ["SERVER_WINS", "CLIENT_WINS", "MERGE", "MANUAL"]) {
      const id = `same-${strategy}`;
      const doc = { id, title: "same" };
      expect(await pushOk("tasks", [{ assumedMasterState: null, newDocumentState: doc }], { strategy })).toMatchObject({ applied: 1, conflicts: [], rejected: [], manualConflicts: [] });
      // The same push again (as new, as from the state it replaced, from a stale state), and the same deletion twice.
      for (const assumed of [null, { id, title: "same", _deleted: false }, { id, title: "older", _deleted: false }]) {
        const again = await pushOk("tasks", [{ assumedMasterState: assumed, newDocumentState: doc }], { strategy });
        expect({ strategy, assumed, answer: again }).toMatchObject({ answer: { applied: 1, conflicts: [], rejected: [], manualConflicts: [], replayed: false } });
      }
      const deleted = { id, title: "same", _deleted: true };
      await pushOk("tasks", [{ assumedMasterState: { id, title: "same", _deleted: false }, newDocumentState: deleted }], { strategy });
      for (const assumed of [{ id, title: "same", _deleted: false }, null]) {
        const again = await pushOk("tasks", [{ assumedMasterState: assumed, newDocumentState: deleted }], { strategy });
        expect({ strategy, answer: again }).toMatchObject({ answer: { applied: 1, conflicts: [], rejected: [], manualConflicts: [] } });
      }
      expect((await serverState("tasks")).get(id)).toEqual({ id, title: "same", _deleted: true });
    }
    // A collection whose own strategy is MANUAL: two identical pushes leave no open conflict.
    const row = { assumedMasterState: null, newDocumentState: { id: "m1", title: "twice" } };
    await pushOk("manual", [row]);
    expect(await pushOk("manual", [row])).toMatchObject({ applied: 1, conflicts: [], manualConflicts: [] });
    const open = await t.request(RaConflictsDocument, { collection: "manual", status: "OPEN" as never }, a.token);
    expect(codesOf(open)).toEqual([]);
    expect(open.data?.conflicts.nodes).toEqual([]);
  });

  it("one bad row (NUL in a value or key, nesting over the limit, ~5,000 levels deep, too big) is rejected alone, on both gateway paths", async () => {
    const passthrough = t.stack.gateway.passthrough;
    // The third: straight to the sync subgraph over HTTP, as a gateway in another process forwards the client's body.
    for (const path of ["general", "pass-through", "subgraph"]) {
      // A fresh query text: its first request is planned (general path), its second passes through.
      const query = `${PUSH} # ${path}`;
      if (path === "pass-through") {
        const warm = await t.raw(JSON.stringify({ query, variables: { input: { collection: "tasks", rows: [] } } }), { authorization: `Bearer ${a.token}` });
        expect(warm.status).toBe(200);
      }
      const before = passthrough.passedThrough;
      const p = path[0];
      const rows: Row[] = [
        { newDocumentState: { id: `${p}-ok-1`, title: "fine" } },
        { newDocumentState: { id: `${p}-nul-value`, title: "a\u0000b" } },
        { newDocumentState: { id: `${p}-nul-key`, title: "x", "k\u0000": 1 } },
        { newDocumentState: { id: `${p}-deep-65`, title: "x", deep: nested(64) } },
        { newDocumentState: { id: `${p}-deep-5000`, title: "x", deep: "@deep:5000" } },
        { newDocumentState: { id: `${p}-deep-64`, title: "x", deep: nested(63) } },
        { newDocumentState: { id: `${p}-huge`, title: "x", blob: "x".repeat(70_000) } },
        { assumedMasterState: { id: `${p}-nul-assumed`, title: "\u0000" }, newDocumentState: { id: `${p}-nul-assumed`, title: "x" } },
        { assumedMasterState: { id: `${p}-deep-assumed`, deep: "@deep:5000" }, newDocumentState: { id: `${p}-deep-assumed`, title: "x" } },
        { newDocumentState: { id: `${p}-backslash`, title: "\\u0000 is text" } },
        { newDocumentState: { id: `${p}-ok-2`, title: "fine" } },
      ];
      const body = jsonWithDeep({ query, variables: { input: { collection: "tasks", rows } } });
      const res =
        path === "subgraph"
          ? await fetch(t.stack.sync.url, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${a.token}` }, body }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }))
          : await t.raw(body, { authorization: `Bearer ${a.token}` });
      expect({ path, status: res.status, errors: res.body.errors }).toEqual({ path, status: 200, errors: undefined });
      const answer = res.body.data.pushChanges;
      expect({ path, rejected: answer.rejected.map((r: { index: number; id: string; code: string }) => [r.index, r.id, r.code]) }).toEqual({
        path,
        rejected: [
          [1, `${p}-nul-value`, "BAD_USER_INPUT"],
          [2, `${p}-nul-key`, "BAD_USER_INPUT"],
          [3, `${p}-deep-65`, "BAD_USER_INPUT"],
          [4, `${p}-deep-5000`, "BAD_USER_INPUT"],
          [6, `${p}-huge`, "BAD_USER_INPUT"],
          [7, `${p}-nul-assumed`, "BAD_USER_INPUT"],
          [8, `${p}-deep-assumed`, "BAD_USER_INPUT"],
        ],
      });
      expect(answer.applied).toBe(4);
      expect(passthrough.passedThrough - before).toBe(path === "pass-through" ? 1 : 0);
      const state = await serverState("tasks");
      expect(state.get(`${p}-deep-64`)).toEqual({ id: `${p}-deep-64`, title: "x", deep: nested(63), _deleted: false });
      expect(state.get(`${p}-backslash`)).toEqual({ id: `${p}-backslash`, title: "\\u0000 is text", _deleted: false });
      for (const id of ["nul-value", "nul-key", "deep-65", "deep-5000", "huge", "nul-assumed"]) expect(state.has(`${p}-${id}`)).toBe(false);
    }
  });

  it("request-level refusals carry a 4xx status: NUL or too-deep values outside a push's rows are BAD_USER_INPUT with HTTP 400", async () => {
    for (const round of [1, 2]) {
      const nul = await t.raw(JSON.stringify({ query: PUSH, variables: { input: { collection: "ta\u0000sks", rows: [] } } }), { authorization: `Bearer ${a.token}` });
      expect({ round, status: nul.status, codes: codesOf(nul.body) }).toEqual({ round, status: 400, codes: ["BAD_USER_INPUT"] });
      const literal = await t.raw(JSON.stringify({ query: `{ pullChanges(collections: ["ta\\u0000sks"], limit: 10) { checkpoint } }` }), { authorization: `Bearer ${a.token}` });
      expect({ round, status: literal.status, codes: codesOf(literal.body) }).toEqual({ round, status: 400, codes: ["BAD_USER_INPUT"] });
      const deep = await t.raw(
        jsonWithDeep({ query: `mutation C($input: CreateCollectionInput!) { createCollection(input: $input) { id } }`, variables: { input: { name: `deep-${round}`, jsonSchema: "@deep:5000" } } }),
        { authorization: `Bearer ${a.token}` },
      );
      expect({ round, status: deep.status, codes: codesOf(deep.body) }).toEqual({ round, status: 400, codes: ["BAD_USER_INPUT"] });
    }
    // A NUL in a row written as a literal in the query is that row's problem too.
    const literalRow = await t.raw(
      JSON.stringify({ query: `mutation { pushChanges(input: { collection: "tasks", rows: [{ newDocumentState: { id: "lit-nul", title: "a\\u0000" } }, { newDocumentState: { id: "lit-ok", title: "ok" } }] }) { applied rejected { index code } } }` }),
      { authorization: `Bearer ${a.token}` },
    );
    expect({ status: literalRow.status, body: literalRow.body }).toEqual({ status: 200, body: { data: { pushChanges: { applied: 1, rejected: [{ index: 0, code: "BAD_USER_INPUT" }] } } } });
  });

  it("a reused clientId + mutationId with another payload is CONFLICT (MUTATION_ID_REUSED) and writes nothing; the same payload stays a replay", async () => {
    const pair = { clientId: "device-reinstalled", mutationId: "1" };
    const rows = [{ assumedMasterState: null, newDocumentState: { id: "reuse-1", title: "first" } }];
    expect(await pushOk("tasks", rows, pair)).toMatchObject({ applied: 1, replayed: false });
    const reused = (res: { errors?: readonly { extensions?: Record<string, unknown> }[]; data?: unknown }) => ({
      data: res.data ?? null,
      errors: res.errors?.map((e) => [e.extensions?.code, e.extensions?.reason]),
    });
    const attempts: [string, Row[], Doc][] = [
      ["other rows", [{ assumedMasterState: null, newDocumentState: { id: "reuse-2", title: "after reinstall" } }], {}],
      ["same ids, other state", [{ assumedMasterState: null, newDocumentState: { id: "reuse-1", title: "changed" } }], {}],
      ["other strategy", rows, { strategy: "CLIENT_WINS" }],
    ];
    for (const [label, other, extra] of attempts) {
      expect({ label, res: reused(await push("tasks", other, { ...pair, ...extra })) }).toEqual({ label, res: { data: null, errors: [["CONFLICT", "MUTATION_ID_REUSED"]] } });
    }
    expect(reused(await push("manual", rows, pair))).toEqual({ data: null, errors: [["CONFLICT", "MUTATION_ID_REUSED"]] });
    const state = await serverState("tasks");
    expect(state.get("reuse-1")).toEqual({ id: "reuse-1", title: "first", _deleted: false });
    expect(state.has("reuse-2")).toBe(false);
    expect((await serverState("manual")).has("reuse-1")).toBe(false);
    // The same request again is the retry it looks like: the stored answer, nothing applied twice.
    expect(await pushOk("tasks", rows, pair)).toMatchObject({ applied: 1, replayed: true });
  });

  it("rejectedAsConflicts: each rejected row's server state (or a tombstone) comes back in conflicts, and rejected still says why", async () => {
    await pushOk("tasks", [{ newDocumentState: { id: "conv-1", title: "stored" } }]);
    const rows: Row[] = [
      { assumedMasterState: { id: "conv-1", title: "stored", _deleted: false }, newDocumentState: { id: "conv-1", title: "x".repeat(60) } },
      { assumedMasterState: null, newDocumentState: { id: "conv-new", title: "y".repeat(60) } },
      { assumedMasterState: null, newDocumentState: { id: "conv-nul", title: "a\u0000" } },
      { assumedMasterState: null, newDocumentState: { id: "conv-ok", title: "fine" } },
      { assumedMasterState: null, newDocumentState: { title: "no id" } },
    ];
    const plain = await pushOk("tasks", rows.slice(0, 2));
    expect(plain).toMatchObject({ applied: 0, conflicts: [] });
    const answer = await pushOk("tasks", rows, { rejectedAsConflicts: true });
    expect(answer.rejected.map((r) => [r.index, r.id, r.code])).toEqual([
      [0, "conv-1", "SCHEMA_VIOLATION"],
      [1, "conv-new", "SCHEMA_VIOLATION"],
      [2, "conv-nul", "BAD_USER_INPUT"],
      [4, null, "BAD_USER_INPUT"],
    ]);
    expect(answer.applied).toBe(1);
    expect(answer.conflicts).toEqual([
      { id: "conv-1", title: "stored", _deleted: false },
      { id: "conv-new", _deleted: true },
      { id: "conv-nul", _deleted: true },
    ]);
    // A deleted record comes back as its tombstone.
    await pushOk("tasks", [{ assumedMasterState: { id: "conv-ok", title: "fine", _deleted: false }, newDocumentState: { id: "conv-ok", title: "fine", _deleted: true } }]);
    const again = await pushOk("tasks", [{ assumedMasterState: null, newDocumentState: { id: "conv-ok", title: "z".repeat(60) } }], { rejectedAsConflicts: true });
    expect(again.conflicts).toEqual([{ id: "conv-ok", title: "fine", _deleted: true }]);
  });

  it("request size: a full batch of maximum-size documents fits (both gateway paths); over 64 MiB is PAYLOAD_TOO_LARGE (413); large bodies need a token", async () => {
    const largest = (id: string) => {
      const doc: Doc = { id, title: "big", blob: "" };
      doc.blob = "x".repeat(64 * 1024 - Buffer.byteLength(JSON.stringify(doc)));
      return doc;
    };
    const query = `${PUSH} # size`;
    const passthrough = t.stack.gateway.passthrough;
    for (const round of ["general", "pass-through"]) {
      const before = passthrough.passedThrough;
      // 500 rows, each a new and an assumed state of 64 KiB: about 63 MiB of JSON.
      const rows = Array.from({ length: 500 }, (_, i) => ({ assumedMasterState: { ...largest(`${round}-big-${i}`), _deleted: false }, newDocumentState: largest(`${round}-big-${i}`) }));
      const body = JSON.stringify({ query, variables: { input: { collection: "notes", rows } } });
      expect(Buffer.byteLength(body)).toBeGreaterThan(60 * 1024 * 1024);
      const res = await t.raw(body, { authorization: `Bearer ${a.token}` });
      expect({ round, status: res.status, errors: res.body.errors, applied: res.body.data?.pushChanges.applied, rejected: res.body.data?.pushChanges.rejected }).toEqual({
        round,
        status: 200,
        errors: undefined,
        applied: 500,
        rejected: [],
      });
      expect(passthrough.passedThrough - before).toBe(round === "pass-through" ? 1 : 0);
    }
    // Over the limit: its own code, with the limit.
    const over = await t.raw(JSON.stringify({ query, variables: { input: { collection: "notes", rows: [{ newDocumentState: { id: "over", blob: "x".repeat(64 * 1024 * 1024) } }] } } }), {
      authorization: `Bearer ${a.token}`,
    });
    expect({ status: over.status, errors: over.body.errors }).toEqual({
      status: 413,
      errors: [{ message: "Request body too large", extensions: { code: "PAYLOAD_TOO_LARGE", maxBytes: 64 * 1024 * 1024 } }],
    });
    // Over 1 MiB without a (valid) token: refused before the body is read.
    const twoMiB = JSON.stringify({ query, variables: { input: { collection: "notes", rows: [{ newDocumentState: { id: "anon", blob: "x".repeat(2 * 1024 * 1024) } }] } } });
    for (const headers of [{}, { authorization: "Bearer not-a-token" }] as Record<string, string>[]) {
      const anonymous = await t.raw(twoMiB, headers);
      expect({ status: anonymous.status, codes: codesOf(anonymous.body) }).toEqual({ status: 401, codes: ["UNAUTHENTICATED"] });
    }
    const small = await t.raw(JSON.stringify({ query, variables: { input: { collection: "notes", rows: [] } } }));
    expect(codesOf(small.body)).toEqual(["UNAUTHENTICATED"]);
    // The same at a subgraph's own port.
    const direct = await fetch(t.stack.sync.url, { method: "POST", headers: { "content-type": "application/json" }, body: twoMiB });
    expect({ status: direct.status, codes: codesOf((await direct.json()) as never) }).toEqual({ status: 401, codes: ["UNAUTHENTICATED"] });
  }, 120_000);
});
