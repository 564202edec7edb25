// `npm run screenshots`: a PNG of each dashboard page for the README, taken from what a newcomer gets. It starts the
// embedded default (`node dist/bin/embedded.js`, as `npm start` does) on a throwaway data folder and a free port, signs
// in with the printed demo credentials in headless Debian Chromium (playwright-core, /usr/bin/chromium), starts syncs
// from the dialog and photographs every page, then stops everything. Output: dashboard/screenshots/ (override with
// SCREENSHOTS_DIR). Needs `npm run build` first (the npm script does it).
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = fileURLToPath(new URL("../../", import.meta.url));
const outDir = path.resolve(process.env.SCREENSHOTS_DIR ?? path.join(root, "dashboard/screenshots"));
const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

mkdirSync(outDir, { recursive: true });
const dataDir = mkdtempSync(path.join(tmpdir(), "tributary-screenshots-"));
// The embedded default on its own: embedded PostgreSQL and in-process pub/sub, whatever this shell has set.
const { DATABASE_URL: _db, REDIS_URL: _redis, ...env } = process.env;
const server = spawn(process.execPath, [path.join(root, "dist/bin/embedded.js")], {
  cwd: root,
  env: { ...env, DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "error" },
  stdio: ["ignore", "pipe", "inherit"],
});
let browser;
try {
  const { url, password } = await started(server);
  const base = url.replace(/\/graphql$/, "");
  browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
  const context = await browser.newContext({ viewport: DESKTOP, locale: "en-US", deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.on("pageerror", (err) => console.error("page error:", err.message));
  const shot = async (name, opts = {}) => {
    await page.mouse.move(0, 0); // no hover tooltips
    await page.waitForTimeout(300); // let CSS transitions settle
    const file = path.join(outDir, `${name}.png`);
    await page.screenshot({ path: file, fullPage: opts.fullPage ?? true, animations: "disabled" });
    console.log("wrote", path.relative(root, file));
  };

  // Sign in, with the printed demo credentials.
  await page.goto(`${base}/dashboard/`);
  await page.getByLabel("Organisation").fill("demo");
  await page.getByLabel("Email").fill("admin@demo.example");
  await page.getByLabel("Password").fill(password);
  await shot("sign-in", { fullPage: false });
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("connector-card").first().waitFor();

  // Connector page and the Start sync dialog (a full run of the demo Odoo in pages of 100, to watch it go).
  await page.getByRole("link", { name: "Demo Odoo" }).click();
  await page.getByTestId("mappings").waitFor();
  await page.getByRole("button", { name: "Test connection" }).click();
  await page.getByTestId("connection-test").waitFor();
  await page.getByRole("button", { name: "Start sync" }).click();
  const dialog = page.getByRole("dialog", { name: "Start sync" });
  await dialog.getByLabel(/^Full/).check();
  await dialog.getByLabel("Batch size").fill("0");
  await dialog.getByRole("button", { name: "Start sync" }).click();
  await dialog.locator("#batchSize-error").waitFor();
  await shot("start-sync-dialog", { fullPage: false });
  await dialog.getByLabel("Batch size").fill("100");
  await dialog.getByRole("button", { name: "Start sync" }).click();

  // The run, live and then finished.
  await page.locator('[data-testid="run-page"][data-status="RUNNING"]').waitFor({ timeout: 30_000 });
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="processed"]')?.textContent?.replace(/\D/g, "")) > 300);
  await shot("run-live");
  await page.locator('[data-testid="run-page"]:not([data-status="RUNNING"]):not([data-status="QUEUED"])').waitFor({ timeout: 120_000 });
  await shot("run-finished");

  // A Moodle run too, so the overview and the history show more than one source.
  await page.goto(`${base}/dashboard/`);
  await page.getByRole("link", { name: "Demo Moodle" }).click();
  await page.getByTestId("mappings").waitFor();
  await page.getByRole("button", { name: "Start sync" }).click();
  await page.getByRole("dialog", { name: "Start sync" }).getByRole("button", { name: "Start sync" }).click();
  await page.locator('[data-testid="run-page"]:not([data-status="RUNNING"]):not([data-status="QUEUED"])').waitFor({ timeout: 120_000 });

  await page.goto(`${base}/dashboard/`);
  await page.getByTestId("connector-card").first().waitFor();
  await page.locator(".recharts-surface").first().waitFor();
  await shot("overview");
  const odoo = page.getByTestId("connector-card").filter({ hasText: "Demo Odoo" });
  await odoo.getByRole("link", { name: "Demo Odoo" }).click();
  await page.getByTestId("runs-table").waitFor();
  await shot("connector");
  await page.goto(`${base}/dashboard/runs`);
  await page.getByTestId("runs-table").waitFor();
  await shot("runs");

  // Records: the synced partners as a table, and one record's history.
  await page.goto(`${base}/dashboard/records/partners`);
  await page.locator('section[data-collection="partners"][aria-busy="false"] [data-testid="records-table"] tbody tr').first().waitFor();
  await shot("records", { fullPage: false });
  await page.locator('[data-testid="records-table"] tbody tr').first().click();
  await page.getByTestId("record-history").waitFor();
  await shot("record-history", { fullPage: false });

  // Access: users, roles and the permission matrix.
  await page.goto(`${base}/dashboard/access`);
  await page.getByTestId("permission-matrix").waitFor();
  await shot("access");

  // Audit: the trail, with the chain verified.
  await page.goto(`${base}/dashboard/audit`);
  await page.getByTestId("audit-table").waitFor();
  await page.getByRole("button", { name: "Verify chain" }).click();
  await page.getByRole("button", { name: "Verify again" }).waitFor();
  await shot("audit", { fullPage: false });

  // Phone width.
  await page.setViewportSize(PHONE);
  await page.goto(`${base}/dashboard/`);
  await page.locator(".recharts-surface").first().waitFor();
  await shot("phone-overview");
} finally {
  await browser?.close();
  server.kill("SIGTERM");
  await new Promise((resolve) => server.once("exit", resolve));
  rmSync(dataDir, { recursive: true, force: true });
}

/** Resolves with the gateway URL and the demo password once the embedded default printed them. */
function started(child) {
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`the embedded default did not start in 120 s:\n${out}`)), 120_000);
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const url = /GraphQL \(HTTP \+ WebSocket\): (\S+)/.exec(out)?.[1];
      const password = /password: (\S+)\s+\(shown only now/.exec(out)?.[1];
      if (url && password && /Ready in/.test(out)) {
        clearTimeout(timer);
        resolve({ url, password });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the embedded default exited (${code}):\n${out}`));
    });
  });
}
