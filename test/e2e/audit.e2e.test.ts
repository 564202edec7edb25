// Issue 6 (audit trail): the per-tenant hash chain and its verification, filtered keyset paging of auditEvents, and
// the streamed CSV export through the gateway's public port.
import { randomUUID } from "node:crypto";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import { AuditEventsPageDocument, IdentityPlatformLoginDocument, VerifyAuditChainDocument, type AuditEventsPageQuery } from "../__generated__/graphql.js";
import { startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";
import { codesOf, waitUntil } from "./e2e-helpers.js";
import { internalHeaders } from "../../kernel/internal-auth.js";
import { AUDIT_EVENTS_PATH } from "../../kernel/outbox.js";
import type { AuditRecord } from "../../kernel/topics.js";
import { createPlatformUser } from "../../subgraphs/tenants/platform/platform.service.js";
import { PlatformRole } from "../../subgraphs/tenants/platform/platform-user.entity.js";

type Node = AuditEventsPageQuery["auditEvents"]["nodes"][number];

/** RFC 4180 parser, fed chunk by chunk (keeps only the current row). */
class CsvRows {
  rows = 0;
  header?: string[];
  private field = "";
  private row: string[] = [];
  private quoted = false;
  private quoteSeen = false;
  constructor(private readonly onRow: (row: string[]) => void) {}
  push(text: string): void {
    for (const ch of text) {
      if (this.quoted) {
        if (ch === '"') {
          this.quoted = false;
          this.quoteSeen = true;
        } else this.field += ch;
        continue;
      }
      if (ch === '"') {
        if (this.quoteSeen) this.field += '"';
        this.quoted = true;
        this.quoteSeen = false;
        continue;
      }
      this.quoteSeen = false;
      if (ch === ",") {
        this.row.push(this.field);
        this.field = "";
      } else if (ch === "\n") {
        this.row.push(this.field);
        this.field = "";
        const row = this.row;
        this.row = [];
        if (!this.header) this.header = row;
        else {
          this.rows++;
          this.onRow(row);
        }
      } else this.field += ch;
    }
  }
}

describe("audit trail", () => {
  let t: TestStack;
  let a: TenantLogin;
  let b: TenantLogin;
  let db: pg.Client;
  const exportUrl = (query: Record<string, string>) => {
    const u = new URL("/audit/export.csv", t.url);
    for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
    return u.toString();
  };
  const record = (tenant: TenantLogin, over: Partial<AuditRecord> = {}): AuditRecord => ({
    id: randomUUID(),
    tenantId: tenant.tenantId,
    actorType: "USER",
    actorId: tenant.userId,
    action: "test.thing.changed",
    targetType: "Thing",
    targetId: randomUUID(),
    requestId: randomUUID(),
    // Keys deliberately unsorted: jsonb reorders them, the canonical hash must not care.
    changes: { zeta: { before: 1, after: 2 }, alpha: { before: "x", after: null } },
    metadata: { b: [1, { y: 2, x: 1 }], a: "é ✓" },
    occurredAt: new Date().toISOString(),
    ...over,
  });
  // Delivers records as the services' outbox relays do: POSTed to the audit subgraph's internal endpoint, each one
  // its own batch here so that they arrive concurrently (the ingest serialises per tenant).
  const deliver = async (recs: AuditRecord[]) => {
    const url = new URL(AUDIT_EVENTS_PATH, t.stack.audit.url);
    const statuses = await Promise.all(
      recs.map(async (r) => (await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...internalHeaders(t.secrets.internal) }, body: JSON.stringify({ events: [r] }) })).status),
    );
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
  };
  const stored = async (tenantId: string, prefix = "test.") =>
    Number((await db.query(`select count(*) from audit.audit_event where tenant_id = $1 and action like $2`, [tenantId, `${prefix}%`])).rows[0].count);
  const chained = async (tenantId: string) =>
    Number((await db.query(`select count(*) from audit.audit_event where tenant_id = $1 and chain_seq is not null`, [tenantId])).rows[0].count);
  const verify = async (token: string, vars: { from?: string; to?: string; tenantId?: string } = {}) => t.request(VerifyAuditChainDocument, vars, token);

  beforeAll(async () => {
    t = await startTestStack();
    a = await t.tenant("audit-a");
    b = await t.tenant("audit-b");
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await t?.stop();
  });

  describe("hash chain", () => {
    const ids: string[] = [];
    beforeAll(async () => {
      // 40 events for A published at once (the ingest serialises per tenant), 5 for B, and one of A's delivered twice.
      const recs = Array.from({ length: 40 }, (_, i) => record(a, { action: `test.chain.${i % 4}`, occurredAt: new Date(Date.UTC(2030, 0, 1, 0, 0, i)).toISOString() }));
      ids.push(...recs.map((r) => r.id));
      await deliver([...recs, ...Array.from({ length: 5 }, () => record(b)), recs[7]!]);
      await waitUntil(async () => (await stored(a.tenantId, "test.chain.")) === 40 && (await stored(b.tenantId)) === 5, "45 events stored", 15_000);
      // A redelivery after the fact does not extend the chain either.
      await deliver([recs[3]!]);
    });

    it("refuses events posted without the service secret (or with a wrong one): nothing forged is chained", async () => {
      const forged = record(a, { action: "test.forged" });
      const url = new URL(AUDIT_EVENTS_PATH, t.stack.audit.url);
      for (const headers of [{}, internalHeaders("x".repeat(64))]) {
        const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ events: [forged] }) });
        expect(res.status).toBe(401);
      }
      expect(await stored(a.tenantId, "test.forged")).toBe(0);
    });

    it("numbers each tenant's events 1..n without gaps, once per event id, and verifies", async () => {
      await new Promise((r) => setTimeout(r, 300));
      const { rows } = await db.query(`select chain_seq::int as seq, id, hash from audit.audit_event where tenant_id = $1 and chain_seq is not null order by chain_seq`, [a.tenantId]);
      expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
      expect(rows.filter((r) => ids.includes(r.id))).toHaveLength(40);
      expect(new Set(rows.map((r) => r.hash)).size).toBe(rows.length);
      for (const r of rows) expect(r.hash).toMatch(/^[0-9a-f]{64}$/);
      const res = await verify(a.token);
      expect(res.errors).toBeUndefined();
      expect(res.data?.verifyAuditChain).toEqual({ ok: true, checked: rows.length, firstBrokenSeq: null, firstBrokenEventId: null, reason: null });
    });

    it("reports the first broken link after a row is edited in the database; other tenants and earlier ranges stay ok", async () => {
      const victim = (await db.query(`select id, chain_seq::int as seq, occurred_at from audit.audit_event where id = $1`, [ids[20]])).rows[0];
      const later = (await db.query(`select id, chain_seq::int as seq from audit.audit_event where id = $1`, [ids[30]])).rows[0];
      await db.query(`update audit.audit_event set metadata = jsonb_set(metadata, '{a}', '"edited"') where id = $1`, [victim.id]);
      // A later row edited too: still the first one is reported.
      await db.query(`update audit.audit_event set action = 'test.chain.hidden' where id = $1`, [later.id]);
      const res = await verify(a.token);
      expect(res.data?.verifyAuditChain).toMatchObject({ ok: false, firstBrokenSeq: victim.seq, firstBrokenEventId: victim.id, checked: victim.seq - 1 });
      expect(res.data?.verifyAuditChain.reason).toMatch(/hash/);
      // A range that ends before the edit still verifies.
      const before = await verify(a.token, { to: new Date(victim.occurred_at.getTime() - 1).toISOString() });
      expect(before.data?.verifyAuditChain).toMatchObject({ ok: true, firstBrokenSeq: null });
      expect(before.data!.verifyAuditChain.checked).toBeGreaterThan(0);
      // Tenant B's chain is untouched.
      expect((await verify(b.token)).data?.verifyAuditChain).toMatchObject({ ok: true, checked: await chained(b.tenantId) });
      // Recomputing the edited row's own hash does not hide it: the next link breaks instead.
      await db.query(`update audit.audit_event set metadata = jsonb_set(metadata, '{a}', '"é ✓"') where id = $1`, [victim.id]);
      const restored = await verify(a.token);
      expect(restored.data?.verifyAuditChain).toMatchObject({ ok: false, firstBrokenSeq: later.seq, firstBrokenEventId: later.id });
      // A deleted event is a gap.
      await db.query(`update audit.audit_event set action = 'test.chain.2' where id = $1`, [later.id]);
      expect((await verify(a.token)).data?.verifyAuditChain.ok).toBe(true);
      await db.query(`delete from audit.audit_event where id = $1`, [ids[10]]);
      const gap = await verify(a.token);
      expect(gap.data?.verifyAuditChain).toMatchObject({ ok: false });
      expect(gap.data?.verifyAuditChain.reason).toMatch(/missing/);
    });

    it("platform operators name the tenant; tenant callers cannot", async () => {
      const email = `audit-${randomUUID().slice(0, 8)}@ops.example`;
      const password = `Pw-${randomUUID()}`;
      await createPlatformUser(t.stack.tenants.orm.em.fork(), { email, role: PlatformRole.SUPPORT, password });
      const op = (await t.request(IdentityPlatformLoginDocument, { input: { email, password } })).data!.platformLogin.accessToken;
      expect((await verify(op, { tenantId: b.tenantId })).data?.verifyAuditChain).toMatchObject({ ok: true, checked: await chained(b.tenantId) });
      expect(codesOf(await verify(op))).toEqual(["BAD_USER_INPUT"]);
      expect(codesOf(await verify(a.token, { tenantId: b.tenantId }))).toEqual(["FORBIDDEN"]);
      expect(codesOf(await verify(""))).toEqual(["UNAUTHENTICATED"]);
    });
  });

  describe("auditEvents: filters and keyset paging", () => {
    const actor = randomUUID();
    const target = randomUUID();
    beforeAll(async () => {
      const base = Date.UTC(2031, 5, 1);
      // 23 events, several sharing one timestamp (the id breaks ties), a few with a distinct actor / target / text.
      const recs = Array.from({ length: 23 }, (_, i) =>
        record(a, {
          action: i % 2 ? "test.page.odd" : "test.page.even",
          occurredAt: new Date(base + Math.floor(i / 3) * 1000).toISOString(),
          actorId: i < 4 ? actor : a.userId,
          targetId: i === 5 ? target : randomUUID(),
          metadata: i === 9 ? { note: "Needle in the haystack" } : null,
        }),
      );
      await deliver(recs);
      await waitUntil(async () => (await stored(a.tenantId, "test.page.")) === 23, "23 page events stored", 15_000);
    });
    const page = (token: string, vars: { filter?: Record<string, unknown>; first: number; after?: string | null }) =>
      t.request(AuditEventsPageDocument, vars as never, token);

    it("walks every matching event once, newest first, in pages of 5", async () => {
      const seen: Node[] = [];
      let after: string | null = null;
      let pages = 0;
      for (;;) {
        const res: Awaited<ReturnType<typeof page>> = await page(a.token, { filter: { action: "test.page." }, first: 5, after });
        expect(res.errors).toBeUndefined();
        const p = res.data!.auditEvents;
        seen.push(...p.nodes);
        pages++;
        if (!p.hasNextPage) break;
        expect(p.nodes).toHaveLength(5);
        after = p.endCursor!;
      }
      expect(pages).toBe(5);
      const expected = (await db.query(`select id from audit.audit_event where tenant_id = $1 and action like 'test.page.%' order by occurred_at desc, id desc`, [a.tenantId])).rows.map((r) => r.id);
      expect(expected).toHaveLength(23);
      expect(seen.map((n) => n.id)).toEqual(expected);
    });

    it("filters by action prefix, actor, target, text and time range", async () => {
      const ids = async (filter: Record<string, unknown>) => (await page(a.token, { filter, first: 100 })).data!.auditEvents.nodes;
      expect((await ids({ action: "test.page.odd" })).every((n) => n.action === "test.page.odd")).toBe(true);
      expect(await ids({ action: "test.page.odd" })).toHaveLength(11);
      expect(await ids({ actorId: actor })).toHaveLength(4);
      expect((await ids({ targetType: "Thing", targetId: target })).map((n) => n.targetId)).toEqual([target]);
      expect((await ids({ text: "NEEDLE", action: "test.page." })).map((n) => n.metadata)).toEqual([{ note: "Needle in the haystack" }]);
      const from = new Date(Date.UTC(2031, 5, 1, 0, 0, 2)).toISOString();
      const to = new Date(Date.UTC(2031, 5, 1, 0, 0, 4)).toISOString();
      const ranged = await ids({ from, to, action: "test.page." });
      expect(ranged).toHaveLength(9);
      for (const n of ranged) expect(n.occurredAt >= from && n.occurredAt <= to).toBe(true);
      // Another tenant sees none of them.
      expect((await page(b.token, { filter: { action: "test.page." }, first: 100 })).data!.auditEvents.nodes).toEqual([]);
    });

    it("bad input gets clear codes: foreign or malformed cursor, page size, from after to", async () => {
      const first = (await page(a.token, { filter: { action: "test.page." }, first: 2 })).data!.auditEvents;
      const foreign = await page(b.token, { first: 2, after: first.endCursor });
      expect(codesOf(foreign)).toEqual(["BAD_USER_INPUT"]);
      expect(foreign.errors?.[0]?.extensions?.field).toBe("after");
      for (const bad of ["nope", "!!!", Buffer.from('{"t":1}').toString("base64url"), first.endCursor!.slice(0, -3)]) {
        expect(codesOf(await page(a.token, { first: 2, after: bad }))).toEqual(["BAD_USER_INPUT"]);
      }
      for (const n of [0, 501]) expect(codesOf(await page(a.token, { first: n }))).toEqual(["BAD_USER_INPUT"]);
      const reversed = await page(a.token, { first: 5, filter: { from: "2031-06-02T00:00:00Z", to: "2031-06-01T00:00:00Z" } });
      expect(codesOf(reversed)).toEqual(["BAD_USER_INPUT"]);
      expect(reversed.errors?.[0]?.extensions?.field).toBe("filter.from");
      expect(codesOf(await page(a.token, { first: 5, filter: { actorId: "not-a-uuid" } }))).toEqual(["BAD_USER_INPUT"]);
      expect(codesOf(await verify(a.token, { from: "2031-06-02T00:00:00Z", to: "2031-06-01T00:00:00Z" }))).toEqual(["BAD_USER_INPUT"]);
    });
  });

  describe("CSV export through the gateway", () => {
    const N = 100_000;
    beforeAll(async () => {
      // Inserted directly (speed); chain columns left empty: the export does not verify.
      await db.query(
        `insert into audit.audit_event (id, tenant_id, actor_type, actor_id, action, target_type, target_id, request_id, changes, metadata, occurred_at)
         select gen_random_uuid(), $1, 'USER', $2, 'bulk.export.row', 'Thing', 'thing-' || g, null, jsonb_build_object('n', jsonb_build_object('before', g, 'after', g + 1)), null,
                timestamptz '2032-01-01' + g * interval '1 millisecond'
         from generate_series(1, $3::int) g`,
        [a.tenantId, a.userId, N - 3],
      );
      const tricky = [
        ["comma,inside", { note: "a, b" }],
        ['quote "inside"', { note: 'say "hi"' }],
        ["line\nbreak\r\nand more", { note: "multi\nline" }],
      ] as const;
      for (const [i, [targetId, metadata]] of tricky.entries()) {
        await db.query(
          `insert into audit.audit_event (id, tenant_id, actor_type, action, target_id, metadata, occurred_at) values (gen_random_uuid(), $1, 'SERVICE', 'bulk.export.tricky', $2, $3, $4)`,
          [a.tenantId, targetId, metadata, new Date(Date.UTC(2033, 0, 1, 0, 0, i))],
        );
      }
    });

    it(`streams ${N.toLocaleString("en")} rows in chunks with bounded memory, escaping commas, quotes and newlines`, async () => {
      // The export runs in this process (the stack is in-process): its memory is this process's. Live heap is measured
      // after a forced full GC every 25,000 rows received, so garbage awaiting collection does not count; a server
      // that held the range (rows or CSV text) while sending would show it as live heap here.
      setFlagsFromString("--expose-gc");
      const gc = runInNewContext("gc") as () => void;
      gc();
      const base = { heap: process.memoryUsage().heapUsed, rss: process.memoryUsage().rss };
      const peak = { heap: 0, rss: 0, samples: 0 };
      const sample = () => {
        gc();
        const m = process.memoryUsage();
        peak.heap = Math.max(peak.heap, m.heapUsed - base.heap);
        peak.rss = Math.max(peak.rss, m.rss - base.rss);
        peak.samples++;
      };
      const started = performance.now();
      const res = await fetch(exportUrl({ action: "bulk.export.", from: "2032-01-01T00:00:00Z" }), { headers: { authorization: `Bearer ${a.token}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/csv/);
      expect(res.headers.get("transfer-encoding")).toBe("chunked");
      const tricky: string[][] = [];
      let last = "";
      const csv = new CsvRows((row) => {
        if (row[5] === "bulk.export.tricky") tricky.push(row);
        // Oldest first: timestamps never go backwards.
        expect(row[0]! >= last).toBe(true);
        last = row[0]!;
        if (csv.rows % 25_000 === 0) sample();
      });
      const decoder = new TextDecoder();
      let chunks = 0;
      let bytes = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        chunks++;
        bytes += chunk.byteLength;
        csv.push(decoder.decode(chunk, { stream: true }));
      }
      const ms = Math.round(performance.now() - started);
      const mib = (n: number) => (n / 2 ** 20).toFixed(1);
      console.log(
        `audit export: ${csv.rows} rows, ${mib(bytes)} MiB in ${chunks} chunks, ${ms} ms; ` +
          `live heap growth at most ${mib(peak.heap)} MiB, RSS growth at most ${mib(peak.rss)} MiB (${peak.samples} samples after GC)`,
      );
      expect(csv.header).toEqual(["occurredAt", "id", "chainSeq", "actorType", "actorId", "action", "targetType", "targetId", "requestId", "changes", "metadata", "hash"]);
      expect(csv.rows).toBe(N);
      expect(chunks).toBeGreaterThan(10);
      expect(peak.samples).toBe(N / 25_000);
      // Bounded: what is live while streaming stays far below the export's own size (a buffered export would hold at
      // least the whole CSV text, ${mib(bytes)} MiB, or its rows as objects, several times that).
      expect(peak.heap).toBeLessThan(Math.min(12 * 2 ** 20, bytes / 3));
      expect(tricky.map((r) => [r[7], JSON.parse(r[10]!)])).toEqual([
        ["comma,inside", { note: "a, b" }],
        ['quote "inside"', { note: 'say "hi"' }],
        ["line\nbreak\r\nand more", { note: "multi\nline" }],
      ]);
    }, 180_000);

    it("another tenant's token sees none of them; no token → 401; bad filters → 400 BAD_USER_INPUT", async () => {
      const other = await fetch(exportUrl({ action: "bulk.export." }), { headers: { authorization: `Bearer ${b.token}` } });
      expect(other.status).toBe(200);
      const text = await other.text();
      expect(text.trim().split("\n")).toEqual(["occurredAt,id,chainSeq,actorType,actorId,action,targetType,targetId,requestId,changes,metadata,hash"]);

      const anonymous = await fetch(exportUrl({ action: "bulk.export." }));
      expect(anonymous.status).toBe(401);
      expect(codesOf((await anonymous.json()) as never)).toEqual(["UNAUTHENTICATED"]);
      const forged = await fetch(exportUrl({}), { headers: { authorization: "Bearer not-a-token" } });
      expect(forged.status).toBe(401);

      for (const query of <Record<string, string>[]>[{ from: "2032-02-01T00:00:00Z", to: "2032-01-01T00:00:00Z" }, { from: "yesterday" }, { actorId: "x" }, { actorType: "ROBOT" }]) {
        const res = await fetch(exportUrl(query), { headers: { authorization: `Bearer ${a.token}` } });
        expect({ query, status: res.status, codes: codesOf((await res.json()) as never) }).toEqual({ query, status: 400, codes: ["BAD_USER_INPUT"] });
      }
    });
  });
});
