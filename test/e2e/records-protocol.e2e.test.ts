// The sync protocol's edges, end to end through the gateway (issue 17, "Sync protocol"): repeated pushes, one bad row
// among good ones (NUL, depth, size), request size, convergence of rejected rows, reused mutation ids.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { RaConflictsDocument, RaCreateCollectionDocument, RaPullDocument, RaPushDocument, type RaPullQuery } from "../__generated__/graphql.js";
import { startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";
import { codesOf } from "./e2e-helpers.js";

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
});
