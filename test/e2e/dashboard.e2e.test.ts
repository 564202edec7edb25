// The dashboard (issue 7), end to end: the BUILT app (dist/dashboard, `npm run build`) served by the gateway at
// /dashboard, driven in headless Debian Chromium by playwright-core, against the real stack and the Odoo simulator.
// Proves: the files are served with an SPA fallback and cache headers; sign-in errors are readable; a sync started from
// the dialog (every option checked before sending) shows progress moving live over the socket and its end; a run that
// ends while the socket is down is shown correctly once it reconnects, and after a reload; a run is cancelled; per-record
// errors and API errors are shown as messages; the overview follows runs live; tokens refresh silently (before expiry,
// and when the gateway closes the socket with 4401); sign-out ends the session on the server; the layout fits a phone.
// Needs /usr/bin/chromium (Debian's `chromium`; .ci/run installs it). Without it the suite is skipped locally and fails
// under CI=true.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomUUID } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page, type Request, type WebSocketRoute } from "playwright-core";
import { builtDashboardDir } from "../../gateway/dashboard.js";
import { startOdooSimulator, type OdooSimulator } from "../../simulators/odoo/odoo.simulator.js";
import { ensureTenantWithAdmin } from "../../subgraphs/tenants/tenant/demo-seed.js";
import {
  ConnectorRunDocument,
  ConnectorStateDocument,
  CreateCollectionDocument,
  CreateConnectorFullDocument,
  CreateConnectorMappingDocument,
  IdentityRefreshDocument,
  LoginDocument,
  PushChangesDocument,
  StartSyncDocument,
} from "../__generated__/graphql.js";
import { startTestStack, type TestStack } from "../harness/stack.js";
import { codesOf, waitUntil } from "./e2e-helpers.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
// The flags these machines need (no sandbox as root, no GPU, no background traffic to Google's hosts).
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const SESSION_KEY = "tributary.dashboard.session";
const FINAL = ["SUCCEEDED", "PARTIAL", "FAILED", "CANCELLED"];

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI !== "true") console.warn(`dashboard e2e skipped: ${CHROMIUM} is missing (apt-get install -y chromium); under CI=true this fails`);
const suite = haveChromium || process.env.CI === "true" ? describe : describe.skip;

suite("the dashboard in a real browser", () => {
  let t: TestStack;
  let sim: OdooSimulator;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let base: string;
  let token: string;
  let connectorId: string;
  const admin = { tenant: "dash", email: "admin@dash.example", password: "" };
  // The page's WebSocket goes through the test: it can be dropped and held down (`socket.block()`).
  const socket = { blocked: false, routes: new Set<WebSocketRoute>(), opened: 0 };
  const pageErrors: string[] = [];
  const cspViolations: string[] = [];
  const graphqlPosts: { operation: string; at: number }[] = [];

  const api = {
    run: async (id: string) => {
      const res = await t.request(ConnectorRunDocument, { id }, token);
      if (!res.data) throw new Error(JSON.stringify(res.errors));
      return res.data.syncRun;
    },
    /**
     * Waits for the run to end and returns its final state. The connectors service reports the end to the sync log
     * before it releases the run's model lock and updates its mappings (subgraphs/connectors/jobs/sync-job.ts finish):
     * the wait also covers that, so the next startSync is not refused as SYNC_ALREADY_RUNNING.
     */
    finished: async (id: string, timeoutMs = 60_000) => {
      const run = await waitUntil(async () => {
        const r = await api.run(id);
        return FINAL.includes(r.status) ? r : null;
      }, `run ${id} to end`, timeoutMs, 100);
      await waitUntil(async () => (await api.mappings()).some((m) => m.lastRunId === id), `run ${id}'s mappings`, 10_000, 50);
      return run;
    },
    mappings: async () => (await t.request(ConnectorStateDocument, { id: connectorId }, token)).data!.connector.mappings,
  };

  const numberIn = async (testId: string): Promise<number> => Number(((await page.getByTestId(testId).textContent()) ?? "").replace(/[^\d]/g, ""));
  const runIdFromUrl = (): string => new URL(page.url()).pathname.split("/").pop()!;

  async function signIn(p: Page, who = admin): Promise<void> {
    await p.getByLabel("Organisation").fill(who.tenant);
    await p.getByLabel("Email").fill(who.email);
    await p.getByLabel("Password").fill(who.password);
    await p.getByRole("button", { name: "Sign in" }).click();
  }

  async function openStartSyncDialog(): Promise<void> {
    await page.goto(`${base}/dashboard/connectors/${connectorId}`);
    await page.getByRole("heading", { name: "Mappings" }).waitFor();
    await page.getByRole("button", { name: "Start sync" }).click();
    await page.getByRole("dialog", { name: "Start sync" }).waitFor();
  }

  const dialog = () => page.getByRole("dialog", { name: "Start sync" });

  beforeAll(async () => {
    if (!haveChromium) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does)`);
    const built = builtDashboardDir();
    if (!built) throw new Error("dist/dashboard is missing: run `npm run build` (npm test does)");
    sim = await startOdooSimulator({ seed: { seed: 11, partners: 400, products: 0, orders: 0, archivedRatio: 0 } });
    t = await startTestStack({ connectors: { connectorJobs: { workers: 2, pollingIntervalSeconds: 0.5 } } });
    base = t.url.replace(/\/graphql$/, "");
    const seeded = await ensureTenantWithAdmin(t.stack.tenants.orm, { slug: admin.tenant, name: "Dash Company", adminEmail: admin.email });
    admin.password = seeded.adminPassword!;
    const login = await t.request(LoginDocument, { input: { tenant: admin.tenant, email: admin.email, password: admin.password } });
    token = login.data!.login.accessToken;
    expect(
      (await t.request(CreateCollectionDocument, { input: { name: "partners", jsonSchema: { type: "object", properties: { name: { type: ["string", "null"], maxLength: 200 } } } } }, token)).errors,
    ).toBeUndefined();
    const created = await t.request(
      CreateConnectorFullDocument,
      { input: { kind: "ODOO", name: "Simulated ERP", baseUrl: sim.url, credentials: { database: sim.db, login: sim.adminLogin, password: sim.apiKey }, settings: { retries: 2, timeoutMs: 5_000 } } },
      token,
    );
    connectorId = created.data!.createConnector.id;
    const mapping = await t.request(
      CreateConnectorMappingDocument,
      { connectorId, input: { remoteModel: "res.partner", collection: "partners", fieldMap: [{ field: "name", remote: "name" }, { field: "email", remote: "email" }] } },
      token,
    );
    expect(mapping.errors).toBeUndefined();

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-US", timezoneId: "UTC" });
    page = await context.newPage();
    page.on("pageerror", (err) => pageErrors.push(String(err)));
    page.on("console", (msg) => {
      if (msg.type() === "error" && /Content Security Policy/i.test(msg.text())) cspViolations.push(msg.text());
    });
    page.on("request", (req: Request) => {
      if (req.method() === "POST" && req.url().endsWith("/graphql")) {
        const operation = /^\s*(?:query|mutation)\s+(\w+)/.exec(String(JSON.parse(req.postData() ?? "{}").query ?? ""))?.[1] ?? "?";
        graphqlPosts.push({ operation, at: Date.now() });
      }
    });
    await page.routeWebSocket(/\/graphql$/, (ws) => {
      if (socket.blocked) {
        // 1012 (service restart): graphql-ws retries it with backoff, as after a real outage.
        void ws.close({ code: 1012, reason: "held down by the test" });
        return;
      }
      socket.opened++;
      ws.connectToServer();
      socket.routes.add(ws);
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await t?.stop();
    await sim?.close();
  });

  it("serves the built app at /dashboard: the page revalidated, hashed assets cached for a year, any app route falls back to the page, missing assets 404", async () => {
    const root = await fetch(`${base}/dashboard`);
    expect(root.status).toBe(200);
    expect(root.headers.get("content-type")).toMatch(/^text\/html/);
    expect(root.headers.get("cache-control")).toBe("no-cache");
    expect(root.headers.get("content-security-policy")).toMatch(/default-src 'self'/);
    const html = await root.text();
    expect(html).toContain('<div id="root">');
    const deep = await fetch(`${base}/dashboard/runs/${randomUUID()}`);
    expect(deep.status).toBe(200);
    expect(await deep.text()).toBe(html);
    // Every file the page names is in the build and served for a year (its name changes with its content).
    const named = [...html.matchAll(/(?:src|href)="\/dashboard\/assets\/([^"]+)"/g)].map((m) => m[1]!);
    expect(named.some((f) => f.endsWith(".js"))).toBe(true);
    expect(named.some((f) => f.endsWith(".css"))).toBe(true);
    const built = readdirSync(path.join(builtDashboardDir()!, "assets"));
    for (const file of named) {
      expect(built).toContain(file);
      const res = await fetch(`${base}/dashboard/assets/${file}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(file.endsWith(".css") ? /^text\/css/ : /javascript/);
      expect(res.headers.get("cache-control")).toMatch(/max-age=31536000.*immutable/);
    }
    const missing = await fetch(`${base}/dashboard/assets/nope-${randomUUID()}.js`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get("content-type")).toMatch(/^text\/plain/);
    // Only /dashboard and below: the graph is untouched.
    expect((await fetch(`${base}/dashboardx`)).status).toBe(404);
  });

  it("sign in: a wrong password is a readable message; the right one opens the overview with the connector's card", async () => {
    await page.goto(`${base}/dashboard/`);
    await signIn(page, { ...admin, password: "not-the-password" });
    const alert = page.getByRole("alert");
    await expect(alert.textContent()).resolves.toContain("Wrong organisation, email or password.");
    expect(await alert.getAttribute("data-code")).toBe("UNAUTHENTICATED");
    await signIn(page);
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    const card = page.getByTestId("connector-card").filter({ hasText: "Simulated ERP" });
    await card.waitFor();
    expect(await card.getByTestId("last-run").textContent()).toContain("Never run");
    expect(await card.locator("[data-status]").getAttribute("data-status")).toBe("NEVER");
    await page.locator('[data-live="connected"]').waitFor();
  });

  it("the Start sync dialog checks every option before sending; a valid full run then shows its progress moving live and its end", async () => {
    await openStartSyncDialog();
    const before = graphqlPosts.filter((p) => p.operation === "StartSync").length;
    const d = dialog();
    await d.getByLabel("Batch size").fill("0");
    await d.getByLabel("Max records").fill("12abc");
    await d.getByLabel("Since").fill("2999-01-01T00:00");
    await d.getByRole("button", { name: "Start sync" }).click();
    await expect(d.locator("#batchSize-error").textContent()).resolves.toBe("Batch size must be 1 to 5,000");
    await expect(d.locator("#maxRecords-error").textContent()).resolves.toBe("Max records must be a whole number");
    await expect(d.locator("#since-error").textContent()).resolves.toBe("Since must be in the past");
    expect(await d.getByLabel("Batch size").getAttribute("aria-invalid")).toBe("true");
    await d.getByLabel("Batch size").fill("5001");
    await d.getByLabel("Max records").fill("10000001");
    await d.getByLabel("Since").fill("2020-01-01T00:00");
    await d.getByLabel(/^Full/).check();
    await d.getByRole("checkbox", { name: "res.partner" }).uncheck();
    await d.getByRole("button", { name: "Start sync" }).click();
    await expect(d.locator("#batchSize-error").textContent()).resolves.toBe("Batch size must be 1 to 5,000");
    await expect(d.locator("#maxRecords-error").textContent()).resolves.toBe("Max records must be 1 to 10,000,000");
    await expect(d.locator("#since-error").textContent()).resolves.toMatch(/cannot be combined with a full run/);
    await expect(d.locator("#models-error").textContent()).resolves.toBe("Choose at least one model");
    // Nothing was sent while the form was invalid.
    expect(graphqlPosts.filter((p) => p.operation === "StartSync").length).toBe(before);

    // Valid: a full run in pages of 25, slowed down so that progress can be watched.
    sim.faults.latencyMs = 120;
    await d.getByLabel("Since").fill("");
    await d.getByLabel("Max records").fill("");
    await d.getByLabel("Batch size").fill("25");
    await d.getByRole("checkbox", { name: "res.partner" }).check();
    await d.getByRole("button", { name: "Start sync" }).click();
    await page.getByTestId("run-page").waitFor();
    const runId = runIdFromUrl();
    expect(graphqlPosts.filter((p) => p.operation === "StartSync").length).toBe(before + 1);
    const runQueriesAtStart = graphqlPosts.filter((p) => p.operation === "Run").length;

    // Live: the processed count changes several times while the run is RUNNING, with no new HTTP read of the run.
    const seen: number[] = [];
    await waitUntil(async () => {
      const status = await page.getByTestId("run-page").getAttribute("data-status");
      if (status === "RUNNING") {
        const n = await numberIn("processed");
        if (n > 0 && n !== seen.at(-1)) seen.push(n);
      }
      return FINAL.includes(status ?? "") || seen.length >= 3;
    }, "progress to move", 60_000, 25);
    expect(seen.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThan(seen[i - 1]!);
    expect(await page.getByTestId("current-model").textContent()).toBe("res.partner");
    expect(await page.getByRole("progressbar").getAttribute("class")).toMatch(/tone-running/);
    expect(graphqlPosts.filter((p) => p.operation === "Run").length).toBe(runQueriesAtStart);

    // The end, live: the page shows exactly the server's final state.
    const final = await api.finished(runId);
    expect(final.status).toBe("SUCCEEDED");
    await page.locator('[data-testid="run-page"][data-status="SUCCEEDED"]').waitFor({ timeout: 10_000 });
    expect(await numberIn("processed")).toBe(final.processed);
    expect(await numberIn("count-created")).toBe(final.created);
    expect(final.created).toBe(sim.store.ids("res.partner", { active: true }).length);
    expect(await page.getByRole("progressbar").getAttribute("class")).toMatch(/tone-success/);
    expect(await page.getByTestId("duration").textContent()).toMatch(/\d/);
    const parameters = await page.getByTestId("parameters").textContent();
    expect(parameters).toContain("batchSize25");
    expect(parameters).toContain("fulltrue");
    expect(graphqlPosts.filter((p) => p.operation === "Run").length).toBe(runQueriesAtStart);

    // A reload reads the stored state: still the same end.
    await page.reload();
    await page.locator('[data-testid="run-page"][data-status="SUCCEEDED"]').waitFor();
    expect(await numberIn("processed")).toBe(final.processed);
    sim.faults.latencyMs = 0;
  }, 120_000);

  it("a run that ends while the socket is down is shown with its real end once the socket is back", async () => {
    sim.faults.latencyMs = 200;
    await openStartSyncDialog();
    // Full and forced: every record is read and written again as a new version (a run with work in every page).
    await dialog().getByLabel(/^Full/).check();
    await dialog().getByLabel(/^Force/).check();
    await dialog().getByLabel("Batch size").fill("20");
    await dialog().getByRole("button", { name: "Start sync" }).click();
    await page.locator('[data-testid="run-page"][data-status="RUNNING"]').waitFor({ timeout: 30_000 });
    const runId = runIdFromUrl();
    await waitUntil(async () => (await numberIn("processed")) > 0, "first records", 30_000, 25).catch(async (err) => {
      throw new Error(`${err}: ${JSON.stringify({ api: await api.run(runId), live: await page.locator("[data-live]").getAttribute("data-live"), opened: socket.opened, html: await page.locator("main").innerText() })}`);
    });

    // Drop the socket and keep it down until the run has ended on the server.
    socket.blocked = true;
    for (const ws of socket.routes) await ws.close({ code: 1012, reason: "dropped by the test" });
    socket.routes.clear();
    await page.locator('[data-live="reconnecting"]').waitFor({ timeout: 10_000 });
    const stale = await page.getByTestId("run-page").getAttribute("data-status");
    expect(stale).toBe("RUNNING");
    const final = await api.finished(runId);
    expect(final.status).toBe("SUCCEEDED");
    // Still nothing new on the page: it could only know through the socket.
    expect(await page.getByTestId("run-page").getAttribute("data-status")).toBe("RUNNING");

    const openedBefore = socket.opened;
    socket.blocked = false;
    await page.locator('[data-testid="run-page"][data-status="SUCCEEDED"]').waitFor({ timeout: 30_000 });
    expect(socket.opened).toBeGreaterThan(openedBefore);
    await page.locator('[data-live="connected"]').waitFor();
    expect(await numberIn("processed")).toBe(final.processed);
    expect(final.updated).toBe(sim.store.ids("res.partner", { active: true }).length);
    expect(await numberIn("count-updated")).toBe(final.updated);
    sim.faults.latencyMs = 0;
  }, 120_000);

  it("a second start while a run is going is refused with a readable message linking to it; the run is cancelled from its page", async () => {
    sim.faults.latencyMs = 250;
    await openStartSyncDialog();
    await dialog().getByLabel(/^Full/).check();
    await dialog().getByLabel("Batch size").fill("10");
    await dialog().getByRole("button", { name: "Start sync" }).click();
    await page.getByTestId("run-page").waitFor();
    const runId = runIdFromUrl();
    await waitUntil(async () => (await numberIn("processed")) > 0, "first records", 30_000, 25);

    // The API refuses a second run of the same model: CONFLICT, shown in the dialog with a link to the running one.
    await openStartSyncDialog();
    await dialog().getByRole("button", { name: "Start sync" }).click();
    const alert = dialog().getByRole("alert");
    await alert.waitFor();
    expect(await alert.getAttribute("data-code")).toBe("CONFLICT");
    expect(await alert.textContent()).toMatch(/already queued or running/);
    await alert.getByRole("link", { name: "Watch the run in progress" }).click();
    await page.getByTestId("run-page").waitFor();
    expect(runIdFromUrl()).toBe(runId);

    await page.getByRole("button", { name: "Cancel run" }).click();
    await page.locator('[data-testid="run-page"][data-status="CANCELLED"]').waitFor({ timeout: 30_000 });
    const final = await api.run(runId);
    expect(final.status).toBe("CANCELLED");
    expect(final.processed).toBeLessThan(sim.store.ids("res.partner", {}).length);
    expect(await numberIn("processed")).toBe(final.processed);
    expect(await page.getByRole("button", { name: "Cancel run" }).count()).toBe(0);
    sim.faults.latencyMs = 0;
  }, 120_000);

  it("per-record errors: a record the collection's schema refuses makes the run PARTIAL, listed with its code", async () => {
    const [bad] = sim.store.create("res.partner", [{ name: "x".repeat(300) }]);
    await openStartSyncDialog();
    await dialog().getByRole("button", { name: "Start sync" }).click();
    await page.locator('[data-testid="run-page"][data-status="PARTIAL"]').waitFor({ timeout: 60_000 });
    const final = await api.run(runIdFromUrl());
    expect(final.status).toBe("PARTIAL");
    const rows = page.getByTestId("record-errors").locator("tbody tr");
    expect(await rows.count()).toBe(final.errors.length);
    expect(await rows.first().textContent()).toContain(String(bad));
    expect(await rows.first().textContent()).toContain("SCHEMA_VIOLATION");
    expect(await page.locator("h1 [data-status]").getAttribute("class")).toMatch(/tone-partial/);
    sim.store.write("res.partner", [bad!], { name: "Short again" });
  }, 90_000);

  it("an API error is a readable message, never a blank page", async () => {
    await page.goto(`${base}/dashboard/runs/${randomUUID()}`);
    const alert = page.getByRole("alert");
    await alert.waitFor();
    expect(await alert.getAttribute("data-code")).toBe("NOT_FOUND");
    expect(await alert.textContent()).toContain("There is no such run in your organisation.");
    await page.goto(`${base}/dashboard/connectors/${randomUUID()}`);
    await expect(page.getByRole("alert").textContent()).resolves.toContain("There is no such connector");
    await page.goto(`${base}/dashboard/no/such/page`);
    await expect(page.getByRole("alert").textContent()).resolves.toContain("There is no such page.");
  });

  it("the overview follows a run started elsewhere live (card, running count, record totals) without reloading", async () => {
    await page.goto(`${base}/dashboard/`);
    const card = page.getByTestId("connector-card").filter({ hasText: "Simulated ERP" });
    await card.waitFor();
    await page.locator('[data-live="connected"]').waitFor();
    const loads = graphqlPosts.length;
    sim.faults.latencyMs = 150;
    const started = await t.request(StartSyncDocument, { connectorId, options: { full: true, batchSize: 20 } }, token);
    const runId = started.data!.startSync.id;
    await card.locator('[data-testid="last-run"] [data-status="RUNNING"]').waitFor({ timeout: 30_000 });
    expect(await numberIn("total-active")).toBe(1);
    sim.store.create("res.partner", [{ name: "New during the run" }]);
    const final = await api.finished(runId);
    await card.locator(`[data-testid="last-run"] [data-status="${final.status}"]`).waitFor({ timeout: 10_000 });
    await waitUntil(async () => (await numberIn("total-active")) === 0, "no run active", 10_000, 25);
    // Record totals come from the connector's mappings once the run ended.
    const records = (await api.mappings()).reduce((s, m) => s + m.recordCount, 0);
    await waitUntil(async () => (await numberIn("total-records")) === records, `records total ${records}`, 10_000, 50);
    expect(page.url()).toBe(`${base}/dashboard/`);
    // Updates came over the socket: a few aggregate re-reads at the end, not polling.
    expect(graphqlPosts.length - loads).toBeLessThanOrEqual(4);
    sim.faults.latencyMs = 0;
  }, 120_000);

  it("the activity chart follows pushes live, re-read at most every few seconds however many come", async () => {
    await page.goto(`${base}/dashboard/`);
    await page.locator('[data-live="connected"]').waitFor();
    const chart = page.locator("section.chart-card");
    await chart.getByLabel("Kind").selectOption("PUSH");
    // The pushes' own figures, read (not the connector runs' still shown while they load).
    await page.locator('section.chart-card[data-kind="PUSH"][aria-busy="false"]').waitFor();
    const shownRuns = async () => Number((((await chart.locator("p.muted").textContent()) ?? "").match(/^([\d,]+) runs?/)?.[1] ?? "-1").replace(/,/g, ""));
    await waitUntil(async () => (await shownRuns()) >= 0, "the push chart", 10_000, 25);
    const before = await shownRuns();
    const overviewReads = () => graphqlPosts.filter((p) => p.operation === "Overview").length;
    const readsBefore = overviewReads();
    // Eight pushes in a burst, as a device catching up would send them.
    for (let i = 0; i < 8; i++) {
      const pushed = await t.request(PushChangesDocument, { input: { collection: "partners", rows: [{ assumedMasterState: null, newDocumentState: { id: `chart-${i}`, name: `Chart ${i}` } }] } }, token);
      expect(pushed.errors).toBeUndefined();
    }
    await waitUntil(async () => (await shownRuns()) === before + 8, `the chart to show ${before + 8} pushes`, 20_000, 50);
    expect(page.url()).toBe(`${base}/dashboard/`);
    // Throttled: one or two re-reads for the burst, not one per push.
    expect(overviewReads() - readsBefore).toBeGreaterThanOrEqual(1);
    expect(overviewReads() - readsBefore).toBeLessThanOrEqual(3);
    await chart.getByLabel("Kind").selectOption("CONNECTOR");
  }, 60_000);

  it("the runs history filters and pages with cursors", async () => {
    // Enough runs for pages of 25: dry runs through the API (fast, and they are runs like any other).
    for (let i = 0; i < 22; i++) {
      const res = await t.request(StartSyncDocument, { connectorId, options: { dryRun: true, batchSize: 500 } }, token);
      if (res.data) await api.finished(res.data.startSync.id);
      else throw new Error(JSON.stringify(res.errors));
    }
    await page.goto(`${base}/dashboard/runs?connector=${connectorId}`);
    const table = page.getByTestId("runs-table");
    await table.waitFor();
    expect(await table.locator("tbody tr").count()).toBe(25);
    const firstPage = await table.locator("tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-run-id")));
    await page.getByRole("button", { name: "Older →" }).click();
    await waitUntil(async () => (await table.locator("tbody tr").first().getAttribute("data-run-id")) !== firstPage[0], "the second page", 10_000, 25);
    const secondPage = await table.locator("tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-run-id")));
    expect(secondPage.length).toBeGreaterThan(0);
    expect(secondPage.filter((id) => firstPage.includes(id))).toEqual([]);
    await page.getByRole("button", { name: "← Newer" }).click();
    await waitUntil(async () => (await table.locator("tbody tr").first().getAttribute("data-run-id")) === firstPage[0], "back to the first page", 10_000, 25);
    // A status filter: only cancelled runs (one, from the cancel test).
    await page.getByLabel("Status").selectOption("CANCELLED");
    await waitUntil(async () => (await table.locator("tbody tr").count()) === 1, "the cancelled run only", 10_000, 25);
    expect(await table.locator("tbody tr").first().getAttribute("data-status")).toBe("CANCELLED");
    expect(new URL(page.url()).searchParams.get("status")).toBe("CANCELLED");
  }, 180_000);

  it("works at phone width: nothing overflows sideways; tables become labelled cards", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      const pages: [string, string][] = [
        ["/dashboard/", '[data-testid="connector-card"]'],
        [`/dashboard/connectors/${connectorId}`, '[data-testid="mappings"]'],
        ["/dashboard/runs", '[data-testid="runs-table"]'],
      ];
      for (const [route, ready] of pages) {
        await page.goto(`${base}${route}`);
        await page.locator(ready).first().waitFor();
        // In the page (browser globals; this file is type-checked against Node's).
        const overflow = await page.evaluate<number>("document.documentElement.scrollWidth - window.innerWidth");
        expect({ route, overflow }).toEqual({ route, overflow: 0 });
      }
      const header = page.getByTestId("runs-table").locator("thead");
      expect(await header.isVisible()).toBe(false);
      const cell = page.getByTestId("runs-table").locator("tbody tr td").first();
      const before = await cell.evaluate((td) => (globalThis as unknown as { getComputedStyle(e: unknown, pseudo: string): { content: string } }).getComputedStyle(td, "::before").content);
      expect(before).toBe('"Status"');
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
  }, 60_000);

  it("refreshes an expiring access token silently (once, for HTTP and socket alike)", async () => {
    const before = await page.evaluate((key) => JSON.parse(sessionStorage.getItem(key)!), SESSION_KEY);
    // As if the access token were about to expire when the page loads.
    await page.evaluate((key) => {
      const s = JSON.parse(sessionStorage.getItem(key)!);
      s.expiresAt = new Date(Date.now() - 1_000).toISOString();
      sessionStorage.setItem(key, JSON.stringify(s));
    }, SESSION_KEY);
    const refreshesBefore = graphqlPosts.filter((p) => p.operation === "RefreshSession").length;
    await page.goto(`${base}/dashboard/`);
    await page.getByTestId("connector-card").first().waitFor();
    await page.locator('[data-live="connected"]').waitFor();
    expect(graphqlPosts.filter((p) => p.operation === "RefreshSession").length - refreshesBefore).toBe(1);
    const after = await page.evaluate((key) => JSON.parse(sessionStorage.getItem(key)!), SESSION_KEY);
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(Date.parse(after.expiresAt)).toBeGreaterThan(Date.now() + 60_000);
    expect(await page.getByRole("alert").count()).toBe(0);
  });

  it("a socket closed with 4401 (token expired or revoked) gets a refreshed token and live updates again", async () => {
    await page.goto(`${base}/dashboard/`);
    const card = page.getByTestId("connector-card").filter({ hasText: "Simulated ERP" });
    await card.waitFor();
    await page.locator('[data-live="connected"]').waitFor();
    const refreshes = graphqlPosts.filter((p) => p.operation === "RefreshSession").length;
    const before = await page.evaluate((key) => JSON.parse(sessionStorage.getItem(key)!).accessToken, SESSION_KEY);
    // What the gateway does when the socket's token expires.
    for (const ws of socket.routes) await ws.close({ code: 4401, reason: "Token expired" });
    socket.routes.clear();
    await waitUntil(() => graphqlPosts.filter((p) => p.operation === "RefreshSession").length > refreshes, "a token refresh", 10_000, 25);
    await page.locator('[data-live="connected"]').waitFor({ timeout: 15_000 });
    expect(graphqlPosts.filter((p) => p.operation === "RefreshSession").length).toBe(refreshes + 1);
    expect(await page.evaluate((key) => JSON.parse(sessionStorage.getItem(key)!).accessToken, SESSION_KEY)).not.toBe(before);
    // Live again: a run started now reaches its card without a reload.
    const started = await t.request(StartSyncDocument, { connectorId, options: { dryRun: true } }, token);
    const runId = started.data!.startSync.id;
    await card.locator(`a[href="/dashboard/runs/${runId}"]`).waitFor({ timeout: 15_000 });
    await api.finished(runId);
    expect(await page.getByRole("alert").count()).toBe(0);
  });

  it("sign out ends the session on the server and shows the sign-in form, also after a reload", async () => {
    const session = await page.evaluate((key) => JSON.parse(sessionStorage.getItem(key)!), SESSION_KEY);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("button", { name: "Sign in" }).waitFor();
    expect(await page.evaluate((key) => sessionStorage.getItem(key), SESSION_KEY)).toBeNull();
    await waitUntil(async () => codesOf(await t.request(IdentityRefreshDocument, { refreshToken: session.refreshToken })).includes("UNAUTHENTICATED"), "the refresh token to be revoked", 5_000, 50);
    await page.reload();
    await page.getByRole("button", { name: "Sign in" }).waitFor();
  });

  it("no script error and no Content-Security-Policy violation happened in any of it", () => {
    expect(pageErrors).toEqual([]);
    expect(cspViolations).toEqual([]);
  });
});
