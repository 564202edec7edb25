// What the gateway's guards cost: requests/second and latency of one small authenticated query through (a) the
// gateway with its guards (JWT verification, rate limiting, cost checks) and (b) a second gateway over the same
// subgraphs started with the benchmark-only option that turns them off (the subgraphs still verify the token).
//
// Everything runs in this process on loopback: embedded PostgreSQL in a temporary folder, the four subgraphs, two
// gateways; the load comes from a worker thread. BENCH_SECONDS (default 10) and BENCH_CONNECTIONS (default 20).
import "reflect-metadata";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pino } from "pino";
import { startStack } from "../bin/stack.js";
import { startGateway } from "../gateway/gateway.js";
import { PLANS } from "../gateway/guards/plans.js";
import { startEmbeddedPostgres } from "../kernel/embedded-postgres.js";
import { generateInternalSecret } from "../kernel/internal-auth.js";
import { ensureTenantWithAdmin } from "../subgraphs/tenants/tenant/demo-seed.js";
import { runLoad, type LoadResult } from "./load.js";

const QUERY = "{ me { id email } }";
const ROUNDS = 5;
const LOGIN = "mutation Login($input: LoginInput!) { login(input: $input) { accessToken } }";

export const name = "gateway guards: { me { id email } } through the gateway, guards on vs off";

export async function run(): Promise<Record<string, string | number>> {
  const seconds = Number(process.env.BENCH_SECONDS ?? 10);
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 20);
  const logger = pino({ level: "warn" });
  const dataDir = await mkdtemp(path.join(tmpdir(), "tributary-bench-"));
  const pg = await startEmbeddedPostgres({ dataDir, persistent: false });
  const cleanup: (() => Promise<unknown>)[] = [() => rm(dataDir, { recursive: true, force: true }), () => pg.stop()];
  try {
    // (a): the stack's own gateway, guards on. Limits high enough that the load is never refused: the limiter's work
    // is the same whatever the limit.
    const unlimited = Object.fromEntries(PLANS.map((plan) => [plan, { perHour: 1e12, perDay: 1e12 }]));
    const internalSecret = generateInternalSecret();
    const stack = await startStack({
      databaseUrl: await pg.createDatabase("bench"),
      internalSecret,
      redisUrl: process.env.REDIS_URL,
      logger,
      sandbox: false,
      gateway: { guards: { rateLimit: { overrides: unlimited } } },
    });
    cleanup.push(() => stack.stop());
    // (b): a second gateway over the same subgraphs, guards off.
    const bare = await startGateway(
      {
        host: "127.0.0.1",
        port: 0,
        logLevel: "warn",
        sandbox: false,
        introspection: false,
        supergraphPath: "schema/supergraph.graphql",
        subgraphUrls: { tenants: stack.tenants.url, sync: stack.sync.url, connectors: stack.connectors.url, audit: stack.audit.url },
        jwt: { jwksUrl: stack.tenants.jwksUrl, issuer: "tributary", audience: "tributary-api" },
        internalSecret,
        benchmarkOnlyDisableGuards: true,
      },
      { logger },
    );
    cleanup.push(() => bare.stop());

    const seeded = await ensureTenantWithAdmin(stack.tenants.orm, { slug: "bench", name: "Bench", adminEmail: "admin@bench.example" });
    const login = await graphql(stack.gateway.url, LOGIN, { input: { tenant: "bench", email: seeded.adminEmail, password: seeded.adminPassword } });
    const token = login.data.login.accessToken as string;
    const variants = { on: stack.gateway.url, off: bare.url };
    for (const url of Object.values(variants)) {
      const res = await graphql(url, QUERY, {}, token);
      if (res.data?.me?.email !== seeded.adminEmail) throw new Error(`sanity check failed on ${url}: ${JSON.stringify(res)}`);
    }

    const load = (url: string, s: number) =>
      runLoad({ url, seconds: s, connections, headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify({ query: QUERY }) });
    // Warm both (JIT, plan and document caches, JWKS), then measure in alternating slices (on, off, on, off, ...) so
    // that drift or a burst of other work on the machine does not favour one variant.
    for (const url of Object.values(variants)) await load(url, 2);
    const slices = { on: [] as LoadResult[], off: [] as LoadResult[] };
    // Whole seconds: autocannon ends a run on its next 1 s sample after the duration.
    const slice = Math.max(1, Math.round(seconds / ROUNDS));
    for (let round = 0; round < ROUNDS; round++) {
      slices.on.push(await load(variants.on, slice));
      slices.off.push(await load(variants.off, slice));
    }
    const on = combine(slices.on);
    const off = combine(slices.off);
    for (const [which, r] of [["on", on], ["off", off]] as const) {
      if (r.failures > 0) throw new Error(`guards ${which}: ${r.failures} failed requests of ${r.requests}`);
    }
    return {
      "rate limit store": process.env.REDIS_URL ? "redis" : "memory",
      "load": `${ROUNDS} alternating slices of ${slice} s per variant, ${connections} connections, loopback`,
      ...figures("guards on ", on),
      ...figures("guards off", off),
      "on/off req/s ratio": round(on.requestsPerSecond / off.requestsPerSecond, 3),
    };
  } finally {
    for (const step of cleanup.reverse()) await step().catch((err) => logger.warn({ err }, "bench cleanup failed"));
  }
}

/** Equal slices as one run: requests and failures add up; rates and latency percentiles are averaged. */
function combine(slices: LoadResult[]): LoadResult {
  const sum = (f: (r: LoadResult) => number) => slices.reduce((total, r) => total + f(r), 0);
  const mean = (f: (r: LoadResult) => number) => sum(f) / slices.length;
  return { requests: sum((r) => r.requests), failures: sum((r) => r.failures), requestsPerSecond: mean((r) => r.requestsPerSecond), p50Ms: mean((r) => r.p50Ms), p95Ms: mean((r) => r.p95Ms) };
}

function figures(label: string, r: LoadResult): Record<string, string | number> {
  return { [`${label} req/s`]: round(r.requestsPerSecond, 0), [`${label} p50 ms`]: round(r.p50Ms, 2), [`${label} p95 ms`]: round(r.p95Ms, 2), [`${label} requests`]: r.requests };
}

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

async function graphql(url: string, query: string, variables: Record<string, unknown>, token?: string): Promise<any> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return res.json();
}
