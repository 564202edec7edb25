// The dashboard's Records page (issue 7, item 6) in headless Debian Chromium, on the BUILT app (`npm run build`) and
// the real stack. Proves: columns come from the collection's JSON Schema (or from the records' fields without one);
// paging through every page shows every record exactly once, and back; the search narrows the table and lives in the
// address; the CSV export downloads a file whose rows are the server's records, cell for cell (escaping and the
// formula guard included), for the whole collection and for a search; a record's history shows its versions after an
// update; API refusals (no canPull) and unknown collections are readable messages; the table scrolls sideways at phone
// width; no page errors.
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import type { FormattedExecutionResult } from "graphql";
import { readFile } from "node:fs/promises";
import type { Browser, Page } from "playwright-core";
import { ensureTenantWithAdmin } from "../../subgraphs/tenants/tenant/demo-seed.js";
import {
  CreateCollectionDocument,
  CreateRoleDocument,
  LoginDocument,
  PushChangesDocument,
  RlRecordIdsDocument,
  RlRecordsDocument,
  RolesCreateUserDocument,
  SetCollectionGrantDocument,
  type RlRecordsQuery,
} from "../__generated__/graphql.js";
import { assertBrowserReady, browserSuite, launchBrowser, openDashboardPage, signInAt, type DashboardPage, type DashboardUser } from "../harness/browser.js";
import { startTestStack, type TestStack } from "../harness/stack.js";
import { waitUntil } from "./e2e-helpers.js";

type Doc = Record<string, unknown>;
const CITIES = ["Berlin", "Paris", "Lisbon", "Oslo", "Rome"];
/** Notes that exercise CSV quoting and the formula guard (undefined: the record has no note). */
const NOTES: unknown[] = ["=SUM(A1:A9)", "+49 30 1234", "-dash", "@mention", 'He said "hi", then left', "line one\nline two", "Zürich ünïcödé ✓", undefined, { nested: [1, 2] }, "plain"];
/**
 * The columns the schema gives: its `required` fields in their order, then the other properties alphabetically (the
 * server stores schemas as jsonb, which keeps no property order of its own).
 */
const SCHEMA_FIELDS = ["name", "email", "city", "note", "score"];
const PAGE_SIZE = 25; // the page's (dashboard/src/pages/records.page.tsx)

/** RFC 4180: quoted cells may hold commas, doubled quotes and line breaks; lines end with CRLF. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c !== '"') cell += c;
      else if (text[i + 1] === '"') (cell += '"'), i++;
      else quoted = false;
    } else if (c === '"' && cell === "") quoted = true;
    else if (c === ",") row.push(cell), (cell = "");
    else if (c === "\r" && text[i + 1] === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      i++;
    } else cell += c;
  }
  if (cell || row.length) rows.push([...row, cell]);
  return rows;
}

/** What the export must write for a value: formulas neutralised (text only), numbers as written, JSON for objects. */
function expectedCell(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

browserSuite("dashboard Records page")("the Records page in a real browser", () => {
  let t: TestStack;
  let browser: Browser;
  let base: string;
  let token: string;
  const admin: DashboardUser = { tenant: "recs", email: "admin@recs.example", password: "" };
  const outsider: DashboardUser = { tenant: "recs", email: "outsider@recs.example", password: "correct horse battery staple" };
  const opened: DashboardPage[] = [];

  const api = {
    /** Every record of a collection (optionally matching a search), in the API's order. */
    all: async (collection: string, search?: string) => {
      const nodes: RlRecordsQuery["records"]["nodes"] = [];
      let after: string | null = null;
      for (;;) {
        const res: FormattedExecutionResult<RlRecordsQuery> = await t.request(RlRecordsDocument, { collection, search, first: 500, after }, token);
        if (!res.data) throw new Error(JSON.stringify(res.errors));
        nodes.push(...res.data.records.nodes);
        if (!res.data.records.hasNextPage) return nodes;
        after = res.data.records.endCursor;
      }
    },
    push: async (collection: string, rows: { assumedMasterState?: Doc | null; newDocumentState: Doc }[]) => {
      const res = await t.request(PushChangesDocument, { input: { collection, rows } }, token);
      expect(res.errors).toBeUndefined();
      expect(res.data!.pushChanges.rejected).toEqual([]);
    },
  };

  async function open(who: DashboardUser, path: string, viewport?: { width: number; height: number }): Promise<Page> {
    const dp = await openDashboardPage(browser, viewport);
    opened.push(dp);
    await signInAt(dp.page, base, who, path);
    return dp.page;
  }
  /** The record ids in the table, once the page has settled. */
  async function shownIds(page: Page): Promise<string[]> {
    await page.locator('section.records-section[aria-busy="false"]').waitFor();
    return page.getByTestId("records-table").locator("tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-record-id") ?? ""));
  }
  /** Waits until the table's first record id satisfies `ok`. */
  async function firstRow(page: Page, ok: (id: string | null) => boolean): Promise<void> {
    const first = page.getByTestId("records-table").locator("tbody tr").first();
    for (let i = 0; !ok(await first.getAttribute("data-record-id")); i++) {
      if (i > 200) throw new Error("the table's first row did not change");
      await page.waitForTimeout(25);
    }
  }
  /** Walks the pages forward from the current one; returns every id seen, page by page. */
  async function walkForward(page: Page): Promise<string[][]> {
    const pages: string[][] = [await shownIds(page)];
    const next = page.getByRole("button", { name: "Next →" });
    while (await next.isVisible() && (await next.isEnabled())) {
      const before = pages.at(-1)![0];
      await next.click();
      await page.getByTestId("records-page-number").filter({ hasText: `Page ${pages.length + 1}` }).waitFor();
      await firstRow(page, (id) => id !== before);
      pages.push(await shownIds(page));
      expect(pages.length).toBeLessThan(20);
    }
    return pages;
  }

  beforeAll(async () => {
    assertBrowserReady();
    t = await startTestStack();
    base = t.url.replace(/\/graphql$/, "");
    const seeded = await ensureTenantWithAdmin(t.stack.tenants.orm, { slug: admin.tenant, name: "Records Company", adminEmail: admin.email });
    admin.password = seeded.adminPassword!;
    token = (await t.request(LoginDocument, { input: { tenant: admin.tenant, email: admin.email, password: admin.password } })).data!.login.accessToken;
    const schema = {
      type: "object",
      required: ["id", "name", "email"],
      properties: { id: { type: "string" }, name: { type: "string" }, email: { type: "string" }, score: { type: "number" }, note: {}, city: { type: "string" } },
    };
    expect((await t.request(CreateCollectionDocument, { input: { name: "contacts", jsonSchema: schema } }, token)).errors).toBeUndefined();
    expect((await t.request(CreateCollectionDocument, { input: { name: "plain" } }, token)).errors).toBeUndefined();
    // 60 contacts (3 pages of 25): pushed in reverse order, so the table's order is the server's, not the push's.
    const contacts = Array.from({ length: 60 }, (_, i) => {
      const doc: Doc = { id: `c${String(i).padStart(4, "0")}`, name: `Contact ${i}`, email: `c${i}@example.com`, city: CITIES[i % CITIES.length], score: (i % 7) * 1.5 - 3 };
      if (NOTES[i % NOTES.length] !== undefined) doc.note = NOTES[i % NOTES.length];
      if (i === 42) doc.extra = "=not a formula"; // a field outside the schema: exported in its own column
      return { newDocumentState: doc };
    }).reverse();
    await api.push("contacts", contacts);
    await api.push("plain", [{ newDocumentState: { id: "x1", colour: "red", size: 3 } }, { newDocumentState: { id: "x2", colour: "blue", weight: 9 } }]);
    // A user who may pull "plain" only.
    const role = (await t.request(CreateRoleDocument, { input: { name: "Plain readers", permissions: ["sync:pull"] } }, token)).data!.createRole;
    expect((await t.request(SetCollectionGrantDocument, { input: { roleId: role.id, collection: "plain", canPull: true, canPush: false } }, token)).errors).toBeUndefined();
    const created = await t.request(RolesCreateUserDocument, { input: { email: outsider.email, displayName: "Outsider", roles: ["Plain readers"], password: outsider.password } }, token);
    expect(created.errors).toBeUndefined();
    browser = await launchBrowser();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await t?.stop();
  });

  it("columns come from the JSON Schema; paging through every page shows each record exactly once, and back", async () => {
    const page = await open(admin, "/records");
    // Without a collection: the list to choose from.
    await page.getByRole("link", { name: "contacts" }).click();
    await page.waitForURL(/\/dashboard\/records\/contacts$/);
    await page.getByTestId("records-table").waitFor();
    const headers = await page.getByTestId("records-table").locator("thead th").allTextContents();
    expect(headers).toEqual(["id", ...SCHEMA_FIELDS, "Updated"]);
    await expect(page.getByTestId("records-count").textContent()).resolves.toContain("60 records");

    const server = (await api.all("contacts")).map((n) => n.id);
    expect(server).toHaveLength(60);
    const pages = await walkForward(page);
    expect(pages.map((p) => p.length)).toEqual([PAGE_SIZE, PAGE_SIZE, 60 - 2 * PAGE_SIZE]);
    expect(pages.flat()).toEqual(server);
    expect(new Set(pages.flat()).size).toBe(60);
    await expect(page.getByRole("button", { name: "Next →" }).isDisabled()).resolves.toBe(true);

    // Back to page 2: the same records as before.
    await page.getByRole("button", { name: "← Previous" }).click();
    await page.getByTestId("records-page-number").filter({ hasText: "Page 2" }).waitFor();
    await firstRow(page, (id) => id === pages[1]![0]);
    expect(await shownIds(page)).toEqual(pages[1]);

    // A cell shows the stored value; a missing one a dash.
    const row = page.locator('tr[data-record-id="c0030"]');
    expect(await row.locator('td[data-label="note"]').textContent()).toBe("=SUM(A1:A9)");
    expect(await page.locator('tr[data-record-id="c0037"] td[data-label="note"]').textContent()).toBe("—");

    // Without a schema: the columns are the fields of the records on the page.
    await page.getByLabel("Collection").selectOption("plain");
    await page.waitForURL(/\/records\/plain$/);
    // The new collection's page, read (not the previous one's table while it loads).
    const plain = page.locator('section[data-collection="plain"][aria-busy="false"] [data-testid="records-table"]');
    await plain.waitFor();
    await waitUntil(async () => (await plain.locator("thead th").count()) > 0, "the plain collection's columns", 10_000, 25);
    expect(await plain.locator("thead th").allTextContents()).toEqual(["id", "colour", "size", "weight", "Updated"]);
    expect(opened.flatMap((o) => o.pageErrors)).toEqual([]);
  });

  it("the search narrows the table, is kept in the address and survives a reload", async () => {
    const page = await open(admin, "/records/contacts");
    await page.getByTestId("records-table").waitFor();
    const berlin = (await api.all("contacts", "berlin")).map((n) => n.id);
    expect(berlin).toHaveLength(12);
    await page.getByLabel("Search").fill("berlin");
    await page.waitForURL(/\?q=berlin$/);
    await page.getByTestId("records-count").filter({ hasText: "12 matching records" }).waitFor();
    expect(await shownIds(page)).toEqual(berlin);
    await expect(page.getByRole("button", { name: "Next →" }).count()).resolves.toBe(0); // one page: no pager

    // A search spanning pages: every match once.
    await page.getByLabel("Search").fill("example.com");
    await page.waitForURL(/\?q=example\.com$/);
    await page.getByTestId("records-count").filter({ hasText: "60 matching records" }).waitFor();
    expect((await walkForward(page)).flat()).toEqual((await api.all("contacts", "example.com")).map((n) => n.id));

    await page.goto(`${base}/dashboard/records/contacts?q=Contact%205`);
    expect(await page.getByLabel("Search").inputValue()).toBe("Contact 5");
    const fives = (await api.all("contacts", "Contact 5")).map((n) => n.id);
    await page.getByTestId("records-count").filter({ hasText: `${fives.length} matching records` }).waitFor();
    expect(await shownIds(page)).toEqual(fives);
    await page.getByLabel("Search").fill("no such contact");
    await page.getByText("No record matches this search.").waitFor();
    await page.getByLabel("Search").fill("");
    await page.waitForURL(/\/records\/contacts$/);
    await page.getByTestId("records-count").filter({ hasText: "60 records" }).waitFor();
    expect(opened.flatMap((o) => o.pageErrors)).toEqual([]);
  });

  it("the CSV export downloads a file whose rows are the server's records (escaping and formula guard included)", async () => {
    const page = await open(admin, "/records/contacts");
    await page.getByTestId("records-table").waitFor();
    const exported = async (): Promise<{ name: string; rows: string[][] }> => {
      const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export CSV" }).click()]);
      const text = await readFile((await download.path())!, "utf8");
      expect(text.charCodeAt(0)).toBe(0xfeff); // byte order mark: spreadsheets read UTF-8
      return { name: download.suggestedFilename(), rows: parseCsv(text.slice(1)) };
    };
    const check = (rows: string[][], records: Awaited<ReturnType<typeof api.all>>) => {
      const [header, ...body] = rows;
      expect(header).toEqual(["id", ...SCHEMA_FIELDS, "extra", "_version", "_updatedAt"].filter((h) => h !== "extra" || records.some((r) => "extra" in r.document)));
      expect(body).toHaveLength(records.length);
      body.forEach((cells, i) => {
        const r = records[i]!;
        const fields = header!.slice(1, -2);
        expect(cells).toEqual([r.id, ...fields.map((f) => expectedCell(r.document[f])), String(r.version), r.updatedAt]);
      });
    };

    const all = await exported();
    expect(all.name).toMatch(/^contacts-\d{8}-\d{4}\.csv$/);
    check(all.rows, await api.all("contacts"));
    await page.getByText("Exported 60 records").waitFor();
    // The guard and the quoting, spelled out.
    const byId = new Map(all.rows.map((r) => [r[0], r]));
    const note = all.rows[0]!.indexOf("note");
    expect(byId.get("c0000")![note]).toBe("'=SUM(A1:A9)");
    expect(byId.get("c0002")![note]).toBe("'-dash");
    expect(byId.get("c0005")![note]).toBe("line one\nline two");
    expect(byId.get("c0004")![note]).toBe('He said "hi", then left');
    expect(byId.get("c0001")![all.rows[0]!.indexOf("score")]).toBe("-1.5");

    // Only the search's records.
    await page.getByLabel("Search").fill("paris");
    await page.getByTestId("records-count").filter({ hasText: "12 matching records" }).waitFor();
    const paris = await exported();
    expect(paris.name).toMatch(/^contacts-search-\d{8}-\d{4}\.csv$/);
    check(paris.rows, await api.all("contacts", "paris"));
    expect(opened.flatMap((o) => o.pageErrors)).toEqual([]);
  });

  it("a record's history shows its versions after an update: field before and after, who, and the run", async () => {
    const current = (await api.all("contacts")).find((n) => n.id === "c0007")!;
    await api.push("contacts", [{ assumedMasterState: { ...current.document, _deleted: false }, newDocumentState: { ...current.document, city: "Zürich", score: 100 } }]);
    const page = await open(admin, "/records/contacts?q=c0007");
    await page.getByTestId("records-count").filter({ hasText: "1 matching record" }).waitFor();
    await page.locator('tr[data-record-id="c0007"] td[data-label="city"]').filter({ hasText: "Zürich" }).waitFor();
    await page.locator('tr[data-record-id="c0007"] td[data-label="email"]').click();
    const dialog = page.getByRole("dialog", { name: "History of c0007" });
    await dialog.waitFor();
    const versions = dialog.locator("li.records-version");
    await versions.first().waitFor();
    expect(await versions.evaluateAll((els) => els.map((e) => e.getAttribute("data-version")))).toEqual(["2", "1"]);
    const v2 = dialog.locator('li[data-version="2"]');
    expect(await v2.textContent()).toContain("Updated");
    expect(await v2.getByTestId("version-actor").textContent()).toBe(`by ${admin.email}`);
    expect(await v2.locator('tr[data-field="city"] td').allTextContents()).toEqual(["Lisbon", "Zürich"]);
    expect(await v2.locator('tr[data-field="score"] td').allTextContents()).toEqual(["-3", "100"]);
    expect(await v2.locator("tbody tr").count()).toBe(2);
    expect(await v2.getByRole("link").getAttribute("href")).toMatch(/^\/dashboard\/runs\/[0-9a-f-]{36}$/);
    const v1 = dialog.locator('li[data-version="1"]');
    expect(await v1.textContent()).toContain("Created");
    expect(await v1.locator('tr[data-field="city"] td').allTextContents()).toEqual(["—", "Lisbon"]);
    await dialog.getByRole("button", { name: "Close" }).click();
    await dialog.waitFor({ state: "hidden" });
    expect(opened.flatMap((o) => o.pageErrors)).toEqual([]);
  });

  it("API refusals and unknown collections are readable messages", async () => {
    const page = await open(outsider, "/records/contacts");
    const alert = page.getByRole("alert");
    await alert.waitFor();
    expect(await alert.getAttribute("data-code")).toBe("FORBIDDEN");
    expect(await alert.locator(".error-title").textContent()).toBe("You may not read the records of this collection.");
    expect(await alert.textContent()).toContain("contacts");
    await expect(page.getByRole("button", { name: "Export CSV" }).count()).resolves.toBe(0);
    await expect(page.getByTestId("records-table").count()).resolves.toBe(0);
    // The collection they may read works.
    await page.getByLabel("Collection").selectOption("plain");
    await page.getByTestId("records-table").waitFor();
    expect(await shownIds(page)).toEqual(["x1", "x2"]);

    await page.goto(`${base}/dashboard/records/nope`);
    const unknown = page.getByRole("alert");
    await unknown.waitFor();
    expect(await unknown.textContent()).toContain("There is no collection named “nope”.");
    expect(opened.flatMap((o) => o.pageErrors)).toEqual([]);
  });

  it("at phone width the page fits and the table scrolls sideways", async () => {
    const page = await open(admin, "/records/contacts", { width: 390, height: 844 });
    await page.getByTestId("records-table").waitFor();
    // Nothing of the page's own content reaches past the screen's edge; the table scrolls inside its frame.
    // In the page (browser globals; this file is type-checked against Node's).
    const sizes = await page.evaluate<{ past: string[]; wrapRight: number; wrap: number; table: number }>(`(() => {
      const wrap = document.querySelector(".records-table-wrap");
      const past = [...document.querySelectorAll("main *")]
        .filter((e) => !e.closest(".records-table-wrap") && e.getBoundingClientRect().right > window.innerWidth)
        .map((e) => e.tagName.toLowerCase() + "." + e.className);
      return { past, wrapRight: wrap.getBoundingClientRect().right, wrap: wrap.clientWidth, table: wrap.scrollWidth };
    })()`);
    expect(sizes.past).toEqual([]);
    expect(sizes.wrapRight).toBeLessThanOrEqual(390);
    expect(sizes.table).toBeGreaterThan(sizes.wrap);
    await page.locator(".records-table-wrap").evaluate((el) => (el.scrollLeft = el.scrollWidth));
    expect(await page.locator(".records-table-wrap").evaluate((el) => el.scrollLeft)).toBeGreaterThan(0);
    await expect(page.getByRole("button", { name: "Export CSV" }).isVisible()).resolves.toBe(true);
    // The history dialog fits the screen too.
    await page.getByRole("button", { name: "c0001" }).click();
    const dialog = page.getByRole("dialog", { name: "History of c0001" });
    await dialog.locator("li.records-version").first().waitFor();
    const box = (await dialog.boundingBox())!;
    expect(box.x).toBeGreaterThanOrEqual(0);
    expect(box.x + box.width).toBeLessThanOrEqual(390);
    expect(opened.flatMap((o) => o.pageErrors)).toEqual([]);
    expect(opened.flatMap((o) => o.cspViolations)).toEqual([]);
  });
});
