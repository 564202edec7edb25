// Boots the real stack (four subgraphs + gateway) on random ports against a fresh database, and talks to it as a
// client would: HTTP POST and graphql-ws, with typed operations from codegen.
import "reflect-metadata";
import { randomUUID } from "node:crypto";
import { print, type ExecutionResult, type FormattedExecutionResult } from "graphql";
import { createClient, type Client } from "graphql-ws";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pino, type Logger } from "pino";
import WebSocket from "ws";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { startStack, type RunningStack, type StackOptions } from "../../bin/stack.js";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "../../kernel/embedded-postgres.js";
import { ensureTenantWithAdmin } from "../../subgraphs/tenants/tenant/demo-seed.js";
import { LoginDocument } from "../__generated__/graphql.js";

/** Whether Redis-backed variants must run: with CI=true they fail (not skip) without REDIS_URL. */
export function redisUrlOrFail(): string | undefined {
  const url = process.env.REDIS_URL;
  if (!url && process.env.CI === "true") throw new Error("REDIS_URL must be set when CI=true (Redis-backed suites must not be skipped)");
  return url;
}

// One embedded PostgreSQL per test file (jest gives each file its own module registry), started on first use and
// stopped when the file's last stack stops. Each stack gets its own fresh database on it.
let server: { db: Promise<EmbeddedDatabase>; dir: string; users: number } | undefined;

async function acquirePostgres(): Promise<EmbeddedDatabase> {
  if (!server) {
    const dir = mkdtempSync(path.join(tmpdir(), "tributary-test-pg-"));
    server = { dir, users: 0, db: startEmbeddedPostgres({ dataDir: dir, persistent: false }) };
  }
  server.users++;
  return server.db;
}

async function releasePostgres(): Promise<void> {
  if (!server || --server.users > 0) return;
  const { db, dir } = server;
  server = undefined;
  await (await db).stop();
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
  /** Sends a typed operation over HTTP; returns the parsed body and the HTTP status. */
  request<TResult, TVars>(doc: TypedDocumentNode<TResult, TVars>, variables?: TVars, token?: string): Promise<FormattedExecutionResult<TResult> & { status: number }>;
  /** Sends raw text (for malformed input tests). */
  raw(body: string, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  /** Creates a tenant with an admin and signs in through the gateway. */
  tenant(slug: string): Promise<TenantLogin>;
  /** A graphql-ws client on the gateway (closed by `stop`). */
  ws(token?: string, extra?: Partial<Parameters<typeof createClient>[0]>): Client;
  stop(): Promise<void>;
}

/**
 * Boots a stack; `pubsub: "redis"` uses REDIS_URL with a unique channel prefix (the gateway's rate-limit counters
 * then live in that Redis too). `gateway` passes options to the gateway (introspection, guards).
 */
export async function startTestStack(opts: { pubsub?: "memory" | "redis"; logger?: Logger; gateway?: StackOptions["gateway"] } = {}): Promise<TestStack> {
  const databaseUrl = await createTestDatabase();
  const redisUrl = opts.pubsub === "redis" ? redisUrlOrFail() : undefined;
  if (opts.pubsub === "redis" && !redisUrl) throw new Error("REDIS_URL is not set");
  const logger = opts.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
  const stack = await startStack({ databaseUrl, redisUrl, redisKeyPrefix: `test:${randomUUID()}:`, logger, sandbox: false, gateway: opts.gateway }).catch(async (err) => {
    await releasePostgres();
    throw err;
  });
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

  return {
    stack,
    url,
    wsUrl: stack.gateway.wsUrl,
    databaseUrl,
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
    async tenant(slug) {
      const seeded = await ensureTenantWithAdmin(stack.tenants.orm, { slug, name: `Tenant ${slug}`, adminEmail: `admin@${slug}.example` });
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
      await stack.stop();
      await releasePostgres();
    },
  };
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
