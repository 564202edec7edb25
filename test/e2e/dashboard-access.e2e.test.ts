// The dashboard's Access page (issue 7, item 7), end to end: the BUILT app (dist/dashboard) in headless Chromium
// against the real stack. What is changed in the page is checked where it matters: through the gateway, with a real
// signed-in user's token. Proves: the admin sees users, roles and the permission matrix; a role and users made in the
// page exist (the one-time password and invitation token shown once really sign in); toggling Pull / Push in the
// matrix is saved at once (optimistic, with a per-cell saving state) and makes the API refuse or allow pullChanges /
// pushChanges for a user holding only that role, with the code pull and push use (FORBIDDEN); a row filter set in the
// page narrows pull to the matching records; an invalid one shows the API's error and nothing is saved; a refused
// toggle goes back and shows the API's error beside the cell; changing a user's roles takes effect; users are searched,
// paged, deactivated and reactivated; a READ_ONLY user sees everything read-only, a USER gets no link and a no-access
// message; at phone width the matrix scrolls inside its box. No page errors, no CSP violations.
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import type { Browser, Locator, Page } from "playwright-core";
import { ensureTenantWithAdmin } from "../../subgraphs/tenants/tenant/demo-seed.js";
import {
  AccessE2eAcceptInvitationDocument,
  AccessE2eCreateCollectionDocument,
  AccessE2eCreateRoleDocument,
  AccessE2eCreateUserDocument,
  AccessE2eLoginDocument,
  AccessE2ePullDocument,
  AuditPageApiEventsDocument,
  AccessE2ePushDocument,
  AccessE2eRoleDocument,
  AccessE2eRolesDocument,
  AccessE2eSetGrantDocument,
  AccessE2eUpdateRoleDocument,
  AccessE2eUsersDocument,
} from "../__generated__/graphql.js";
import { assertBrowserReady, browserSuite, launchBrowser, openDashboardPage, signInAt, type DashboardPage, type DashboardUser } from "../harness/browser.js";
import { startTestStack, type TestStack } from "../harness/stack.js";
import { codesOf, sleep, waitUntil } from "./e2e-helpers.js";

type Doc = Record<string, unknown>;
const PASSWORD = "correct horse battery staple";
const suite = browserSuite("dashboard Access e2e");

suite("the Access page in a real browser", () => {
  let t: TestStack;
  let browser: Browser;
  let base: string;
  let dash: DashboardPage;
  let page: Page;
  let adminToken: string;
  const admin: DashboardUser = { tenant: "acc", email: "admin@acc.example", password: "" };
  // The worker is created in the page, with a password the page generates and shows once.
  const worker = { email: "worker@acc.example", id: "", token: "", password: "" };
  const graphqlOps: string[] = [];
  const others: DashboardPage[] = [];

  async function ok<T extends { errors?: unknown; data?: unknown }>(p: Promise<T>): Promise<NonNullable<T["data"]>> {
    const res = await p;
    expect(res.errors).toBeUndefined();
    return res.data as NonNullable<T["data"]>;
  }
  const login = (email: string, password: string) => t.request(AccessE2eLoginDocument, { input: { tenant: admin.tenant, email, password } });
  const pull = (token: string, collection: string) => t.request(AccessE2ePullDocument, { collections: [collection] }, token);
  const pulledIds = async (token: string, collection: string) =>
    ((await ok(pull(token, collection))).pullChanges.documents as Doc[]).filter((d) => !d._deleted).map((d) => String(d.id)).sort();
  const push = (token: string, collection: string, doc: Doc) => t.request(AccessE2ePushDocument, { input: { collection, rows: [{ newDocumentState: doc }] } }, token);
  const roleByName = async (name: string) => (await ok(t.request(AccessE2eRolesDocument, {}, adminToken))).roles.find((r) => r.name === name)!;
  const grantsOf = async (name: string) => (await ok(t.request(AccessE2eRoleDocument, { id: (await roleByName(name)).id }, adminToken))).role.grants;
  /** Polls the API until `check` holds: grant changes reach the sync service through an event (`grants.changed`). */
  const eventually = (check: () => Promise<boolean>, what: string) => waitUntil(check, what, 10_000, 50);

  const matrix = () => page.getByTestId("permission-matrix");
  const cell = (role: string, collection: string): Locator => matrix().locator(`tr[data-role="${role}"] td[data-collection="${collection}"]`);
  const box = (kind: "Push" | "Pull", role: string, collection: string) => page.getByRole("checkbox", { name: `${kind}: ${role} on ${collection}`, exact: true });
  /** Waits until the cell is no longer saving. */
  const saved = (role: string, collection: string) => cell(role, collection).and(page.locator("td:not([data-saving])")).waitFor();
  const dialog = (title: string) => page.getByRole("dialog", { name: title });

  beforeAll(async () => {
    assertBrowserReady();
    t = await startTestStack();
    base = t.url.replace(/\/graphql$/, "");
    const seeded = await ensureTenantWithAdmin(t.stack.tenants.orm, { slug: admin.tenant, name: "Access Company", adminEmail: admin.email });
    admin.password = seeded.adminPassword!;
    adminToken = (await ok(login(admin.email, admin.password))).login.accessToken;
    for (const name of ["orders", "notes"]) await ok(t.request(AccessE2eCreateCollectionDocument, { input: { name } }, adminToken));
    for (const doc of [
      { id: "o1", dept: "SALES", amount: 10 },
      { id: "o2", dept: "OPS", amount: 20 },
      { id: "o3", dept: "SALES", amount: 30 },
    ]) {
      expect((await ok(push(adminToken, "orders", doc))).pushChanges.applied).toBe(1);
    }
    expect((await ok(push(adminToken, "notes", { id: "n1", text: "hello" }))).pushChanges.applied).toBe(1);

    browser = await launchBrowser();
    dash = await openDashboardPage(browser);
    page = dash.page;
    page.on("request", (req) => {
      if (req.method() === "POST" && req.url().endsWith("/graphql")) {
        graphqlOps.push(/^\s*(?:query|mutation)\s+(\w+)/.exec(String(JSON.parse(req.postData() ?? "{}").query ?? ""))?.[1] ?? "?");
      }
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await t?.stop();
  });

  it("the admin sees the Access link, users, the five built-in roles and a matrix column per collection", async () => {
    await signInAt(page, base, admin, "/");
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Access" }).click();
    await page.getByTestId("access-page").waitFor();
    await page.getByTestId("users").locator(`tr[data-email="${admin.email}"]`).waitFor();
    expect(await page.getByTestId("users").locator(`tr[data-email="${admin.email}"] [data-testid="user-roles"]`).textContent()).toBe("ADMIN");
    await matrix().waitFor();
    const roleRows = await page.getByTestId("roles").locator("tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-role")));
    expect(roleRows).toEqual(["ADMIN", "MANAGER", "USER", "ANALYST", "READ_ONLY"]);
    const columns = await matrix().locator("thead th[data-collection]").evaluateAll((ths) => ths.map((th) => th.getAttribute("data-collection")));
    expect(columns).toEqual(["*", "notes", "orders"]);
    // Built-in roles: their access comes from their permissions, shown and not editable.
    await expect(box("Pull", "ADMIN", "orders").isChecked()).resolves.toBe(true);
    await expect(box("Pull", "ADMIN", "orders").isDisabled()).resolves.toBe(true);
    await expect(box("Push", "ANALYST", "orders").isChecked()).resolves.toBe(false);
    await expect(box("Pull", "ANALYST", "orders").isChecked()).resolves.toBe(true);
    expect(await page.getByTestId("access-read-only").count()).toBe(0);
  });

  it("a role and users made in the page exist; the generated password and the invitation token are shown once and really sign in", async () => {
    await page.getByRole("button", { name: "New role" }).click();
    const d = dialog("New role");
    await d.getByLabel("Name").fill("Field");
    await d.getByLabel("Description").fill("People in the field");
    await d.locator('input[name="permissions"][value="sync:pull"]').check();
    await d.locator('input[name="permissions"][value="sync:push"]').check();
    await d.getByRole("button", { name: "Create role" }).click();
    await d.waitFor({ state: "hidden" });
    await page.getByTestId("roles").locator('tr[data-role="Field"]').waitFor();
    await matrix().locator('tr[data-role="Field"]').waitFor();
    expect((await roleByName("Field")).permissions).toEqual(["sync:pull", "sync:push"]);

    // A user with a password the page generates: shown once, then gone.
    await page.getByRole("button", { name: "Add user" }).click();
    const u = dialog("Add user");
    await u.getByLabel("Email").fill(worker.email);
    await u.locator('input[name="roles"][value="USER"]').uncheck();
    await u.locator('input[name="roles"][value="Field"]').check();
    await u.getByLabel(/^Set a password now/).check();
    await u.getByRole("button", { name: "Generate" }).click();
    await u.getByRole("button", { name: "Add user" }).click();
    const secret = u.getByTestId("created-user-secret");
    await secret.waitFor();
    expect(await secret.getAttribute("data-kind")).toBe("password");
    worker.password = ((await secret.locator("code").textContent()) ?? "").trim();
    expect(worker.password.length).toBeGreaterThanOrEqual(12);
    await u.getByRole("button", { name: "Done" }).click();
    await u.waitFor({ state: "hidden" });
    expect(await page.getByTestId("created-user-secret").count()).toBe(0);
    await page.getByTestId("users").locator(`tr[data-email="${worker.email}"]`).waitFor();

    const signedIn = (await ok(login(worker.email, worker.password))).login;
    expect(signedIn.user.roles).toEqual(["Field"]);
    expect(signedIn.user.permissions).toEqual(["sync:pull", "sync:push"]);
    worker.id = signedIn.user.id;
    worker.token = signedIn.accessToken;
    // Field has no grant yet: nothing to pull.
    expect(codesOf(await pull(worker.token, "orders"))).toEqual(["FORBIDDEN"]);

    // An invitation: the token shown once is accepted by the API, then the invitee signs in.
    await page.getByRole("button", { name: "Add user" }).click();
    await u.getByLabel("Email").fill("invitee@acc.example");
    await u.getByRole("button", { name: "Invite user" }).click();
    await secret.waitFor();
    expect(await secret.getAttribute("data-kind")).toBe("invitation");
    const token = ((await secret.locator("code").textContent()) ?? "").trim();
    expect(token).toMatch(/^inv\./);
    await u.getByRole("button", { name: "Done" }).click();
    expect((await ok(t.request(AccessE2eAcceptInvitationDocument, { input: { token, password: PASSWORD } }))).acceptInvitation.status).toBe("ACTIVE");
    expect((await ok(login("invitee@acc.example", PASSWORD))).login.user.roles).toEqual(["USER"]);
  });

  it("Pull in the matrix is saved at once (optimistic, with a saving state) and decides whether pullChanges serves a user holding only that role", async () => {
    // Hold the save in flight for a moment to see the optimistic state.
    await page.route("**/graphql", async (route) => {
      if ((route.request().postData() ?? "").includes("AccessSetGrant")) await sleep(700);
      await route.continue();
    });
    await box("Pull", "Field", "orders").check();
    expect(await cell("Field", "orders").getAttribute("data-saving")).toBe("true");
    await expect(cell("Field", "orders").getByRole("status").textContent()).resolves.toBe("Saving…");
    await expect(box("Pull", "Field", "orders").isChecked()).resolves.toBe(true);
    await expect(box("Pull", "Field", "orders").isDisabled()).resolves.toBe(true);
    await saved("Field", "orders");
    await page.unroute("**/graphql");
    await expect(box("Pull", "Field", "orders").isChecked()).resolves.toBe(true);
    expect(await cell("Field", "orders").getAttribute("data-source")).toBe("own");
    expect(await grantsOf("Field")).toEqual([{ collection: "orders", canPush: false, canPull: true, rowFilters: [] }]);
    await eventually(async () => (await pull(worker.token, "orders")).data?.pullChanges != null, "worker to pull orders");
    expect(await pulledIds(worker.token, "orders")).toEqual(["o1", "o2", "o3"]);

    // Off: refused with the code pull uses for any collection the caller may not pull (notes never had a grant).
    await box("Pull", "Field", "orders").uncheck();
    await saved("Field", "orders");
    await expect(box("Pull", "Field", "orders").isChecked()).resolves.toBe(false);
    const notesCodes = codesOf(await pull(worker.token, "notes"));
    expect(notesCodes).toEqual(["FORBIDDEN"]);
    await eventually(async () => codesOf(await pull(worker.token, "orders")).length > 0, "pull of orders to be refused");
    const refused = await pull(worker.token, "orders");
    expect(codesOf(refused)).toEqual(notesCodes);
    expect(refused.data?.pullChanges ?? null).toBeNull();
    expect(await grantsOf("Field")).toEqual([{ collection: "orders", canPush: false, canPull: false, rowFilters: [] }]);

    // On again: served again.
    await box("Pull", "Field", "orders").check();
    await saved("Field", "orders");
    await eventually(async () => (await pull(worker.token, "orders")).data?.pullChanges != null, "worker to pull orders again");
    expect(await pulledIds(worker.token, "orders")).toEqual(["o1", "o2", "o3"]);
  });

  it("each toggle is in the audit trail: the Audit page shows the newest one, by the admin, with what it changed", async () => {
    const api = (await ok(t.request(AuditPageApiEventsDocument, { filter: { action: "role.grant.set" }, first: 50 }, adminToken))).auditEvents.nodes;
    // The three clicks of the test before (on, off, on), newest first.
    const field = (await roleByName("Field")).id;
    const toggles = api.filter((e) => e.targetId === field);
    expect(toggles.length).toBeGreaterThanOrEqual(3);
    expect(toggles.slice(0, 3).map((e) => (e.changes as Record<string, { after?: unknown }> | null)?.canPull?.after)).toEqual([true, false, true]);
    await page.goto(`${base}/dashboard/audit?action=role.grant.set&targetId=${field}`);
    const rows = page.locator('tr[data-action="role.grant.set"]');
    await rows.first().waitFor();
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-event-id")))).toEqual(toggles.map((e) => e.id));
    const newest = rows.first();
    expect(await newest.getByTestId("audit-actor").textContent()).toContain(admin.email);
    await newest.getByRole("button", { name: /Show details/ }).click();
    const changes = page.getByTestId("audit-detail").getByTestId("audit-changes");
    await changes.waitFor();
    // Before / after of the newest click (off → on).
    expect((await changes.locator('tr[data-field="canPull"] td').allTextContents()).map((c) => c.trim())).toEqual(["false", "true"]);
    expect(await page.getByTestId("audit-detail").textContent()).toContain("orders");
    await page.goto(`${base}/dashboard/access`);
    await matrix().waitFor();
  });

  it("Push in the matrix decides whether pushChanges accepts the user's rows", async () => {
    expect(codesOf(await push(worker.token, "orders", { id: "w0", dept: "SALES" }))).toEqual(["FORBIDDEN"]);
    await box("Push", "Field", "orders").check();
    await saved("Field", "orders");
    expect(await grantsOf("Field")).toEqual([{ collection: "orders", canPush: true, canPull: true, rowFilters: [] }]);
    await eventually(async () => (await push(worker.token, "orders", { id: "w1", dept: "SALES" })).data?.pushChanges?.applied === 1, "worker to push");

    await box("Push", "Field", "orders").uncheck();
    await saved("Field", "orders");
    await eventually(async () => codesOf(await push(worker.token, "orders", { id: "w2", dept: "SALES" })).length > 0, "push to be refused");
    expect(codesOf(await push(worker.token, "orders", { id: "w2", dept: "SALES" }))).toEqual(["FORBIDDEN"]);
    expect(await pulledIds(adminToken, "orders")).toEqual(["o1", "o2", "o3", "w1"]);

    await box("Push", "Field", "orders").check();
    await saved("Field", "orders");
    await eventually(async () => (await push(worker.token, "orders", { id: "w3", dept: "OPS" })).data?.pushChanges?.applied === 1, "worker to push again");
    expect(await pulledIds(adminToken, "orders")).toEqual(["o1", "o2", "o3", "w1", "w3"]);
  });

  it("a row filter set in the page narrows what the user pulls to the matching records", async () => {
    await cell("Field", "orders").getByRole("button", { name: "Row filters: Field on orders" }).click();
    const d = dialog("Row filters: Field on orders");
    await d.getByRole("button", { name: "Add filter" }).click();
    await d.getByLabel("Field").fill("dept");
    await d.getByLabel("Operator").selectOption("EQ");
    await d.getByLabel("Value").fill("SALES");
    await d.getByRole("button", { name: "Save filters" }).click();
    await d.waitFor({ state: "hidden" });
    await saved("Field", "orders");
    await expect(cell("Field", "orders").locator(".access-filter-list").textContent()).resolves.toBe("dept = SALES");
    expect(await grantsOf("Field")).toEqual([{ collection: "orders", canPush: true, canPull: true, rowFilters: [{ field: "dept", op: "EQ", value: "SALES" }] }]);
    await eventually(async () => (await pulledIds(worker.token, "orders")).join() === "o1,o3,w1", "pull to be filtered");
    // The admin still sees every record.
    expect(await pulledIds(adminToken, "orders")).toEqual(["o1", "o2", "o3", "w1", "w3"]);
  });

  it("an invalid row filter: the form's own checks send nothing; the API's refusal is shown in the dialog and nothing is saved", async () => {
    const before = await grantsOf("Field");
    await cell("Field", "orders").getByRole("button", { name: "Row filters: Field on orders" }).click();
    const d = dialog("Row filters: Field on orders");
    await expect(d.getByLabel("Field").first().inputValue()).resolves.toBe("dept");
    await d.getByRole("button", { name: "Add filter" }).click();
    const second = d.getByTestId("row-filter").nth(1);
    // Checked in the page: an empty field and an IN without values never reach the API.
    await second.getByLabel("Operator").selectOption("IN");
    const sent = graphqlOps.filter((op) => op === "AccessSetGrant").length;
    await d.getByRole("button", { name: "Save filters" }).click();
    await expect(second.locator(".field-error").allTextContents()).resolves.toEqual([
      'A field name or dot path, e.g. department or owner.id (letters, digits, "_", "-")',
      "List 1 to 100 values, separated by commas",
    ]);
    expect(await second.getByLabel("Field").getAttribute("aria-invalid")).toBe("true");
    expect(graphqlOps.filter((op) => op === "AccessSetGrant").length).toBe(sent);

    // Well-formed but refused by the API: an unknown reference.
    await second.getByLabel("Field").fill("owner");
    await second.getByLabel("Operator").selectOption("EQ");
    await second.getByLabel("Value").fill("$user.name");
    await d.getByRole("button", { name: "Save filters" }).click();
    const alert = d.getByRole("alert");
    await alert.waitFor();
    expect(await alert.getAttribute("data-code")).toBe("BAD_USER_INPUT");
    await expect(alert.textContent()).resolves.toContain("Nothing was saved");
    await expect(alert.textContent()).resolves.toContain("rowFilters[1].value: unknown reference $user.name");
    expect(graphqlOps.filter((op) => op === "AccessSetGrant").length).toBe(sent + 1);
    expect(await grantsOf("Field")).toEqual(before);
    await d.getByRole("button", { name: "Cancel" }).click();
    await d.waitFor({ state: "hidden" });
    // The cell still shows what is saved, without an error of its own.
    await expect(cell("Field", "orders").locator(".access-filter-list").textContent()).resolves.toBe("dept = SALES");
    expect(await cell("Field", "orders").getByRole("alert").count()).toBe(0);
    expect(await pulledIds(worker.token, "orders")).toEqual(["o1", "o3", "w1"]);
  });

  it("a toggle the API refuses goes back to what is saved and shows the API's error beside the cell", async () => {
    // Behind the page's back, Field loses sync:push: the page still offers Push, the API refuses it.
    const field = await roleByName("Field");
    await ok(t.request(AccessE2eUpdateRoleDocument, { id: field.id, input: { permissions: ["sync:pull"] } }, adminToken));
    // click, not check(): the box is ticked at once and then goes back, which is what is being tested.
    await box("Push", "Field", "notes").click();
    const error = cell("Field", "notes").getByRole("alert");
    await error.waitFor();
    expect(await error.getAttribute("data-code")).toBe("BAD_USER_INPUT");
    await expect(error.textContent()).resolves.toContain("Not saved");
    await expect(error.textContent()).resolves.toContain("canPush needs the role to hold sync:push");
    await expect(box("Push", "Field", "notes").isChecked()).resolves.toBe(false);
    expect((await grantsOf("Field")).map((g) => g.collection)).toEqual(["orders"]);
    await cell("Field", "notes").getByRole("button", { name: "Dismiss" }).click();
    expect(await cell("Field", "notes").getByRole("alert").count()).toBe(0);
    // Read again, the page knows: Push is off and cannot be turned on for Field.
    await page.reload();
    await matrix().waitFor();
    await expect(box("Push", "Field", "notes").isDisabled()).resolves.toBe(true);
    expect(await box("Push", "Field", "notes").locator("xpath=..").getAttribute("title")).toBe("Field does not hold sync:push: add it to the role first");
    await ok(t.request(AccessE2eUpdateRoleDocument, { id: field.id, input: { permissions: ["sync:pull", "sync:push"] } }, adminToken));
    // Taking sync:push from Field ended the access tokens of its holders (their sessions stay): the worker's old token
    // is refused, and signing in again gives one with the role's current permissions.
    expect(codesOf(await pull(worker.token, "orders"))).toEqual(["UNAUTHENTICATED"]);
    worker.token = (await ok(login(worker.email, worker.password))).login.accessToken;
    expect(await pulledIds(worker.token, "orders")).toEqual(["o1", "o3", "w1"]);
  });

  it("changing a user's roles in the page takes effect on what they may pull", async () => {
    const readers = (await ok(t.request(AccessE2eCreateRoleDocument, { input: { name: "Notes readers", permissions: ["sync:pull"] } }, adminToken))).createRole;
    await ok(t.request(AccessE2eSetGrantDocument, { input: { roleId: readers.id, collection: "notes", canPush: false, canPull: true } }, adminToken));
    expect(codesOf(await pull(worker.token, "notes"))).toEqual(["FORBIDDEN"]);
    await page.reload();
    await page.getByRole("searchbox").fill("worker");
    const rows = page.getByTestId("users").locator("tbody tr");
    await waitUntil(async () => (await rows.count()) === 1 && (await rows.first().getAttribute("data-email")) === worker.email, "the search to find the worker");

    await page.getByRole("button", { name: `Change roles of ${worker.email}` }).click();
    const d = dialog(`Roles of ${worker.email}`);
    await d.locator('input[name="roles"][value="Notes readers"]').check();
    await d.getByRole("button", { name: "Save roles" }).click();
    await d.waitFor({ state: "hidden" });
    await waitUntil(async () => (await rows.first().getByTestId("user-roles").textContent()) === "FieldNotes readers", "the row to show both roles");
    expect((await ok(t.request(AccessE2eUsersDocument, { search: "worker" }, adminToken))).users.nodes[0]!.roles).toEqual(["Field", "Notes readers"]);
    // The same token: collection grants follow the user's current roles.
    await eventually(async () => (await pull(worker.token, "notes")).data?.pullChanges != null, "worker to pull notes");
    expect(await pulledIds(worker.token, "notes")).toEqual(["n1"]);

    await page.getByRole("button", { name: `Change roles of ${worker.email}` }).click();
    await d.locator('input[name="roles"][value="Field"]').uncheck();
    await d.getByRole("button", { name: "Save roles" }).click();
    await d.waitFor({ state: "hidden" });
    // Field took sync:push with it: the worker's token ends; a new one pulls notes, not orders.
    await eventually(async () => codesOf(await pull(worker.token, "orders")).join() === "UNAUTHENTICATED", "the worker's old token to be refused");
    worker.token = (await ok(login(worker.email, worker.password))).login.accessToken;
    expect(codesOf(await pull(worker.token, "orders"))).toEqual(["FORBIDDEN"]);
    expect(await pulledIds(worker.token, "notes")).toEqual(["n1"]);
  });

  it("deactivating a user in the page ends their sign-in; reactivating restores it; the API's refusals are shown", async () => {
    const row = page.getByTestId("users").locator(`tr[data-email="${worker.email}"]`);
    await page.getByRole("button", { name: `Deactivate ${worker.email}` }).click();
    const d = dialog("Deactivate user");
    await d.getByRole("button", { name: "Deactivate" }).click();
    await d.waitFor({ state: "hidden" });
    await waitUntil(async () => (await row.getAttribute("data-status")) === "DISABLED", "the row to show the user deactivated");
    expect(codesOf(await login(worker.email, worker.password))).toEqual(["FORBIDDEN"]);
    expect(codesOf(await pull(worker.token, "notes"))).toEqual(["UNAUTHENTICATED"]);

    await page.getByRole("button", { name: `Reactivate ${worker.email}` }).click();
    await waitUntil(async () => (await row.getAttribute("data-status")) === "ACTIVE", "the row to show the user active");
    worker.token = (await ok(login(worker.email, worker.password))).login.accessToken;
    expect(await pulledIds(worker.token, "notes")).toEqual(["n1"]);

    // The admin cannot deactivate themselves: the page does not offer it.
    await page.getByRole("searchbox").fill(admin.email);
    await page.getByTestId("users").locator(`tr[data-email="${admin.email}"]`).waitFor();
    await expect(page.getByRole("button", { name: `Deactivate ${admin.email}` }).isDisabled()).resolves.toBe(true);
    // Adding an email that exists: the API's CONFLICT, readable, in the dialog.
    await page.getByRole("button", { name: "Add user" }).click();
    const u = dialog("Add user");
    await u.getByLabel("Email").fill(worker.email.toUpperCase());
    await u.getByRole("button", { name: "Invite user" }).click();
    const alert = u.getByRole("alert");
    await alert.waitFor();
    expect(await alert.getAttribute("data-code")).toBe("CONFLICT");
    await expect(alert.textContent()).resolves.toContain("A user with this email exists in this tenant");
    await u.getByRole("button", { name: "Cancel" }).click();
  });

  it("users are searched and paged by email", async () => {
    for (let i = 1; i <= 23; i++) {
      await ok(t.request(AccessE2eCreateUserDocument, { input: { email: `page-${String(i).padStart(2, "0")}@acc.example`, roles: ["ANALYST"] } }, adminToken));
    }
    await page.getByRole("searchbox").fill("page-");
    const emails = () => page.getByTestId("users").locator("tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-email")));
    await waitUntil(async () => (await emails()).length === 20 && (await emails())[0] === "page-01@acc.example", "the first page");
    await page.getByRole("navigation", { name: "Users pages" }).getByRole("button", { name: "Next" }).click();
    await waitUntil(async () => (await emails()).join() === "page-21@acc.example,page-22@acc.example,page-23@acc.example", "the second page");
    await expect(page.getByRole("navigation", { name: "Users pages" }).getByRole("button", { name: "Next" }).isDisabled()).resolves.toBe(true);
    await page.getByRole("navigation", { name: "Users pages" }).getByRole("button", { name: "Previous" }).click();
    await waitUntil(async () => (await emails())[0] === "page-01@acc.example", "the first page again");
    await page.getByRole("searchbox").fill("nobody-like-this");
    await page.getByText("No user matches “nobody-like-this”.").waitFor();
  });

  it("a READ_ONLY user sees roles and the matrix read-only and no user list; a USER has no Access link and is told so on the page", async () => {
    await ok(t.request(AccessE2eCreateUserDocument, { input: { email: "auditor@acc.example", roles: ["READ_ONLY"], password: PASSWORD } }, adminToken));
    await ok(t.request(AccessE2eCreateUserDocument, { input: { email: "plain@acc.example", roles: ["USER"], password: PASSWORD } }, adminToken));

    const ro = await openDashboardPage(browser);
    others.push(ro);
    await signInAt(ro.page, base, { tenant: admin.tenant, email: "auditor@acc.example", password: PASSWORD }, "/access");
    await ro.page.getByTestId("access-read-only").waitFor();
    await ro.page.getByTestId("users-denied").waitFor();
    await ro.page.getByTestId("permission-matrix").waitFor();
    expect(await ro.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Access" }).count()).toBe(1);
    const field = ro.page.getByRole("checkbox", { name: "Pull: Field on orders", exact: true });
    await expect(field.isChecked()).resolves.toBe(true);
    await expect(field.isDisabled()).resolves.toBe(true);
    expect(await ro.page.getByRole("button", { name: "New role" }).count()).toBe(0);
    expect(await ro.page.getByRole("button", { name: "Edit role Field" }).count()).toBe(0);
    // Filters can be read, not edited.
    await ro.page.getByRole("button", { name: "Row filters: Field on orders" }).click();
    const d = ro.page.getByRole("dialog", { name: "Row filters: Field on orders" });
    await expect(d.locator(".access-filter-list").textContent()).resolves.toBe("dept = SALES");
    expect(await d.getByRole("button", { name: "Save filters" }).count()).toBe(0);

    const plain = await openDashboardPage(browser);
    others.push(plain);
    await signInAt(plain.page, base, { tenant: admin.tenant, email: "plain@acc.example", password: PASSWORD }, "/");
    await plain.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Runs" }).waitFor();
    expect(await plain.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Access" }).count()).toBe(0);
    await plain.page.goto(`${base}/dashboard/access`);
    const denied = plain.page.getByTestId("access-denied");
    await denied.waitFor();
    await expect(denied.textContent()).resolves.toContain("You don't have access to users and roles.");
    expect(await plain.page.getByTestId("permission-matrix").count()).toBe(0);
    // It asked nothing it may not ask: no FORBIDDEN error box anywhere.
    expect(await plain.page.getByRole("alert").count()).toBe(0);
  });

  it("at phone width the matrix scrolls sideways inside its box while the page itself does not", async () => {
    const phone = await openDashboardPage(browser, { width: 390, height: 844 });
    others.push(phone);
    await signInAt(phone.page, base, admin, "/access");
    const wrap = phone.page.locator(".access-matrix-wrap");
    await wrap.locator('tr[data-role="Field"]').waitFor();
    const sizes = await wrap.evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
    expect(sizes.scroll).toBeGreaterThan(sizes.client);
    // Nothing of the page's own content is wider than the screen (the header's navigation is the layout's concern).
    expect(await phone.page.locator("main").evaluate((el) => el.scrollWidth <= el.clientWidth)).toBe(true);
    const overflowing = await phone.page.evaluate<string[]>(
      `[...document.querySelectorAll("main *")].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5 && !e.parentElement?.closest(".access-matrix-wrap")).map((e) => e.tagName + "." + e.className)`,
    );
    expect(overflowing).toEqual([]);
    // The last column can be reached and used.
    await wrap.evaluate((el) => el.scrollTo({ left: el.scrollWidth }));
    const last = phone.page.getByRole("checkbox", { name: "Pull: Notes readers on orders", exact: true });
    await last.scrollIntoViewIfNeeded();
    await expect(last.isVisible()).resolves.toBe(true);
  });

  it("no page errors and no CSP violations on any page", async () => {
    for (const p of [dash, ...others]) {
      expect(p.pageErrors).toEqual([]);
      expect(p.cspViolations).toEqual([]);
    }
  });
});
