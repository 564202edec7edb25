// The README's start command as a newcomer runs it: `node dist/bin/embedded.js` (what `npm start` runs after building),
// on a fresh data folder, then stopped with Ctrl-C (SIGINT) and started again on the same data.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { print } from "graphql";
import { ConnectorsDocument, CreateConnectorDocument, LoginDocument } from "../__generated__/graphql.js";

const ENTRY = path.resolve("dist/bin/embedded.js");

interface Started {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  exited: Promise<number | null>;
}

function start(env: NodeJS.ProcessEnv): Promise<Started> {
  const child = spawn(process.execPath, [ENTRY], { env, stdio: ["ignore", "pipe", "pipe"] });
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

async function gql(url: string, query: string, variables: unknown, token?: string) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return res.json() as Promise<{ data?: any; errors?: any[] }>;
}

describe("embedded default (npm start)", () => {
  let dataDir: string;
  beforeAll(async () => {
    if (!existsSync(ENTRY)) throw new Error("dist/ is missing: `npm test` builds first (npm run build)");
    dataDir = await mkdtemp(path.join(tmpdir(), "tributary-embedded-"));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it("starts, seeds a demo tenant once, stops cleanly on SIGINT and keeps its data across restarts", async () => {
    // Nothing configured but a data folder and a free port: the embedded default with in-process pub/sub.
    const { REDIS_URL: _r, DATABASE_URL: _d, ...inherited } = process.env;
    const env = { ...inherited, DATA_DIR: dataDir, PORT: "0", LOG_LEVEL: "warn" };
    const first = await start(env);
    const password = /password: (\S+)\s+\(shown only now/.exec(first.stdout())?.[1];
    expect(password).toBeDefined();
    const login = await gql(first.url, print(LoginDocument), { input: { tenant: "demo", email: "admin@demo.example", password } });
    const token = login.data?.login.accessToken as string;
    expect(token).toBeTruthy();
    const created = await gql(first.url, print(CreateConnectorDocument), { input: { kind: "ODOO", name: "Kept", baseUrl: "https://erp.example.com" } }, token);
    expect(created.errors).toBeUndefined();
    const health = await fetch(first.url.replace(/\/graphql$/, "/readyz"));
    expect(health.status).toBe(200);

    first.child.kill("SIGINT");
    expect(await first.exited).toBe(0);
    expect(first.stdout()).toContain("Tributary stopped.");

    const second = await start(env);
    try {
      expect(second.stdout()).not.toContain("shown only now");
      const again = await gql(second.url, print(LoginDocument), { input: { tenant: "demo", email: "admin@demo.example", password } });
      const token2 = again.data?.login.accessToken as string;
      expect(token2).toBeTruthy();
      const list = await gql(second.url, print(ConnectorsDocument), {}, token2);
      expect(list.data.connectors.map((c: { name: string }) => c.name)).toContain("Kept");
    } finally {
      second.child.kill("SIGINT");
      expect(await second.exited).toBe(0);
    }
  }, 120_000);

  it("refuses a bad configuration with one message listing every bad variable", async () => {
    const child = spawn(process.execPath, [ENTRY], {
      env: { ...process.env, DATA_DIR: dataDir, PORT: "not-a-port", LOG_LEVEL: "loud", DATABASE_URL: "mysql://x" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr!.on("data", (d) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(2);
    expect(err).toContain("Invalid configuration");
    for (const name of ["PORT", "LOG_LEVEL", "DATABASE_URL"]) expect(err).toContain(name);
  });
});
