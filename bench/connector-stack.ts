// What the connector benchmarks share: the embedded stack on a throwaway PostgreSQL with one connector worker, a
// tenant signed in, and a GraphQL call that throws on errors. Each bench brings its own simulators.
import "reflect-metadata";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pino } from "pino";
import { startStack, type RunningStack } from "../bin/stack.js";
import { startEmbeddedPostgres } from "../kernel/embedded-postgres.js";
import { ensureTenantWithAdmin } from "../subgraphs/tenants/tenant/demo-seed.js";

/** POSTs one operation to the gateway; throws the errors when there is no data. */
export async function gql<T>(url: string, query: string, variables: Record<string, unknown>, token?: string): Promise<T> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: T; errors?: unknown };
  if (!body.data) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

/** The running stack as a bench uses it: the gateway's URL and the bench tenant admin's access token. */
export interface BenchStack {
  stack: RunningStack;
  url: string;
  token: string;
}

/**
 * Runs `fn` against a fresh embedded stack (gateway guards off, one connector worker polling every 0.5 s) with a
 * signed-in tenant `bench`, then stops the stack and PostgreSQL and removes the data, whatever `fn` did.
 */
export async function withConnectorBenchStack<T>(name: string, fn: (bench: BenchStack) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), `tributary-bench-${name}-`));
  const pg = await startEmbeddedPostgres({ dataDir: dir, persistent: false });
  try {
    const databaseUrl = await pg.createDatabase("bench");
    const stack = await startStack({
      databaseUrl,
      logger: pino({ level: "warn" }),
      sandbox: false,
      gateway: { benchmarkOnlyDisableGuards: true },
      connectorJobs: { workers: 1, pollingIntervalSeconds: 0.5 },
    });
    try {
      const url = stack.gateway.url;
      const seeded = await ensureTenantWithAdmin(stack.tenants.orm, { slug: "bench", name: "Bench", adminEmail: "admin@bench.example" });
      const { login } = await gql<{ login: { accessToken: string } }>(url, "mutation($i: LoginInput!) { login(input: $i) { accessToken } }", {
        i: { tenant: "bench", email: seeded.adminEmail, password: seeded.adminPassword },
      });
      return await fn({ stack, url, token: login.accessToken });
    } finally {
      await stack.stop();
    }
  } finally {
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
