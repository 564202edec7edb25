// The distributed layout as an operator runs it: each service its own process from its built entry point
// (`node dist/subgraphs/<name>/main.js`, `node dist/gateway/main.js`), configured by environment only and started from
// another directory than the package's (the gateway still finds its supergraph); the tenants process seeds the demo
// tenant (DEMO_SEED=true) and prints its password. Then ONE SIGTERM to each process, and to the embedded one
// (`node dist/bin/embedded.js`): each drains and exits 0 — no "second signal" (Apollo Server's own signal handler
// re-sent the signal after stopping its server, which the process took for a second Ctrl-C and exited 1).
// NODE_ENV is "development" here, as an operator's would be: under jest's "test" Apollo installs no signal handlers.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { print } from "graphql";
import { freePort, startEmbeddedPostgres, type EmbeddedDatabase } from "../../kernel/embedded-postgres.js";
import { LoginDocument, MeDocument } from "../__generated__/graphql.js";
import { waitUntil } from "./e2e-helpers.js";

const ROOT = process.cwd();
const entry = (rel: string) => path.join(ROOT, "dist", rel);

interface Proc {
  name: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function run(name: string, script: string, env: Record<string, string>, cwd: string): Proc {
  const { NODE_OPTIONS: _jest, REDIS_URL: _redis, DATABASE_URL: _db, ...inherited } = process.env;
  const child = spawn(process.execPath, [script], { cwd, env: { ...inherited, NODE_ENV: "development", LOG_LEVEL: "info", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  return { name, child, output: () => output, exited };
}

/** One SIGTERM; the process must drain and exit 0 within 20 s. */
async function terminate(p: Proc): Promise<{ name: string; code: number | null; signal: NodeJS.Signals | null; secondSignal: boolean; stopping: boolean }> {
  const started = Date.now();
  p.child.kill("SIGTERM");
  const timer = setTimeout(() => p.child.kill("SIGKILL"), 20_000);
  const { code, signal } = await p.exited;
  clearTimeout(timer);
  process.stdout.write(`${p.name}: exit ${code ?? signal} ${Date.now() - started} ms after one SIGTERM\n`);
  return { name: p.name, code, signal, secondSignal: p.output().includes("second signal"), stopping: p.output().includes('"msg":"stopping"') };
}

const gql = async (url: string, doc: Parameters<typeof print>[0], variables: unknown, token?: string) => {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify({ query: print(doc), variables }) });
  return (await res.json()) as { data?: any; errors?: any[] };
};

describe("each process kind, started from another directory, stops drained on one SIGTERM", () => {
  let dir: string;
  let pg: EmbeddedDatabase;
  const procs: Proc[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "tributary-processes-"));
    chmodSync(dir, 0o755); // PostgreSQL runs as its own user, which must reach its data folder inside
    pg = await startEmbeddedPostgres({ dataDir: path.join(dir, "pg-data"), persistent: false });
  }, 60_000);
  afterAll(async () => {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
    await pg?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("the distributed layout: gateway and the four subgraphs, each its own process (DEMO_SEED prints the password)", async () => {
    const databaseUrl = await pg.createDatabase("tributary");
    const [gateway, tenants, sync, connectors, audit] = await Promise.all([0, 1, 2, 3, 4].map(() => freePort()));
    const url = (port: number) => `http://127.0.0.1:${port}/graphql`;
    const jwks = `http://127.0.0.1:${tenants}/.well-known/jwks.json`;
    const common = { DATABASE_URL: databaseUrl, INTERNAL_SECRET: randomBytes(32).toString("hex"), HOST: "127.0.0.1" };
    const cwd = mkdtempSync(path.join(dir, "cwd-")); // not the package: nothing may be found relative to the cwd
    procs.push(
      run("tenants", entry("subgraphs/tenants/main.js"), { ...common, PORT: String(tenants), AUDIT_URL: url(audit), DEMO_SEED: "true" }, cwd),
      run("audit", entry("subgraphs/audit/main.js"), { ...common, PORT: String(audit), JWKS_URL: jwks }, cwd),
      run("sync", entry("subgraphs/sync/main.js"), { ...common, PORT: String(sync), JWKS_URL: jwks, CONNECTORS_URL: url(connectors), AUDIT_URL: url(audit) }, cwd),
      run("connectors", entry("subgraphs/connectors/main.js"), {
        ...common,
        PORT: String(connectors),
        JWKS_URL: jwks,
        SYNC_URL: url(sync),
        AUDIT_URL: url(audit),
        CONNECTOR_SECRET_KEY: randomBytes(32).toString("hex"),
      }, cwd),
      run("gateway", entry("gateway/main.js"), {
        INTERNAL_SECRET: common.INTERNAL_SECRET,
        HOST: "127.0.0.1",
        PORT: String(gateway),
        TENANTS_URL: url(tenants),
        SYNC_URL: url(sync),
        CONNECTORS_URL: url(connectors),
        AUDIT_URL: url(audit),
      }, cwd),
    );
    const failed = () => procs.filter((p) => p.child.exitCode !== null).map((p) => `${p.name}: ${p.output()}`);
    await waitUntil(
      async () => {
        if (failed().length) throw new Error(`a process exited at start:\n${failed().join("\n")}`);
        return (await fetch(`http://127.0.0.1:${gateway}/readyz`).then((r) => r.status, () => 0)) === 200;
      },
      "the gateway to be ready over the four subgraphs",
      100_000,
      250,
    );
    const password = /demo tenant: demo admin@demo\.example password: (\S+)/.exec(procs[0]!.output())?.[1];
    expect(password).toBeDefined();
    const login = await gql(url(gateway), LoginDocument, { input: { tenant: "demo", email: "admin@demo.example", password } });
    const token = login.data?.login.accessToken as string;
    expect(token).toBeTruthy();
    expect((await gql(url(gateway), MeDocument, {}, token)).data?.me.email).toBe("admin@demo.example");

    const results = await Promise.all(procs.map(terminate));
    expect(results).toEqual(procs.map((p) => ({ name: p.name, code: 0, signal: null, secondSignal: false, stopping: true })));
  }, 180_000);

  it("the embedded process", async () => {
    const cwd = mkdtempSync(path.join(dir, "cwd-"));
    const p = run("embedded", entry("bin/embedded.js"), { DATA_DIR: path.join(dir, "embedded-data"), PORT: "0", LOG_LEVEL: "info" }, cwd);
    procs.push(p);
    await waitUntil(
      () => {
        if (p.child.exitCode !== null) throw new Error(`embedded exited at start:\n${p.output()}`);
        return /Ready in \d+ ms/.test(p.output());
      },
      "the embedded process to be ready",
      60_000,
      100,
    );
    expect(await terminate(p)).toEqual({ name: "embedded", code: 0, signal: null, secondSignal: false, stopping: true });
    expect(p.output()).toContain("Tributary stopped.");
  }, 90_000);
});
