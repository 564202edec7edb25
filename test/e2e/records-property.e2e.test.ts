// Property tests of the sync engine through the gateway:
//  1. Many concurrent writers (compare-and-set from their own possibly stale view, pushes retried after artificial
//     timeouts: sent twice at once, again later, or cut off mid-request), concurrent pullers paging with random limits,
//     and live subscribers while half the pub/sub wake-ups are dropped: every puller and subscriber ends with exactly
//     the server's final state, no change is missed or delivered twice, and every mutation is applied exactly once.
//  2. Exactly-once across a process kill: the sync subgraph (its own process) is SIGKILLed with a push in flight,
//     before and after its commit, restarted, and the retried push is applied exactly once.
//
// Randomized with a seeded PRNG: the seed is printed; replay a failure with E2E_SEED=<seed>.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import equal from "fast-deep-equal";
import { print } from "graphql";
import { createClient, type Client } from "graphql-ws";
import pg from "pg";
import WebSocket from "ws";
import { CreateCollectionDocument, PullChangesDocument, PushChangesDocument, RecordsChangedDocument, type PullChangesQuery, type PushChangesMutation } from "../__generated__/graphql.js";
import { startGatewayProcess, startSyncProcess, startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";
import { gqlAt, prng, pulledState, sleep, waitUntil } from "./e2e-helpers.js";
import { RECORD_VERSIONS } from "../../subgraphs/sync/records/record-writer.js";
import { STREAM_POLL_MS, recordsChannel } from "../../subgraphs/sync/records/records.service.js";

type Doc = Record<string, unknown> & { id: string };
type Row = { assumedMasterState: Doc | null; newDocumentState: Record<string, unknown> };
type Answer = PushChangesMutation["pushChanges"];
const COLLECTION = "items";
const SCHEMA = { type: "object", properties: { n: { type: "integer", minimum: 1 }, w: { type: "string" }, val: { type: "number" } }, required: ["n", "w"] };

const seed = Number(process.env.E2E_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** The server's state of the collection, pulled from the start, and its head checkpoint. */
const serverState = (url: string, token: string) => pulledState<Doc>(url, token, COLLECTION);

/** Per document, the version counter `n` a reader sees must only go up: a repeat or a step back is a violation. */
class Materialized {
  readonly state = new Map<string, Doc>();
  readonly violations: string[] = [];
  versionsSeen = 0;
  constructor(readonly name: string) {}
  apply(docs: Doc[]): void {
    for (const doc of docs) {
      this.versionsSeen++;
      const before = this.state.get(doc.id);
      if (before && !((doc.n as number) > (before.n as number))) this.violations.push(`${this.name}: ${doc.id} n=${before.n} then n=${doc.n}`);
      this.state.set(doc.id, doc);
    }
  }
}

class Subscriber extends Materialized {
  checkpoint: string | null = null;
  ended = false;
  error: unknown;
  reconnects = 0;
  private client?: Client;
  private sockets: WebSocket[] = [];
  constructor(
    name: string,
    private readonly wsUrl: string,
    private readonly token: string,
  ) {
    super(name);
  }

  connect(): void {
    void this.client?.dispose();
    const sockets = (this.sockets = []) as WebSocket[];
    class TrackedWebSocket extends WebSocket {
      constructor(...args: ConstructorParameters<typeof WebSocket>) {
        super(...args);
        sockets.push(this);
      }
    }
    this.ended = false;
    const client = (this.client = createClient({ url: this.wsUrl, webSocketImpl: TrackedWebSocket, retryAttempts: 0, lazy: true, connectionParams: { authorization: `Bearer ${this.token}` } }));
    client.subscribe<{ recordsChanged: { documents: Doc[]; checkpoint: string } }>(
      { query: print(RecordsChangedDocument), variables: { collections: [COLLECTION], checkpoint: this.checkpoint } },
      {
        next: (r) => {
          if (client !== this.client) return;
          if (r.errors?.length || !r.data) return void this.violations.push(`${this.name}: stream error ${JSON.stringify(r.errors)}`);
          this.apply(r.data.recordsChanged.documents);
          this.checkpoint = r.data.recordsChanged.checkpoint;
        },
        error: (err) => {
          if (client !== this.client) return;
          this.error = err;
          this.ended = true;
        },
        complete: () => {
          if (client === this.client) this.ended = true;
        },
      },
    );
  }

  /** Cuts the connection (no close handshake) and resumes from the last checkpoint once the stream noticed. */
  async reconnect(): Promise<void> {
    for (const s of this.sockets) s.terminate();
    await waitUntil(() => this.ended, `${this.name}: stream to notice the cut`, 10_000);
    this.reconnects++;
    this.connect();
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.dispose();
  }
}

const quantile = (values: number[], q: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))];

interface Mutation {
  writer: number;
  id: string;
  idempotent: boolean;
  mode: "once" | "twice-at-once" | "again-later" | "cut-off" | "plain";
  rows: Row[];
  /** Row indexes we made invalid on purpose, with the code they must be rejected with. */
  invalid: Map<number, string>;
  answers: Answer[];
  /** Sends cut off before an answer arrived (they may or may not have reached the server). */
  cutOff: number;
}

describe("records: property test (concurrent writers, retries, pullers, subscribers, dropped wake-ups)", () => {
  let t: TestStack;
  let who: TenantLogin;
  let db: pg.Client;
  const wakeups = { published: 0, dropped: 0 };
  const dropRandom = prng(seed ^ 0x5bd1e995);
  let channel = "";

  beforeAll(async () => {
    process.stdout.write(`records-property seed: E2E_SEED=${seed}\n`);
    t = await startTestStack({
      // Drop about half of the wake-ups of the records streams: they must still deliver everything (own cursor + re-read).
      dropPublish: (topic) => {
        if (topic !== channel) return false;
        wakeups.published++;
        const drop = dropRandom() < 0.5;
        if (drop) wakeups.dropped++;
        return drop;
      },
    });
    who = await t.tenant("property");
    channel = recordsChannel(who.tenantId);
    const res = await t.request(CreateCollectionDocument, { input: { name: COLLECTION, jsonSchema: SCHEMA } }, who.token);
    expect(res.errors).toBeUndefined();
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
  }, 60_000);
  afterAll(async () => {
    await db?.end();
    await t?.stop();
  });

  it("every puller and subscriber ends with exactly the server's state; every mutation applied exactly once", async () => {
    const WRITERS = 6;
    const MUTATIONS = 30;
    const SHARED = Array.from({ length: 10 }, (_, i) => `s${i}`);
    const privateIds = (w: number) => Array.from({ length: 6 }, (_, i) => `p${w}-${i}`);
    const mutations: Mutation[] = [];
    const pushMs: number[] = [];
    let writersDone = false;

    // --- readers -------------------------------------------------------------------------------------------------
    const subscribers = [0, 1, 2].map((i) => new Subscriber(`subscriber-${i}`, t.wsUrl, who.token));
    const lateSubscriber = new Subscriber("subscriber-late", t.wsUrl, who.token);
    for (const s of subscribers) s.connect();
    const flaky = subscribers[2]!; // loses its connection every now and then, resumes from its checkpoint
    const flakyLoop = (async () => {
      const r = prng(seed + 7);
      while (!writersDone) {
        await sleep(300 + Math.floor(r() * 700));
        if (!writersDone) await flaky.reconnect();
      }
    })();

    const pullerRuns = [0, 1, 2].map(async (p) => {
      const r = prng(seed + 100 + p);
      const m = new Materialized(`puller-${p}`);
      let checkpoint: string | null = null;
      let pages = 0;
      for (;;) {
        const finished = writersDone;
        const limit = 1 + Math.floor(r() * 60);
        const res = await gqlAt(t.url, PullChangesDocument, { collections: [COLLECTION], checkpoint, limit }, who.token);
        if (!res.data) throw new Error(`${m.name}: pull failed: ${JSON.stringify(res)}`);
        const page: PullChangesQuery["pullChanges"] = res.data.pullChanges;
        pages++;
        if (page.hasMore && page.documents.length !== limit) m.violations.push(`${m.name}: short page ${page.documents.length}/${limit} with hasMore`);
        m.apply(page.documents as Doc[]);
        checkpoint = page.checkpoint ?? checkpoint;
        if (finished && !page.hasMore) return { m, pages };
        await sleep(Math.floor(r() * 30));
      }
    });

    // --- writers -------------------------------------------------------------------------------------------------
    const writerRuns = Array.from({ length: WRITERS }, async (_, w) => {
      // One generator per writer: its decisions replay with the seed whatever the interleaving.
      const random = prng(seed + 1000 * (w + 1));
      const int = (n: number) => Math.floor(random() * n);
      const view = new Map<string, Doc>(); // what this writer believes the server has
      for (let k = 0; k < MUTATIONS; k++) {
        if (w === 0 && k === MUTATIONS / 2) lateSubscriber.connect(); // joins halfway, from the start
        const shared = random() < 0.6;
        const pool = shared ? SHARED : privateIds(w);
        const ids = new Set<string>();
        const count = 1 + int(4);
        while (ids.size < count) ids.add(pool[int(pool.length)]!);
        const rows: Row[] = [...ids].map((id, i) => {
          const cur = view.get(id) ?? null;
          const del = !!cur && !cur._deleted && random() < 0.3;
          return { assumedMasterState: cur, newDocumentState: { id, n: ((cur?.n as number) ?? 0) + 1, w: `w${w}:m${k}:r${i}`, val: int(1000), _deleted: del } };
        });
        const invalid = new Map<number, string>();
        if (random() < 0.15) {
          invalid.set(rows.length, "SCHEMA_VIOLATION");
          rows.push({ assumedMasterState: null, newDocumentState: { id: `bad-${w}-${k}`, n: "not a number", w: "bad" } });
        }
        if (random() < 0.1) {
          invalid.set(rows.length, "BAD_USER_INPUT");
          rows.push({ assumedMasterState: null, newDocumentState: { n: 1, w: "no id" } });
        }
        const idempotent = random() < 0.8;
        const modes = ["once", "twice-at-once", "again-later", "cut-off"] as const;
        const mutation: Mutation = { writer: w, id: `w${w}-m${k}`, idempotent, mode: idempotent ? modes[int(modes.length)]! : "plain", rows, invalid, answers: [], cutOff: 0 };
        mutations.push(mutation);
        // Private documents are written with CLIENT_WINS: a duplicate application could not hide as a conflict there.
        const input = { collection: COLLECTION, rows, ...(shared ? {} : { strategy: "CLIENT_WINS" as const }), ...(idempotent ? { clientId: `writer-${w}`, mutationId: mutation.id } : {}) };
        const send = async (cutAfterMs?: number): Promise<void> => {
          const controller = new AbortController();
          const timer = cutAfterMs === undefined ? undefined : setTimeout(() => controller.abort(), cutAfterMs);
          const sentAt = Date.now();
          const res = await gqlAt(t.url, PushChangesDocument, { input }, who.token, controller.signal);
          clearTimeout(timer);
          if (res.data) pushMs.push(Date.now() - sentAt);
          if (res.data) mutation.answers.push(res.data.pushChanges);
          else if (res.networkError === "aborted") mutation.cutOff++;
          else throw new Error(`push ${mutation.id} failed: ${JSON.stringify(res)}`);
        };
        switch (mutation.mode) {
          case "plain":
          case "once":
            await send();
            break;
          case "twice-at-once":
            await Promise.all([send(), send()]);
            break;
          case "again-later":
            await send();
            await sleep(20 + int(300));
            await send();
            break;
          case "cut-off":
            // The client gives up after a few ms (the request may or may not have reached the server), then retries
            // until it gets an answer.
            await send(int(40));
            while (!mutation.answers.length) await send(mutation.cutOff < 3 ? int(80) : undefined);
            break;
        }
        // Learn from the answer: applied rows are now the server state; conflicts carry the server state.
        const answer = mutation.answers[0]!;
        const rejected = new Set(answer.rejected.map((r) => r.index));
        const conflicted = new Set((answer.conflicts as Doc[]).map((d) => d.id));
        rows.forEach((row, i) => {
          const id = row.newDocumentState.id as string;
          if (!rejected.has(i) && !conflicted.has(id)) view.set(id, { ...row.newDocumentState, id, _deleted: row.newDocumentState._deleted === true });
        });
        for (const d of answer.conflicts as Doc[]) view.set(d.id, d);
        await sleep(int(20));
      }
    });
    const startedAt = Date.now();
    await Promise.all(writerRuns);
    writersDone = true;
    const writingMs = Date.now() - startedAt;
    await flakyLoop;
    const pulled = await Promise.all(pullerRuns);
    const final = await serverState(t.url, who.token);

    // --- every reader ends with exactly the server's state -----------------------------------------------------------
    const readers = [...subscribers, lateSubscriber];
    const serverObj = Object.fromEntries(final.state);
    await waitUntil(() => readers.every((s) => equal(Object.fromEntries(s.state), serverObj)), "every subscriber to reach the server's state", 3 * STREAM_POLL_MS, 50).catch((err: Error) => {
      throw new Error(`${err.message} (seed ${seed}): ${JSON.stringify(readers.map((s) => ({ name: s.name, checkpoint: s.checkpoint, ended: s.ended, error: String(s.error ?? "") })))} head ${final.checkpoint}`);
    });
    const convergedMs = Date.now() - startedAt - writingMs;
    for (const { m } of pulled) {
      expect({ seed, reader: m.name, violations: m.violations }).toEqual({ seed, reader: m.name, violations: [] });
      expect({ seed, reader: m.name, state: Object.fromEntries(m.state) }).toEqual({ seed, reader: m.name, state: serverObj });
    }
    for (const s of readers) {
      expect({ seed, reader: s.name, violations: s.violations, ended: s.ended }).toEqual({ seed, reader: s.name, violations: [], ended: false });
      expect({ seed, reader: s.name, state: Object.fromEntries(s.state) }).toEqual({ seed, reader: s.name, state: serverObj });
    }

    // --- every mutation was applied exactly once ---------------------------------------------------------------------
    const appliedWrites = new Map<string, Record<string, unknown>[]>(); // per document, the rows the server applied
    let retriedAnswers = 0;
    for (const m of mutations) {
      const where = { seed, mutation: m.id, mode: m.mode };
      expect({ ...where, answered: m.answers.length > 0 }).toEqual({ ...where, answered: true });
      // Every answer to one mutation is the same answer; at most one of them did the work (exactly one if no send was
      // cut off: a cut-off send may have done it, then every answer we got is a replay).
      const strip = ({ replayed: _r, ...rest }: Answer) => rest;
      for (const a of m.answers.slice(1)) expect({ ...where, answer: strip(a) }).toEqual({ ...where, answer: strip(m.answers[0]!) });
      const fresh = m.answers.filter((a) => !a.replayed).length;
      retriedAnswers += m.answers.length - fresh;
      if (m.cutOff) expect({ ...where, fresh: fresh <= 1 }).toEqual({ ...where, fresh: true });
      else expect({ ...where, fresh }).toEqual({ ...where, fresh: 1 });
      const answer = m.answers[0]!;
      expect({ ...where, rejected: answer.rejected.map((r) => [r.index, r.code]) }).toEqual({ ...where, rejected: [...m.invalid].sort((a, b) => a[0] - b[0]) });
      const conflicted = new Set((answer.conflicts as Doc[]).map((d) => d.id));
      const applied = m.rows.filter((r, i) => !m.invalid.has(i) && !conflicted.has(r.newDocumentState.id as string));
      expect({ ...where, applied: answer.applied }).toEqual({ ...where, applied: applied.length });
      for (const r of applied) {
        const id = r.newDocumentState.id as string;
        appliedWrites.set(id, [...(appliedWrites.get(id) ?? []), r.newDocumentState]);
      }
    }
    // The server's own bookkeeping: versions of the stored records, and one push in the sync log per mutation.
    const { rows: stored } = await db.query<{ id: string; version: number }>("select id, version from sync.record where tenant_id = $1 and collection = $2", [who.tenantId, COLLECTION]);
    const versions = new Map(stored.map((r) => [r.id, r.version]));
    const { rows: historyRows } = await db.query<{ record_id: string; versions: number[] }>(
      `select record_id, array_agg(version order by version) as versions from ${RECORD_VERSIONS} v where tenant_id = $1 and collection = $2 group by record_id`,
      [who.tenantId, COLLECTION],
    );
    const history = new Map(historyRows.map((r) => [r.record_id, r.versions]));
    expect({ seed, documents: [...versions.keys()].sort() }).toEqual({ seed, documents: [...appliedWrites.keys()].sort() });
    expect([...final.state.keys()].sort()).toEqual([...appliedWrites.keys()].sort());
    for (const [id, writes] of appliedWrites) {
      const ns = writes.map((w) => w.n as number).sort((a, b) => a - b);
      const last = writes.find((w) => w.n === ns.at(-1))!;
      // Applied writes of a document carry n = 1, 2, 3, ...: each compare-and-set applied once, none lost, none twice.
      expect({ seed, id, ns }).toEqual({ seed, id, ns: Array.from({ length: ns.length }, (_, i) => i + 1) });
      expect({ seed, id, version: versions.get(id), history: history.get(id) }).toEqual({ seed, id, version: writes.length, history: ns });
      expect({ seed, id, doc: final.state.get(id) }).toEqual({ seed, id, doc: { ...last, _deleted: last._deleted === true } });
    }
    const { rows: runs } = await db.query<{ count: string }>("select count(*) from sync.sync_run where tenant_id = $1 and kind = 'PUSH'", [who.tenantId]);
    expect({ seed, pushRuns: Number(runs[0]!.count) }).toEqual({ seed, pushRuns: mutations.length });

    const byMode = Object.fromEntries(["plain", "once", "twice-at-once", "again-later", "cut-off"].map((mode) => [mode, mutations.filter((m) => m.mode === mode).length]));
    process.stdout.write(
      `property (seed ${seed}): ${mutations.length} mutations ${JSON.stringify(byMode)}, ${mutations.reduce((n, m) => n + m.cutOff, 0)} sends cut off, ` +
        `${retriedAnswers} replayed answers; ${[...appliedWrites.values()].reduce((n, w) => n + w.length, 0)} row writes applied to ${appliedWrites.size} documents, ` +
        `${mutations.reduce((n, m) => n + (m.answers[0]!.conflicts as unknown[]).length, 0)} conflicts; wake-ups ${wakeups.dropped}/${wakeups.published} dropped; ` +
        `pull pages ${pulled.map((p) => p.pages).join("/")}; subscriber versions seen ${readers.map((s) => s.versionsSeen).join("/")}, flaky reconnects ${flaky.reconnects}; ` +
        `push round trip p50 ${quantile(pushMs, 0.5)} ms p95 ${quantile(pushMs, 0.95)} ms; writing took ${writingMs} ms, readers converged ${convergedMs} ms later\n`,
    );
    expect(wakeups.dropped).toBeGreaterThan(0);
    expect(wakeups.published - wakeups.dropped).toBeGreaterThan(0);
    expect(flaky.reconnects).toBeGreaterThan(0);
    await Promise.all(readers.map((s) => s.close()));
  }, 120_000);

  it("exactly once across a process kill: a push in flight when the sync process is SIGKILLed, before or after its commit, applies once when retried", async () => {
    const victim = await t.tenant("kill");
    const res = await t.request(CreateCollectionDocument, { input: { name: COLLECTION, jsonSchema: SCHEMA } }, victim.token);
    expect(res.errors).toBeUndefined();
    let sync = await startSyncProcess(t);
    let gateway = await startGatewayProcess(t, { subgraphUrls: { sync: sync.url } });
    const ROWS = 300;
    const rowsOf = (tag: string) =>
      Array.from({ length: ROWS }, (_, i) => ({ assumedMasterState: null, newDocumentState: { id: `${tag}-${i}`, n: 1, w: `${tag}:${i}`, val: i, pad: "x".repeat(200) } }));
    const clientId = "crash-device";
    // CLIENT_WINS: a second application of the same rows would not be refused as a conflict, it would bump versions.
    const pushInput = (tag: string) => ({ collection: COLLECTION, clientId, mutationId: tag, strategy: "CLIENT_WINS" as const, rows: rowsOf(tag) });
    const pushVia = (url: string, tag: string) => gqlAt(url, PushChangesDocument, { input: pushInput(tag) }, victim.token);
    const restart = async (killGatewayToo: boolean) => {
      const [syncPort, gatewayPort] = [sync.port, gateway.port];
      await sync.kill("SIGKILL");
      if (killGatewayToo) await gateway.kill("SIGKILL");
      sync = await startSyncProcess(t, { port: syncPort });
      if (killGatewayToo) gateway = await startGatewayProcess(t, { port: gatewayPort, subgraphUrls: { sync: sync.url } });
    };
    /** Retries until an answer comes back (through the new processes); returns it. */
    const retry = async (tag: string): Promise<Answer> => {
      for (let i = 0; i < 100; i++) {
        const r = await pushVia(gateway.url, tag);
        if (r.data) return r.data.pushChanges;
        await sleep(100);
      }
      throw new Error(`no answer for ${tag}`);
    };
    /** Each pushed document exists once, at version 1; the mutation is in the sync log once and has one receipt. */
    const expectOnce = async (tag: string) => {
      const { rows } = await db.query<{ version: number; count: string }>(
        "select version, count(*) from sync.record where tenant_id = $1 and collection = $2 and id like $3 group by version",
        [victim.tenantId, COLLECTION, `${tag}-%`],
      );
      expect({ tag, versions: rows.map((r) => [r.version, Number(r.count)]) }).toEqual({ tag, versions: [[1, ROWS]] });
      const history = await db.query<{ n: string }>(`select count(*) as n from ${RECORD_VERSIONS} v where tenant_id = $1 and collection = $2 and record_id like $3`, [
        victim.tenantId,
        COLLECTION,
        `${tag}-%`,
      ]);
      expect({ tag, historyEntries: Number(history.rows[0]!.n) }).toEqual({ tag, historyEntries: ROWS });
      const receipts = await db.query("select 1 from sync.push_receipt where tenant_id = $1 and client_id = $2 and mutation_id = $3", [victim.tenantId, clientId, tag]);
      expect({ tag, receipts: receipts.rowCount }).toEqual({ tag, receipts: 1 });
      const runs = await db.query<{ count: string }>("select count(*) from sync.sync_run where tenant_id = $1 and kind = 'PUSH' and processed = $2", [victim.tenantId, ROWS]);
      return Number(runs.rows[0]!.count);
    };
    const committed = (tag: string) => db.query("select 1 from sync.push_receipt where tenant_id = $1 and client_id = $2 and mutation_id = $3", [victim.tenantId, clientId, tag]).then((r) => r.rowCount === 1);
    // The tenant's sequence row exists after a first push; holding its lock stops every push of the tenant mid-transaction.
    expect((await pushVia(gateway.url, "warm-up")).data?.pushChanges.applied).toBe(ROWS);
    const blocker = new pg.Client({ connectionString: t.databaseUrl });
    await blocker.connect();
    const holdSequence = async () => {
      await blocker.query("begin");
      await blocker.query("select 1 from sync.tenant_seq where tenant_id = $1 for update", [victim.tenantId]);
    };
    const waitingPushes = async () =>
      Number((await db.query<{ n: string }>("select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and pid <> $1", [(blocker as unknown as { processID: number }).processID])).rows[0]!.n);
    try {
      let runsSoFar = await expectOnce("warm-up");

      // (a) Killed before its commit: the push is stopped inside its transaction, then the process dies.
      await holdSequence();
      const inFlight = pushVia(gateway.url, "before-commit");
      await waitUntil(async () => (await waitingPushes()) > 0, "the push to wait inside its transaction", 10_000);
      await sync.kill("SIGKILL");
      await blocker.query("rollback");
      expect((await inFlight).data).toBeFalsy(); // the client got no answer
      await waitUntil(async () => (await waitingPushes()) === 0, "the dead process's transaction to end", 10_000);
      expect(await committed("before-commit")).toBe(false);
      sync = await startSyncProcess(t, { port: sync.port });
      const a = await retry("before-commit");
      expect(a).toMatchObject({ applied: ROWS, replayed: false, conflicts: [], rejected: [] });
      expect(await expectOnce("before-commit")).toBe(++runsSoFar);

      // (b) Killed after its commit, before the answer reached the client: the gateway is frozen while the push commits,
      // then both processes are killed; the retry gets the stored answer and nothing is applied again.
      await holdSequence();
      const answerLost = pushVia(gateway.url, "after-commit");
      await waitUntil(async () => (await waitingPushes()) > 0, "the push to wait inside its transaction", 10_000);
      gateway.signal("SIGSTOP");
      await blocker.query("rollback");
      await waitUntil(() => committed("after-commit"), "the push to commit", 10_000);
      await restart(true);
      expect((await answerLost).data).toBeFalsy();
      const b = await retry("after-commit");
      expect(b).toMatchObject({ applied: ROWS, replayed: true, conflicts: [], rejected: [] });
      expect(await expectOnce("after-commit")).toBe(++runsSoFar);

      // (c) Killed at random moments of a push (seeded), retried each time.
      const r = prng(seed + 99);
      const started = Date.now();
      expect((await pushVia(gateway.url, "timing")).data?.pushChanges.applied).toBe(ROWS);
      const duration = Date.now() - started;
      runsSoFar = await expectOnce("timing");
      const outcomes = { fresh: 0, replayed: 0 };
      for (let i = 0; i < 3; i++) {
        const tag = `random-${i}`;
        const pending = pushVia(gateway.url, tag);
        await sleep(Math.floor(r() * duration * 1.5));
        await restart(false);
        await pending;
        const answer = await retry(tag);
        expect({ tag, applied: answer.applied }).toEqual({ tag, applied: ROWS });
        outcomes[answer.replayed ? "replayed" : "fresh"]++;
        expect(await expectOnce(tag)).toBe(++runsSoFar);
      }
      process.stdout.write(`process kill (seed ${seed}): push of ${ROWS} rows takes ${duration} ms; random kills: ${JSON.stringify(outcomes)} (replayed = committed before the kill)\n`);
    } finally {
      // A failure must not leave the sequence row locked or the gateway frozen for the stack's shutdown.
      await blocker.end().catch(() => undefined);
      gateway.signal("SIGCONT");
    }
  }, 120_000);
});
