// Headless Debian Chromium for the dashboard's end-to-end suites (playwright-core, no browser downloads). The built app
// (dist/dashboard, `npm run build`) is served by the gateway at /dashboard. Without /usr/bin/chromium a suite is skipped
// locally and fails under CI=true (.ci/run installs `chromium`).
import { describe } from "@jest/globals";
import { existsSync } from "node:fs";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { builtDashboardDir } from "../../gateway/dashboard.js";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** The flags these machines need (no sandbox as root, no GPU, no background traffic to Google's hosts). */
export const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
export const SESSION_KEY = "tributary.dashboard.session";
export const haveChromium = existsSync(CHROMIUM);

/** `describe` when the browser can run (or under CI, where its absence must fail), else `describe.skip` with a warning. */
export function browserSuite(name: string): typeof describe | typeof describe.skip {
  if (!haveChromium && process.env.CI !== "true") console.warn(`${name} skipped: ${CHROMIUM} is missing (apt-get install -y chromium); under CI=true this fails`);
  return haveChromium || process.env.CI === "true" ? describe : describe.skip;
}

/** Fails clearly when the browser or the built dashboard is missing. */
export function assertBrowserReady(): void {
  if (!haveChromium) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does)`);
  if (!builtDashboardDir()) throw new Error("dist/dashboard is missing: run `npm run build` (npm test does)");
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

export interface DashboardPage {
  context: BrowserContext;
  page: Page;
  /** Uncaught errors of the page (a test should end with none). */
  pageErrors: string[];
  /** Content-Security-Policy violations reported on the console. */
  cspViolations: string[];
}

/** A fresh context (no shared storage) and page, collecting page errors and CSP violations. */
export async function openDashboardPage(browser: Browser, viewport = { width: 1280, height: 900 }): Promise<DashboardPage> {
  const context = await browser.newContext({ viewport, locale: "en-US", timezoneId: "UTC", acceptDownloads: true });
  const page = await context.newPage();
  const pageErrors: string[] = [];
  const cspViolations: string[] = [];
  page.on("pageerror", (err) => pageErrors.push(String(err)));
  page.on("console", (msg) => {
    if (msg.type() === "error" && /Content Security Policy/i.test(msg.text())) cspViolations.push(msg.text());
  });
  return { context, page, pageErrors, cspViolations };
}

export interface DashboardUser {
  tenant: string;
  email: string;
  password: string;
}

/** Fills and sends the sign-in form (the page must show it). */
export async function signIn(page: Page, who: DashboardUser): Promise<void> {
  await page.getByLabel("Organisation").fill(who.tenant);
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** Opens `${base}/dashboard${path}`, signs in and waits for the app's header. */
export async function signInAt(page: Page, base: string, who: DashboardUser, path = "/"): Promise<void> {
  await page.goto(`${base}/dashboard${path}`);
  await signIn(page, who);
  await page.getByRole("navigation", { name: "Main" }).waitFor();
}
