// Boots the real stack (four subgraphs + gateway) on random ports against a fresh database, and talks to it as a
// client would: HTTP POST and graphql-ws, with typed operations from codegen.
import "reflect-metadata";
import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { print, type ExecutionResult, type FormattedExecutionResult } from "graphql";
import { createClient, type Client } from "graphql-ws";
import { existsSync, mkdtempSync, readdirSync, statSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { pino, type Logger } from "pino";
import WebSocket from "ws";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { startStack, type RunningStack, type StackOptions } from "../../bin/stack.js";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "../../kernel/embedded-postgres.js";
import { SecretBox } from "../../subgraphs/connectors/connector/secret-box.js";
import { ensureTenantWithAdmin } from "../../subgraphs/tenants/tenant/demo-seed.js";
import type { Plan } from "../../subgraphs/tenants/tenant/tenant.entity.js";
import { LoginDocument } from "../__generated__/graphql.js";

/** Whether Redis-backed variants must run: with CI=true they fail (not skip) without REDIS_URL. */
export function redisUrlOrFail(): string | undefined {
  const url = process.env.REDIS_URL;
  if (!url && process.env.CI === "true") throw new Error("REDIS_URL must be set when CI=true (Redis-backed suites must not be skipped)");
  return url;
}

// One embedded PostgreSQL per test file (jest gives each file its own module registry), started on first use and
// stopped when the file's last stack stops. Each stack gets its own fresh database on it. Its data folder sits in a
// folder closed to other users (mkdtemp: mode 700), as a clone under /root does: as root (CI) the data then lives in
// a stand-in under /var/lib/tributary, removed on stop (persistent: false).
let server: { db: Promise<EmbeddedDatabase>; dir: string; users: number } | undefined;

async function acquirePostgres(): Promise<EmbeddedDatabase> {
  if (!server) {
    const dir = mkdtempSync(path.join(tmpdir(), "tributary-test-pg-"));
    server = { dir, users: 0, db: startEmbeddedPostgres({ dataDir: path.join(dir, "data"), persistent: false }) };
  }
  server.users++;
  return server.db;
}

async function releasePostgres(): Promise<void> {
  if (!server || --server.users > 0) return;
  const { db, dir } = server;
  server = undefined;
  await (await db.catch(() => undefined))?.stop();
  await rm(dir, { recursive: true, force: true });
}

/** A fresh, empty database on this file's embedded PostgreSQL (release with {@link releasePostgres}). */
export async function createTestDatabase(): Promise<string> {
  const db = await acquirePostgres();
  return db.createDatabase(`t_${randomUUID().replace(/-/g, "")}`);
}
export { releasePostgres };

export interface TenantLogin {
  tenantId: string;
  slug: string;
  userId: string;
  email: string;
  token: string;
}

export interface TestStack {
  stack: RunningStack;
  url: string;
  wsUrl: string;
  databaseUrl: string;
  /** The Redis the stack's pub/sub uses (`pubsub: "redis"`), with its channel prefix: other processes join with these. */
  redis?: { url: string; keyPrefix: string };
  /** Sends a typed operation over HTTP; returns the parsed body and the HTTP status. */
  request<TResult, TVars>(doc: TypedDocumentNode<TResult, TVars>, variables?: TVars, token?: string): Promise<FormattedExecutionResult<TResult> & { status: number }>;
  /** The stack's service secret and connector credentials key (for services started in other processes). */
  secrets: { internal: string; connectorKey: string };
  /** Sends raw text (for malformed input tests). */
  raw(body: string, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  /** Creates a tenant with an admin and signs in through the gateway (plan PRO unless given). */
  tenant(slug: string, plan?: Plan): Promise<TenantLogin>;
  /** A graphql-ws client on the gateway (closed by `stop`). */
  ws(token?: string, extra?: Partial<Parameters<typeof createClient>[0]>): Client;
  stop(): Promise<void>;
}

/**
 * Boots a stack; `pubsub: "redis"` uses REDIS_URL with a unique channel prefix (the gateway's rate-limit counters
 * then live in that Redis too). `gateway` passes options to the gateway (introspection, guards).
 */
export async function startTestStack(
  opts: {
    pubsub?: "memory" | "redis";
    logger?: Logger;
    gateway?: StackOptions["gateway"];
    /**
     * Fault injection: asked about every publish of the stack's pub/sub (from any of its services); when it returns
     * true the message is dropped (it reaches no subscriber, in this process or through Redis).
     */
    dropPublish?: (topic: string, payload: unknown) => boolean;
    /** Connector job queue options (fast heartbeats and retries for crash tests) and sources (fault injection). */
    connectors?: Pick<StackOptions, "connectorJobs" | "connectorSources">;
    /** Fault tests: a Redis of the test's own (one it stops and restarts) instead of REDIS_URL, with `pubsub: "redis"`. */
    redisUrl?: string;
    /** Fault tests: a database on a PostgreSQL of the test's own (one it restarts) instead of this file's shared one. */
    databaseUrl?: string;
  } = {},
): Promise<TestStack> {
  const ownDatabase = opts.databaseUrl === undefined;
  const databaseUrl = opts.databaseUrl ?? (await createTestDatabase());
  const release = () => (ownDatabase ? releasePostgres() : Promise.resolve());
  const redisUrl = opts.pubsub === "redis" ? (opts.redisUrl ?? redisUrlOrFail()) : undefined;
  if (opts.pubsub === "redis" && !redisUrl) throw new Error("REDIS_URL is not set");
  const logger = opts.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
  const redisKeyPrefix = `test:${randomUUID()}:`;
  const secrets = { internal: randomBytes(32).toString("hex"), connectorKey: randomBytes(32).toString("hex") };
  const stack = await startStack({
    databaseUrl,
    redisUrl,
    redisKeyPrefix,
    logger,
    sandbox: false,
    gateway: opts.gateway,
    internalSecret: secrets.internal,
    connectorSecrets: SecretBox.fromConfig(secrets.connectorKey),
    ...opts.connectors,
  }).catch(async (err) => {
    await release();
    throw err;
  });
  if (opts.dropPublish) {
    // Every service of the stack holds this one instance: shadowing its method intercepts all their publishes.
    const drop = opts.dropPublish;
    const publish = stack.pubsub.publish.bind(stack.pubsub);
    stack.pubsub.publish = async <T>(topic: string, payload: T): Promise<void> => {
      if (drop(topic, payload)) return;
      await publish(topic, payload);
    };
  }
  const clients: Client[] = [];
  const url = stack.gateway.url;

  const request: TestStack["request"] = async (doc, variables, token) => {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query: print(doc), variables }),
    });
    return { ...((await res.json()) as FormattedExecutionResult<any>), status: res.status };
  };

  const testStack: TestStack = {
    stack,
    url,
    wsUrl: stack.gateway.wsUrl,
    databaseUrl,
    secrets,
    redis: redisUrl ? { url: redisUrl, keyPrefix: redisKeyPrefix } : undefined,
    request,
    async raw(body, headers = {}) {
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      return { status: res.status, body: parsed };
    },
    async tenant(slug, plan) {
      const seeded = await ensureTenantWithAdmin(stack.tenants.orm, { slug, name: `Tenant ${slug}`, adminEmail: `admin@${slug}.example`, plan });
      if (!seeded.adminPassword) throw new Error(`tenant ${slug} already exists in this stack`);
      const res = await request(LoginDocument, { input: { tenant: slug, email: seeded.adminEmail, password: seeded.adminPassword } });
      if (!res.data) throw new Error(`login failed: ${JSON.stringify(res.errors)}`);
      return { tenantId: seeded.tenantId, slug, userId: seeded.adminUserId, email: seeded.adminEmail, token: res.data.login.accessToken };
    },
    ws(token, extra = {}) {
      const client = createClient({
        url: stack.gateway.wsUrl,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        lazy: true,
        connectionParams: token ? { authorization: `Bearer ${token}` } : {},
        ...extra,
      });
      clients.push(client);
      return client;
    },
    async stop() {
      await Promise.all(clients.map((c) => c.dispose()));
      await Promise.all([...(childrenOf.get(testStack) ?? [])].map((child) => child.stop()));
      await stack.stop();
      await release();
    },
  };
  return testStack;
}

/** Collects a subscription's results until `until` says stop (or `timeoutMs` passes, which fails). */
export async function collect<T>(
  client: Client,
  doc: TypedDocumentNode<T, any>,
  variables: Record<string, unknown>,
  opts: { until: (results: ExecutionResult<T>[]) => boolean; timeoutMs?: number; onStart?: () => void },
): Promise<ExecutionResult<T>[]> {
  const results: ExecutionResult<T>[] = [];
  const iterator = client.iterate<T>({ query: print(doc), variables });
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`subscription timed out; got ${JSON.stringify(results)}`)), opts.timeoutMs ?? 10_000).unref(),
  );
  const run = (async () => {
    for await (const r of iterator) {
      results.push(r as ExecutionResult<T>);
      if (opts.until(results)) break;
    }
    return results;
  })();
  try {
    return await Promise.race([run, timeout]);
  } finally {
    await iterator.return?.();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// More replicas as separate OS processes, joined to a running test stack (same database, same Redis and prefix, same
// token verification): the built code in dist/ (`npm test` builds before jest), started by a small inline entry.

/** A gateway or sync subgraph running in its own process. Stopped (SIGTERM, then SIGKILL) by the stack's `stop()`. */
export interface ChildService {
  kind: "sync" | "gateway" | "connectors";
  url: string;
  wsUrl: string;
  port: number;
  pid: number;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** What the process wrote so far (stdout and stderr; the tail only), for failure messages. */
  output(): string;
  /** Sends `signal` (SIGKILL: no cleanup at all, as in a crash) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Sends `signal` without waiting (SIGSTOP / SIGCONT to freeze and thaw the process); ignored once it has exited. */
  signal(signal: NodeJS.Signals): void;
  /** Stops cleanly (SIGTERM; SIGKILL after 10 s). Idempotent. */
  stop(): Promise<void>;
}

const childrenOf = new WeakMap<TestStack, Set<ChildService>>();
const JWT = { issuer: "tributary", audience: "tributary-api" };

const CHILD_ENTRY = `
import "reflect-metadata";
const cfg = JSON.parse(process.env.TRIBUTARY_TEST_CHILD);
const dist = (p) => import(new URL(p, cfg.dist).href);
const { createLogger } = await dist("kernel/logger.js");
const { createPubSub } = await dist("kernel/pubsub/index.js");
const logger = createLogger(cfg.logLevel, { child: cfg.kind });
const pubsub = cfg.redisUrl ? createPubSub({ redisUrl: cfg.redisUrl, keyPrefix: cfg.keyPrefix, logger }) : undefined;
let service;
if (cfg.kind === "sync") {
  const { startSync } = await dist("subgraphs/sync/start.js");
  service = await startSync(cfg.config, { logger, pubsub: pubsub ?? createPubSub({}) }, cfg.peers);
} else if (cfg.kind === "connectors") {
  const { startConnectors } = await dist("subgraphs/connectors/start.js");
  const { SecretBox } = await dist("subgraphs/connectors/connector/secret-box.js");
  const { boxKey, ...peers } = cfg.peers;
  service = await startConnectors(cfg.config, { logger, pubsub: pubsub ?? createPubSub({}) }, { ...peers, box: SecretBox.fromConfig(boxKey) });
} else {
  const { startGateway } = await dist("gateway/gateway.js");
  service = await startGateway(cfg.config, { logger, pubsub });
}
process.stdout.write("\\n@@ready " + JSON.stringify({ url: service.url, wsUrl: service.wsUrl, port: service.port }) + "\\n");
let stopping = false;
process.on("SIGTERM", () => {
  if (stopping) return;
  stopping = true;
  service.stop().then(() => pubsub?.close()).finally(() => process.exit(0));
});
`;

/** Refuses to run children on a dist/ older than the sources it was built from (they would test stale code). */
function assertDistFresh(root: string): void {
  const stale: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") && !entry.name.endsWith(".d.ts")) {
        const built = path.join(root, "dist", rel.replace(/\.ts$/, ".js"));
        if (!existsSync(built) || statSync(built).mtimeMs < statSync(path.join(root, rel)).mtimeMs) stale.push(rel);
      }
    }
  };
  for (const dir of ["kernel", "gateway", "subgraphs/sync", "subgraphs/connectors"]) walk(dir);
  if (stale.length) throw new Error(`dist/ is older than ${stale.slice(0, 5).join(", ")}${stale.length > 5 ? " ..." : ""}: run \`npm run build\` (npm test does)`);
}

async function startChild(t: TestStack, kind: ChildService["kind"], config: unknown, peers?: unknown): Promise<ChildService> {
  const root = process.cwd();
  assertDistFresh(root);
  const env = {
    ...process.env,
    NODE_OPTIONS: "",
    TRIBUTARY_TEST_CHILD: JSON.stringify({
      kind,
      config,
      peers,
      dist: pathToFileURL(path.join(root, "dist") + path.sep).href,
      redisUrl: t.redis?.url,
      keyPrefix: t.redis?.keyPrefix,
      logLevel: process.env.TEST_CHILD_LOG_LEVEL ?? "warn",
    }),
  };
  const proc = spawn(process.execPath, ["--input-type=module", "-e", CHILD_ENTRY], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-20_000);
  };
  proc.stderr.on("data", keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal })));
  const ready = new Promise<{ url: string; wsUrl: string; port: number }>((resolve, reject) => {
    let pending = "";
    proc.stdout.on("data", (chunk: Buffer) => {
      keep(chunk);
      pending += chunk.toString("utf8");
      const match = /@@ready (\{.*\})\n/.exec(pending);
      if (match) resolve(JSON.parse(match[1]!));
    });
    void exited.then(({ code, signal }) => reject(new Error(`${kind} process exited (${code ?? signal}) before it was ready:\n${output}`)));
    setTimeout(() => reject(new Error(`${kind} process not ready after 30 s:\n${output}`)), 30_000).unref();
  });
  let stopped: Promise<void> | undefined;
  const signalAndWait = async (signal: NodeJS.Signals) => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill(signal);
      if (signal !== "SIGKILL") proc.kill("SIGCONT"); // a frozen process must run to act on the signal
    }
    await exited;
  };
  const child: ChildService = {
    kind,
    url: "",
    wsUrl: "",
    port: 0,
    pid: proc.pid!,
    exited,
    output: () => output,
    async kill(signal = "SIGKILL") {
      await signalAndWait(signal);
    },
    signal(signal) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    },
    stop() {
      stopped ??= (async () => {
        const force = setTimeout(() => proc.kill("SIGKILL"), 10_000);
        await signalAndWait("SIGTERM");
        clearTimeout(force);
        childrenOf.get(t)?.delete(child);
      })();
      return stopped;
    },
  };
  let children = childrenOf.get(t);
  if (!children) childrenOf.set(t, (children = new Set()));
  children.add(child);
  try {
    Object.assign(child, await ready);
  } catch (err) {
    await child.stop();
    throw err;
  }
  return child;
}

/**
 * A second sync subgraph in its own process: same database, same Redis and channel prefix as `t` (memory pub/sub of
 * its own without `pubsub: "redis"`), tokens verified with the stack's JWKS. `port` to come back on a known port.
 */
export function startSyncProcess(t: TestStack, opts: { port?: number } = {}): Promise<ChildService> {
  const s = t.stack;
  const config = { databaseUrl: t.databaseUrl, redisUrl: t.redis?.url, host: "127.0.0.1", port: opts.port ?? 0, logLevel: "warn", jwt: { ...JWT, jwksUrl: s.tenants.jwksUrl } };
  return startChild(t, "sync", config, { connectorsUrl: s.connectors.url, auditUrl: s.audit.url, internalSecret: t.secrets.internal });
}

/**
 * A connectors service in its own process (its job workers with it): same database, the stack's sync (internal API),
 * service secret and credentials key. `jobs` sets its queue options (workers, heartbeat, supervision, retry delay).
 */
export function startConnectorsProcess(t: TestStack, opts: { jobs?: Record<string, number> } = {}): Promise<ChildService> {
  const s = t.stack;
  const config = { databaseUrl: t.databaseUrl, redisUrl: t.redis?.url, host: "127.0.0.1", port: 0, logLevel: "warn", jwt: { ...JWT, jwksUrl: s.tenants.jwksUrl } };
  return startChild(t, "connectors", config, { syncUrl: s.sync.url, auditUrl: s.audit.url, internalSecret: t.secrets.internal, boxKey: t.secrets.connectorKey, jobs: opts.jobs });
}

/**
 * A second gateway in its own process over the stack's subgraphs (or others: `subgraphUrls`, e.g. a sync process from
 * {@link startSyncProcess}), with the stack's token verification and Redis.
 */
export function startGatewayProcess(t: TestStack, opts: { port?: number; subgraphUrls?: Partial<Record<"tenants" | "sync" | "connectors" | "audit", string>> } = {}): Promise<ChildService> {
  const s = t.stack;
  const config = {
    host: "127.0.0.1",
    port: opts.port ?? 0,
    logLevel: "warn",
    sandbox: false,
    introspection: true,
    supergraphPath: path.join(process.cwd(), "schema/supergraph.graphql"),
    subgraphUrls: { tenants: s.tenants.url, sync: s.sync.url, connectors: s.connectors.url, audit: s.audit.url, ...opts.subgraphUrls },
    jwt: { ...JWT, jwksUrl: s.tenants.jwksUrl },
    internalSecret: t.secrets.internal,
    redisUrl: t.redis?.url,
    guards: { rateLimit: { keyPrefix: `${t.redis?.keyPrefix ?? "tributary:"}ratelimit:` } },
  };
  return startChild(t, "gateway", config);
}
