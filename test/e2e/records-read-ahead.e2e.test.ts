// Pull read-ahead (RecordsService's ReadAhead): while a device handles one page, the sync subgraph reads the next. A page
// read ahead is served only when nothing it depends on changed since it was read; otherwise the pull reads afresh.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { CreateCollectionDocument, PullChangesDocument, PushChangesDocument, type PullChangesQuery } from "../__generated__/graphql.js";
import { startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";

type Doc = { id: string; n: number; v?: number; _deleted?: boolean };
type Page = PullChangesQuery["pullChanges"];

describe("pull read-ahead", () => {
  let t: TestStack;
  let a: TenantLogin;
  const stats = () => ({ ...t.stack.sync.records.readAhead.stats });
  const pull = async (collection: string, checkpoint: string | null, limit: number): Promise<Page> => {
    const res = await t.request(PullChangesDocument, { collections: [collection], checkpoint, limit }, a.token);
    if (!res.data) throw new Error(JSON.stringify(res.errors));
    return res.data.pullChanges;
  };
  const ids = (page: Page) => (page.documents as Doc[]).map((d) => d.id);
  const push = async (collection: string, docs: Doc[], assumed: (Doc | null)[] = docs.map(() => null)) => {
    const res = await t.request(PushChangesDocument, { input: { collection, rows: docs.map((d, i) => ({ assumedMasterState: assumed[i], newDocumentState: d })) } }, a.token);
    expect(res.data?.pushChanges.applied).toBe(docs.length);
  };
  /** Waits until the read-ahead started by the last pull has its page (it runs on its own connection). */
  const settle = () => t.stack.sync.records.readAhead.idle();
  const name = (i: number) => `d${String(i).padStart(2, "0")}`;

  beforeAll(async () => {
    t = await startTestStack();
    a = await t.tenant("read-ahead");
    for (const collection of ["quiet", "busy"]) {
      const res = await t.request(CreateCollectionDocument, { input: { name: collection } }, a.token);
      expect(res.errors).toBeUndefined();
      await push(collection, Array.from({ length: 30 }, (_, i) => ({ id: name(i), n: i })));
    }
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("serves the next page from the read-ahead when nothing changed, page after page", async () => {
    const before = stats();
    const p1 = await pull("quiet", null, 10);
    expect(ids(p1)).toEqual(Array.from({ length: 10 }, (_, i) => name(i)));
    await settle();
    const p2 = await pull("quiet", p1.checkpoint ?? null, 10);
    await settle();
    const p3 = await pull("quiet", p2.checkpoint ?? null, 10);
    expect([...ids(p2), ...ids(p3)]).toEqual(Array.from({ length: 20 }, (_, i) => name(i + 10)));
    expect(p3.hasMore).toBe(false);
    const after = stats();
    expect(after.taken - before.taken).toBe(2);
    expect(after.stale).toBe(before.stale);
  });

  it("reads afresh when a write committed after the page was read ahead: the changed record comes in its new place", async () => {
    const before = stats();
    const p1 = await pull("busy", null, 10);
    await settle(); // the read-ahead of d10..d19 is done
    await push("busy", [{ id: name(15), n: 15, v: 2 }], [{ id: name(15), n: 15, _deleted: false }]);
    const p2 = await pull("busy", p1.checkpoint ?? null, 10);
    expect(stats().stale).toBe(before.stale + 1);
    // A stale page would hold d15's first version here; a fresh read has it at the end, once, in its new version.
    expect(ids(p2)).toEqual([10, 11, 12, 13, 14, 16, 17, 18, 19, 20].map(name));
    const rest: Doc[] = [];
    let checkpoint = p2.checkpoint ?? null;
    for (;;) {
      const page = await pull("busy", checkpoint, 10);
      rest.push(...(page.documents as Doc[]));
      checkpoint = page.checkpoint ?? checkpoint;
      if (!page.hasMore) break;
    }
    expect(rest.map((d) => d.id)).toEqual([...[21, 22, 23, 24, 25, 26, 27, 28, 29].map(name), name(15)]);
    expect(rest.at(-1)).toEqual({ id: name(15), n: 15, v: 2, _deleted: false });
  });

  it("never shares a page across tenants or collections", async () => {
    const b = await t.tenant("read-ahead-b");
    await t.request(CreateCollectionDocument, { input: { name: "quiet" } }, b.token);
    const p1 = await pull("quiet", null, 10);
    await settle();
    // Tenant b asks for the page after a's checkpoint: the checkpoint is a's (refused), nothing of a's is served.
    const res = await t.request(PullChangesDocument, { collections: ["quiet"], checkpoint: p1.checkpoint, limit: 10 }, b.token);
    expect(res.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect(res.data?.pullChanges ?? null).toBeNull();
    const fromStart = await t.request(PullChangesDocument, { collections: ["quiet"], checkpoint: null, limit: 10 }, b.token);
    expect(fromStart.data?.pullChanges.documents).toEqual([]);
  });
});
