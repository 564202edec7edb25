// The admin side of sync, end to end through the gateway: MANUAL conflicts and their resolution, field-level record
// history, client devices (listing, reset), tombstone expiry (CHECKPOINT_EXPIRED) and the bad input of push and pull.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import {
  LoginDocument,
  RaConflictsDocument,
  RaCreateCollectionDocument,
  RaPullDocument,
  RaPushDocument,
  RaRecordHistoryDocument,
  RaRecordsChangedDocument,
  RaRecordVersionsDocument,
  RaResetClientDocument,
  RaResolveConflictDocument,
  RaSyncClientsDocument,
  RaSyncRunDocument,
  RolesCreateUserDocument,
  type RaConflictsQuery,
  type RaPullQuery,
  type RaRecordHistoryQuery,
  type RaRecordsChangedSubscription,
} from "../__generated__/graphql.js";
import { startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";
import { codesOf, Feed, sleep } from "./e2e-helpers.js";

type Doc = Record<string, unknown>;
type Row = { assumedMasterState?: Doc | null; newDocumentState: Doc };
const PASSWORD = "correct horse battery staple";
const TITLE_SCHEMA = { type: "object", properties: { title: { type: "string", maxLength: 20 } }, required: ["title"] };

describe("records admin: conflicts, history, devices, tombstones, bad input", () => {
  let t: TestStack;
  let a: TenantLogin;

  async function ok<T extends { errors?: unknown; data?: unknown }>(p: Promise<T>): Promise<NonNullable<T["data"]>> {
    const res = await p;
    expect(res.errors).toBeUndefined();
    return res.data as NonNullable<T["data"]>;
  }
  const push = (token: string, collection: string, rows: Row[], extra: Doc = {}) => t.request(RaPushDocument, { input: { collection, rows, ...extra } }, token);
  const pushOk = async (token: string, collection: string, rows: Row[], extra: Doc = {}) => (await ok(push(token, collection, rows, extra))).pushChanges;
  const pull = (token: string, collections: string[], checkpoint: string | null = null, limit = 1000, clientId?: string) =>
    t.request(RaPullDocument, { collections, checkpoint, limit, ...(clientId ? { clientId } : {}) }, token);
  const pullOk = async (token: string, collections: string[], checkpoint: string | null = null, limit = 1000, clientId?: string): Promise<RaPullQuery["pullChanges"]> =>
    (await ok(pull(token, collections, checkpoint, limit, clientId))).pullChanges;
  const state = async (token: string, collection: string) => {
    const page = await pullOk(token, [collection]);
    expect(page.hasMore).toBe(false);
    return new Map((page.documents as Doc[]).map((d) => [String(d.id ?? d.sku), d]));
  };
  const createCollection = async (who: TenantLogin, input: Doc) => (await ok(t.request(RaCreateCollectionDocument, { input: input as never }, who.token))).createCollection;
  const conflicts = async (token: string, vars: Doc = {}): Promise<RaConflictsQuery["conflicts"]> => (await ok(t.request(RaConflictsDocument, vars, token))).conflicts;
  const history = async (token: string, collection: string, id: string, first?: number, after?: string | null): Promise<RaRecordHistoryQuery["recordHistory"]> =>
    (await ok(t.request(RaRecordHistoryDocument, { collection, id, first, after }, token))).recordHistory;
  async function user(tenant: TenantLogin, local: string, roles: string[]) {
    const email = `${local}@${tenant.slug}.example`;
    const created = (await ok(t.request(RolesCreateUserDocument, { input: { email, displayName: local, roles, password: PASSWORD } }, tenant.token))).createUser.user;
    const login = (await ok(t.request(LoginDocument, { input: { tenant: tenant.slug, email, password: PASSWORD } }))).login;
    return { id: created.id, token: login.accessToken };
  }

  beforeAll(async () => {
    t = await startTestStack();
    a = await t.tenant("admin-a");
  });
  afterAll(async () => {
    await t?.stop();
  });

  describe("MANUAL conflicts", () => {
    let member: { id: string; token: string };
    beforeAll(async () => {
      member = await user(a, "member", ["USER"]);
      const notes = await createCollection(a, { name: "notes", jsonSchema: TITLE_SCHEMA, conflictStrategy: "MANUAL" });
      expect(notes).toMatchObject({ name: "notes", conflictStrategy: "MANUAL", primaryKey: "id", tombstoneRetentionDays: 30 });
      const tasks = await createCollection(a, { name: "tasks", jsonSchema: TITLE_SCHEMA });
      expect(tasks.conflictStrategy).toBe("SERVER_WINS");
    });

    it("a stale push on a MANUAL collection opens a conflict (nothing written); KEEP_CLIENT writes a new version pullers get; resolving twice is CONFLICT", async () => {
      await pushOk(a.token, "notes", [{ newDocumentState: { id: "n1", title: "base", n: 1 } }]);
      const p0 = (await pullOk(member.token, ["notes"])).checkpoint;

      const res = await pushOk(
        member.token,
        "notes",
        [
          { assumedMasterState: { id: "n1", title: "older", n: 1 }, newDocumentState: { id: "n1", title: "mine", n: 1 } },
          { newDocumentState: { id: "n2", title: "fresh" } },
        ],
        { clientId: "dev-x", mutationId: "mm-1" },
      );
      expect(res).toMatchObject({ applied: 1, conflicts: [], rejected: [], replayed: false });
      expect(res.manualConflicts).toHaveLength(1);
      const cid = res.manualConflicts[0]!;
      // Only the non-conflicting row was written.
      expect((await pullOk(member.token, ["notes"], p0)).documents).toEqual([{ id: "n2", title: "fresh", _deleted: false }]);
      const p1 = (await pullOk(member.token, ["notes"], p0)).checkpoint;
      const run = (await ok(t.request(RaSyncRunDocument, { id: res.syncRunId! }, a.token))).syncRun;
      expect(run).toMatchObject({ kind: "PUSH", status: "PARTIAL", clientId: "dev-x", processed: 2, created: 1, conflicts: 1 });

      const open = await conflicts(a.token, { collection: "notes" });
      expect(open.nodes).toHaveLength(1);
      expect(open.nodes[0]).toMatchObject({
        id: cid,
        collection: "notes",
        documentId: "n1",
        status: "OPEN",
        base: { id: "n1", title: "older", n: 1 },
        clientState: { id: "n1", title: "mine", n: 1, _deleted: false },
        serverState: { id: "n1", title: "base", n: 1, _deleted: false },
        clientId: "dev-x",
        resolvedAt: null,
        resolution: null,
        createdBy: { id: member.id },
        resolvedBy: null,
      });

      const resolved = (await ok(t.request(RaResolveConflictDocument, { id: cid, resolution: "KEEP_CLIENT" }, a.token))).resolveConflict;
      expect(resolved).toMatchObject({ id: cid, status: "RESOLVED", resolution: "KEEP_CLIENT", resolvedBy: { id: a.userId } });
      expect(resolved.resolvedAt).toEqual(expect.any(String));
      // A new version every puller gets, from where they were.
      expect((await pullOk(member.token, ["notes"], p1)).documents).toEqual([{ id: "n1", title: "mine", n: 1, _deleted: false }]);
      const versions = await history(a.token, "notes", "n1");
      expect(versions.nodes.map((v) => [v.version, v.operation, v.actorId, v.syncRunId])).toEqual([
        [2, "UPDATE", a.userId, null],
        [1, "CREATE", a.userId, expect.any(String)],
      ]);

      // Resolving again, with any resolution: CONFLICT, and nothing changes.
      for (const resolution of ["KEEP_CLIENT", "KEEP_SERVER", "CUSTOM"] as const) {
        const again = await t.request(RaResolveConflictDocument, { id: cid, resolution, document: { title: "x" } }, a.token);
        expect(codesOf(again)).toEqual(["CONFLICT"]);
      }
      expect((await pullOk(member.token, ["notes"], p1)).documents).toHaveLength(1);
      expect((await conflicts(a.token, { collection: "notes" })).nodes).toEqual([]);
      expect((await conflicts(a.token, { collection: "notes", status: "RESOLVED" })).nodes.map((c) => [c.id, c.resolution])).toEqual([[cid, "KEEP_CLIENT"]]);
    });

    it("a push with strategy MANUAL on a SERVER_WINS collection; CUSTOM needs a valid document; KEEP_SERVER writes nothing", async () => {
      await pushOk(a.token, "tasks", [{ newDocumentState: { id: "t1", title: "server" } }, { newDocumentState: { id: "t2", title: "server" } }]);
      const stale = { assumedMasterState: { id: "t1", title: "old" }, newDocumentState: { id: "t1", title: "client" } };
      // Without a strategy the collection's SERVER_WINS applies: a plain conflict, no stored one.
      const plain = await pushOk(member.token, "tasks", [stale]);
      expect(plain).toMatchObject({ applied: 0, conflicts: [{ id: "t1", title: "server", _deleted: false }], manualConflicts: [] });
      expect((await conflicts(a.token, { collection: "tasks" })).nodes).toEqual([]);

      const manual = await pushOk(member.token, "tasks", [stale, { assumedMasterState: { id: "t2", title: "old" }, newDocumentState: { id: "t2", title: "client" } }], {
        strategy: "MANUAL",
      });
      expect(manual).toMatchObject({ applied: 0, conflicts: [], rejected: [] });
      expect(manual.manualConflicts).toHaveLength(2);
      const listed = (await conflicts(a.token, { collection: "tasks" })).nodes;
      const byDoc = new Map(listed.map((c) => [c.documentId, c]));
      expect(new Set(listed.map((c) => c.id))).toEqual(new Set(manual.manualConflicts));
      const c1 = byDoc.get("t1")!;
      const c2 = byDoc.get("t2")!;
      expect(c1).toMatchObject({ base: { id: "t1", title: "old" }, clientState: { id: "t1", title: "client", _deleted: false }, serverState: { id: "t1", title: "server", _deleted: false } });
      const cp = (await pullOk(a.token, ["tasks"])).checkpoint;

      // CUSTOM without a document, and with one the collection's schema refuses: BAD_USER_INPUT, nothing written.
      expect(codesOf(await t.request(RaResolveConflictDocument, { id: c1.id, resolution: "CUSTOM" }, a.token))).toEqual(["BAD_USER_INPUT"]);
      const invalid = await t.request(RaResolveConflictDocument, { id: c1.id, resolution: "CUSTOM", document: { title: "x".repeat(21) } }, a.token);
      expect(codesOf(invalid)).toEqual(["BAD_USER_INPUT"]);
      const noTitle = await t.request(RaResolveConflictDocument, { id: c1.id, resolution: "CUSTOM", document: { other: 1 } }, a.token);
      expect(codesOf(noTitle)).toEqual(["BAD_USER_INPUT"]);
      expect((await pullOk(a.token, ["tasks"], cp)).documents).toEqual([]);
      expect((await conflicts(a.token, { collection: "tasks" })).nodes.find((c) => c.id === c1.id)?.status).toBe("OPEN");

      // A valid CUSTOM document is written under the conflict's key (whatever id it carries).
      const custom = (await ok(t.request(RaResolveConflictDocument, { id: c1.id, resolution: "CUSTOM", document: { id: "elsewhere", title: "agreed" } }, a.token))).resolveConflict;
      expect(custom).toMatchObject({ status: "RESOLVED", resolution: "CUSTOM" });
      const afterCustom = await pullOk(a.token, ["tasks"], cp);
      expect(afterCustom.documents).toEqual([{ id: "t1", title: "agreed", _deleted: false }]);
      expect((await state(a.token, "tasks")).has("elsewhere")).toBe(false);

      // KEEP_SERVER: resolved, nothing written.
      const kept = (await ok(t.request(RaResolveConflictDocument, { id: c2.id, resolution: "KEEP_SERVER" }, a.token))).resolveConflict;
      expect(kept).toMatchObject({ status: "RESOLVED", resolution: "KEEP_SERVER" });
      expect((await pullOk(a.token, ["tasks"], afterCustom.checkpoint)).documents).toEqual([]);
      expect((await state(a.token, "tasks")).get("t2")).toEqual({ id: "t2", title: "server", _deleted: false });
      expect((await history(a.token, "tasks", "t2")).nodes).toHaveLength(1);
      expect((await conflicts(a.token, { collection: "tasks" })).nodes).toEqual([]);
    });

    it("an unknown or malformed conflict id is NOT_FOUND", async () => {
      expect(codesOf(await t.request(RaResolveConflictDocument, { id: randomUUID(), resolution: "KEEP_SERVER" }, a.token))).toEqual(["NOT_FOUND"]);
      // Like syncRun(id), a malformed id is simply not found (never an internal error).
      expect(codesOf(await t.request(RaResolveConflictDocument, { id: "not-a-uuid", resolution: "KEEP_SERVER" }, a.token))).toEqual(["NOT_FOUND"]);
    });

    it("conflicts are listed newest first in pages", async () => {
      await createCollection(a, { name: "paged", conflictStrategy: "MANUAL" });
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        await pushOk(a.token, "paged", [{ newDocumentState: { id: `p${i}`, v: 0 } }]);
        const res = await pushOk(a.token, "paged", [{ assumedMasterState: { id: `p${i}`, v: -1 }, newDocumentState: { id: `p${i}`, v: 1 } }]);
        ids.push(res.manualConflicts[0]!);
        await sleep(5);
      }
      const pages: RaConflictsQuery["conflicts"][] = [];
      let after: string | null = null;
      do {
        const page: RaConflictsQuery["conflicts"] = await conflicts(a.token, { collection: "paged", first: 2, after });
        pages.push(page);
        after = page.endCursor ?? null;
        if (!page.hasNextPage) break;
      } while (pages.length < 10);
      expect(pages.map((p) => [p.nodes.length, p.hasNextPage])).toEqual([
        [2, true],
        [2, true],
        [1, false],
      ]);
      expect(pages.flatMap((p) => p.nodes.map((c) => c.id))).toEqual([...ids].reverse());
      expect(pages.flatMap((p) => p.nodes.map((c) => c.documentId))).toEqual(["p4", "p3", "p2", "p1", "p0"]);
      // Bad paging arguments.
      expect(codesOf(await t.request(RaConflictsDocument, { collection: "paged", after: "garbage" }, a.token))).toEqual(["BAD_USER_INPUT"]);
      expect(codesOf(await t.request(RaConflictsDocument, { collection: "paged", first: 0 }, a.token))).toEqual(["BAD_USER_INPUT"]);
      expect(codesOf(await t.request(RaConflictsDocument, { collection: "paged", first: 201 }, a.token))).toEqual(["BAD_USER_INPUT"]);
      expect(codesOf(await t.request(RaConflictsDocument, { collection: "no-such" }, a.token))).toEqual(["BAD_USER_INPUT"]);
    });
  });

  describe("record history", () => {
    beforeAll(async () => {
      await createCollection(a, { name: "hist" });
    });

    it("lists versions newest first with field-level changes, client ids and sync runs; pages; refuses bad cursors and unknown records", async () => {
      const r1 = await pushOk(a.token, "hist", [{ newDocumentState: { id: "h1", title: "a", n: 1, tag: "x" } }], { clientId: "dev-1", mutationId: "h-1" });
      // Still at version 1, its creation is kept on the record row (no history row yet): the same entry either way.
      const created = await history(a.token, "hist", "h1");
      expect(created.nodes.map((v) => [v.version, v.operation, v.actorType, v.actorId, v.clientId, v.syncRunId, v.changes.length])).toEqual([
        [1, "CREATE", "USER", a.userId, "dev-1", r1.syncRunId, 4],
      ]);
      const r2 = await pushOk(a.token, "hist", [{ assumedMasterState: { id: "h1", title: "a", n: 1, tag: "x" }, newDocumentState: { id: "h1", title: "b", n: 1, tag: "x" } }], {
        clientId: "dev-2",
        mutationId: "h-2",
      });
      const r3 = await pushOk(a.token, "hist", [{ assumedMasterState: { id: "h1", title: "b", n: 1, tag: "x" }, newDocumentState: { id: "h1", title: "b", n: 2, extra: "e" } }], {
        clientId: "dev-3",
        mutationId: "h-3",
      });
      const r4 = await pushOk(
        a.token,
        "hist",
        [{ assumedMasterState: { id: "h1", title: "b", n: 2, extra: "e" }, newDocumentState: { id: "h1", title: "b", n: 2, extra: "e", _deleted: true } }],
        { clientId: "dev-1", mutationId: "h-4" },
      );
      const runs = [r1, r2, r3, r4].map((r) => {
        expect(r.applied).toBe(1);
        expect(r.syncRunId).toEqual(expect.any(String));
        return r.syncRunId;
      });
      expect(new Set(runs).size).toBe(4);

      const all = await history(a.token, "hist", "h1");
      expect(all.hasNextPage).toBe(false);
      const byField = (changes: { field: string }[]) => [...changes].sort((x, y) => x.field.localeCompare(y.field));
      expect(all.nodes.map((v) => ({ ...v, at: undefined, changes: byField(v.changes) }))).toEqual([
        { version: 4, operation: "DELETE", changes: [{ field: "_deleted", before: false, after: true }], actorType: "USER", actorId: a.userId, clientId: "dev-1", syncRunId: runs[3], at: undefined },
        {
          version: 3,
          operation: "UPDATE",
          changes: [
            { field: "extra", before: null, after: "e" },
            { field: "n", before: 1, after: 2 },
            { field: "tag", before: "x", after: null },
          ],
          actorType: "USER",
          actorId: a.userId,
          clientId: "dev-3",
          syncRunId: runs[2],
          at: undefined,
        },
        { version: 2, operation: "UPDATE", changes: [{ field: "title", before: "a", after: "b" }], actorType: "USER", actorId: a.userId, clientId: "dev-2", syncRunId: runs[1], at: undefined },
        {
          version: 1,
          operation: "CREATE",
          // The initial fields, even after later updates and the deletion.
          changes: [
            { field: "id", before: null, after: "h1" },
            { field: "n", before: null, after: 1 },
            { field: "tag", before: null, after: "x" },
            { field: "title", before: null, after: "a" },
          ],
          actorType: "USER",
          actorId: a.userId,
          clientId: "dev-1",
          syncRunId: runs[0],
          at: undefined,
        },
      ]);
      // Written out at the first change, the creation kept its time.
      expect(all.nodes[3]!.at).toBe(created.nodes[0]!.at);
      const times = all.nodes.map((v) => Date.parse(v.at));
      expect(times.every((x, i) => i === 0 || x <= times[i - 1]!)).toBe(true);
      // syncRunId is the push's entry in the sync log.
      const run = (await ok(t.request(RaSyncRunDocument, { id: runs[2]! }, a.token))).syncRun;
      expect(run).toMatchObject({ id: runs[2], kind: "PUSH", clientId: "dev-3", updated: 1 });

      // Pages of two.
      const first = await history(a.token, "hist", "h1", 2);
      expect([first.nodes.map((v) => v.version), first.hasNextPage]).toEqual([[4, 3], true]);
      const second = await history(a.token, "hist", "h1", 2, first.endCursor);
      expect([second.nodes.map((v) => v.version), second.hasNextPage]).toEqual([[2, 1], false]);
      const third = await history(a.token, "hist", "h1", 3, first.endCursor);
      expect(third.nodes.map((v) => v.version)).toEqual([2, 1]);
      expect(byField(second.nodes[1]!.changes).map((c) => c.field)).toEqual(["id", "n", "tag", "title"]);

      // Bad cursors (garbage, another list's cursor), bad page sizes, unknown record or collection.
      const conflictCursor = Buffer.from(JSON.stringify([new Date().toISOString(), randomUUID()])).toString("base64url");
      for (const after of ["garbage", conflictCursor, Buffer.from(JSON.stringify([0])).toString("base64url")]) {
        expect(codesOf(await t.request(RaRecordHistoryDocument, { collection: "hist", id: "h1", after }, a.token))).toEqual(["BAD_USER_INPUT"]);
      }
      for (const firstN of [0, 201]) {
        const res = await t.request(RaRecordVersionsDocument, { collection: "hist", id: "h1", first: firstN }, a.token);
        expect([codesOf(res), res.errors?.[0]?.extensions?.field]).toEqual([["BAD_USER_INPUT"], "first"]);
      }
      expect((await ok(t.request(RaRecordVersionsDocument, { collection: "hist", id: "h1", first: 200 }, a.token))).recordHistory.nodes.map((v) => v.version)).toEqual([4, 3, 2, 1]);
      expect(codesOf(await t.request(RaRecordHistoryDocument, { collection: "hist", id: "nope" }, a.token))).toEqual(["NOT_FOUND"]);
      expect(codesOf(await t.request(RaRecordHistoryDocument, { collection: "no-such", id: "h1" }, a.token))).toEqual(["BAD_USER_INPUT"]);
    });
  });

  describe("client devices", () => {
    let d: TenantLogin;
    let member: { id: string; token: string };
    beforeAll(async () => {
      d = await t.tenant("devices");
      await createCollection(d, { name: "things" });
      member = await user(d, "phone-owner", ["USER"]);
    });
    const device = async (clientId: string) => (await ok(t.request(RaSyncClientsDocument, { first: 50 }, d.token))).syncClients.nodes.find((c) => c.clientId === clientId);

    it("pulls and pushes with a clientId are listed for admins; reset expires the device's checkpoints and forgets its push receipts", async () => {
      await pushOk(d.token, "things", [{ newDocumentState: { id: "seed", v: 0 } }]);
      const started = Date.now();
      const cp1 = (await pullOk(member.token, ["things"], null, 1000, "phone-1")).checkpoint!;
      const row = { assumedMasterState: null, newDocumentState: { id: "dv1", v: "device" } };
      const pushed = await pushOk(member.token, "things", [row], { clientId: "phone-1", mutationId: "m-1", strategy: "CLIENT_WINS" });
      expect(pushed).toMatchObject({ applied: 1, replayed: false });
      // An admin changes dv1; a retry of m-1 before any reset is the stored answer, not applied again.
      await pushOk(d.token, "things", [{ assumedMasterState: { id: "dv1", v: "device", _deleted: false }, newDocumentState: { id: "dv1", v: "admin" } }]);
      const retried = await pushOk(member.token, "things", [row], { clientId: "phone-1", mutationId: "m-1", strategy: "CLIENT_WINS" });
      expect(retried).toMatchObject({ applied: 1, replayed: true, syncRunId: pushed.syncRunId });
      expect((await state(d.token, "things")).get("dv1")).toEqual({ id: "dv1", v: "admin", _deleted: false });
      expect((await history(d.token, "things", "dv1")).nodes.map((v) => v.version)).toEqual([2, 1]);
      // A second device, seen later.
      const tabletCp = (await pullOk(member.token, ["things"], null, 1000, "tablet-1")).checkpoint!;

      // Listed at once (pull notes are flushed before listing), most recently seen first.
      const list = (await ok(t.request(RaSyncClientsDocument, { first: 50 }, d.token))).syncClients;
      expect(list.nodes.map((c) => c.clientId)).toEqual(["tablet-1", "phone-1"]);
      const phone = list.nodes[1]!;
      expect(phone).toMatchObject({ clientId: "phone-1", lastCheckpoint: cp1, lastMutationId: "m-1", resetAt: null, resetPending: false, user: { id: member.id } });
      for (const at of [phone.lastSeenAt, phone.lastPullAt, phone.lastPushAt]) {
        expect(Date.parse(at!)).toBeGreaterThanOrEqual(started - 1_000);
        expect(Date.parse(at!)).toBeLessThanOrEqual(Date.now() + 1_000);
      }
      expect(list.nodes[0]).toMatchObject({ lastCheckpoint: tabletCp, lastMutationId: null, lastPushAt: null });
      // Pages of one.
      const p1 = (await ok(t.request(RaSyncClientsDocument, { first: 1 }, d.token))).syncClients;
      const p2 = (await ok(t.request(RaSyncClientsDocument, { first: 1, after: p1.endCursor }, d.token))).syncClients;
      expect([p1.nodes.map((c) => c.clientId), p1.hasNextPage, p2.nodes.map((c) => c.clientId), p2.hasNextPage]).toEqual([["tablet-1"], true, ["phone-1"], false]);

      // Only tenant:manage lists or resets devices.
      expect(codesOf(await t.request(RaSyncClientsDocument, {}, member.token))).toEqual(["FORBIDDEN"]);
      expect(codesOf(await t.request(RaResetClientDocument, { clientId: "phone-1" }, member.token))).toEqual(["FORBIDDEN"]);
      expect((await device("phone-1"))?.resetPending).toBe(false);
      expect(codesOf(await t.request(RaResetClientDocument, { clientId: "no-such-device" }, d.token))).toEqual(["NOT_FOUND"]);

      const reset = (await ok(t.request(RaResetClientDocument, { clientId: "phone-1" }, d.token))).resetClient;
      expect(reset).toMatchObject({ clientId: "phone-1", resetPending: true, lastCheckpoint: null, lastMutationId: null });
      expect(Date.parse(reset.resetAt!)).toBeGreaterThanOrEqual(started - 1_000);

      // The device's old checkpoint is expired; the other device is untouched.
      expect(codesOf(await pull(member.token, ["things"], cp1, 1000, "phone-1"))).toEqual(["CHECKPOINT_EXPIRED"]);
      expect(codesOf(await pull(member.token, ["things"], tabletCp, 1000, "phone-1"))).toEqual(["CHECKPOINT_EXPIRED"]);
      expect((await pullOk(member.token, ["things"], tabletCp, 1000, "tablet-1")).documents).toEqual([]);
      // A pull from the start clears the reset; checkpoints from then on work.
      const fresh = await pullOk(member.token, ["things"], null, 1000, "phone-1");
      expect(fresh.documents).toEqual([
        { id: "seed", v: 0, _deleted: false },
        { id: "dv1", v: "admin", _deleted: false },
      ]);
      expect(await device("phone-1")).toMatchObject({ resetPending: false, lastCheckpoint: fresh.checkpoint });
      await pushOk(d.token, "things", [{ newDocumentState: { id: "later", v: 1 } }]);
      const next = await pullOk(member.token, ["things"], fresh.checkpoint, 1000, "phone-1");
      expect(next.documents).toEqual([{ id: "later", v: 1, _deleted: false }]);
      expect((await pullOk(member.token, ["things"], next.checkpoint, 1000, "phone-1")).documents).toEqual([]);

      // The receipts are forgotten: the same push (clientId + mutationId) is executed again, as new.
      const afterReset = await pushOk(member.token, "things", [row], { clientId: "phone-1", mutationId: "m-1", strategy: "CLIENT_WINS" });
      expect(afterReset).toMatchObject({ applied: 1, replayed: false });
      expect(afterReset.syncRunId).not.toBe(pushed.syncRunId);
      expect((await state(d.token, "things")).get("dv1")).toEqual({ id: "dv1", v: "device", _deleted: false });
      expect((await history(d.token, "things", "dv1")).nodes.map((v) => [v.version, v.clientId])).toEqual([
        [3, "phone-1"],
        [2, null],
        [1, "phone-1"],
      ]);
      // ...and stored again: a further retry is a replay.
      expect(await pushOk(member.token, "things", [row], { clientId: "phone-1", mutationId: "m-1", strategy: "CLIENT_WINS" })).toMatchObject({ replayed: true, syncRunId: afterReset.syncRunId });
      expect((await history(d.token, "things", "dv1")).nodes).toHaveLength(3);
      expect((await device("phone-1"))?.lastMutationId).toBe("m-1");
    });
  });

  describe("tombstone expiry", () => {
    let e: TenantLogin;
    let db: pg.Client;
    beforeAll(async () => {
      e = await t.tenant("tombstones");
      db = new pg.Client({ connectionString: t.databaseUrl });
      await db.connect();
    });
    afterAll(async () => {
      await db?.end();
    });
    const age = (collection: string, ids: string[]) =>
      db.query("update sync.record set updated_at = now() - interval '2 days' where tenant_id = $1 and collection = $2 and id = any($3)", [e.tenantId, collection, ids]);

    it("purges tombstones past retention: older checkpoints get CHECKPOINT_EXPIRED, pulls from the start omit them, later checkpoints work", async () => {
      const eph = await createCollection(e, { name: "ephemeral", tombstoneRetentionDays: 1 });
      expect(eph.tombstoneRetentionDays).toBe(1);
      expect((await createCollection(e, { name: "keep" })).tombstoneRetentionDays).toBe(30);
      const docs = ["e1", "e2", "e3", "e4", "e5"].map((id) => ({ id, v: 1 }));
      await pushOk(e.token, "ephemeral", docs.map((doc) => ({ newDocumentState: doc })));
      await pushOk(e.token, "keep", [{ newDocumentState: { id: "k1", v: 1 } }]);
      const k0 = (await pullOk(e.token, ["ephemeral", "keep"])).checkpoint!;
      const del = (id: string) => ({ assumedMasterState: { id, v: 1, _deleted: false }, newDocumentState: { id, v: 1, _deleted: true } });
      await pushOk(e.token, "ephemeral", [del("e1"), del("e2")]);
      await pushOk(e.token, "keep", [del("k1")]);
      const k1 = (await pullOk(e.token, ["ephemeral", "keep"])).checkpoint!;
      await pushOk(e.token, "ephemeral", [del("e3")]); // a recent tombstone: kept
      await pushOk(e.token, "ephemeral", [{ newDocumentState: { id: "e6", v: 1 } }]);

      // Old: the tombstones e1, e2 (past 1 day), k1 (but its collection keeps 30 days) and the live e5.
      await age("ephemeral", ["e1", "e2", "e5"]);
      await age("keep", ["k1"]);
      const purged = await t.stack.sync.records.purgeTombstones();
      expect(purged).toBe(2);
      const left = await db.query("select collection, id, deleted from sync.record where tenant_id = $1 order by collection, id", [e.tenantId]);
      expect(left.rows.map((r) => `${r.collection}/${r.id}${r.deleted ? "†" : ""}`)).toEqual(["ephemeral/e3†", "ephemeral/e4", "ephemeral/e5", "ephemeral/e6", "keep/k1†"]);

      // From before the purged tombstones: expired, for pull (alone or with another collection) and stream.
      expect(codesOf(await pull(e.token, ["ephemeral"], k0))).toEqual(["CHECKPOINT_EXPIRED"]);
      expect(codesOf(await pull(e.token, ["keep", "ephemeral"], k0))).toEqual(["CHECKPOINT_EXPIRED"]);
      const feed = new Feed<RaRecordsChangedSubscription>(t.ws(e.token), RaRecordsChangedDocument, { collections: ["ephemeral"], checkpoint: k0 });
      await feed.ended();
      const streamErr = feed.error as unknown;
      const streamCodes = [
        ...feed.results.flatMap((r) => (r.errors ?? []).map((x) => x.extensions?.code)),
        ...(Array.isArray(streamErr) ? streamErr.map((x: { extensions?: { code?: unknown } }) => x?.extensions?.code) : []),
      ];
      expect(streamCodes).toEqual(["CHECKPOINT_EXPIRED"]);
      // Another collection's pullers are not affected by this collection's purge.
      expect((await pullOk(e.token, ["keep"], k0)).documents).toEqual([{ id: "k1", v: 1, _deleted: true }]);

      // From the start: the purged tombstones are gone, the recent one and every live record are there.
      expect((await pullOk(e.token, ["ephemeral"])).documents).toEqual([
        { id: "e4", v: 1, _deleted: false },
        { id: "e5", v: 1, _deleted: false },
        { id: "e3", v: 1, _deleted: true },
        { id: "e6", v: 1, _deleted: false },
      ]);
      // A checkpoint taken after the purged tombstones still works.
      expect((await pullOk(e.token, ["ephemeral"], k1)).documents).toEqual([
        { id: "e3", v: 1, _deleted: true },
        { id: "e6", v: 1, _deleted: false },
      ]);
      // The purged records' history went with them.
      expect(codesOf(await t.request(RaRecordHistoryDocument, { collection: "ephemeral", id: "e1" }, e.token))).toEqual(["NOT_FOUND"]);
      expect(await t.stack.sync.records.purgeTombstones()).toBe(0);
    });
  });

  describe("bad input", () => {
    let g: TenantLogin;
    let other: TenantLogin;
    beforeAll(async () => {
      g = await t.tenant("bad-input");
      other = await t.tenant("bad-input-other");
      await createCollection(g, { name: "tasks", jsonSchema: TITLE_SCHEMA });
      await createCollection(other, { name: "tasks" });
      await pushOk(other.token, "tasks", [{ newDocumentState: { id: "o1" } }]);
    });

    it("pull: limit 0 or above 1000, a malformed or another tenant's checkpoint, bad collections and clientId", async () => {
      for (const limit of [0, -1, 1001]) {
        const res = await pull(g.token, ["tasks"], null, limit);
        expect([codesOf(res), res.errors?.[0]?.extensions?.field]).toEqual([["BAD_USER_INPUT"], "limit"]);
      }
      expect((await pullOk(g.token, ["tasks"], null, 1000)).documents).toEqual([]);
      const foreign = (await pullOk(other.token, ["tasks"])).checkpoint!;
      const own = Buffer.from(JSON.stringify([g.tenantId.slice(0, 8), "abc"])).toString("base64url");
      for (const checkpoint of ["garbage", "e30", foreign, own]) {
        const res = await pull(g.token, ["tasks"], checkpoint);
        expect([checkpoint, codesOf(res), res.errors?.[0]?.extensions?.field]).toEqual([checkpoint, ["BAD_USER_INPUT"], "checkpoint"]);
      }
      expect(codesOf(await pull(g.token, []))).toEqual(["BAD_USER_INPUT"]);
      expect(codesOf(await pull(g.token, ["tasks", "nope"]))).toEqual(["BAD_USER_INPUT"]);
      expect(codesOf(await pull(g.token, ["tasks"], null, 10, "x".repeat(201)))).toEqual(["BAD_USER_INPUT"]);
    });

    it("push: documents without an id, ids over 200 characters, documents over 64 KiB are rejected per row; 501 rows refuse the push; nothing half-written", async () => {
      const before = await state(g.token, "tasks");
      const id200 = "i".repeat(200);
      const res = await pushOk(g.token, "tasks", [
        { newDocumentState: { id: "ok", title: "fine" } },
        { newDocumentState: { title: "no id" } },
        { newDocumentState: { id: "", title: "empty id" } },
        { newDocumentState: { id: 42, title: "number id" } },
        { newDocumentState: { id: "i".repeat(201), title: "long id" } },
        { newDocumentState: { id: id200, title: "id of 200" } },
        { newDocumentState: { id: "huge", title: "huge", blob: "x".repeat(64 * 1024) } },
        { newDocumentState: { id: "large", title: "large", blob: "x".repeat(60 * 1024) } },
        { newDocumentState: { id: "bad-deleted", title: "x", _deleted: "yes" } },
        { newDocumentState: { id: "schema", title: 5 } },
      ]);
      expect(res.rejected.map((r) => [r.index, r.code])).toEqual([
        [1, "BAD_USER_INPUT"],
        [2, "BAD_USER_INPUT"],
        [3, "BAD_USER_INPUT"],
        [4, "BAD_USER_INPUT"],
        [6, "BAD_USER_INPUT"],
        [8, "BAD_USER_INPUT"],
        [9, "SCHEMA_VIOLATION"],
      ]);
      expect(res.applied).toBe(3);
      const after = await state(g.token, "tasks");
      expect([...after.keys()].sort()).toEqual([...before.keys(), "ok", id200, "large"].sort());
      expect(after.has("huge")).toBe(false);

      // 501 rows: the whole push is refused, nothing written; 500 rows are fine.
      const rows = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => ({ newDocumentState: { id: `${prefix}${i}`, title: "bulk" } }));
      const tooMany = await push(g.token, "tasks", rows(501, "x"));
      expect([codesOf(tooMany), tooMany.errors?.[0]?.extensions?.field]).toEqual([["BAD_USER_INPUT"], "rows"]);
      expect((await state(g.token, "tasks")).size).toBe(after.size);
      expect((await pushOk(g.token, "tasks", rows(500, "y"))).applied).toBe(500);
      expect((await state(g.token, "tasks")).size).toBe(after.size + 500);
      // Unknown collection.
      expect(codesOf(await push(g.token, "nope", [{ newDocumentState: { id: "z", title: "z" } }]))).toEqual(["BAD_USER_INPUT"]);
    });

    it("createCollection: bad primaryKey or retention are refused by field; a custom primaryKey (sku) works for push, pull, conflicts and history", async () => {
      for (const primaryKey of ["", "1abc", "a.b", "has space", "x".repeat(101), "dash-ed"]) {
        const res = await t.request(RaCreateCollectionDocument, { input: { name: `pk${Math.random().toString(36).slice(2, 8)}`, primaryKey } }, g.token);
        expect([primaryKey, codesOf(res), res.errors?.[0]?.extensions?.field]).toEqual([primaryKey, ["BAD_USER_INPUT"], "primaryKey"]);
      }
      for (const tombstoneRetentionDays of [0, 3651]) {
        const res = await t.request(RaCreateCollectionDocument, { input: { name: "retention", tombstoneRetentionDays } }, g.token);
        expect([codesOf(res), res.errors?.[0]?.extensions?.field]).toEqual([["BAD_USER_INPUT"], "tombstoneRetentionDays"]);
      }

      const products = await createCollection(g, { name: "products", primaryKey: "sku" });
      expect(products.primaryKey).toBe("sku");
      const res = await pushOk(g.token, "products", [{ newDocumentState: { sku: "A-1", name: "anvil" } }, { newDocumentState: { id: "A-2", name: "no sku" } }]);
      expect(res.applied).toBe(1);
      expect(res.rejected.map((r) => [r.index, r.code])).toEqual([[1, "BAD_USER_INPUT"]]);
      const first = await pullOk(g.token, ["products"]);
      expect(first.documents).toEqual([{ sku: "A-1", name: "anvil", _deleted: false }]);
      const stale = await pushOk(g.token, "products", [{ assumedMasterState: { sku: "A-1", name: "old" }, newDocumentState: { sku: "A-1", name: "mine" } }]);
      expect(stale).toMatchObject({ applied: 0, conflicts: [{ sku: "A-1", name: "anvil", _deleted: false }] });
      await pushOk(g.token, "products", [{ assumedMasterState: { sku: "A-1", name: "anvil", _deleted: false }, newDocumentState: { sku: "A-1", name: "anvil", _deleted: true } }]);
      expect((await pullOk(g.token, ["products"], first.checkpoint)).documents).toEqual([{ sku: "A-1", name: "anvil", _deleted: true }]);
      expect((await history(g.token, "products", "A-1")).nodes.map((v) => v.operation)).toEqual(["DELETE", "CREATE"]);
    });
  });
});
