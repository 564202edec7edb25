// The dashboard (dashboard/, issue 7) on the gateway's one public port at /dashboard: the files `npm run build` puts in
// dist/dashboard. Hashed assets are cached for a year (their names change with their content); index.html is
// revalidated every time, so a new build reaches browsers at once. Any other path under /dashboard answers index.html
// (the app routes in the browser: /dashboard/runs/<id> survives a reload). The app talks only to /graphql.
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import express, { type Express, type NextFunction, type Request, type Response } from "express";
import type { Logger } from "pino";

export const DASHBOARD_PATH = "/dashboard";

// What the page may load and connect to: its own files and the gateway's /graphql (HTTP and WebSocket; CSP 3 'self'
// covers ws:/wss: on the same host). No inline scripts, no framing.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * Where the built dashboard is: next to the compiled gateway (dist/gateway/ → dist/dashboard/), or dist/dashboard/ of
 * the checkout when the gateway runs from its sources (tests). Undefined when it was not built.
 */
export function builtDashboardDir(): string | undefined {
  const compiled = import.meta.url.endsWith(".js");
  const dir = fileURLToPath(new URL(compiled ? "../dashboard/" : "../dist/dashboard/", import.meta.url));
  return existsSync(path.join(dir, "index.html")) ? dir : undefined;
}

/** Mounts the dashboard at /dashboard. `dir`: the build to serve (default: {@link builtDashboardDir}). */
export function mountDashboard(app: Express, deps: { logger: Logger; dir?: string }): void {
  const dir = deps.dir ?? builtDashboardDir();
  const router = express.Router();
  router.use(securityHeaders);
  if (!dir) {
    deps.logger.warn("dashboard not built (run `npm run build`): /dashboard answers 503");
    router.use((_req, res) => void res.status(503).type("text/plain").set("Cache-Control", "no-store").send("The dashboard is not built: run `npm run build`.\n"));
    app.use(DASHBOARD_PATH, router);
    return;
  }
  const index = path.join(dir, "index.html");
  // Content-hashed names (Vite): a file never changes under its name.
  router.use("/assets", express.static(path.join(dir, "assets"), { index: false, redirect: false, immutable: true, maxAge: "365d" }));
  // A missing asset is a 404, never the page (a stale tab asking for an old chunk must not get HTML as JavaScript).
  router.use("/assets", (_req, res) => void res.status(404).type("text/plain").set("Cache-Control", "no-store").send("Not found\n"));
  // Other files at the root (none today but index.html): revalidated.
  router.use(express.static(dir, { index: false, redirect: false, maxAge: 0, setHeaders: (res) => res.setHeader("Cache-Control", "no-cache") }));
  // Client-side routes: the page itself, revalidated (ETag) so a new build is picked up at the next load.
  router.use((req, res, next) => {
    if (req.method !== "GET" && req.method !== "HEAD") return next();
    res.sendFile(index, { headers: { "Cache-Control": "no-cache" } }, (err) => {
      if (err && !res.headersSent) next(err);
    });
  });
  app.use(DASHBOARD_PATH, router);
}

function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader("Content-Security-Policy", CONTENT_SECURITY_POLICY);
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("Referrer-Policy", "no-referrer");
  res.setHeader("X-Frame-Options", "DENY");
  res.setHeader("Cross-Origin-Opener-Policy", "same-origin");
  next();
}
