// The sync engine against PostgreSQL, side by side in one run on one database (issue "The sync engine", Benchmarks):
//
// 1. Push ingest: one client pushes batches of 500 new ~300-byte documents through the gateway (pushChanges), against
//    the ceiling of a batched multi-row UNNEST upsert of the same rows, same batch size, on one connection into a
//    scratch table shaped like sync.record (target: gateway >= 40% of the ceiling).
// 2. Pull: the pushed rows pulled through the gateway in pages of 1,000 from a null checkpoint to the end, against a
//    raw keyset read of the same rows (seq > $2 order by seq limit 1000, looping) on one connection (target >= 50%).
//    Push and pull are also measured straight at the sync subgraph (same client, no gateway hop), to show what the
//    gateway hop costs and what the subgraph alone reaches, and pull through the gateway with the sync subgraph over
//    loopback HTTP (the distributed layout; in one process the gateway calls subgraphs in-process).
// 3. Stream: 1,000 recordsChanged subscriptions at the head (graphql-ws clients in a worker thread, spread over a
//    few sockets); small pushes; latency from the push response arriving to each subscriber's receipt (p50/p99), and
//    SQL reads per pushed batch counted by PostgreSQL itself (pg_stat_statements, beyond what the push alone costs).
//
// Everything runs in this process on loopback: embedded PostgreSQL (fsync on) in a temporary folder, the four
// subgraphs and the gateway (guards on, rate limits raised out of the way), as `npm start` runs them. Gateway and
// database slices alternate so that drift on the machine does not favour one side. Run alone: `BENCH=sync npm run bench`.
//
// Knobs: BENCH_PUSH_BATCHES (40), BENCH_PULL_ROUNDS (5), BENCH_STREAM_SUBSCRIPTIONS (1000), BENCH_STREAM_SOCKETS (100),
// BENCH_STREAM_PUSHES (20), BENCH_STREAM_ROWS (10), BENCH_PUSH_IDEMPOTENT (1: pushes carry clientId + mutationId, as
// a retrying client's do; 0: without), BENCH_PROFILE_DIR (write V8 CPU profiles of the main thread per phase and
// print their top functions; the figures then include the profiler's overhead), REDIS_URL (pub/sub over Redis).
import "reflect-metadata";
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { pino } from "pino";
import { startStack, type RunningStack } from "../bin/stack.js";
import { PLANS } from "../gateway/guards/plans.js";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "../kernel/embedded-postgres.js";
import { localEndpoint, registerLocalEndpoint } from "../kernel/graphql-endpoint.js";
import { ensureTenantWithAdmin } from "../subgraphs/tenants/tenant/demo-seed.js";
import { nowMs, PhaseMeter, PhaseProfiler, postmasterPid } from "./cpu.js";
import { StreamClients } from "./stream-clients.js";

export const name = "sync: push ingest, pull and live stream through the gateway vs PostgreSQL on the same database";

const BATCH_ROWS = 500;
const PAGE_ROWS = 1000;
const PUSH_ROUNDS = 4;
const WARMUP_BATCHES = 4;
const BASELINE_PUSHES = 5;
const COLLECTION = "bench";
const CLIENT_ID = "bench-client";

const LOGIN = "mutation Login($input: LoginInput!) { login(input: $input) { accessToken } }";
const CREATE_COLLECTION = "mutation Create($input: CreateCollectionInput!) { createCollection(input: $input) { id } }";
const PUSH = "mutation Push($input: PushChangesInput!) { pushChanges(input: $input) { applied conflicts replayed rejected { index code message } } }";
const PULL = "query Pull($collections: [String!]!, $checkpoint: String, $limit: Int!) { pullChanges(collections: $collections, checkpoint: $checkpoint, limit: $limit) { documents checkpoint hasMore } }";

/** A typical task-like document schema: the push validates every row against it, as a real collection would. */
const JSON_SCHEMA = {
  type: "object",
  properties: {
    id: { type: "string" },
    title: { type: "string", maxLength: 200 },
    body: { type: "string", maxLength: 2000 },
    status: { enum: ["open", "active", "blocked", "done"] },
    priority: { type: "integer", minimum: 0, maximum: 4 },
    tags: { type: "array", items: { type: "string" }, maxItems: 10 },
    assignee: { type: "string" },
    estimateHours: { type: "number" },
    done: { type: "boolean" },
    due: { type: "string" },
  },
  required: ["title", "status"],
};

// The ceiling: what one connection does with the same rows when all it has to do is upsert them.
const CEILING_UPSERT = `insert into bench_ceiling.record (tenant_id, collection, id, data, deleted, version, seq, updated_at, origin_client_id, origin_user_id)
  select $1::uuid, $2::varchar, u.id, u.data::jsonb, false, 1, u.seq, $5::timestamptz, $6::varchar, $7::uuid
  from unnest($3::varchar[], $4::text[], $8::bigint[]) as u(id, data, seq)
  on conflict (tenant_id, collection, id) do update set data = excluded.data, deleted = excluded.deleted, version = bench_ceiling.record.version + 1,
    seq = excluded.seq, updated_at = excluded.updated_at, origin_client_id = excluded.origin_client_id, origin_user_id = excluded.origin_user_id`;
// The alias only marks the statement as the bench's own in pg_stat_statements (which drops comments).
const RAW_KEYSET = "select collection, id, data, deleted, seq from sync.record as bench_raw where tenant_id = $1 and seq > $2 order by seq limit 1000";
// Statements counted per window: all of them in this database, and the reads of sync.record (select/with ... sync.record).
const STATEMENT_COUNTS = `select coalesce(sum(calls), 0)::bigint as total,
    coalesce(sum(calls) filter (where query ~* '^\\s*(select|with)\\M' and query ~* 'sync"?\\."?record\\M'), 0)::bigint as record_reads
  from pg_stat_statements s join pg_database d on d.oid = s.dbid where d.datname = current_database()`;
/** The stack's statements in this database: the bench's own (ceiling, raw reads, these samples) left out. */
const STACK_STATEMENTS = `from pg_stat_statements s join pg_database d on d.oid = s.dbid
  where d.datname = current_database() and query not like '%bench_ceiling%' and query not like '%bench_raw%' and query not ilike '%pg_stat_statements%'`;
const TOP_SQL = `select calls, total_exec_time as ms, rows, regexp_replace(query, '\\s+', ' ', 'g') as query
  ${STACK_STATEMENTS} order by total_exec_time desc limit 8`;

type Doc = Record<string, unknown>;
type Figures = Record<string, string | number>;

interface Login {
  tenantId: string;
  userId: string;
  token: string;
}

export async function run(): Promise<Figures> {
  const cfg = {
    pushBatches: int("BENCH_PUSH_BATCHES", 40),
    pullRounds: int("BENCH_PULL_ROUNDS", 5),
    subscriptions: int("BENCH_STREAM_SUBSCRIPTIONS", 1000),
    sockets: int("BENCH_STREAM_SOCKETS", 100),
    streamPushes: int("BENCH_STREAM_PUSHES", 20),
    streamRows: int("BENCH_STREAM_ROWS", 10),
    idempotent: process.env.BENCH_PUSH_IDEMPOTENT !== "0",
  };
  const loadAtStart = loadavg()[0];
  const logger = pino({ level: "warn" });
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const profiler = new PhaseProfiler(process.env.BENCH_PROFILE_DIR || undefined);
  const dataDir = await mkdtemp(path.join(tmpdir(), "tributary-bench-sync-"));
  const cleanup: (() => Promise<unknown>)[] = [() => rm(dataDir, { recursive: true, force: true })];
  try {
    const pgServer = await postgresWithStatementStats(dataDir);
    cleanup.push(() => pgServer.stop(), () => profiler.close());
    // The data may be in a stand-in folder (PostgreSQL run as root): the server says where.
    const pgPid = postmasterPid(path.join(pgServer.dataDir, "pg"));
    const databaseUrl = await pgServer.createDatabase("bench");
    const unlimited = Object.fromEntries(PLANS.map((plan) => [plan, { perHour: 1e12, perDay: 1e12 }]));
    const stack = await startStack({ databaseUrl, redisUrl: process.env.REDIS_URL, logger, sandbox: false, gateway: { guards: { rateLimit: { overrides: unlimited } } } });
    cleanup.push(() => stack.stop());
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    cleanup.push(() => db.end());
    await db.query("create extension if not exists pg_stat_statements");
    await db.query("create schema bench_ceiling");
    await db.query("create table bench_ceiling.record (like sync.record including all)");

    const gw = gatewayClient(stack);
    const warm = await gw.tenant("bench-warm");
    const bench = await gw.tenant("bench");
    for (const who of [warm, bench]) await gw.call(CREATE_COLLECTION, { input: { name: COLLECTION, jsonSchema: JSON_SCHEMA } }, who.token);

    // ---- 1. push ingest -------------------------------------------------------------------------------------------
    const batches = Array.from({ length: cfg.pushBatches }, (_, b) => Array.from({ length: BATCH_ROWS }, (_, r) => makeDoc("doc", b * BATCH_ROWS + r)));
    const warmBatches = Array.from({ length: WARMUP_BATCHES }, (_, b) => Array.from({ length: BATCH_ROWS }, (_, r) => makeDoc("warm", b * BATCH_ROWS + r)));
    const docBytes = mean(batches.flat().map((d) => Buffer.byteLength(JSON.stringify(d))));
    const pushBody = (docs: Doc[], mutationId: string) =>
      JSON.stringify({
        query: PUSH,
        variables: {
          input: {
            collection: COLLECTION,
            rows: docs.map((d) => ({ assumedMasterState: null, newDocumentState: d })),
            ...(cfg.idempotent ? { clientId: CLIENT_ID, mutationId } : {}),
          },
        },
      });
    const bodies = batches.map((docs, i) => pushBody(docs, `push-${i}`));
    // The same rows pushed straight to the sync subgraph (no gateway hop), into the warm-up tenant so that the bench
    // tenant's rows stay those the pull phase reads: what the gateway hop itself costs, measured beside it.
    const directBodies = batches.map((docs, i) => pushBody(docs.map((d) => ({ ...d, id: `direct-${d.id as string}` })), `direct-${i}`));
    let ceilingSeq = 0;
    const ceilingBatch = async (who: Login, docs: Doc[]) => {
      const ids = docs.map((d) => d.id as string);
      const data = docs.map((d) => JSON.stringify(d));
      const seqs = docs.map(() => String(++ceilingSeq));
      await db.query(CEILING_UPSERT, [who.tenantId, COLLECTION, ids, data, new Date(), cfg.idempotent ? CLIENT_ID : null, who.userId, seqs]);
    };
    const gatewayBatch = async (who: Login, body: string, rows: number, url?: string) => {
      const res = await gw.post(body, who.token, url);
      const answer = res.data?.pushChanges;
      if (answer?.applied !== rows) throw new Error(`push applied ${answer?.applied} of ${rows}: ${JSON.stringify(res).slice(0, 500)}`);
    };

    // Warm both paths (JIT, plan caches, connection pools) on another tenant.
    for (const [i, docs] of warmBatches.entries()) {
      await gatewayBatch(warm, pushBody(docs, `warm-${i}`), BATCH_ROWS);
      await ceilingBatch(warm, docs);
    }
    await resetStatements(db);
    const pushGw = new PhaseMeter(pgPid);
    const pushDb = new PhaseMeter(pgPid);
    const gwBatchMs: number[] = [];
    const dbBatchMs: number[] = [];
    const directBatchMs: number[] = [];
    const perRound = Math.ceil(cfg.pushBatches / PUSH_ROUNDS);
    for (let start = 0; start < cfg.pushBatches; start += perRound) {
      const range = [...Array(Math.min(perRound, cfg.pushBatches - start)).keys()].map((k) => start + k);
      await profiler.profile("push-gateway", () =>
        pushGw.measure(async () => {
          for (const i of range) gwBatchMs.push(await timed(() => gatewayBatch(bench, bodies[i], BATCH_ROWS)));
        }),
      );
      await pushDb.measure(async () => {
        for (const i of range) dbBatchMs.push(await timed(() => ceilingBatch(bench, batches[i])));
      });
      for (const i of range) directBatchMs.push(await timed(() => gatewayBatch(warm, directBodies[i], BATCH_ROWS, stack.sync.url)));
    }
    const pushSql = await topStatements(db);
    const pushRows = cfg.pushBatches * BATCH_ROWS;
    const gwPushRate = pushRows / (sum(gwBatchMs) / 1000);
    const dbPushRate = pushRows / (sum(dbBatchMs) / 1000);
    const directPushRate = pushRows / (sum(directBatchMs) / 1000);
    say(`  push through the gateway: ${pushGw.describe()}`);
    say(`  push ceiling (UNNEST upsert): ${pushDb.describe()}`);
    say(`  push: SQL execution time ${Math.round(pushSql.totalMs)} ms of ${Math.round(pushGw.wallMs)} ms gateway wall time; top statements (pg_stat_statements):`);
    for (const line of pushSql.lines) say(line);
    for (const line of profiler.summary("push-gateway")) say(line);

    // ---- 2. pull --------------------------------------------------------------------------------------------------
    // The push phase grew both tables from nothing faster than autovacuum analyses them; without statistics the
    // planner sorts all of a tenant's rows for a keyset page (tens of ms, on either side). Pull and stream are
    // measured in the steady state, with statistics, as on a database whose autovacuum has caught up.
    await db.query("analyze sync.record");
    await db.query("analyze bench_ceiling.record");
    const gatewayPull = async (who: Login, from: string | null, pageMs: number[], url?: string) => {
      let checkpoint = from;
      let rows = 0;
      for (;;) {
        const t0 = nowMs();
        const res = await gw.post(JSON.stringify({ query: PULL, variables: { collections: [COLLECTION], checkpoint, limit: PAGE_ROWS } }), who.token, url);
        const page = res.data?.pullChanges;
        if (!page) throw new Error(`pull failed: ${JSON.stringify(res).slice(0, 500)}`);
        pageMs.push(nowMs() - t0);
        rows += page.documents.length;
        checkpoint = page.checkpoint ?? checkpoint;
        if (!page.hasMore) return { rows, checkpoint };
        if (page.documents.length !== PAGE_ROWS) throw new Error(`short page (${page.documents.length}) while hasMore`);
      }
    };
    const rawPull = async (who: Login, pageMs: number[]) => {
      let after = "0";
      let rows = 0;
      for (;;) {
        const t0 = nowMs();
        const res = await db.query(RAW_KEYSET, [who.tenantId, after]);
        pageMs.push(nowMs() - t0);
        rows += res.rows.length;
        if (res.rows.length < PAGE_ROWS) return rows;
        after = res.rows[res.rows.length - 1].seq as string;
      }
    };
    await gatewayPull(warm, null, []);
    await rawPull(warm, []);
    await resetStatements(db);
    const pullGw = new PhaseMeter(pgPid);
    const pullDb = new PhaseMeter(pgPid);
    const gwPageMs: number[] = [];
    const dbPageMs: number[] = [];
    let head: string | null = null;
    for (let round = 0; round < cfg.pullRounds; round++) {
      const got = await profiler.profile("pull-gateway", () => pullGw.measure(() => gatewayPull(bench, null, gwPageMs)));
      const raw = await pullDb.measure(() => rawPull(bench, dbPageMs));
      if (got.rows !== pushRows || raw !== pushRows) throw new Error(`pulled ${got.rows} rows through the gateway and ${raw} raw; pushed ${pushRows}`);
      head = got.checkpoint;
    }
    const pullSql = await topStatements(db);
    // The same pages straight from the sync subgraph (no gateway hop), after the SQL figures above were taken.
    const directPageMs: number[] = [];
    for (let round = 0; round < cfg.pullRounds; round++) {
      const got = await gatewayPull(bench, null, directPageMs, stack.sync.url);
      if (got.rows !== pushRows) throw new Error(`pulled ${got.rows} rows from the sync subgraph; pushed ${pushRows}`);
    }
    // The same pages through the gateway with the sync subgraph reached over loopback HTTP, as in the distributed layout
    // (each service its own process): its in-process endpoint unregistered meanwhile (kernel/graphql-endpoint.ts).
    const httpPageMs: number[] = [];
    const syncEndpoint = localEndpoint(stack.sync.url);
    if (!syncEndpoint) throw new Error("the sync subgraph serves no in-process endpoint");
    registerLocalEndpoint(stack.sync.url, syncEndpoint)();
    try {
      for (let round = 0; round < cfg.pullRounds; round++) {
        const got = await gatewayPull(bench, null, httpPageMs);
        if (got.rows !== pushRows) throw new Error(`pulled ${got.rows} rows through the gateway over HTTP; pushed ${pushRows}`);
      }
    } finally {
      registerLocalEndpoint(stack.sync.url, syncEndpoint);
    }
    const pulledRows = pushRows * cfg.pullRounds;
    const httpPullRate = pulledRows / (sum(httpPageMs) / 1000);
    const gwPullRate = pulledRows / (sum(gwPageMs) / 1000);
    const dbPullRate = pulledRows / (sum(dbPageMs) / 1000);
    const directPullRate = pulledRows / (sum(directPageMs) / 1000);
    say(`  pull through the gateway: ${pullGw.describe()}`);
    say(`  pull ceiling (raw keyset): ${pullDb.describe()}`);
    say(`  pull: SQL execution time ${Math.round(pullSql.totalMs)} ms of ${Math.round(pullGw.wallMs)} ms gateway wall time; top statements:`);
    for (const line of pullSql.lines) say(line);
    for (const line of profiler.summary("pull-gateway")) say(line);

    // ---- 3. stream ------------------------------------------------------------------------------------------------
    let liveCounter = 0;
    const livePush = async () => {
      const docs = Array.from({ length: cfg.streamRows }, () => makeDoc("live", liveCounter++));
      const sentAt = nowMs();
      await gatewayBatch(bench, pushBody(docs, `live-${liveCounter}`), docs.length);
      return { ids: docs.map((d) => d.id as string), sentAt, ackAt: nowMs() };
    };
    // What a push costs in statements with nobody subscribed: subtracted from the figures with subscribers.
    const baseline = { total: 0, recordReads: 0 };
    const aloneAckMs: number[] = [];
    for (let i = 0; i < BASELINE_PUSHES; i++) {
      const before = await statementCounts(db);
      const push = await livePush();
      aloneAckMs.push(push.ackAt - push.sentAt);
      await sleep(300);
      const after = await statementCounts(db);
      baseline.total += after.total - before.total;
      baseline.recordReads += after.recordReads - before.recordReads;
    }
    head = (await gatewayPull(bench, head, [])).checkpoint;

    const clients = await StreamClients.start({ url: stack.gateway.wsUrl, token: bench.token, sockets: cfg.sockets, subscriptions: cfg.subscriptions, collections: [COLLECTION], checkpoint: head });
    cleanup.push(() => clients.close());
    // Every subscription is live once it has delivered a first push (one that lands before a subscription is set up
    // still reaches it: it reads after its checkpoint when it starts).
    const openedAt = nowMs();
    for (let attempt = 1; ; attempt++) {
      const { ids } = await livePush();
      const times = await clients.waitFor(ids, 120_000);
      const missing = times.filter((t) => Number.isNaN(t)).length;
      if (!missing) break;
      if (attempt === 3) throw new Error(`${missing} of ${cfg.subscriptions} subscriptions never delivered a change: ${JSON.stringify(await clients.stats())}`);
    }
    const setupMs = nowMs() - openedAt;
    const fanOut = stack.gateway.subscriptions.stats();
    await clients.waitFor((await livePush()).ids, 120_000); // one more for the JIT
    await sleep(500);

    await resetStatements(db);
    const streamMeter = new PhaseMeter(pgPid);
    const latencies: number[] = [];
    const fromSend: number[] = [];
    const allDelivered: number[] = [];
    const ackMs: number[] = [];
    let missing = 0;
    const counted = { total: 0, recordReads: 0 };
    await profiler.profile("stream", () =>
      streamMeter.measure(async () => {
        for (let i = 0; i < cfg.streamPushes; i++) {
          const before = await statementCounts(db);
          const push = await livePush();
          const times = await clients.waitFor(push.ids, 60_000);
          await sleep(300); // stragglers: reads that deliver nothing are still reads
          const after = await statementCounts(db);
          counted.total += after.total - before.total;
          counted.recordReads += after.recordReads - before.recordReads;
          ackMs.push(push.ackAt - push.sentAt);
          let last = -Infinity;
          for (const t of times) {
            if (Number.isNaN(t)) {
              missing++;
              continue;
            }
            latencies.push(t - push.ackAt);
            fromSend.push(t - push.sentAt);
            last = Math.max(last, t);
          }
          if (last > -Infinity) allDelivered.push(last - push.ackAt);
        }
      }),
    );
    const streamSql = await topStatements(db);
    const stats = await clients.stats();
    const readsPerBatch = counted.recordReads / cfg.streamPushes - baseline.recordReads / BASELINE_PUSHES;
    const statementsPerBatch = counted.total / cfg.streamPushes - baseline.total / BASELINE_PUSHES;
    say(`  stream (${cfg.streamPushes} pushes, including 300 ms settle after each): ${streamMeter.describe()}`);
    say(`  stream: SQL execution time ${Math.round(streamSql.totalMs)} ms; top statements:`);
    for (const line of streamSql.lines) say(line);
    for (const line of profiler.summary("stream")) say(line);
    if (stats.errors.length) say(`  stream errors: ${stats.errors.join("; ")}`);

    const figures: Figures = {
      "setup": `in-process stack (gateway with guards + 4 subgraphs, called in-process as the embedded default does), embedded PostgreSQL (fsync on), pub/sub ${process.env.REDIS_URL ? "redis" : "memory"}${profiler.enabled ? ", CPU PROFILER ON (figures include its overhead)" : ""}`,
      "machine load (1-min average) at start / end": `${loadAtStart.toFixed(2)} / ${loadavg()[0].toFixed(2)} (2 cores: above ~1.5, other work competes with the run)`,
      "document size avg (bytes)": Math.round(docBytes),
      "push: rows": `${pushRows} (${cfg.pushBatches} batches of ${BATCH_ROWS}, one client, ${cfg.idempotent ? "with" : "without"} clientId+mutationId, JSON Schema validated)`,
      "push: gateway rows/s": round(gwPushRate, 0),
      "push: PostgreSQL UNNEST upsert rows/s (ceiling)": round(dbPushRate, 0),
      "push: ratio gateway/ceiling (target >= 0.40)": round(gwPushRate / dbPushRate, 3),
      "push: gateway ms per batch p50 / p99": `${round(pct(gwBatchMs, 0.5), 1)} / ${round(pct(gwBatchMs, 0.99), 1)}`,
      "push: ceiling ms per batch p50 / p99": `${round(pct(dbBatchMs, 0.5), 1)} / ${round(pct(dbBatchMs, 0.99), 1)}`,
      "push: sync subgraph direct rows/s (no gateway hop; same rows, another tenant)": round(directPushRate, 0),
      "push: ratio sync-direct/ceiling": round(directPushRate / dbPushRate, 3),
      "push: sync-direct ms per batch p50": round(pct(directBatchMs, 0.5), 1),
      "pull: rows": `${pushRows} per round x ${cfg.pullRounds} rounds, pages of ${PAGE_ROWS} (tables analysed first)`,
      "pull: gateway rows/s": round(gwPullRate, 0),
      "pull: raw keyset rows/s (ceiling)": round(dbPullRate, 0),
      "pull: ratio gateway/ceiling (target >= 0.50)": round(gwPullRate / dbPullRate, 3),
      "pull: gateway ms per page p50 / p99": `${round(pct(gwPageMs, 0.5), 1)} / ${round(pct(gwPageMs, 0.99), 1)}`,
      "pull: raw ms per page p50 / p99": `${round(pct(dbPageMs, 0.5), 1)} / ${round(pct(dbPageMs, 0.99), 1)}`,
      "pull: sync subgraph direct rows/s (no gateway hop)": round(directPullRate, 0),
      "pull: ratio sync-direct/ceiling": round(directPullRate / dbPullRate, 3),
      "pull: sync-direct ms per page p50": round(pct(directPageMs, 0.5), 1),
      "pull: gateway with subgraphs over loopback HTTP (distributed layout) rows/s / ratio": `${round(httpPullRate, 0)} / ${round(httpPullRate / dbPullRate, 3)}`,
      "stream: subscriptions": `${cfg.subscriptions} on ${cfg.sockets} WebSockets to one gateway, at the head; ${cfg.streamPushes} pushes of ${cfg.streamRows} rows`,
      "stream: time until all subscriptions delivered a first push (ms)": Math.round(setupMs),
      "stream: latency push ack -> receipt p50 ms": round(pct(latencies, 0.5), 1),
      "stream: latency push ack -> receipt p99 ms": round(pct(latencies, 0.99), 1),
      "stream: latency push ack -> receipt max ms": round(Math.max(...latencies), 1),
      "stream: latency push sent -> receipt p50 / p99 ms": `${round(pct(fromSend, 0.5), 1)} / ${round(pct(fromSend, 0.99), 1)}`,
      "stream: last subscriber after ack, per push p50 / max ms": `${round(pct(allDelivered, 0.5), 1)} / ${round(Math.max(...allDelivered), 1)}`,
      "stream: push ack ms p50 with subscribers / without": `${round(pct(ackMs, 0.5), 1)} / ${round(pct(aloneAckMs, 0.5), 1)}`,
      "stream: gateway upstream subscriptions / upstream sockets": `${fanOut.upstreams} / ${fanOut.connections}`,
      "stream: deliveries missing (60 s) / duplicated": `${missing} / ${stats.duplicates}`,
      "stream: sync.record reads per pushed batch (pg_stat_statements, beyond the push's own; target: 1, shared)": round(readsPerBatch, 1),
      "stream: SQL statements per pushed batch, all (beyond the push's own)": round(statementsPerBatch, 1),
      "push alone: sync.record reads / statements per push": `${round(baseline.recordReads / BASELINE_PUSHES, 1)} / ${round(baseline.total / BASELINE_PUSHES, 1)}`,
      "stream: subscription errors": stats.errors.length,
    };
    return figures;
  } finally {
    for (const step of cleanup.reverse()) await step().catch((err) => logger.warn({ err }, "bench cleanup failed"));
  }
}

/**
 * Embedded PostgreSQL with pg_stat_statements loaded (it needs shared_preload_libraries, so: start, set, restart):
 * it counts every statement as it finishes, which is how the stream's reads per batch are measured.
 */
async function postgresWithStatementStats(dataDir: string): Promise<EmbeddedDatabase> {
  const first = await startEmbeddedPostgres({ dataDir, persistent: true });
  try {
    const admin = new pg.Client({ connectionString: first.urlFor("postgres") });
    await admin.connect();
    await admin.query("alter system set shared_preload_libraries = 'pg_stat_statements'");
    await admin.end();
  } finally {
    await first.stop();
  }
  return startEmbeddedPostgres({ dataDir, persistent: true });
}

async function resetStatements(db: pg.Client): Promise<void> {
  await db.query("select pg_stat_statements_reset()");
}

async function statementCounts(db: pg.Client): Promise<{ total: number; recordReads: number }> {
  const { rows } = await db.query(STATEMENT_COUNTS);
  return { total: Number(rows[0].total), recordReads: Number(rows[0].record_reads) };
}

/** The statements that took the most execution time since the last reset (the bench's own excluded). */
async function topStatements(db: pg.Client): Promise<{ totalMs: number; lines: string[] }> {
  const { rows } = await db.query(TOP_SQL);
  const all = await db.query(`select coalesce(sum(total_exec_time), 0) as ms ${STACK_STATEMENTS}`);
  const lines = rows.map(
    (r) => `    ${Number(r.ms).toFixed(0).padStart(7)} ms ${String(r.calls).padStart(7)} calls ${(Number(r.ms) / Number(r.calls)).toFixed(2).padStart(7)} ms/call  ${String(r.query).slice(0, 150)}`,
  );
  return { totalMs: Number(all.rows[0].ms), lines };
}

function gatewayClient(stack: RunningStack) {
  /** POSTs to the gateway (or `url`: the sync subgraph itself, for the figures without the gateway hop). */
  const post = async (body: string, token?: string, url = stack.gateway.url): Promise<any> => {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body,
    });
    return res.json();
  };
  const call = async (query: string, variables: Record<string, unknown>, token?: string): Promise<any> => {
    const res = await post(JSON.stringify({ query, variables }), token);
    if (res.errors?.length) throw new Error(`${query.slice(0, 40)}: ${JSON.stringify(res.errors)}`);
    return res.data;
  };
  return {
    post,
    call,
    async tenant(slug: string): Promise<Login> {
      const seeded = await ensureTenantWithAdmin(stack.tenants.orm, { slug, name: slug, adminEmail: `admin@${slug}.example` });
      const data = await call(LOGIN, { input: { tenant: slug, email: seeded.adminEmail, password: seeded.adminPassword } });
      return { tenantId: seeded.tenantId, userId: seeded.adminUserId, token: data.login.accessToken };
    },
  };
}

const WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu".split(" ");
const STATUSES = ["open", "active", "blocked", "done"];

/** Deterministic words (no two neighbours alike) so documents differ but every run pushes the same bytes. */
function words(seed: number, n: number): string {
  let s = (seed * 2654435761) >>> 0;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out.push(WORDS[(s >>> 8) % WORDS.length]);
  }
  return out.join(" ");
}

/** A task-like document of about 300 bytes of JSON. */
function makeDoc(prefix: string, i: number): Doc {
  return {
    id: `${prefix}-${String(i).padStart(7, "0")}`,
    title: `Task ${i}: ${words(i, 4)}`,
    body: words(i + 7, 17),
    status: STATUSES[i % 4],
    priority: i % 5,
    tags: [WORDS[i % 26], WORDS[(i * 7) % 26]],
    assignee: `user-${i % 97}`,
    estimateHours: (i % 13) * 1.5,
    done: i % 3 === 0,
    due: new Date(Date.UTC(2026, i % 12, 1 + (i % 28))).toISOString(),
  };
}

function int(name: string, fallback: number): number {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer`);
  return v;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = nowMs();
  await fn();
  return nowMs() - t0;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sum = (xs: number[]) => xs.reduce((t, x) => t + x, 0);
const mean = (xs: number[]) => sum(xs) / xs.length;
const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Nearest-rank percentile. */
function pct(xs: number[], q: number): number {
  if (!xs.length) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
