import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { CreateCollectionDocument, PullChangesDocument, PushChangesDocument, RecordsChangedDocument, SyncRunsListDocument, type PullChangesQuery } from "../__generated__/graphql.js";
import { collect, startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";

type Doc = Record<string, unknown>;
const codes = (res: { errors?: readonly { extensions?: Record<string, unknown> }[] }) => (res.errors ?? []).map((e) => e.extensions?.code);

describe("records: push and pull", () => {
  let t: TestStack;
  let a: TenantLogin;
  let b: TenantLogin;
  const push = (who: TenantLogin, rows: { assumedMasterState?: Doc | null; newDocumentState: Doc }[], extra: Doc = {}) =>
    t.request(PushChangesDocument, { input: { collection: "tasks", rows, ...extra } }, who.token);
  const pullAll = async (who: TenantLogin, limit = 100) => {
    const state = new Map<string, Doc>();
    let checkpoint: string | null = null;
    let pages = 0;
    for (;;) {
      const res: { data?: PullChangesQuery | null; errors?: unknown } = await t.request(PullChangesDocument, { collections: ["tasks"], checkpoint, limit }, who.token);
      if (!res.data) throw new Error(JSON.stringify(res.errors));
      const page: PullChangesQuery["pullChanges"] = res.data.pullChanges;
      pages++;
      for (const d of page.documents as Doc[]) state.set(d.id as string, d);
      if (page.hasMore) expect(page.documents.length).toBe(limit);
      checkpoint = page.checkpoint ?? checkpoint;
      if (!page.hasMore) return { state, checkpoint, pages };
    }
  };

  beforeAll(async () => {
    t = await startTestStack();
    a = await t.tenant("records-a");
    b = await t.tenant("records-b");
    for (const who of [a, b]) {
      const res = await t.request(
        CreateCollectionDocument,
        { input: { name: "tasks", jsonSchema: { type: "object", properties: { title: { type: "string", maxLength: 50 } }, required: ["title"] } } },
        who.token,
      );
      expect(res.errors).toBeUndefined();
    }
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("applies new documents, pulls them in order with tombstones, and keeps tenants apart", async () => {
    const res = await push(a, [{ newDocumentState: { id: "t1", title: "one" } }, { newDocumentState: { id: "t2", title: "two" } }]);
    expect(res.data?.pushChanges).toMatchObject({ applied: 2, conflicts: [], rejected: [] });
    await push(a, [{ assumedMasterState: { id: "t2", title: "two", _deleted: false }, newDocumentState: { id: "t2", title: "two", _deleted: true } }]);
    const { state } = await pullAll(a);
    expect(state.get("t1")).toEqual({ id: "t1", title: "one", _deleted: false });
    expect(state.get("t2")).toEqual({ id: "t2", title: "two", _deleted: true });
    expect((await pullAll(b)).state.size).toBe(0);
  });

  it("compare-and-set: a stale assumed state is a conflict carrying the server state; CLIENT_WINS and MERGE resolve", async () => {
    await push(a, [{ newDocumentState: { id: "c1", title: "base", done: false } }]);
    const stale = await push(a, [{ assumedMasterState: { id: "c1", title: "older" }, newDocumentState: { id: "c1", title: "mine" } }]);
    expect(stale.data?.pushChanges).toMatchObject({ applied: 0, conflicts: [{ id: "c1", title: "base", done: false, _deleted: false }] });
    // Server changes `done`; the client, from the old base, changes `title`: MERGE keeps both.
    await push(a, [{ assumedMasterState: { id: "c1", title: "base", done: false }, newDocumentState: { id: "c1", title: "base", done: true } }]);
    const merged = await push(a, [{ assumedMasterState: { id: "c1", title: "base", done: false }, newDocumentState: { id: "c1", title: "renamed", done: false } }], { strategy: "MERGE" });
    expect(merged.data?.pushChanges).toMatchObject({ applied: 1, conflicts: [] });
    expect((await pullAll(a)).state.get("c1")).toEqual({ id: "c1", title: "renamed", done: true, _deleted: false });
    const forced = await push(a, [{ assumedMasterState: null, newDocumentState: { id: "c1", title: "forced" } }], { strategy: "CLIENT_WINS" });
    expect(forced.data?.pushChanges.applied).toBe(1);
    expect((await pullAll(a)).state.get("c1")).toEqual({ id: "c1", title: "forced", _deleted: false });
  });

  it("rejects bad rows with codes without failing the others, and logs the push in the sync log", async () => {
    const res = await push(a, [
      { newDocumentState: { id: "ok1", title: "fine" } },
      { newDocumentState: { title: "no id" } },
      { newDocumentState: { id: "big", title: "x".repeat(51) } },
      { newDocumentState: { id: "ok1", title: "twice" } },
    ]);
    expect(res.data?.pushChanges.applied).toBe(1);
    expect(res.data?.pushChanges.rejected.map((r) => [r.index, r.code])).toEqual([
      [1, "BAD_USER_INPUT"],
      [2, "SCHEMA_VIOLATION"],
      [3, "BAD_USER_INPUT"],
    ]);
    const runs = await t.request(SyncRunsListDocument, { limit: 5 }, a.token);
    expect(runs.data?.syncRuns.nodes[0]).toMatchObject({ kind: "PUSH", status: "PARTIAL", processed: 4, rejected: 3, failed: 0 });
  });

  it("clientId + mutationId: a retried push is applied exactly once", async () => {
    const input = { clientId: "device-1", mutationId: "m-42" };
    const rows = [{ assumedMasterState: null, newDocumentState: { id: "once", title: "first" } }];
    const first = await push(a, rows, input);
    const again = await Promise.all([push(a, rows, input), push(a, rows, input)]);
    expect(first.data?.pushChanges).toMatchObject({ applied: 1, replayed: false });
    for (const r of again) expect(r.data?.pushChanges).toMatchObject({ applied: 1, conflicts: [], replayed: true });
    const versions = await t.request(PullChangesDocument, { collections: ["tasks"], checkpoint: null, limit: 1000 }, a.token);
    expect((versions.data?.pullChanges.documents as Doc[]).filter((d) => d.id === "once")).toHaveLength(1);
  });

  it("bad input gets clear codes and writes nothing", async () => {
    expect(codes(await t.request(PullChangesDocument, { collections: ["tasks"], checkpoint: null, limit: 0 }, a.token))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await t.request(PullChangesDocument, { collections: ["tasks"], checkpoint: null, limit: 1001 }, a.token))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await t.request(PullChangesDocument, { collections: ["nope"], checkpoint: null, limit: 10 }, a.token))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await t.request(PullChangesDocument, { collections: ["tasks"], checkpoint: "garbage", limit: 10 }, a.token))).toEqual(["BAD_USER_INPUT"]);
    const foreign = (await pullAll(a)).checkpoint!;
    expect(codes(await t.request(PullChangesDocument, { collections: ["tasks"], checkpoint: foreign, limit: 10 }, b.token))).toEqual(["BAD_USER_INPUT"]);
    const before = (await pullAll(a)).state.size;
    const tooMany = Array.from({ length: 501 }, (_, i) => ({ newDocumentState: { id: `x${i}`, title: "x" } }));
    expect(codes(await push(a, tooMany))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await t.request(PushChangesDocument, { input: { collection: "nope", rows: [] } }, a.token))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await push(a, [], { clientId: "only-client" }))).toEqual(["BAD_USER_INPUT"]);
    expect((await pullAll(a)).state.size).toBe(before);
  });

  it("concurrent writers and pullers: every puller ends with exactly the server's state, no change missed or repeated", async () => {
    const writers = 6;
    const perWriter = 40;
    const pulled = new Map<string, Doc>();
    let checkpoint: string | null = null;
    let done = false;
    const seen: string[] = [];
    const puller = (async () => {
      for (;;) {
        const finished = done;
        const res: { data?: PullChangesQuery | null } = await t.request(PullChangesDocument, { collections: ["tasks"], checkpoint, limit: 7 }, b.token);
        const page: PullChangesQuery["pullChanges"] = res.data!.pullChanges;
        for (const d of page.documents as Doc[]) {
          pulled.set(d.id as string, d);
          seen.push(`${d.id}:${d.title}`);
        }
        checkpoint = page.checkpoint ?? checkpoint;
        if (finished && !page.hasMore) return;
      }
    })();
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let i = 0; i < perWriter; i++) {
          // Every writer also touches one shared document, so transactions contend on the same rows.
          const rows = [{ newDocumentState: { id: `w${w}-${i}`, title: `v${i}` } }, { newDocumentState: { id: "shared", title: `w${w}-${i}` } }];
          const res = await push(b, rows, { strategy: "CLIENT_WINS" });
          expect({ applied: res.data?.pushChanges.applied, errors: res.errors }).toEqual({ applied: 2, errors: undefined });
        }
      }),
    );
    done = true;
    await puller;
    const server = (await pullAll(b, 1000)).state;
    expect(pulled.size).toBe(server.size);
    expect(Object.fromEntries(pulled)).toEqual(Object.fromEntries(server));
    // No duplicate delivery of the same version of a private document.
    const privateSeen = seen.filter((s) => !s.startsWith("shared:"));
    expect(new Set(privateSeen).size).toBe(privateSeen.length);
    expect(server.size).toBe(writers * perWriter + 1);
  }, 120_000);

  it("recordsChanged streams the backlog then live batches from each subscriber's own checkpoint; identical streams are not shared", async () => {
    const c = await t.tenant("records-stream");
    await t.request(CreateCollectionDocument, { input: { name: "tasks" } }, c.token);
    const pushC = (id: string) => t.request(PushChangesDocument, { input: { collection: "tasks", rows: [{ newDocumentState: { id, title: id } }] } }, c.token);
    await pushC("before-1");
    await pushC("before-2");
    const ids = (results: { data?: { recordsChanged: { documents: unknown[] } } | null }[]) =>
      results.flatMap((r) => (r.data?.recordsChanged.documents ?? []) as Doc[]).map((d) => d.id);
    const first = collect(t.ws(c.token), RecordsChangedDocument, { collections: ["tasks"], checkpoint: null }, { until: (r) => ids(r as never).length >= 4, timeoutMs: 15_000 });
    // A second, identical subscription joining later must still get the whole backlog (its own cursor).
    await new Promise((r) => setTimeout(r, 300));
    const second = collect(t.ws(c.token), RecordsChangedDocument, { collections: ["tasks"], checkpoint: null }, { until: (r) => ids(r as never).length >= 4, timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 300));
    await pushC("live-1");
    await pushC("live-2");
    for (const results of await Promise.all([first, second])) {
      expect(ids(results as never)).toEqual(["before-1", "before-2", "live-1", "live-2"]);
    }
    // A foreign checkpoint is refused before streaming.
    await push(a, [{ newDocumentState: { id: "for-foreign-checkpoint", title: "x" } }], { strategy: "CLIENT_WINS" });
    const foreign = (await t.request(PullChangesDocument, { collections: ["tasks"], checkpoint: null, limit: 10 }, a.token)).data!.pullChanges.checkpoint;
    const refused = await collect(t.ws(c.token), RecordsChangedDocument, { collections: ["tasks"], checkpoint: foreign }, { until: () => true, timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(JSON.stringify(refused)).toContain("BAD_USER_INPUT");
  }, 60_000);

  it("a new collection's audit event is written in the same transaction, into the sync service's outbox", async () => {
    const res = await t.request(CreateCollectionDocument, { input: { name: "audited" } }, a.token);
    expect(res.errors).toBeUndefined();
    const rows = (await t.stack.sync.orm.em
      .getConnection()
      .execute("select payload from sync.audit_outbox where tenant_id = ? order by created_at", [a.tenantId], "all")) as { payload: unknown }[];
    const events = rows.map((r) => (typeof r.payload === "string" ? JSON.parse(r.payload) : r.payload) as { action: string; targetType: string | null; changes: Record<string, { after?: unknown }> | null });
    expect(events.filter((e) => e.action === "collection.created" && e.changes?.name?.after === "audited")).toHaveLength(1);
    // A refused duplicate writes neither a collection nor an event.
    const dup = await t.request(CreateCollectionDocument, { input: { name: "audited" } }, a.token);
    expect(codes(dup)).toEqual(["CONFLICT"]);
    const after = (await t.stack.sync.orm.em.getConnection().execute("select count(*)::int as n from sync.audit_outbox where tenant_id = ?", [a.tenantId], "all")) as { n: number }[];
    expect(after[0].n).toBe(rows.length);
  });

  it("a stream whose collections are quiet while others change waits idle (no busy catch-up loop)", async () => {
    const e = await t.tenant("records-quiet");
    for (const name of ["quiet", "busy"]) await t.request(CreateCollectionDocument, { input: { name } }, e.token);
    await t.request(PushChangesDocument, { input: { collection: "quiet", rows: [{ newDocumentState: { id: "q1", title: "q" } }] } }, e.token);
    await t.request(PushChangesDocument, { input: { collection: "busy", rows: [{ newDocumentState: { id: "b1", title: "b" } }] } }, e.token);
    // Reads of the records table (index and sequential scans), as PostgreSQL counts them.
    const commits = async () => {
      const rows = (await t.stack.sync.orm.em
        .getConnection()
        .execute("select coalesce(idx_scan, 0) + coalesce(seq_scan, 0) as reads from pg_stat_user_tables where schemaname = 'sync' and relname = 'record'", [], "all")) as {
        reads: string;
      }[];
      return Number(rows[0].reads);
    };
    const ids = (results: { data?: { recordsChanged: { documents: unknown[] } } | null }[]) =>
      results.flatMap((r) => (r.data?.recordsChanged.documents ?? []) as Doc[]).map((doc) => doc.id);
    const stream = collect(t.ws(e.token), RecordsChangedDocument, { collections: ["quiet"], checkpoint: null }, { until: (r) => ids(r as never).length >= 2, timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 1_500)); // backlog delivered; the stream is now idle at the head
    const before = await commits();
    await new Promise((r) => setTimeout(r, 3_000));
    const idle = (await commits()) - before;
    // A busy loop would read the records table thousands of times here; an idle stream (plus the feed's 5 s
    // re-read) only a handful.
    expect(idle).toBeLessThan(100);
    await t.request(PushChangesDocument, { input: { collection: "quiet", rows: [{ newDocumentState: { id: "q2", title: "q" } }] } }, e.token);
    expect(ids((await stream) as never)).toEqual(["q1", "q2"]);
  }, 60_000);

  it("streams at the head share one feed read per batch, and an ended stream releases its feed at once", async () => {
    const d = await t.tenant("records-feed");
    await t.request(CreateCollectionDocument, { input: { name: "tasks" } }, d.token);
    const pushD = (id: string) => t.request(PushChangesDocument, { input: { collection: "tasks", rows: [{ newDocumentState: { id, title: id } }] } }, d.token);
    const feeds = t.stack.sync.feeds;
    const subscribers = 8;
    const ids = (results: { data?: { recordsChanged: { documents: unknown[] } } | null }[]) =>
      results.flatMap((r) => (r.data?.recordsChanged.documents ?? []) as Doc[]).map((doc) => doc.id);
    const streams = Array.from({ length: subscribers }, () =>
      collect(t.ws(d.token), RecordsChangedDocument, { collections: ["tasks"], checkpoint: null }, { until: (r) => ids(r as never).length >= 4, timeoutMs: 20_000 }),
    );
    // Every stream has joined the feed once the feed exists and a first change reaches all of them.
    const deadline = Date.now() + 10_000;
    while ((await feeds.readsOf(d.tenantId)) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 500));
    const before = await feeds.readsOf(d.tenantId);
    for (const id of ["f1", "f2", "f3"]) {
      await pushD(id);
      await new Promise((r) => setTimeout(r, 300));
    }
    const reads = (await feeds.readsOf(d.tenantId)) - before;
    // One read per pushed batch (plus at most a timer re-read or two), however many streams: not one per stream.
    expect(reads).toBeGreaterThanOrEqual(3);
    expect(reads).toBeLessThanOrEqual(3 + 2);
    await pushD("f4");
    for (const results of await Promise.all(streams)) expect(ids(results as never)).toEqual(["f1", "f2", "f3", "f4"]);
    // All streams ended: the feed is gone without waiting for another change.
    const gone = Date.now() + 3_000;
    while ((await feeds.readsOf(d.tenantId)) !== 0 && Date.now() < gone) await new Promise((r) => setTimeout(r, 50));
    expect(await feeds.readsOf(d.tenantId)).toBe(0);
  }, 60_000);
});
