// `records`: a collection's current records as pages, through the gateway. Proves: paging covers every current record
// exactly once in id order (deleted ones never), with each record's metadata and a count; search is a case-insensitive
// substring of the id or a top-level string or number value, LIKE wildcards taken literally; row filters hide records
// (never listed, counted or named in a cursor, even behind thousands of hidden ones); no canPull is FORBIDDEN as for
// pullChanges; cursors of another tenant or collection, unknown collections and bad limits are BAD_USER_INPUT.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import {
  CreateCollectionDocument,
  CreateRoleDocument,
  LoginDocument,
  PullChangesDocument,
  PushChangesDocument,
  RlCollectionsDocument,
  RlRecordHistoryDocument,
  RlRecordIdsDocument,
  RlRecordsDocument,
  RolesCreateUserDocument,
  SetCollectionGrantDocument,
  type RlRecordsQuery,
} from "../__generated__/graphql.js";
import { startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";
import { codesOf } from "./e2e-helpers.js";

type Doc = Record<string, unknown>;
type Node = RlRecordsQuery["records"]["nodes"][number];
const PASSWORD = "correct horse battery staple";
const CITIES = ["Berlin", "Paris", "Lisbon", "Oslo"];

/** The search rule, as the API documents it: the id or a top-level string or number value contains the text. */
function matches(id: string, doc: Doc, search: string): boolean {
  const needle = search.toLowerCase();
  return [id, ...Object.values(doc).filter((v) => typeof v === "string" || typeof v === "number")].some((v) => String(v).toLowerCase().includes(needle));
}

describe("records: a collection's current records as pages", () => {
  let t: TestStack;
  let a: TenantLogin;
  let b: TenantLogin;
  /** The current (not deleted) documents of "people" in tenant a, by id, as pull sees them. */
  let people: Map<string, Doc>;

  async function ok<T extends { errors?: unknown; data?: unknown }>(p: Promise<T>): Promise<NonNullable<T["data"]>> {
    const res = await p;
    expect(res.errors).toBeUndefined();
    return res.data as NonNullable<T["data"]>;
  }
  const push = async (token: string, collection: string, rows: { assumedMasterState?: Doc | null; newDocumentState: Doc }[], extra: Doc = {}) => {
    for (let i = 0; i < rows.length; i += 500) {
      const res = await ok(t.request(PushChangesDocument, { input: { collection, rows: rows.slice(i, i + 500), ...extra } }, token));
      expect(res.pushChanges.rejected).toEqual([]);
    }
  };
  const list = (token: string, collection: string, vars: { search?: string | null; first?: number; after?: string | null } = {}) =>
    t.request(RlRecordsDocument, { collection, first: 50, ...vars }, token);
  /** Every page of a listing, following endCursor; checks each page's size. */
  async function allPages(token: string, collection: string, first: number, search?: string): Promise<{ nodes: Node[]; pages: RlRecordsQuery["records"][] }> {
    const pages: RlRecordsQuery["records"][] = [];
    let after: string | null = null;
    for (;;) {
      const page: RlRecordsQuery["records"] = (await ok(list(token, collection, { first, after, search }))).records;
      pages.push(page);
      expect(page.nodes.length).toBeLessThanOrEqual(first);
      if (!page.hasNextPage) break;
      expect(page.nodes).toHaveLength(first);
      after = page.endCursor!;
      expect(pages.length).toBeLessThan(1_000);
    }
    return { nodes: pages.flatMap((p) => p.nodes), pages };
  }
  /** A user of tenant a with exactly `roles`, signed in. */
  async function user(local: string, roles: string[]): Promise<string> {
    const email = `${local}@${a.slug}.example`;
    await ok(t.request(RolesCreateUserDocument, { input: { email, displayName: local, roles, password: PASSWORD } }, a.token));
    return (await ok(t.request(LoginDocument, { input: { tenant: a.slug, email, password: PASSWORD } }))).login.accessToken;
  }
  async function role(name: string, permissions: string[], grants: { collection: string; canPull: boolean; rowFilters?: { field: string; op: "EQ"; value: unknown }[] }[]) {
    const created = (await ok(t.request(CreateRoleDocument, { input: { name, permissions } }, a.token))).createRole;
    for (const g of grants) await ok(t.request(SetCollectionGrantDocument, { input: { roleId: created.id, canPush: false, ...g } }, a.token));
    return created;
  }

  beforeAll(async () => {
    t = await startTestStack();
    a = await t.tenant("list-a");
    b = await t.tenant("list-b");
    const schema = { type: "object", properties: { id: { type: "string" }, name: { type: "string" }, city: { type: "string" }, n: { type: "number" } } };
    await ok(t.request(CreateCollectionDocument, { input: { name: "people", jsonSchema: schema } }, a.token));
    await ok(t.request(CreateCollectionDocument, { input: { name: "other" } }, a.token));
    await ok(t.request(CreateCollectionDocument, { input: { name: "people" } }, b.token));

    // 137 people pushed in shuffled order; then 7 of them deleted and 3 updated.
    const ids = Array.from({ length: 137 }, (_, i) => `p${String(i).padStart(4, "0")}`);
    const shuffled = [...ids].sort((x, y) => ((x.charCodeAt(4) * 7919 + x.charCodeAt(3)) % 13) - ((y.charCodeAt(4) * 7919 + y.charCodeAt(3)) % 13) || (x < y ? 1 : -1));
    await push(
      a.token,
      "people",
      shuffled.map((id) => {
        const i = Number(id.slice(1));
        return { newDocumentState: { id, name: `Person ${i}`, city: CITIES[i % CITIES.length], n: i * 3, tags: ["tagged-needle"], nested: { note: "nested-needle" }, flag: true } };
      }),
      { clientId: "device-1", mutationId: "seed-1" },
    );
    // Values for the wildcard checks: `%`, `_` and `\` must be taken literally.
    await push(a.token, "people", [
      { newDocumentState: { id: "w-percent", name: "100% cotton", city: "Oslo" } },
      { newDocumentState: { id: "w-underscore", name: "snake_case", city: "Oslo" } },
      { newDocumentState: { id: "w-backslash", name: "C:\\temp", city: "Oslo" } },
    ]);
    const pulled = await ok(t.request(PullChangesDocument, { collections: ["people"], checkpoint: null, limit: 1000 }, a.token));
    const byId = new Map((pulled.pullChanges.documents as Doc[]).map((d) => [d.id as string, d]));
    const gone = ["p0000", "p0005", "p0050", "p0099", "p0100", "p0135", "p0136"];
    await push(
      a.token,
      "people",
      gone.map((id) => ({ assumedMasterState: byId.get(id)!, newDocumentState: { ...byId.get(id)!, _deleted: true } })),
    );
    for (const id of ["p0010", "p0011", "p0012"]) {
      await push(a.token, "people", [{ assumedMasterState: byId.get(id)!, newDocumentState: { ...byId.get(id)!, _deleted: false, city: "Zürich" } }]);
    }
    const state = await ok(t.request(PullChangesDocument, { collections: ["people"], checkpoint: null, limit: 1000 }, a.token));
    expect(state.pullChanges.hasMore).toBe(false);
    people = new Map(
      (state.pullChanges.documents as Doc[]).filter((d) => d._deleted === false).map(({ _deleted, ...d }) => [d.id as string, d]),
    );
    expect(people.size).toBe(137 + 3 - 7);
    // Tenant b has its own "people" with one record.
    await push(b.token, "people", [{ newDocumentState: { id: "p0001", name: "Someone else" } }]);
  }, 120_000);
  afterAll(async () => {
    await t?.stop();
  });

  it("collections expose the JSON Schema and the key field the page builds its columns from", async () => {
    const { collections } = await ok(t.request(RlCollectionsDocument, {}, a.token));
    expect(collections.find((c) => c.name === "people")).toEqual({
      name: "people",
      primaryKey: "id",
      jsonSchema: expect.objectContaining({ properties: expect.objectContaining({ name: { type: "string" }, city: { type: "string" } }) }),
    });
    expect(collections.find((c) => c.name === "other")?.jsonSchema).toBeNull();
  });

  it("pages cover every current record exactly once, in id order, with their metadata; deleted records never appear", async () => {
    const expected = [...people.keys()].sort();
    for (const first of [2, 7, 50, 500]) {
      const { nodes, pages } = await allPages(a.token, "people", first);
      expect(nodes.map((n) => n.id)).toEqual(expected);
      expect(pages.length).toBe(Math.max(1, Math.ceil(expected.length / first)));
      // Every page counts the whole collection.
      for (const p of pages) expect(p.totalCount).toBe(expected.length);
      expect(pages.at(-1)!.hasNextPage).toBe(false);
    }
    const { nodes } = await allPages(a.token, "people", 50);
    for (const n of nodes) expect(n.document).toEqual(people.get(n.id));
    const p0001 = nodes.find((n) => n.id === "p0001")!;
    expect(p0001).toMatchObject({ version: 1, actorType: "USER", actorId: a.userId, clientId: "device-1", updatedBy: { id: a.userId, email: a.email } });
    expect(p0001.syncRunId).toEqual(expect.any(String));
    expect(Date.parse(p0001.updatedAt)).toBeGreaterThan(Date.now() - 120_000);
    const changed = nodes.find((n) => n.id === "p0010")!;
    expect(changed).toMatchObject({ version: 2, clientId: null, document: expect.objectContaining({ city: "Zürich" }) });
    expect(Date.parse(changed.updatedAt)).toBeGreaterThanOrEqual(Date.parse(p0001.updatedAt));
    // History names the user too.
    const history = await ok(t.request(RlRecordHistoryDocument, { collection: "people", id: "p0010" }, a.token));
    expect(history.recordHistory.nodes.map((h) => [h.version, h.user?.email])).toEqual([
      [2, a.email],
      [1, a.email],
    ]);
    // The end of the list: an empty page with no next one.
    const lastPage = (await ok(list(a.token, "people", { first: 500 }))).records;
    const tail = (await ok(list(a.token, "people", { first: 5, after: lastPage.endCursor }))).records;
    expect(tail).toMatchObject({ nodes: [], hasNextPage: false });
  });

  it("search: a case-insensitive substring of the id or a top-level string or number value; LIKE wildcards are literal", async () => {
    const cases: [string, number | null][] = [
      ["berlin", null],
      ["ZÜRICH", 3],
      ["p001", null], // ids p0010–p0019
      ["42", null], // n = 42, 342, …, and ids/names holding 42
      ["person 7", null],
      ["%", 1],
      ["_", 1],
      ["\\", 1],
      ["100%", 1],
      ["nested-needle", 0], // inside an object: not searched
      ["tagged-needle", 0], // inside an array: not searched
      ["true", 0], // booleans are not searched
      ["no such text", 0],
    ];
    for (const [search, count] of cases) {
      const expected = [...people.entries()].filter(([id, d]) => matches(id, d, search)).map(([id]) => id).sort();
      if (count !== null) expect(expected).toHaveLength(count);
      else expect(expected.length).toBeGreaterThan(1);
      const { nodes, pages } = await allPages(a.token, "people", 4, search);
      expect([search, nodes.map((n) => n.id)]).toEqual([search, expected]);
      expect(pages[0]!.totalCount).toBe(expected.length);
    }
    // The empty search is no search.
    expect((await ok(list(a.token, "people", { search: "", first: 500 }))).records.nodes).toHaveLength(people.size);
  });

  it("row filters hide records: never listed, counted or named in a cursor, even behind thousands of hidden ones", async () => {
    await ok(t.request(CreateCollectionDocument, { input: { name: "deals" } }, a.token));
    // 2,600 hidden deals (more than one scan batch) around 30 visible ones, in id order: h…, then v…, then more h….
    const rows: { newDocumentState: Doc }[] = [];
    for (let i = 0; i < 2_300; i++) rows.push({ newDocumentState: { id: `d-a-${String(i).padStart(5, "0")}`, org: { dept: "hr" }, amount: i } });
    for (let i = 0; i < 30; i++) rows.push({ newDocumentState: { id: `d-b-${String(i).padStart(5, "0")}`, org: { dept: "sales" }, amount: i, note: i % 3 === 0 ? "Big deal" : "small" } });
    for (let i = 0; i < 300; i++) rows.push({ newDocumentState: { id: `d-c-${String(i).padStart(5, "0")}`, org: { dept: "hr" }, amount: i, note: "Big deal" } });
    rows.push({ newDocumentState: { id: "d-d-flat", dept: "sales", org: "sales" } }); // not org.dept: hidden
    await push(a.token, "deals", rows);
    await role("Sales deals", ["sync:pull"], [{ collection: "deals", canPull: true, rowFilters: [{ field: "org.dept", op: "EQ", value: "sales" }] }]);
    const sales = await user("sales", ["Sales deals"]);
    const visible = Array.from({ length: 30 }, (_, i) => `d-b-${String(i).padStart(5, "0")}`);

    for (const first of [1, 4, 30, 500]) {
      const { nodes, pages } = await allPages(sales, "deals", first);
      expect(nodes.map((n) => n.id)).toEqual(visible);
      for (const p of pages) {
        expect(p.totalCount).toBeNull();
        // No cursor names a hidden record.
        if (p.endCursor) expect(Buffer.from(p.endCursor, "base64url").toString()).not.toMatch(/d-[acd]-/);
        expect(JSON.stringify(p)).not.toMatch(/d-[acd]-|"hr"/);
      }
    }
    // Search within the view only; the admin sees every match.
    const big = await allPages(sales, "deals", 3, "big DEAL");
    expect(big.nodes.map((n) => n.id)).toEqual(visible.filter((_, i) => i % 3 === 0));
    expect((await ok(list(a.token, "deals", { search: "big deal", first: 1 }))).records.totalCount).toBe(10 + 300);
    // A hidden record's id searched for: nothing.
    expect((await ok(list(sales, "deals", { search: "d-a-00001" }))).records).toMatchObject({ nodes: [], hasNextPage: false, totalCount: null });
    // The admin (no filters) sees them all.
    expect((await ok(list(a.token, "deals", { first: 1 }))).records.totalCount).toBe(rows.length);
  }, 120_000);

  it("without canPull on the collection: FORBIDDEN, as for pullChanges, and nothing listed", async () => {
    await role("Other only", ["sync:pull"], [{ collection: "other", canPull: true }]);
    const reader = await user("other-reader", ["Other only"]);
    for (const res of [await list(reader, "people"), await list(reader, "people", { search: "berlin" })]) {
      expect(codesOf(res)).toEqual(["FORBIDDEN"]);
      expect(res.data?.records ?? null).toBeNull();
    }
    const pull = await t.request(PullChangesDocument, { collections: ["people"], checkpoint: null, limit: 10 }, reader);
    expect(codesOf(pull)).toEqual(["FORBIDDEN"]);
    expect((await ok(list(reader, "other"))).records.nodes).toEqual([]);
    // No sync:pull permission at all: FORBIDDEN too.
    await role("Nothing", [], []);
    const nobody = await user("nobody", ["Nothing"]);
    expect(codesOf(await list(nobody, "people"))).toEqual(["FORBIDDEN"]);
  });

  it("cursors of another tenant or collection, and made-up ones, are BAD_USER_INPUT; tenants never see each other's records", async () => {
    const page = (await ok(list(a.token, "people", { first: 2 }))).records;
    expect(page.hasNextPage).toBe(true);
    const foreign = await list(b.token, "people", { after: page.endCursor });
    expect(codesOf(foreign)).toEqual(["BAD_USER_INPUT"]);
    expect(foreign.errors?.[0]?.extensions?.field).toBe("after");
    expect(codesOf(await list(a.token, "other", { after: page.endCursor }))).toEqual(["BAD_USER_INPUT"]);
    // Forged: a's cursor with b's tenant id, and garbage.
    const [, collection, id] = JSON.parse(Buffer.from(page.endCursor!, "base64url").toString()) as [string, string, string];
    const forged = Buffer.from(JSON.stringify([b.tenantId, collection, id])).toString("base64url");
    expect((await ok(list(b.token, "people", { after: forged }))).records.nodes).toEqual([]); // a valid position in b's own list
    for (const bad of ["nope", "", Buffer.from(JSON.stringify([a.tenantId, "people", ""])).toString("base64url"), Buffer.from(JSON.stringify([a.tenantId, "people", 5])).toString("base64url"), Buffer.from("[1,2").toString("base64url")]) {
      if (bad === "") continue; // an empty after is no cursor
      expect([bad, codesOf(await list(a.token, "people", { after: bad }))]).toEqual([bad, ["BAD_USER_INPUT"]]);
    }
    // b lists only its own record.
    expect((await ok(list(b.token, "people"))).records).toMatchObject({ nodes: [{ id: "p0001", document: { id: "p0001", name: "Someone else" } }], hasNextPage: false, totalCount: 1 });
  });

  it("unknown collections, bad limits and bad searches are BAD_USER_INPUT naming the argument", async () => {
    for (const collection of ["nope", "bad name!", ""]) {
      const res = await list(a.token, collection);
      expect([collection, codesOf(res)]).toEqual([collection, ["BAD_USER_INPUT"]]);
      expect(res.errors?.[0]?.extensions?.field).toBe("collection");
    }
    // Another tenant's collection is unknown here.
    await ok(t.request(CreateCollectionDocument, { input: { name: "b-only" } }, b.token));
    expect(codesOf(await list(a.token, "b-only"))).toEqual(["BAD_USER_INPUT"]);
    for (const first of [0, -1, 501, 100_000]) {
      const res = await t.request(RlRecordIdsDocument, { collection: "people", first }, a.token);
      expect([first, codesOf(res)]).toEqual([first, ["BAD_USER_INPUT"]]);
      expect(res.errors?.[0]?.extensions?.field).toBe("first");
    }
    expect((await ok(t.request(RlRecordIdsDocument, { collection: "people", first: 500 }, a.token))).records.nodes).toHaveLength(people.size);
    const long = await list(a.token, "people", { search: "x".repeat(201) });
    expect(codesOf(long)).toEqual(["BAD_USER_INPUT"]);
    expect(long.errors?.[0]?.extensions?.field).toBe("search");
    // NUL is refused for every text argument (kernel/input-guards.ts).
    expect(codesOf(await list(a.token, "people", { search: "a\u0000b" }))).toEqual(["BAD_USER_INPUT"]);
    expect((await ok(list(a.token, "people", { search: "x".repeat(200) }))).records.nodes).toEqual([]);
  });

  it("totalCount stops counting above 10,000 (null), while paging still reaches the end", async () => {
    await ok(t.request(CreateCollectionDocument, { input: { name: "many" } }, a.token));
    await push(
      a.token,
      "many",
      Array.from({ length: 10_001 }, (_, i) => ({ newDocumentState: { id: `m${String(i).padStart(6, "0")}`, odd: i % 2 === 1 ? "odd" : "even" } })),
    );
    expect((await ok(list(a.token, "many", { first: 1 }))).records.totalCount).toBeNull();
    expect((await ok(list(a.token, "many", { first: 1, search: "m00999" }))).records.totalCount).toBe(10); // m009990–m009999
    const { nodes } = await allPages(a.token, "many", 500);
    expect(nodes).toHaveLength(10_001);
    expect(new Set(nodes.map((n) => n.id)).size).toBe(10_001);
  }, 120_000);
});
