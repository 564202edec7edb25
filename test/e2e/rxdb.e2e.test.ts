// RxDB compatibility (issue "sync engine", item 8): the real `rxdb` package, in-memory storage, replicating through
// `replicateGraphQL` with ONLY the hand-written builders of ./rxdb-builders.ts (the code the README shows), against the
// real stack: HTTP to the gateway for pull/push, the gateway's graphql-ws for the live stream.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRxDatabase, defaultConflictHandler, type RxCollection, type RxConflictHandler, type RxConflictHandlerInput, type RxDatabase, type RxJsonSchema } from "rxdb";
import { getRxStorageMemory } from "rxdb/plugins/storage-memory";
import { CreateCollectionDocument, PullChangesDocument, PushChangesDocument, RaResetClientDocument, type PullChangesQuery } from "../__generated__/graphql.js";
import { startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";
import { waitUntil } from "./e2e-helpers.js";
import { replicateTributary, type RejectedRow } from "./rxdb-builders.js";

type Task = { id: string; title: string; done: boolean };
type Note = { id: string; body: string; n: number };
type Doc = Record<string, unknown>;

// The client's schemas. The server's `tasks` schema is stricter on purpose (title maxLength 50), to see a rejection.
const taskSchema: RxJsonSchema<Task> = {
  version: 0,
  primaryKey: "id",
  type: "object",
  properties: { id: { type: "string", maxLength: 200 }, title: { type: "string" }, done: { type: "boolean" } },
  required: ["id", "title", "done"],
};
const noteSchema: RxJsonSchema<Note> = {
  version: 0,
  primaryKey: "id",
  type: "object",
  properties: { id: { type: "string", maxLength: 200 }, body: { type: "string" }, n: { type: "integer" } },
  required: ["id", "body", "n"],
};

/** Deep equality of JSON values regardless of key order (and of the realm that built them: jest vs fetch). */
const canonical = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) => (x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([p], [q]) => (p < q ? -1 : 1))) : x));
const same = (a: unknown, b: unknown) => canonical(a) === canonical(b);

const here = path.dirname(fileURLToPath(import.meta.url));
const figures: Record<string, string> = {};

/**
 * A conflict handler that merges top-level fields three-way (a field only the client changed keeps the client's
 * value, everything else takes the server's) and records every resolution it made.
 */
function mergingConflictHandler(log: RxConflictHandlerInput<Task>[]): RxConflictHandler<Task> {
  return {
    isEqual: defaultConflictHandler.isEqual,
    async resolve(i) {
      log.push(structuredClone(i));
      const base = (i.assumedMasterState ?? {}) as Doc;
      const mine = i.newDocumentState as Doc;
      const resolved: Doc = { ...i.realMasterState };
      for (const key of Object.keys(mine)) {
        if (key === "_deleted") continue;
        const clientChanged = !same(mine[key], base[key]);
        const serverChanged = !same(i.realMasterState[key as keyof Task], base[key]);
        if (clientChanged && !serverChanged) resolved[key] = mine[key];
      }
      return resolved as typeof i.realMasterState;
    },
  };
}

interface Device<T> {
  name: string;
  db: RxDatabase;
  collection: RxCollection<T>;
  /** operationName of every HTTP request this device's replication sent */
  requests: string[];
  rejected: RejectedRow[];
  errors: unknown[];
  /** What reached the replication from the live stream: batches' document ids, or "RESYNC" (socket (re)connected) */
  streamed: (string[] | "RESYNC")[];
  replication?: ReturnType<typeof replicateTributary<T>>;
  start(live?: boolean): ReturnType<typeof replicateTributary<T>>;
  /** Cancels the replication (the device goes offline; its local data and replication state stay). */
  stop(): Promise<void>;
}

describe("RxDB replicates a Tributary collection with replicateGraphQL and hand-written builders", () => {
  let t: TestStack;
  let user: TenantLogin;
  const devices: Device<any>[] = [];

  /** A fresh RxDB database (in memory) with one collection, replicating `remote` through the gateway. */
  async function device<T>(name: string, remote: string, schema: RxJsonSchema<T>, conflictHandler?: RxConflictHandler<T>): Promise<Device<T>> {
    const db = await createRxDatabase({ name: `${name}-${randomUUID()}`, storage: getRxStorageMemory(), multiInstance: false });
    const collections = await db.addCollections({ [remote]: { schema, conflictHandler } });
    const d: Device<T> = {
      name,
      db,
      collection: collections[remote] as RxCollection<T>,
      requests: [],
      rejected: [],
      errors: [],
      streamed: [],
      start(live = true) {
        const replication = replicateTributary<T>({
          collection: d.collection,
          remoteCollection: remote,
          // RxDB keeps one socket per ws URL in a process; a query string gives each simulated device its own.
          url: { http: t.url, ws: `${t.wsUrl}?device=${name}` },
          token: user.token,
          account: { tenant: user.tenantId, user: user.userId },
          live,
          onRejected: (rows) => d.rejected.push(...rows),
          fetch: async (input, init) => {
            const request = new Request(input, init);
            d.requests.push(((await request.clone().json()) as { operationName: string }).operationName);
            return fetch(request);
          },
        });
        replication.error$.subscribe((e) => d.errors.push(e));
        replication.remoteEvents$.subscribe((ev) => d.streamed.push(ev === "RESYNC" ? ev : ev.documents.map((doc) => (doc as Doc).id as string)));
        d.replication = replication;
        return replication;
      },
      async stop() {
        await d.replication?.cancel();
        d.replication = undefined;
      },
    };
    devices.push(d);
    return d;
  }

  /** The server's state of a collection, read through the API (not through RxDB). */
  async function serverState(collection: string): Promise<Map<string, Doc>> {
    const state = new Map<string, Doc>();
    let checkpoint: string | null = null;
    for (;;) {
      const res: { data?: PullChangesQuery | null; errors?: unknown } = await t.request(PullChangesDocument, { collections: [collection], checkpoint, limit: 1000 }, user.token);
      if (!res.data) throw new Error(JSON.stringify(res.errors));
      for (const d of res.data.pullChanges.documents as Doc[]) state.set(d.id as string, d);
      checkpoint = res.data.pullChanges.checkpoint ?? checkpoint;
      if (!res.data.pullChanges.hasMore) return state;
    }
  }

  /** A device's document as RxDB holds it, in the wire shape (no `_meta`/`_rev`), or null when absent/deleted. */
  async function local<T>(d: Device<T>, id: string): Promise<Doc | null> {
    const doc = await d.collection.findOne(id).exec();
    return doc ? { ...(doc.toJSON() as Doc), _deleted: false } : null;
  }

  beforeAll(async () => {
    t = await startTestStack();
    user = await t.tenant("rxdb");
    const tasks = await t.request(
      CreateCollectionDocument,
      { input: { name: "tasks", jsonSchema: { type: "object", properties: { title: { type: "string", maxLength: 50 }, done: { type: "boolean" } }, required: ["title"] } } },
      user.token,
    );
    expect(tasks.errors).toBeUndefined();
    expect((await t.request(CreateCollectionDocument, { input: { name: "notes" } }, user.token)).errors).toBeUndefined();
  });

  afterEach(async () => {
    for (const d of devices.splice(0)) {
      await d.stop();
      await d.db.close();
    }
  });

  afterAll(async () => {
    await t?.stop();
    if (Object.keys(figures).length) console.log(`RxDB figures:\n${Object.entries(figures).map(([k, v]) => `  ${k}: ${v}`).join("\n")}`);
  });

  it("the README shows exactly the builder code this test runs", () => {
    const builders = readFileSync(path.join(here, "rxdb-builders.ts"), "utf8").trim();
    const readme = readFileSync(path.join(here, "../../README.md"), "utf8");
    const start = readme.indexOf("\n## Replicating with RxDB\n");
    expect(start).toBeGreaterThan(0);
    const end = readme.indexOf("\n## ", start + 1);
    expect(readme.slice(start, end < 0 ? undefined : end)).toContain(`\`\`\`ts\n${builders}\n\`\`\``);
  });

  it("two devices: an insert on A arrives on B through the live stream, B's update reaches A, a delete propagates", async () => {
    const a = await device<Task>("device-a", "tasks", taskSchema);
    const b = await device<Task>("device-b", "tasks", taskSchema);
    await Promise.all([a.start().awaitInitialReplication(), b.start().awaitInitialReplication()]);
    // Once B's socket is up (RxDB then re-pulls once from its checkpoint) and that pull is done:
    await waitUntil(() => b.streamed.includes("RESYNC"), "device B's stream to connect", 10_000).catch((err: Error) => {
      // What the replication saw on the way (a refused or dropped socket), for the failure message.
      throw new Error(`${err.message}; device B's replication errors: ${b.errors.map((e) => String((e as { message?: string }).message ?? e)).join(" | ") || "none"}; streamed: ${JSON.stringify(b.streamed)}`);
    });
    await b.replication!.awaitInSync();

    // Insert on A: B gets it in a stream batch, without sending any HTTP request.
    const bRequestsBefore = b.requests.length;
    let started = Date.now();
    await a.collection.insert({ id: "t1", title: "Call Ann", done: false });
    await waitUntil(() => local(b, "t1"), "t1 on device B", 10_000);
    figures["insert on A -> visible on B (stream)"] = `${Date.now() - started} ms`;
    expect(b.requests.slice(bRequestsBefore)).toEqual([]);
    expect(b.streamed.filter((ev) => ev !== "RESYNC")).toEqual([["t1"]]);
    expect(await local(b, "t1")).toEqual({ id: "t1", title: "Call Ann", done: false, _deleted: false });
    // What RxDB pushed is the bare document: no `_meta`, `_rev` or `_attachments` reached the server.
    expect((await serverState("tasks")).get("t1")).toEqual({ id: "t1", title: "Call Ann", done: false, _deleted: false });

    // Update on B reaches A.
    started = Date.now();
    await (await b.collection.findOne("t1").exec())!.incrementalPatch({ done: true });
    await waitUntil(async () => (await local(a, "t1"))?.done === true, "B's update on device A", 10_000);
    figures["update on B -> visible on A"] = `${Date.now() - started} ms`;
    expect(await local(a, "t1")).toEqual({ id: "t1", title: "Call Ann", done: true, _deleted: false });
    expect((await serverState("tasks")).get("t1")).toEqual({ id: "t1", title: "Call Ann", done: true, _deleted: false });

    // Delete on A: B drops the document; the server keeps a tombstone.
    started = Date.now();
    await (await a.collection.findOne("t1").exec())!.remove();
    await waitUntil(async () => (await local(b, "t1")) === null, "the deletion on device B", 10_000);
    figures["delete on A -> gone on B"] = `${Date.now() - started} ms`;
    expect(await b.collection.count().exec()).toBe(0);
    expect((await serverState("tasks")).get("t1")).toEqual({ id: "t1", title: "Call Ann", done: true, _deleted: true });

    // Both devices settled without a single replication error (RxDB retries errors silently otherwise).
    await Promise.all([a.replication!.awaitInSync(), b.replication!.awaitInSync()]);
    expect([...a.errors, ...b.errors]).toEqual([]);
    expect(a.rejected.concat(b.rejected)).toEqual([]);
  }, 60_000);

  it("a conflict from an offline edit goes through RxDB's conflict handler; both devices end equal to the server", async () => {
    const resolutions: RxConflictHandlerInput<Task>[] = [];
    const a = await device<Task>("device-a", "tasks", taskSchema);
    const b = await device<Task>("device-b", "tasks", taskSchema, mergingConflictHandler(resolutions));
    await Promise.all([a.start().awaitInitialReplication(), b.start().awaitInitialReplication()]);
    await a.collection.bulkInsert([
      { id: "c1", title: "base", done: false },
      { id: "c2", title: "base", done: false },
    ]);
    await waitUntil(async () => (await local(b, "c1")) && (await local(b, "c2")), "c1 and c2 on device B", 10_000);

    // B goes offline. Meanwhile A changes c1's title and c2's title; B, offline, changes c1's `done` and c2's title.
    await b.stop();
    await (await a.collection.findOne("c1").exec())!.incrementalPatch({ title: "renamed by A" });
    await (await a.collection.findOne("c2").exec())!.incrementalPatch({ title: "A's title" });
    await a.replication!.awaitInSync();
    expect((await serverState("tasks")).get("c1")).toEqual({ id: "c1", title: "renamed by A", done: false, _deleted: false });
    await (await b.collection.findOne("c1").exec())!.incrementalPatch({ done: true });
    await (await b.collection.findOne("c2").exec())!.incrementalPatch({ title: "B's title" });

    // B comes back: its pushes are compare-and-set rows based on "base", the server answers with conflicts, and
    // RxDB resolves them with B's handler (c1: merged; c2: both changed the title, the server's wins).
    const started = Date.now();
    b.start();
    const expected = {
      c1: { id: "c1", title: "renamed by A", done: true, _deleted: false },
      c2: { id: "c2", title: "A's title", done: false, _deleted: false },
    };
    await waitUntil(
      async () => {
        const server = await serverState("tasks");
        for (const [id, doc] of Object.entries(expected)) {
          if (!same(server.get(id), doc)) return false;
          for (const d of [a, b]) if (!same(await local(d, id), doc)) return false;
        }
        return true;
      },
      "devices and server to converge",
      15_000,
    ).catch(async (err) => {
      const server = await serverState("tasks");
      const states = await Promise.all(Object.keys(expected).map(async (id) => ({ id, server: server.get(id), a: await local(a, id), b: await local(b, id) })));
      throw new Error(`${(err as Error).message}: ${JSON.stringify(states)}`);
    });
    figures["offline conflict resolved and converged"] = `${Date.now() - started} ms`;
    await Promise.all([a.replication!.awaitInSync(), b.replication!.awaitInSync()]);
    const server = await serverState("tasks");
    for (const [id, doc] of Object.entries(expected)) {
      expect(server.get(id)).toEqual(doc);
      expect(await local(a, id)).toEqual(doc);
      expect(await local(b, id)).toEqual(doc);
    }

    // The handler saw exactly what RxDB's protocol promises: B's base, the server's real state and B's new state.
    const byId = (id: string) => resolutions.filter((r) => r.newDocumentState.id === id);
    expect(byId("c1").map((r) => [r.assumedMasterState, r.realMasterState, r.newDocumentState])).toEqual([
      [
        { id: "c1", title: "base", done: false, _deleted: false },
        { id: "c1", title: "renamed by A", done: false, _deleted: false },
        { id: "c1", title: "base", done: true, _deleted: false },
      ],
    ]);
    expect(byId("c2").map((r) => r.realMasterState)).toEqual([{ id: "c2", title: "A's title", done: false, _deleted: false }]);
    expect([...a.errors, ...b.errors]).toEqual([]);
  }, 60_000);

  it("a fresh database pulls 250 documents pushed through the API, completely, in full pages", async () => {
    const docs = Array.from({ length: 250 }, (_, n) => ({ id: `n${String(n).padStart(3, "0")}`, body: `note ${n} ${"x".repeat(n % 40)}`, n }));
    const pushed = await t.request(PushChangesDocument, { input: { collection: "notes", rows: docs.map((d) => ({ assumedMasterState: null, newDocumentState: d })) } }, user.token);
    expect(pushed.data?.pushChanges).toMatchObject({ applied: 250, conflicts: [], rejected: [] });

    const c = await device<Note>("device-c", "notes", noteSchema);
    const started = Date.now();
    await c.start(false).awaitInitialReplication();
    figures["initial pull of 250 documents (pages of 100)"] = `${Date.now() - started} ms`;

    const all = await c.collection.find().exec();
    expect(all.length).toBe(250);
    const server = await serverState("notes");
    expect(server.size).toBe(250);
    expect(Object.fromEntries(all.map((d) => [d.id, { ...(d.toJSON() as Doc), _deleted: false }]))).toEqual(Object.fromEntries(server));
    // 100 + 100 + 50: RxDB stops at the first short page (the server's pages are full while more exist).
    expect(c.requests.filter((r) => r === "RxPull")).toHaveLength(3);
    expect(c.errors).toEqual([]);
  }, 60_000);

  it("a row the server rejects reaches onRejected, is not stored, does not block the replication, and the device converges", async () => {
    const a = await device<Task>("device-a", "tasks", taskSchema);
    await a.start().awaitInitialReplication();
    // Valid for the client's schema, too long for the server's (title maxLength 50).
    await a.collection.insert({ id: "long", title: "x".repeat(60), done: false });
    await waitUntil(() => a.rejected.length > 0, "the rejection", 10_000);
    expect(a.rejected).toEqual([{ index: 0, id: "long", code: "SCHEMA_VIOLATION", message: expect.any(String) }]);
    expect((await serverState("tasks")).has("long")).toBe(false);
    // The server had nothing: its tombstone came back as the row's conflict, and RxDB's handler removed the copy.
    await waitUntil(async () => (await local(a, "long")) === null, "the refused document to leave device A", 10_000);
    // An edit the server refuses reverts to the server's state.
    await a.collection.insert({ id: "kept", title: "fine", done: false });
    await a.replication!.awaitInSync();
    await (await a.collection.findOne("kept").exec())!.incrementalPatch({ title: "y".repeat(60) });
    await waitUntil(async () => (await local(a, "kept"))?.title === "fine", "the refused edit to revert on device A", 10_000);
    expect((await serverState("tasks")).get("kept")).toEqual({ id: "kept", title: "fine", done: false, _deleted: false });

    await a.collection.insert({ id: "after", title: "fine", done: false });
    await a.replication!.awaitInSync();
    expect((await serverState("tasks")).get("after")).toEqual({ id: "after", title: "fine", done: false, _deleted: false });
    expect(a.errors).toEqual([]);
  }, 60_000);

  it("one bad row or a batch too big for one request never blocks the push queue: good rows arrive, bad ones converge, the device shows in syncClients", async () => {
    type Blob = { id: string; body: string; n: number; deep?: unknown };
    const blobSchema: RxJsonSchema<Blob> = {
      version: 0,
      primaryKey: "id",
      type: "object",
      properties: { id: { type: "string", maxLength: 200 }, body: { type: "string" }, n: { type: "integer" }, deep: { type: "object" } },
      required: ["id", "body", "n"],
    };
    const d = await device<Blob>("device-q", "notes", blobSchema);
    await d.start().awaitInitialReplication();
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) deep = { x: deep };
    // 100 documents of about 60 KiB (6 MB: a batch the builders split by bytes), with three bad ones among them.
    const docs: Blob[] = Array.from({ length: 100 }, (_, n) => ({ id: `q${String(n).padStart(3, "0")}`, body: `${n} ${"z".repeat(60_000)}`, n }));
    docs[10] = { id: "q-nul", body: "a\u0000b", n: 10 };
    docs[20] = { id: "q-deep", body: "deep", n: 20, deep };
    docs[30] = { id: "q-huge", body: "h".repeat(200_000), n: 30 };
    const pushesBefore = d.requests.filter((r) => r === "RxPush").length;
    const started = Date.now();
    await d.collection.bulkInsert(docs);
    await d.replication!.awaitInSync();
    const bad = ["q-nul", "q-deep", "q-huge"];
    await waitUntil(async () => (await Promise.all(bad.map((id) => local(d, id)))).every((doc) => doc === null), "the refused documents to leave the device", 15_000);
    figures["100 x 60 KiB pushed with 3 bad rows, converged"] = `${Date.now() - started} ms`;
    const server = await serverState("notes");
    for (const doc of docs) {
      if (bad.includes(doc.id)) expect(server.has(doc.id)).toBe(false);
      else expect(server.get(doc.id)).toEqual({ ...doc, _deleted: false });
    }
    expect(d.rejected.map((r) => [r.id, r.code]).sort()).toEqual(bad.map((id) => [id, "BAD_USER_INPUT"]).sort());
    // Split by bytes: more than one request for the batch.
    expect(d.requests.filter((r) => r === "RxPush").length - pushesBefore).toBeGreaterThan(1);
    // The queue moves on.
    await d.collection.insert({ id: "q-after", body: "after", n: 1 });
    await d.replication!.awaitInSync();
    expect((await serverState("notes")).get("q-after")).toEqual({ id: "q-after", body: "after", n: 1, _deleted: false });
    expect(d.errors).toEqual([]);
    // The device pushed with its clientId (the RxDB storage's token): it is listed, and pulls recorded its checkpoint.
    const token = await d.db.storageToken;
    const clients = (await t.stack.sync.orm.em.getConnection().execute("select client_id, last_mutation_id from sync.sync_client where tenant_id = ?", [user.tenantId], "all")) as {
      client_id: string;
      last_mutation_id: string | null;
    }[];
    expect(clients.find((c) => c.client_id === token)?.last_mutation_id).toEqual(expect.any(String));
  }, 120_000);

  it("a device reset by an admin (CHECKPOINT_EXPIRED) pulls again from the start and catches up", async () => {
    await t.request(CreateCollectionDocument, { input: { name: "reset-notes" } }, user.token);
    const pushNote = (id: string) => t.request(PushChangesDocument, { input: { collection: "reset-notes", rows: [{ newDocumentState: { id, body: id, n: 1 } }] } }, user.token);
    await pushNote("before-reset");
    const d = await device<Note>("device-r", "reset-notes", noteSchema);
    await d.start(false).awaitInitialReplication();
    expect(await local(d, "before-reset")).toEqual({ id: "before-reset", body: "before-reset", n: 1, _deleted: false });
    await d.stop();
    // The device pulled with its clientId, so an admin can reset it; its stored checkpoint is then refused.
    const reset = await t.request(RaResetClientDocument, { clientId: await d.db.storageToken }, user.token);
    expect(reset.errors).toBeUndefined();
    await pushNote("after-reset");
    await d.start(false).awaitInitialReplication();
    expect(d.errors.some((e) => JSON.stringify(e).includes("CHECKPOINT_EXPIRED"))).toBe(true);
    expect(await local(d, "after-reset")).toEqual({ id: "after-reset", body: "after-reset", n: 1, _deleted: false });
    // After the pull from the start, the device is no longer pending a reset (a checkpoint pull works again).
    await pushNote("later");
    await d.stop();
    await d.start(false).awaitInitialReplication();
    expect(await local(d, "later")).toEqual({ id: "later", body: "later", n: 1, _deleted: false });
  }, 60_000);
});
