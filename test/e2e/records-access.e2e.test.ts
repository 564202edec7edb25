// Records access end to end through the gateway: collection grants (canPull / canPush), row filters on pull, stream
// and push (records leaving the caller's view arrive as removals), grant changes taking effect, system roles, and
// tenant isolation of collections, records, streams, conflicts, history and devices.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import {
  CreateRoleDocument,
  LoginDocument,
  RaCollectionsDocument,
  RaConflictsDocument,
  RaCreateCollectionDocument,
  RaPullDocument,
  RaPushDocument,
  RaRecordHistoryDocument,
  RaRecordsChangedDocument,
  RaResetClientDocument,
  RaResolveConflictDocument,
  RaSyncClientsDocument,
  RolesCreateUserDocument,
  SetCollectionGrantDocument,
  type RaPullQuery,
  type RaRecordsChangedSubscription,
} from "../__generated__/graphql.js";
import { startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";
import { codesOf, Feed, sleep, waitUntil } from "./e2e-helpers.js";

type Doc = Record<string, unknown>;
type Row = { assumedMasterState?: Doc | null; newDocumentState: Doc };
const PASSWORD = "correct horse battery staple";

/** The error codes a subscription ended with: an `error` message (array of errors) or errors in a result. */
function streamCodes(feed: Feed<unknown>): unknown[] {
  const fromResults = feed.results.flatMap((r) => (r.errors ?? []).map((e) => e.extensions?.code));
  const err = feed.error as unknown;
  const fromError = Array.isArray(err) ? err.map((e: { extensions?: { code?: unknown } }) => e?.extensions?.code) : [];
  return [...fromResults, ...fromError];
}

const streamedDocs = (feed: Feed<RaRecordsChangedSubscription>) => feed.results.flatMap((r) => (r.data?.recordsChanged.documents ?? []) as Doc[]);

describe("records access: grants and row filters", () => {
  let t: TestStack;
  let a: TenantLogin;
  let b: TenantLogin;

  async function ok<T extends { errors?: unknown; data?: unknown }>(p: Promise<T>): Promise<NonNullable<T["data"]>> {
    const res = await p;
    expect(res.errors).toBeUndefined();
    return res.data as NonNullable<T["data"]>;
  }
  const push = (token: string, collection: string, rows: Row[], extra: Doc = {}) => t.request(RaPushDocument, { input: { collection, rows, ...extra } }, token);
  const pull = (token: string, collections: string[], checkpoint: string | null = null, limit = 1000) =>
    t.request(RaPullDocument, { collections, checkpoint, limit }, token);
  const pullOk = async (token: string, collections: string[], checkpoint: string | null = null, limit = 1000): Promise<RaPullQuery["pullChanges"]> =>
    (await ok(pull(token, collections, checkpoint, limit))).pullChanges;
  /** The server's full current state of a collection (as tenant admin `who` sees it), by id. */
  const serverState = async (who: TenantLogin, collection: string) => {
    const page = await pullOk(who.token, [collection]);
    expect(page.hasMore).toBe(false);
    return new Map((page.documents as Doc[]).map((d) => [d.id as string, d]));
  };
  const role = async (tenant: TenantLogin, name: string, permissions: string[]) =>
    (await ok(t.request(CreateRoleDocument, { input: { name, permissions } }, tenant.token))).createRole;
  const grant = (tenant: TenantLogin, roleId: string, collection: string, canPull: boolean, canPush: boolean, rowFilters?: { field: string; op: "EQ"; value: unknown }[]) =>
    ok(t.request(SetCollectionGrantDocument, { input: { roleId, collection, canPull, canPush, ...(rowFilters ? { rowFilters } : {}) } }, tenant.token));
  /** A user of `tenant` with exactly `roles`, signed in. */
  async function user(tenant: TenantLogin, local: string, roles: string[]) {
    const email = `${local}@${tenant.slug}.example`;
    const created = (await ok(t.request(RolesCreateUserDocument, { input: { email, displayName: local, roles, password: PASSWORD } }, tenant.token))).createUser.user;
    const login = (await ok(t.request(LoginDocument, { input: { tenant: tenant.slug, email, password: PASSWORD } }))).login;
    expect(login.user.roles).toEqual(roles);
    return { id: created.id, token: login.accessToken };
  }
  const subscribe = (token: string, collections: string[], checkpoint: string | null) =>
    new Feed<RaRecordsChangedSubscription>(t.ws(token), RaRecordsChangedDocument, { collections, checkpoint });

  beforeAll(async () => {
    t = await startTestStack();
    a = await t.tenant("access-a");
    b = await t.tenant("access-b");
    for (const name of ["alpha", "beta", "deals"]) await ok(t.request(RaCreateCollectionDocument, { input: { name } }, a.token));
    await ok(t.request(RaCreateCollectionDocument, { input: { name: "alpha" } }, b.token));
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("canPull on one collection only: other collections are FORBIDDEN for pull and stream, and push without canPush writes nothing", async () => {
    const r = await role(a, "Alpha readers", ["sync:pull", "sync:push"]);
    await grant(a, r.id, "alpha", true, false);
    const reader = await user(a, "reader", ["Alpha readers"]);
    await ok(push(a.token, "alpha", [{ newDocumentState: { id: "a1", title: "one" } }]));
    await ok(push(a.token, "beta", [{ newDocumentState: { id: "b1", title: "one" } }]));

    // Pulls alpha, with its documents.
    expect((await pullOk(reader.token, ["alpha"])).documents).toEqual([{ id: "a1", title: "one", _deleted: false }]);
    // beta alone, or beta beside alpha: FORBIDDEN, and no document of either comes back.
    for (const collections of [["beta"], ["alpha", "beta"]]) {
      const res = await pull(reader.token, collections);
      expect(codesOf(res)).toEqual(["FORBIDDEN"]);
      expect(res.data?.pullChanges ?? null).toBeNull();
    }

    // The role has the sync:push permission but no canPush on alpha: the whole push is FORBIDDEN, nothing written.
    const before = await serverState(a, "alpha");
    const refused = await push(reader.token, "alpha", [
      { newDocumentState: { id: "a-new", title: "new" } },
      { assumedMasterState: { id: "a1", title: "one", _deleted: false }, newDocumentState: { id: "a1", title: "changed" } },
    ]);
    expect(codesOf(refused)).toEqual(["FORBIDDEN"]);
    expect(refused.data?.pushChanges ?? null).toBeNull();
    expect(await serverState(a, "alpha")).toEqual(before);
    expect(codesOf(await push(reader.token, "beta", [{ newDocumentState: { id: "b-new", title: "new" } }]))).toEqual(["FORBIDDEN"]);
    expect((await serverState(a, "beta")).has("b-new")).toBe(false);

    // A stream of beta is refused with FORBIDDEN; one of alpha works (it delivers the backlog).
    const betaFeed = subscribe(reader.token, ["beta"], null);
    await betaFeed.ended();
    expect(streamCodes(betaFeed as Feed<unknown>)).toEqual(["FORBIDDEN"]);
    expect(streamedDocs(betaFeed)).toEqual([]);
    const alphaFeed = subscribe(reader.token, ["alpha"], null);
    await alphaFeed.nth(1);
    expect(streamedDocs(alphaFeed)).toEqual([{ id: "a1", title: "one", _deleted: false }]);
    await alphaFeed.close();

    // Without the sync:push permission (so no grant may carry canPush), push is refused too.
    const pullOnly = await role(a, "Pull only", ["sync:pull"]);
    await grant(a, pullOnly.id, "alpha", true, false);
    const puller = await user(a, "pull-only", ["Pull only"]);
    expect(codesOf(await push(puller.token, "alpha", [{ newDocumentState: { id: "a-po", title: "x" } }]))).toEqual(["FORBIDDEN"]);
    expect((await serverState(a, "alpha")).has("a-po")).toBe(false);
  });

  it("ANALYST (system role) pulls and streams every collection but cannot push", async () => {
    const analyst = await user(a, "analyst", ["ANALYST"]);
    const admin = await serverState(a, "alpha");
    const pulled = await pullOk(analyst.token, ["alpha", "beta"]);
    expect(pulled.items.filter((i) => i.collection === "alpha").map((i) => i.document)).toEqual([...admin.values()]);
    expect(pulled.items.some((i) => i.collection === "beta")).toBe(true);
    const feed = subscribe(analyst.token, ["beta"], null);
    await feed.nth(1);
    expect(streamedDocs(feed).map((d) => d.id)).toContain("b1");
    await feed.close();
    const res = await push(analyst.token, "alpha", [{ newDocumentState: { id: "by-analyst", title: "x" } }]);
    expect(codesOf(res)).toEqual(["FORBIDDEN"]);
    expect((await serverState(a, "alpha")).has("by-analyst")).toBe(false);
  });

  describe("row filters (dept EQ sales)", () => {
    let sales: { id: string; token: string };
    let salesRoleId: string;
    const filter = [{ field: "dept", op: "EQ" as const, value: "sales" }];

    beforeAll(async () => {
      const r = await role(a, "Sales", ["sync:pull", "sync:push"]);
      salesRoleId = r.id;
      await grant(a, r.id, "deals", true, true, filter);
      sales = await user(a, "sales", ["Sales"]);
    });

    it("pull returns only matching documents; one that leaves the view arrives as a removal (pull and live stream); one never seen never appears", async () => {
      await ok(
        push(a.token, "deals", [
          { newDocumentState: { id: "d1", dept: "sales", amount: 1 } },
          { newDocumentState: { id: "d2", dept: "sales", amount: 2 } },
          { newDocumentState: { id: "d3", dept: "hr", amount: 3 } },
        ]),
      );
      const first = await pullOk(sales.token, ["deals"]);
      expect(first.documents).toEqual([
        { id: "d1", dept: "sales", amount: 1, _deleted: false },
        { id: "d2", dept: "sales", amount: 2, _deleted: false },
      ]);
      const c1 = first.checkpoint!;
      expect(c1).toEqual(expect.any(String));

      // A live stream of the filtered user from the same checkpoint.
      const feed = subscribe(sales.token, ["deals"], c1);

      // d1 leaves the view.
      await ok(push(a.token, "deals", [{ assumedMasterState: { id: "d1", dept: "sales", amount: 1, _deleted: false }, newDocumentState: { id: "d1", dept: "hr", amount: 1 } }]));
      await feed.nth(1);
      expect(streamedDocs(feed)).toEqual([{ id: "d1", _deleted: true }]);
      expect((await pullOk(sales.token, ["deals"], c1)).documents).toEqual([{ id: "d1", _deleted: true }]);

      // Changes to records outside the view (an update of d3, a new d4) show up nowhere, not even as ids; the next
      // visible change (m1) comes right after the removal.
      await ok(
        push(a.token, "deals", [
          { assumedMasterState: { id: "d3", dept: "hr", amount: 3, _deleted: false }, newDocumentState: { id: "d3", dept: "hr", amount: 30 } },
          { newDocumentState: { id: "d4", dept: "hr", amount: 4 } },
        ]),
      );
      await ok(push(a.token, "deals", [{ newDocumentState: { id: "m1", dept: "sales", amount: 10 } }]));
      await waitUntil(() => streamedDocs(feed).length >= 2, "m1 on the stream");
      await sleep(200);
      expect(streamedDocs(feed)).toEqual([
        { id: "d1", _deleted: true },
        { id: "m1", dept: "sales", amount: 10, _deleted: false },
      ]);
      await feed.close();
      expect(feed.error).toBeUndefined();
      const fromC1 = await pullOk(sales.token, ["deals"], c1);
      expect(fromC1.documents).toEqual([
        { id: "d1", _deleted: true },
        { id: "m1", dept: "sales", amount: 10, _deleted: false },
      ]);

      // d5 is created inside the view and leaves it before the user pulls again: from c1 it never existed for them.
      await ok(push(a.token, "deals", [{ newDocumentState: { id: "d5", dept: "sales", amount: 5 } }]));
      await ok(push(a.token, "deals", [{ assumedMasterState: { id: "d5", dept: "sales", amount: 5, _deleted: false }, newDocumentState: { id: "d5", dept: "hr", amount: 5 } }]));
      const again = await pullOk(sales.token, ["deals"], c1);
      expect(again.documents).toEqual(fromC1.documents);
      expect(JSON.stringify(again.documents)).not.toMatch(/d3|d4|d5/);
      // The checkpoint moved past the invisible changes: continuing from it returns nothing.
      const tail = await pullOk(sales.token, ["deals"], again.checkpoint);
      expect(tail.documents).toEqual([]);

      // From the start: exactly the records in the view now, no removals.
      expect((await pullOk(sales.token, ["deals"])).documents).toEqual([
        { id: "d2", dept: "sales", amount: 2, _deleted: false },
        { id: "m1", dept: "sales", amount: 10, _deleted: false },
      ]);

      // d3 enters the view: it arrives whole.
      await ok(push(a.token, "deals", [{ assumedMasterState: { id: "d3", dept: "hr", amount: 30, _deleted: false }, newDocumentState: { id: "d3", dept: "sales", amount: 30 } }]));
      expect((await pullOk(sales.token, ["deals"], again.checkpoint)).documents).toEqual([{ id: "d3", dept: "sales", amount: 30, _deleted: false }]);

      // A filtered user cannot read the history of a record outside the view (as if it did not exist).
      expect(codesOf(await t.request(RaRecordHistoryDocument, { collection: "deals", id: "d4" }, sales.token))).toEqual(["NOT_FOUND"]);
      expect((await ok(t.request(RaRecordHistoryDocument, { collection: "deals", id: "d2" }, sales.token))).recordHistory.nodes).toHaveLength(1);
    });

    it("a tombstone outside the view is shown back bare, never with the body its deleter sent", async () => {
      await ok(push(a.token, "deals", [{ newDocumentState: { id: "secret-1", dept: "hr", salary: 99_000 } }]));
      const stored = (await serverState(a, "deals")).get("secret-1")!;
      await ok(push(a.token, "deals", [{ assumedMasterState: stored, newDocumentState: { id: "secret-1", dept: "hr", salary: 99_000, _deleted: true } }]));
      // The filtered user "creates" that id: it exists (as a tombstone), so the answer is a conflict — without the body.
      const res = await ok(push(sales.token, "deals", [{ assumedMasterState: null, newDocumentState: { id: "secret-1", dept: "sales" } }]));
      expect(res.pushChanges.conflicts).toEqual([{ id: "secret-1", _deleted: true }]);
      expect(JSON.stringify(res)).not.toContain("99000");
      // A MANUAL push keeps the same bare state, and the conflict is listed only to callers who may see all of it.
      const manual = await ok(push(sales.token, "deals", [{ assumedMasterState: null, newDocumentState: { id: "secret-1", dept: "sales" } }], { strategy: "MANUAL" }));
      expect(manual.pushChanges.manualConflicts).toHaveLength(1);
      const listed = await t.request(RaConflictsDocument, { collection: "deals", first: 50 }, a.token);
      const conflict = listed.data?.conflicts.nodes.find((c) => c.id === manual.pushChanges.manualConflicts[0]);
      expect(conflict?.serverState).toEqual({ id: "secret-1", _deleted: true });
    });

    it("push filters: rows outside them are rejected with ROW_FILTER while the others apply", async () => {
      const before = await serverState(a, "deals");
      const d4 = before.get("d4")!;
      const d2 = before.get("d2")!;
      expect(d4).toMatchObject({ dept: "hr" });
      const res = await ok(
        push(sales.token, "deals", [
          { newDocumentState: { id: "p1", dept: "sales", amount: 1 } }, // inside: applied
          { newDocumentState: { id: "p2", dept: "hr", amount: 2 } }, // new document outside
          { assumedMasterState: d2, newDocumentState: { ...d2, dept: "hr", _deleted: false } }, // moving its own record out
          { assumedMasterState: d4, newDocumentState: { ...d4, dept: "sales", _deleted: false } }, // taking over a record outside
          { assumedMasterState: d4, newDocumentState: { id: "d4", _deleted: true } }, // (same id twice: BAD_USER_INPUT)
        ]),
      );
      expect(res.pushChanges.applied).toBe(1);
      expect(res.pushChanges.conflicts).toEqual([]);
      expect(res.pushChanges.rejected.map((r) => [r.index, r.id, r.code])).toEqual([
        [1, "p2", "ROW_FILTER"],
        [2, "d2", "ROW_FILTER"],
        [3, "d4", "ROW_FILTER"],
        [4, "d4", "BAD_USER_INPUT"],
      ]);
      // Deleting a record outside the filters is refused too.
      const del = await ok(push(sales.token, "deals", [{ assumedMasterState: d4, newDocumentState: { id: "d4", _deleted: true } }]));
      expect(del.pushChanges).toMatchObject({ applied: 0, rejected: [{ index: 0, id: "d4", code: "ROW_FILTER" }] });

      const after = await serverState(a, "deals");
      expect(after.get("p1")).toEqual({ id: "p1", dept: "sales", amount: 1, _deleted: false });
      expect(after.has("p2")).toBe(false);
      expect(after.get("d2")).toEqual(d2);
      expect(after.get("d4")).toEqual(d4);
      expect(after.size).toBe(before.size + 1);
    });

    it("a grant change takes effect within seconds: pull and an open stream become FORBIDDEN, re-granting restores pull", async () => {
      const page = await pullOk(sales.token, ["deals"]);
      const feed = subscribe(sales.token, ["deals"], page.checkpoint);
      await sleep(300);
      const changed = Date.now();
      await grant(a, salesRoleId, "deals", false, true, filter);
      let forbiddenAfter = -1;
      await waitUntil(
        async () => {
          const res = await pull(sales.token, ["deals"], page.checkpoint);
          if (codesOf(res)[0] === "FORBIDDEN") forbiddenAfter = Date.now() - changed;
          return forbiddenAfter >= 0;
        },
        "pull to become FORBIDDEN after the grant lost canPull",
        5_000,
        50,
      );
      // eslint-disable-next-line no-console
      console.log(`grant revocation reached pull after ${forbiddenAfter} ms`);
      expect(forbiddenAfter).toBeLessThan(5_000);

      // The open stream: the next change ends it with FORBIDDEN, without delivering the document.
      await ok(push(a.token, "deals", [{ newDocumentState: { id: "after-revoke", dept: "sales", amount: 9 } }]));
      await feed.ended(10_000);
      expect(streamCodes(feed as Feed<unknown>)).toEqual(["FORBIDDEN"]);
      expect(JSON.stringify(streamedDocs(feed))).not.toContain("after-revoke");

      await grant(a, salesRoleId, "deals", true, true, filter);
      const restored = await waitUntil(
        async () => {
          const res = await pull(sales.token, ["deals"], page.checkpoint);
          return res.data?.pullChanges;
        },
        "pull to work again after re-granting",
        5_000,
        50,
      );
      expect(restored.documents).toEqual([{ id: "after-revoke", dept: "sales", amount: 9, _deleted: false }]);
    });
  });

  it("a push receipt answers only its pusher: another user retrying the same clientId + mutationId gets CONFLICT, not the first push's server states", async () => {
    const r = await role(a, "Beta pushers", ["sync:pull", "sync:push"]);
    await grant(a, r.id, "beta", true, true, [{ field: "team", op: "EQ", value: "blue" }]);
    const blue = await user(a, "blue", ["Beta pushers"]);
    await ok(push(a.token, "beta", [{ newDocumentState: { id: "secret-red", team: "red", salary: 100 } }]));
    // The admin's push conflicts with the red document: its stored answer carries the server's state of it.
    const first = (await ok(push(a.token, "beta", [{ assumedMasterState: { id: "secret-red", team: "red" }, newDocumentState: { id: "secret-red", team: "red", salary: 1 } }], { clientId: "shared-tablet", mutationId: "m-1" }))).pushChanges;
    expect(first.conflicts).toEqual([{ id: "secret-red", team: "red", salary: 100, _deleted: false }]);
    // Another user on the same device (or guessing the pair) is refused, and learns nothing of it.
    const taken = await push(blue.token, "beta", [{ newDocumentState: { id: "blue-1", team: "blue" } }], { clientId: "shared-tablet", mutationId: "m-1" });
    expect(codesOf(taken)).toEqual(["CONFLICT"]);
    expect(taken.errors?.[0]?.extensions?.field).toBe("mutationId");
    expect(JSON.stringify(taken)).not.toContain("salary");
    expect((await serverState(a, "beta")).has("blue-1")).toBe(false);
    // The pusher's own retry is still answered from the receipt; the other user's next mutation id works.
    const retried = (await ok(push(a.token, "beta", [{ assumedMasterState: { id: "secret-red", team: "red" }, newDocumentState: { id: "secret-red", team: "red", salary: 1 } }], { clientId: "shared-tablet", mutationId: "m-1" }))).pushChanges;
    expect(retried).toMatchObject({ replayed: true, conflicts: first.conflicts });
    expect((await ok(push(blue.token, "beta", [{ newDocumentState: { id: "blue-1", team: "blue" } }], { clientId: "shared-tablet", mutationId: "m-2" }))).pushChanges).toMatchObject({ applied: 1, replayed: false });
  });

  it("a custom primary key: removals carry it", async () => {
    await ok(t.request(RaCreateCollectionDocument, { input: { name: "items", primaryKey: "sku" } }, a.token));
    const r = await role(a, "Shelf A", ["sync:pull"]);
    await grant(a, r.id, "items", true, false, [{ field: "shelf", op: "EQ", value: "A" }]);
    const clerk = await user(a, "clerk", ["Shelf A"]);
    await ok(push(a.token, "items", [{ newDocumentState: { sku: "S1", shelf: "A" } }, { newDocumentState: { sku: "S2", shelf: "B" } }]));
    const first = await pullOk(clerk.token, ["items"]);
    expect(first.documents).toEqual([{ sku: "S1", shelf: "A", _deleted: false }]);
    await ok(push(a.token, "items", [{ assumedMasterState: { sku: "S1", shelf: "A", _deleted: false }, newDocumentState: { sku: "S1", shelf: "B" } }]));
    expect((await pullOk(clerk.token, ["items"], first.checkpoint)).documents).toEqual([{ sku: "S1", _deleted: true }]);
  });

  it("tenant isolation: another tenant cannot pull, stream, resolve or read the history, conflicts or devices of this one", async () => {
    // Tenant A: a record, a device, an open conflict (MANUAL push on a stale state).
    await ok(push(a.token, "alpha", [{ newDocumentState: { id: "secret", title: "A only" } }], { clientId: "a-device", mutationId: "a-m1" }));
    const manual = await ok(
      push(a.token, "alpha", [{ assumedMasterState: { id: "secret", title: "stale" }, newDocumentState: { id: "secret", title: "mine" } }], { strategy: "MANUAL" }),
    );
    expect(manual.pushChanges.manualConflicts).toHaveLength(1);
    const conflictId = manual.pushChanges.manualConflicts[0]!;
    const aCheckpoint = (await pullOk(a.token, ["alpha"])).checkpoint!;

    // B sees only its own collections; A's "deals" does not exist for it.
    expect((await ok(t.request(RaCollectionsDocument, {}, b.token))).collections.map((c) => c.name)).toEqual(["alpha"]);
    expect(codesOf(await pull(b.token, ["deals"]))).toEqual(["BAD_USER_INPUT"]);
    // Its own "alpha" is empty; A's checkpoint is refused.
    expect((await pullOk(b.token, ["alpha"])).documents).toEqual([]);
    const foreign = await pull(b.token, ["alpha"], aCheckpoint);
    expect(codesOf(foreign)).toEqual(["BAD_USER_INPUT"]);
    expect(foreign.errors?.[0]?.extensions?.field).toBe("checkpoint");

    // A stream of B's "alpha" gets B's change, never A's.
    const feed = subscribe(b.token, ["alpha"], null);
    await sleep(300);
    await ok(push(a.token, "alpha", [{ newDocumentState: { id: "a-live", title: "A" } }]));
    await ok(push(b.token, "alpha", [{ newDocumentState: { id: "b-live", title: "B" } }]));
    await feed.nth(1);
    await sleep(300);
    expect(streamedDocs(feed)).toEqual([{ id: "b-live", title: "B", _deleted: false }]);
    await feed.close();
    const foreignFeed = subscribe(b.token, ["alpha"], aCheckpoint);
    await foreignFeed.ended();
    expect(streamCodes(foreignFeed as Feed<unknown>)).toEqual(["BAD_USER_INPUT"]);

    // Conflicts, history and devices of A are invisible to B.
    expect((await ok(t.request(RaConflictsDocument, {}, a.token))).conflicts.nodes.map((c) => c.id)).toContain(conflictId);
    expect((await ok(t.request(RaConflictsDocument, {}, b.token))).conflicts.nodes).toEqual([]);
    expect(codesOf(await t.request(RaResolveConflictDocument, { id: conflictId, resolution: "KEEP_CLIENT" }, b.token))).toEqual(["NOT_FOUND"]);
    const still = (await ok(t.request(RaConflictsDocument, { collection: "alpha" }, a.token))).conflicts.nodes.find((c) => c.id === conflictId);
    expect(still?.status).toBe("OPEN");
    expect((await serverState(a, "alpha")).get("secret")).toEqual({ id: "secret", title: "A only", _deleted: false });
    expect((await ok(t.request(RaRecordHistoryDocument, { collection: "alpha", id: "secret" }, a.token))).recordHistory.nodes).toHaveLength(1);
    expect(codesOf(await t.request(RaRecordHistoryDocument, { collection: "alpha", id: "secret" }, b.token))).toEqual(["NOT_FOUND"]);
    expect((await ok(t.request(RaSyncClientsDocument, {}, a.token))).syncClients.nodes.map((c) => c.clientId)).toContain("a-device");
    expect((await ok(t.request(RaSyncClientsDocument, {}, b.token))).syncClients.nodes).toEqual([]);
    expect(codesOf(await t.request(RaResetClientDocument, { clientId: "a-device" }, b.token))).toEqual(["NOT_FOUND"]);
    const device = (await ok(t.request(RaSyncClientsDocument, {}, a.token))).syncClients.nodes.find((c) => c.clientId === "a-device");
    expect(device).toMatchObject({ resetPending: false, resetAt: null, lastMutationId: "a-m1" });
  });
});
