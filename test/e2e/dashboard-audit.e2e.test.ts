// The dashboard's Audit page (issue 7, item 8), end to end: the BUILT app (dist/dashboard) served by the gateway, driven
// in headless Debian Chromium, against the real stack. Proves: actions made through the API (a collection, a connector,
// a role and its collection grant, a user) appear with their actor and details; filters narrow the list, stay in the
// address, and the rows are exactly the API's own answer for the same filter; paging through every page shows each
// event once; the export downloads a CSV whose rows are the API's events for the filter, and a refused export is a
// readable message; the chain check shows verified with the API's count, then, after one audit row is changed directly
// in PostgreSQL, the broken link in red; a user without audit:read gets a readable message; a phone-width screen works;
// no page errors and no CSP violations. Needs /usr/bin/chromium (skipped locally without it, fails under CI=true).
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import pg from "pg";
import type { Browser, Page, Request } from "playwright-core";
import { internalHeaders } from "../../kernel/internal-auth.js";
import { AUDIT_EVENTS_PATH } from "../../kernel/outbox.js";
import type { AuditRecord } from "../../kernel/topics.js";
import { ensureTenantWithAdmin } from "../../subgraphs/tenants/tenant/demo-seed.js";
import {
  AuditPageApiEventsDocument,
  CreateCollectionDocument,
  CreateConnectorFullDocument,
  CreateRoleDocument,
  LoginDocument,
  RolesCreateUserDocument,
  SetCollectionGrantDocument,
  VerifyAuditChainDocument,
  type AuditEventFilter,
  type AuditPageApiEventsQuery,
} from "../__generated__/graphql.js";
import { assertBrowserReady, browserSuite, launchBrowser, openDashboardPage, signInAt, type DashboardPage, type DashboardUser } from "../harness/browser.js";
import { startTestStack, type TestStack } from "../harness/stack.js";
import { sleep, waitUntil } from "./e2e-helpers.js";

type ApiEvent = AuditPageApiEventsQuery["auditEvents"]["nodes"][number];

/** RFC 4180 rows of a whole CSV text (quoted fields may hold commas, quotes and newlines). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += ch;
  }
  if (field !== "" || row.length) rows.push([...row, field]);
  return rows;
}

const BULK_ROLES = 27;
// Events delivered with times in the past (through the audit service's ingest, as the services' outbox relays deliver
// them): a time range on the page selects an exact, known part of them.
const BACKDATED = Array.from({ length: 8 }, (_, i) => new Date(Date.UTC(2025, 0, 1, 10, i, 30)).toISOString());

browserSuite("dashboard audit page")("the dashboard's Audit page in a real browser", () => {
  let t: TestStack;
  let db: pg.Client;
  let browser: Browser;
  let desk: DashboardPage;
  let base: string;
  let token: string;
  let tenantId: string;
  let adminId: string;
  let connectorId: string;
  let roleId: string;
  const admin: DashboardUser = { tenant: "audit-page", email: "admin@audit-page.example", password: "" };
  const clerk: DashboardUser = { tenant: "audit-page", email: "clerk@audit-page.example", password: "clerk-password-123456" };
  const opened: DashboardPage[] = [];
  /** The `filter` variables of every AuditLog query the page sent. */
  const sentFilters: AuditEventFilter[] = [];

  /** Every event the API returns for a filter, newest first (all pages). */
  async function apiEvents(filter: AuditEventFilter = {}): Promise<ApiEvent[]> {
    const out: ApiEvent[] = [];
    let after: string | null = null;
    for (;;) {
      const res: { data?: AuditPageApiEventsQuery | null; errors?: unknown } = await t.request(AuditPageApiEventsDocument, { filter, first: 100, after }, token);
      if (!res.data) throw new Error(JSON.stringify(res.errors));
      out.push(...res.data.auditEvents.nodes);
      if (!res.data.auditEvents.hasNextPage) return out;
      after = res.data.auditEvents.endCursor;
    }
  }

  /** The API's events once no more arrive (sign-ins are recorded asynchronously, through the outbox). */
  async function settledEvents(filter: AuditEventFilter = {}): Promise<ApiEvent[]> {
    let before = (await apiEvents(filter)).map((e) => e.id).join();
    return waitUntil(async () => {
      await sleep(400);
      const events = await apiEvents(filter);
      const now = events.map((e) => e.id).join();
      if (now === before) return events;
      before = now;
      return null;
    }, "the audit trail to settle", 20_000, 0);
  }

  const rowIds = (page: Page) => page.locator('[data-testid="audit-table"] tr[data-event-id]').evaluateAll((rows) => rows.map((r) => r.getAttribute("data-event-id")!));

  /** Waits until the page's list shows exactly these events, in this order (and is not loading). */
  async function expectRows(page: Page, ids: string[], what: string): Promise<void> {
    let last: string[] = [];
    try {
      await waitUntil(async () => {
        const ready = (await page.getByTestId("audit-list").getAttribute("data-state")) === "ready";
        last = ids.length ? await rowIds(page) : (await page.getByText(/No audit events/).count()) ? [] : ["(not empty yet)"];
        return ready && last.join() === ids.join();
      }, what, 15_000, 50);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nexpected ${ids.length}: ${ids.join(", ")}\nshown ${last.length}: ${last.join(", ")}`);
    }
  }

  // The filter fields by their labels' names in the address (a label's accessible name also holds its hint).
  const FIELD: Record<string, string> = { Action: "action", "Actor kind": "actorType", "Actor id": "actorId", "Target type": "targetType", "Target id": "targetId", From: "from", To: "to", Text: "text" };
  /** Opens an event's details (unless they are open already) and returns its details row. */
  async function openDetails(page: Page, id: string) {
    const detail = page.locator(`tr[data-detail-for="${id}"]`);
    if (!(await detail.count())) await page.locator(`tr[data-event-id="${id}"]`).getByRole("button", { name: /Show details/ }).click();
    await detail.waitFor();
    return detail;
  }

  const filterField = (page: Page, label: string) => page.getByRole("form", { name: "Filters" }).locator(`[name="${FIELD[label]}"]`);

  /** Types into a text filter and applies it with Enter. */
  async function typeFilter(page: Page, label: string, value: string): Promise<void> {
    const input = filterField(page, label);
    await input.fill(value);
    await input.press("Enter");
  }

  async function openAudit(viewport?: { width: number; height: number }, who = admin, path = "/audit"): Promise<DashboardPage> {
    const p = await openDashboardPage(browser, viewport);
    opened.push(p);
    p.page.on("request", (req: Request) => {
      if (req.method() !== "POST" || !req.url().endsWith("/graphql")) return;
      const body = JSON.parse(req.postData() ?? "{}") as { query?: string; variables?: { filter?: AuditEventFilter } };
      if (/query\s+AuditLog\b/.test(body.query ?? "")) sentFilters.push(body.variables?.filter ?? {});
    });
    await signInAt(p.page, base, who, path);
    return p;
  }

  beforeAll(async () => {
    assertBrowserReady();
    t = await startTestStack();
    base = t.url.replace(/\/graphql$/, "");
    const seeded = await ensureTenantWithAdmin(t.stack.tenants.orm, { slug: admin.tenant, name: "Audit Page Company", adminEmail: admin.email });
    admin.password = seeded.adminPassword!;
    tenantId = seeded.tenantId;
    adminId = seeded.adminUserId;
    token = (await t.request(LoginDocument, { input: { tenant: admin.tenant, email: admin.email, password: admin.password } })).data!.login.accessToken;
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();

    // Older activity first (enough for two pages of role events), then the actions the first test looks for.
    for (let i = 0; i < BULK_ROLES; i++) {
      const res = await t.request(CreateRoleDocument, { input: { name: `bulk ${String(i).padStart(2, "0")}`, permissions: ["sync:pull"] } }, token);
      expect(res.errors).toBeUndefined();
    }
    const records: AuditRecord[] = BACKDATED.map((occurredAt, i) => ({
      id: randomUUID(),
      tenantId,
      actorType: "USER",
      actorId: adminId,
      action: `legacy.import.step${i}`,
      targetType: "Import",
      targetId: `import-${i}`,
      requestId: randomUUID(),
      changes: { step: { before: i, after: i + 1 } },
      metadata: { ip: "192.0.2.7", batch: "2025-01" },
      occurredAt,
    }));
    const ingest = await fetch(new URL(AUDIT_EVENTS_PATH, t.stack.audit.url), {
      method: "POST",
      headers: { "content-type": "application/json", ...internalHeaders(t.secrets.internal) },
      body: JSON.stringify({ events: records }),
    });
    expect(ingest.status).toBe(200);
    const collection = await t.request(CreateCollectionDocument, { input: { name: "contacts", jsonSchema: { type: "object", properties: { name: { type: "string" } } } } }, token);
    expect(collection.errors).toBeUndefined();
    const connector = await t.request(CreateConnectorFullDocument, { input: { kind: "ODOO", name: "Audited ERP", baseUrl: "http://127.0.0.1:9/" } }, token);
    expect(connector.errors).toBeUndefined();
    connectorId = connector.data!.createConnector.id;
    const role = await t.request(CreateRoleDocument, { input: { name: "Contact readers", permissions: ["sync:pull"] } }, token);
    roleId = role.data!.createRole.id;
    const grant = await t.request(SetCollectionGrantDocument, { input: { roleId, collection: "contacts", canPush: false, canPull: true } }, token);
    expect(grant.errors).toBeUndefined();
    // A user whose role (USER) has no audit:read.
    const user = await t.request(RolesCreateUserDocument, { input: { email: clerk.email, password: clerk.password, roles: ["USER"] } }, token);
    expect(user.errors).toBeUndefined();
    await waitUntil(async () => {
      const events = await apiEvents();
      const has = (action: string) => events.some((e) => e.action === action);
      return (
        events.filter((e) => e.action === "role.created").length === BULK_ROLES + 1 &&
        events.filter((e) => e.action.startsWith("legacy.import.")).length === BACKDATED.length &&
        ["collection.created", "connector.created", "role.grant.set", "user.created"].every(has)
      );
    }, "the API's actions in the audit trail", 20_000, 100);

    browser = await launchBrowser();
    desk = await openAudit();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await db?.end();
    await t?.stop();
  });

  it("shows actions made through the API as entries with their actor, target and details", async () => {
    const page = desk.page;
    // The page was read at sign-in; the sign-in's own event may have been recorded after that.
    const events = await settledEvents();
    await page.getByRole("button", { name: "Refresh" }).click();
    const grant = events.find((e) => e.action === "role.grant.set")!;
    await expectRows(page, events.slice(0, 25).map((e) => e.id), "the first page of events");

    const row = page.locator(`tr[data-event-id="${grant.id}"]`);
    expect(await row.getByTestId("audit-actor").textContent()).toBe(admin.email);
    expect(await row.locator("td[data-label=Target]").textContent()).toContain("Role");
    expect(await row.locator("td[data-label=Target] code").getAttribute("title")).toBe(roleId);
    const detail = await openDetails(page, grant.id);
    expect(await detail.textContent()).toContain(grant.id);
    expect(await detail.textContent()).toContain(adminId);
    // Field-level changes as before/after; the rest of the metadata as JSON.
    const canPull = detail.locator('[data-testid="audit-changes"] tr[data-field="canPull"]');
    expect(await canPull.locator("td[data-label=After]").textContent()).toBe("true");
    expect(JSON.parse((await detail.getByTestId("audit-metadata").textContent())!)).toMatchObject({ collection: "contacts" });
    expect(grant.metadata).toMatchObject({ collection: "contacts" });

    const connectorRow = page.locator(`tr[data-action="connector.created"]`);
    expect(await connectorRow.locator("td[data-label=Target] code").getAttribute("title")).toBe(connectorId);
    expect(await connectorRow.getByTestId("audit-actor").textContent()).toBe(admin.email);
    expect(await (await openDetails(page, (await connectorRow.getAttribute("data-event-id"))!)).textContent()).toContain("Audited ERP");
    expect(await page.locator(`tr[data-action="collection.created"]`).count()).toBe(1);
    expect(await page.locator(`tr[data-action="user.created"]`).count()).toBe(1);
  });

  it("filters narrow the list to exactly the API's answer for the same filter, and stay in the address", async () => {
    const page = desk.page;
    // Action prefix.
    await typeFilter(page, "Action", "role.");
    const roleEvents = await apiEvents({ action: "role." });
    expect(roleEvents.length).toBe(BULK_ROLES + 2);
    await expectRows(page, roleEvents.slice(0, 25).map((e) => e.id), "role events");
    expect(new URL(page.url()).searchParams.get("action")).toBe("role.");
    expect(sentFilters.at(-1)).toEqual({ action: "role." });

    // Narrowed further from a row's details: only this target (type and id).
    const grant = roleEvents.find((e) => e.action === "role.grant.set")!;
    await (await openDetails(page, grant.id)).getByRole("button", { name: "Only this target" }).click();
    const roleTarget = await apiEvents({ action: "role.", targetType: "Role", targetId: roleId });
    expect(roleTarget.map((e) => e.action).sort()).toEqual(["role.created", "role.grant.set"]);
    await expectRows(page, roleTarget.map((e) => e.id), "the role's own events");
    expect(await filterField(page, "Target id").inputValue()).toBe(roleId);

    // Kept in the address: a reload shows the same filters and rows.
    await page.reload();
    await expectRows(page, roleTarget.map((e) => e.id), "the role's events after a reload");
    expect(await filterField(page, "Action").inputValue()).toBe("role.");
    expect(await filterField(page, "Target type").inputValue()).toBe("Role");

    // Target type and id typed in: the connector.
    await page.getByRole("button", { name: "Clear filters" }).click();
    await typeFilter(page, "Target type", "Connector");
    await typeFilter(page, "Target id", connectorId);
    const connectorEvents = await apiEvents({ targetType: "Connector", targetId: connectorId });
    expect(connectorEvents.map((e) => e.action)).toEqual(["connector.created"]);
    await expectRows(page, connectorEvents.map((e) => e.id), "the connector's events");

    // Actor kind and actor id (the admin): what the API says, and nothing of anyone else.
    await page.getByRole("button", { name: "Clear filters" }).click();
    await filterField(page, "Actor kind").selectOption("USER");
    await typeFilter(page, "Actor id", adminId);
    await typeFilter(page, "Text", "contacts");
    const byAdmin = await apiEvents({ actorType: "USER", actorId: adminId, text: "contacts" });
    expect(byAdmin.map((e) => e.action).sort()).toEqual(["collection.created", "role.grant.set"]);
    await expectRows(page, byAdmin.map((e) => e.id), "the admin's events about contacts");
    expect(sentFilters.at(-1)).toEqual({ actorType: "USER", actorId: adminId, text: "contacts" });

    // A time range (the browser runs in UTC): 10:02 to 10:05 holds the events at 10:02:30 … 10:05:30.
    await page.getByRole("button", { name: "Clear filters" }).click();
    await filterField(page, "From").fill("2025-01-01T10:02");
    await filterField(page, "To").fill("2025-01-01T10:05");
    const range = { from: "2025-01-01T10:02:00.000Z", to: "2025-01-01T10:05:59.999Z" };
    const inRange = await apiEvents(range);
    expect(inRange.map((e) => e.occurredAt)).toEqual(BACKDATED.slice(2, 6).reverse());
    await expectRows(page, inRange.map((e) => e.id), "the events in the time range");
    expect(sentFilters.at(-1)).toEqual(range);
    // An inverted range is refused on the page, before anything is sent.
    const sent = sentFilters.length;
    await filterField(page, "To").fill("2025-01-01T09:00");
    await page.getByText("“To” is before “from”.").waitFor();
    await sleep(300);
    expect(sentFilters.length).toBe(sent);
    // A malformed actor id likewise.
    await page.getByRole("button", { name: "Clear filters" }).click();
    await typeFilter(page, "Actor id", "not-a-user");
    await page.getByText("An actor is given by their user id (a UUID).").waitFor();
    await page.getByRole("button", { name: "Clear filters" }).click();
  });

  it("paging through every page shows each event once, newest first, and back", async () => {
    const page = desk.page;
    await page.goto(`${base}/dashboard/audit`);
    const all = await settledEvents();
    expect(all.length).toBeGreaterThan(25);
    await page.getByRole("button", { name: "Refresh" }).click();
    const pages: string[][] = [];
    for (let n = 0; ; n++) {
      const expected = all.slice(n * 25, n * 25 + 25).map((e) => e.id);
      await expectRows(page, expected, `page ${n + 1}`);
      expect(await page.getByTestId("audit-page-number").textContent()).toBe(`Page ${n + 1}`);
      pages.push(await rowIds(page));
      const older = page.getByRole("button", { name: "Older →" });
      if (await older.isDisabled()) break;
      await older.click();
    }
    const seen = pages.flat();
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(all.map((e) => e.id));
    expect(pages.length).toBe(Math.ceil(all.length / 25));
    await page.getByRole("button", { name: "← Newer" }).click();
    await expectRows(page, pages.at(-2)!, "the previous page again");

    // A larger page size: everything on one page (when it fits), again each once.
    await page.getByLabel("Per page").selectOption("100");
    await expectRows(page, all.slice(0, 100).map((e) => e.id), "one page of 100");
    expect(new URL(page.url()).searchParams.get("size")).toBe("100");
  });

  it("exports the current filter as a CSV whose rows are the API's events for that filter; a refused export is a readable message", async () => {
    const page = desk.page;
    await page.goto(`${base}/dashboard/audit?action=role.`);
    const roleEvents = await apiEvents({ action: "role." });
    await expectRows(page, roleEvents.slice(0, 25).map((e) => e.id), "role events");
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export filtered CSV" }).click()]);
    expect(download.suggestedFilename()).toMatch(/^audit-events-[\d-]+\.csv$/);
    const csv = parseCsv(await readFile((await download.path())!, "utf8"));
    const [header, ...rows] = csv;
    expect(header).toEqual(["occurredAt", "id", "chainSeq", "actorType", "actorId", "action", "targetType", "targetId", "requestId", "changes", "metadata", "hash"]);
    const col = (name: string) => header!.indexOf(name);
    // Oldest first in the file (the list is newest first): the same events, every one once.
    expect(rows.map((r) => r[col("id")])).toEqual(roleEvents.map((e) => e.id).reverse());
    for (const r of rows) {
      const event = roleEvents.find((e) => e.id === r[col("id")])!;
      expect(r[col("action")]).toBe(event.action);
      expect(r[col("actorType")]).toBe(event.actorType);
      expect(r[col("actorId")]).toBe(event.actor?.id ?? "");
      expect(r[col("targetId")]).toBe(event.targetId ?? "");
      expect(JSON.parse(r[col("changes")] || "null")).toEqual(event.changes);
    }
    expect(rows.find((r) => r[col("action")] === "role.grant.set")![col("actorId")]).toBe(adminId);
    expect(await page.getByRole("status").filter({ hasText: /Saved audit-events-/ }).count()).toBe(1);

    // A filter the API refuses (text longer than 200 characters): the list and the export both say why.
    await page.goto(`${base}/dashboard/audit?text=${"x".repeat(201)}`);
    await page.locator('.error-box[data-code="BAD_USER_INPUT"]').first().waitFor();
    await page.getByRole("button", { name: "Export filtered CSV" }).click();
    const exportError = page.locator(".audit-export-error .error-box");
    await exportError.waitFor();
    expect(await exportError.getAttribute("data-code")).toBe("BAD_USER_INPUT");
    expect(await exportError.textContent()).toMatch(/text is longer than 200 characters[\s\S]*request [0-9a-f-]{36}/);
  });

  it("verifies the chain (the API's count), then shows the first broken link in red after an audit row is changed in PostgreSQL", async () => {
    const page = desk.page;
    await page.goto(`${base}/dashboard/audit`);
    await page.getByTestId("audit-list").locator('[data-testid="audit-table"]').waitFor();
    const chain = page.getByTestId("audit-chain");
    expect(await chain.textContent()).toContain("Not verified yet.");
    await chain.getByRole("button", { name: "Verify chain" }).click();
    await chain.locator('[data-chain="ok"]').waitFor();
    const whole = (await t.request(VerifyAuditChainDocument, {}, token)).data!.verifyAuditChain;
    expect(whole.ok).toBe(true);
    expect(whole.checked).toBeGreaterThan(BULK_ROLES + BACKDATED.length);
    expect(Number((await chain.getByTestId("audit-chain-checked").textContent())!.replace(/\D/g, ""))).toBe(whole.checked);
    expect(await chain.textContent()).toContain("the whole trail");

    // Over the filter's time range (the backdated events, which sit among the others in the chain).
    await page.goto(`${base}/dashboard/audit?from=2025-01-01T10:02&to=2025-01-01T10:05`);
    await chain.getByRole("checkbox", { name: "Only the filtered time range" }).waitFor();
    await chain.getByRole("button", { name: "Verify chain" }).click();
    await chain.locator('[data-chain="ok"]').waitFor();
    const ranged = (await t.request(VerifyAuditChainDocument, { from: "2025-01-01T10:02:00.000Z", to: "2025-01-01T10:05:59.999Z" }, token)).data!.verifyAuditChain;
    expect(ranged.ok).toBe(true);
    expect(Number((await chain.getByTestId("audit-chain-checked").textContent())!.replace(/\D/g, ""))).toBe(ranged.checked);
    expect(await chain.textContent()).toMatch(/events from .*2025/);

    // One stored row changed behind the service's back.
    const grant = (await apiEvents({ action: "role.grant.set" }))[0]!;
    const changed = await db.query(`update audit.audit_event set metadata = jsonb_set(metadata, '{collection}', '"everything"') where id = $1 and tenant_id = $2`, [grant.id, tenantId]);
    expect(changed.rowCount).toBe(1);
    const api = (await t.request(VerifyAuditChainDocument, {}, token)).data!.verifyAuditChain;
    expect(api).toMatchObject({ ok: false, firstBrokenEventId: grant.id });

    await page.goto(`${base}/dashboard/audit?action=role.grant`);
    await expectRows(page, [grant.id], "the changed event");
    await chain.getByRole("button", { name: "Verify chain" }).click();
    const broken = chain.locator('[data-chain="broken"]');
    await broken.waitFor();
    expect(await broken.getAttribute("role")).toBe("alert");
    expect(await broken.getByTestId("audit-chain-event").textContent()).toBe(grant.id);
    expect(await broken.textContent()).toContain(`Broken link at position ${api.firstBrokenSeq}`);
    expect(await broken.getByTestId("audit-chain-reason").textContent()).toBe(api.reason);
    // Shown in red, and the row of the broken event is marked.
    expect(await broken.evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { color: string } }).getComputedStyle(el).color)).toBe("rgb(207, 34, 46)");
    const row = page.locator(`tr[data-event-id="${grant.id}"]`);
    expect(await row.getAttribute("data-broken")).toBe("true");
    await broken.getByRole("button", { name: "Show it" }).click();
    await page.locator(`tr[data-detail-for="${grant.id}"]`).waitFor();
    expect(await page.locator(`tr[data-detail-for="${grant.id}"]`).getByTestId("audit-metadata").textContent()).toContain("everything");
  });

  it("a user without audit:read gets a readable message, not a blank page", async () => {
    const { page } = await openAudit(undefined, clerk);
    const denied = page.getByTestId("audit-denied");
    await denied.waitFor();
    expect(await denied.locator(".error-box").getAttribute("data-code")).toBe("FORBIDDEN");
    expect(await denied.textContent()).toContain("You don't have permission to read the audit log.");
    expect(await denied.textContent()).toContain("audit:read");
    expect(await page.getByRole("heading", { name: "Audit" }).count()).toBe(1);
    expect(await page.getByTestId("audit-table").count()).toBe(0);
    expect(await page.getByRole("button", { name: /Export/ }).count()).toBe(0);
    expect(await page.getByTestId("audit-chain").count()).toBe(0);
  });

  it("works at phone width: no sideways scrolling, events as cards with their details", async () => {
    const { page } = await openAudit({ width: 390, height: 844 });
    const events = await settledEvents();
    await page.getByRole("button", { name: "Refresh" }).click();
    await expectRows(page, events.slice(0, 25).map((e) => e.id), "the first page on a phone");
    const first = page.locator("tr[data-event-id]").first();
    await first.getByRole("button", { name: /Show details/ }).click();
    await page.locator("tr[data-detail-for]").first().waitFor();
    // Nothing of the page reaches past the screen's edge (the header's navigation is the layout's, not this page's).
    const past = await page.evaluate<string[]>(
      `[...document.querySelectorAll("main *")].filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5).map((el) => el.tagName.toLowerCase() + "." + el.className)`,
    );
    expect(past).toEqual([]);
    expect(await page.evaluate<number>(`document.querySelector("main").scrollWidth - document.querySelector("main").clientWidth`)).toBe(0);
    // Cards: the header row is hidden and each cell carries its label.
    expect(await page.locator('[data-testid="audit-table"] thead').isVisible()).toBe(false);
    expect(await first.locator("td[data-label=Action]").evaluate((td) => (globalThis as unknown as { getComputedStyle(e: unknown, pseudo: string): { content: string } }).getComputedStyle(td, "::before").content)).toBe('"Action"');
    const filters = await page.getByRole("form", { name: "Filters" }).boundingBox();
    expect(filters!.width).toBeLessThanOrEqual(390);
  });

  it("raised no page errors and no Content-Security-Policy violations", () => {
    expect(opened.flatMap((p) => p.pageErrors)).toEqual([]);
    expect(opened.flatMap((p) => p.cspViolations)).toEqual([]);
  });
});
