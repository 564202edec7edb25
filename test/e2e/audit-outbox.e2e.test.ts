// Issue 6, "never lost": audit events go through a transactional outbox in each emitting service's own schema and an
// acknowledged relay to the audit subgraph. They survive the audit subgraph being down, a relay killed mid-stream
// (crashing after audit stored a batch but before the ack was recorded), and need no pub/sub at all.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import { pino } from "pino";
import { CreateConnectorDocument, CreateRoleDocument, VerifyAuditChainDocument } from "../__generated__/graphql.js";
import { startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";
import { waitUntil } from "./e2e-helpers.js";
import { AuditOutboxRelay } from "../../kernel/outbox.js";
import { systemContext } from "../../subgraphs/tenants/system-context.js";

describe("audit outbox and relay", () => {
  let t: TestStack;
  let db: pg.Client;
  /** Topics published by any service while a test watches (the outbox path must publish none of its own). */
  const published: string[] = [];
  let dropAllPublishes = false;

  const count = async (sql: string, params: unknown[]) => Number((await db.query(sql, params)).rows[0].count);
  /** Undelivered outbox rows of a tenant in one emitting service's schema. */
  const pending = (schema: string, tenantId: string) =>
    count(`select count(*) from ${schema}.audit_outbox where tenant_id = $1 and delivered_at is null`, [tenantId]);
  const storedIds = async (ids: string[]): Promise<string[]> =>
    (await db.query(`select id from audit.audit_event where id = any($1::uuid[])`, [ids])).rows.map((r) => r.id);
  /** The tenant's chain positions in order (must be exactly 1..n). */
  const chainSeqs = async (tenantId: string): Promise<number[]> =>
    (await db.query(`select chain_seq::int as seq from audit.audit_event where tenant_id = $1 order by chain_seq`, [tenantId])).rows.map((r) => r.seq);
  const verified = async (tenant: TenantLogin) => {
    const res = await t.request(VerifyAuditChainDocument, {}, tenant.token);
    expect(res.errors).toBeUndefined();
    return res.data!.verifyAuditChain;
  };
  const expectIntactChain = async (tenant: TenantLogin) => {
    const seqs = await chainSeqs(tenant.tenantId);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    expect(await verified(tenant)).toEqual({ ok: true, checked: seqs.length, firstBrokenSeq: null, firstBrokenEventId: null, reason: null });
  };
  const createRole = async (tenant: TenantLogin, name: string) => {
    const res = await t.request(CreateRoleDocument, { input: { name, permissions: ["sync:pull"] } }, tenant.token);
    expect(res.errors).toBeUndefined();
    return res.data!.createRole.id;
  };
  const outboxIds = async (schema: string, tenantId: string, action: string): Promise<string[]> =>
    (await db.query(`select id from ${schema}.audit_outbox where tenant_id = $1 and payload->>'action' = $2`, [tenantId, action])).rows.map((r) => r.id);

  beforeAll(async () => {
    t = await startTestStack({
      pubsub: "memory",
      dropPublish: (topic) => {
        published.push(topic);
        return dropAllPublishes;
      },
    });
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await t?.stop();
  });

  it("keeps events in the emitters' outboxes while audit is down, and delivers each exactly once when it returns", async () => {
    const a = await t.tenant("outbox-down");
    await waitUntil(async () => (await pending("tenants", a.tenantId)) === 0, "the sign-in's events delivered", 10_000);

    await t.stack.audit.stop();
    const roleIds: string[] = [];
    for (let i = 0; i < 6; i++) roleIds.push(await createRole(a, `outbox-down-${i}`));
    const connector = await t.request(CreateConnectorDocument, { input: { name: "down", kind: "ODOO", baseUrl: "https://odoo.example" } }, a.token);
    expect(connector.errors).toBeUndefined();

    // Held undelivered in each emitting service's own schema, and retried with backoff (attempts counted).
    const roleEvents = await outboxIds("tenants", a.tenantId, "role.created");
    expect(roleEvents).toHaveLength(6);
    const connectorEvents = await outboxIds("connectors", a.tenantId, "connector.created");
    expect(connectorEvents).toHaveLength(1);
    expect(await pending("tenants", a.tenantId)).toBe(6);
    expect(await pending("connectors", a.tenantId)).toBe(1);
    await waitUntil(
      async () => (await count(`select count(*) from tenants.audit_outbox where id = any($1::uuid[]) and attempts > 0`, [roleEvents])) > 0,
      "a failed delivery attempt recorded",
      5_000,
    );
    expect(await storedIds([...roleEvents, ...connectorEvents])).toEqual([]);
    // The role ids each have their event.
    const targets = (await db.query(`select payload->>'targetId' as id from tenants.audit_outbox where id = any($1::uuid[])`, [roleEvents])).rows.map((r) => r.id);
    expect(targets.sort()).toEqual([...roleIds].sort());

    const restarted = Date.now();
    await t.stack.restartAudit();
    const all = [...roleEvents, ...connectorEvents];
    await waitUntil(async () => (await pending("tenants", a.tenantId)) + (await pending("connectors", a.tenantId)) === 0, "the outboxes drained", 20_000);
    const catchUpMs = Date.now() - restarted;
    expect((await storedIds(all)).sort()).toEqual([...all].sort());
    // Exactly once: no id twice, and the chain has one position per stored event.
    expect(await count(`select count(*) from audit.audit_event where tenant_id = $1`, [a.tenantId])).toBe(
      await count(`select count(distinct id) from audit.audit_event where tenant_id = $1`, [a.tenantId]),
    );
    await expectIntactChain(a);
    // The gateway reaches the restarted audit subgraph (same port).
    expect((await verified(a)).checked).toBeGreaterThanOrEqual(all.length);
    process.stdout.write(`audit outbox: caught up ${all.length} events ${catchUpMs} ms after audit restarted\n`);
  }, 40_000);

  it("a relay killed mid-stream (after audit stored a batch, before the ack) loses nothing and duplicates nothing", async () => {
    const b = await t.tenant("outbox-kill");
    await waitUntil(async () => (await pending("tenants", b.tenantId)) === 0, "the sign-in's events delivered", 10_000);
    const before = await chainSeqs(b.tenantId);
    const logger = pino({ level: "silent" });

    // Queue 60 events while the service's relay is stopped (the CLI's path: a system context, the tenants outbox).
    const relay = t.stack.tenants.outbox!;
    await relay.stop();
    const ctx = systemContext(t.stack.tenants.orm, { pubsub: t.stack.pubsub, logger, tenantId: b.tenantId, actor: "cli" });
    for (let i = 0; i < 60; i++) await ctx.audit.record(ctx, { tenantId: b.tenantId, action: "test.outbox.queued", targetType: "Thing", targetId: String(i) });
    const queued = await outboxIds("tenants", b.tenantId, "test.outbox.queued");
    expect(queued).toHaveLength(60);
    expect(await pending("tenants", b.tenantId)).toBe(60);

    // A relay of batches of 7 that dies during its third POST, after the audit service has answered 200.
    let posts = 0;
    let killed: Promise<void> | undefined;
    const dying: AuditOutboxRelay = new AuditOutboxRelay({
      orm: t.stack.tenants.orm,
      auditUrl: t.stack.audit.url,
      secret: t.secrets.internal,
      logger,
      batchSize: 7,
      fetch: async (url, init) => {
        const res = await fetch(url, init);
        if (++posts === 3) {
          expect(res.status).toBe(200);
          killed = dying.stop();
          throw new Error("relay killed");
        }
        return res;
      },
    });
    dying.start();
    await waitUntil(() => posts >= 3 && killed !== undefined, "the relay killed on its third POST", 10_000);
    await killed;
    // Two batches acknowledged; the third stored by audit but never marked; the rest untouched.
    expect(dying.delivered).toBe(14);
    expect(await pending("tenants", b.tenantId)).toBe(60 - 14);
    expect(await storedIds(queued)).toHaveLength(21);
    expect(await count(`select count(*) from tenants.audit_outbox where id = any($1::uuid[]) and attempts > 0`, [queued])).toBe(0);

    // The service's relay comes back and delivers the rest, the third batch again (the ingest keeps it once).
    relay.start();
    await waitUntil(async () => (await pending("tenants", b.tenantId)) === 0, "the outbox drained", 15_000);
    expect((await storedIds(queued)).sort()).toEqual([...queued].sort());
    const rows = (await db.query(`select payload->>'targetId' as target from tenants.audit_outbox where id = any($1::uuid[])`, [queued])).rows;
    expect(rows.map((r) => Number(r.target)).sort((x, y) => x - y)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    const stored = (await db.query(`select id, chain_seq::int as seq from audit.audit_event where tenant_id = $1 and action = 'test.outbox.queued'`, [b.tenantId])).rows;
    expect(stored).toHaveLength(60);
    expect(new Set(stored.map((r) => r.id)).size).toBe(60);
    // Contiguous after what was there before: positions n+1 .. n+60.
    const seqs = stored.map((r) => r.seq).sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: 60 }, (_, i) => before.length + i + 1));
    await expectIntactChain(b);
  }, 40_000);

  it("needs no pub/sub: with every publish dropped (Redis down or absent), audit events still arrive", async () => {
    const c = await t.tenant("outbox-nopubsub");
    await waitUntil(async () => (await pending("tenants", c.tenantId)) === 0, "the sign-in's events delivered", 10_000);
    published.length = 0;
    dropAllPublishes = true;
    try {
      const roleIds = [await createRole(c, "nopubsub-1"), await createRole(c, "nopubsub-2")];
      const ids = await outboxIds("tenants", c.tenantId, "role.created");
      expect(ids).toHaveLength(2);
      await waitUntil(async () => (await storedIds(ids)).length === 2, "both events stored", 10_000);
      const targets = (await db.query(`select target_id from audit.audit_event where id = any($1::uuid[])`, [ids])).rows.map((r) => r.target_id);
      expect(targets.sort()).toEqual([...roleIds].sort());
      // Nothing audit-related went over pub/sub (grant changes are the only publishes of createRole, if any).
      expect(published.filter((topic) => topic.startsWith("audit"))).toEqual([]);
      // Stored in the audit service a moment before the relay marks them delivered: the outbox drains by itself.
      await waitUntil(async () => (await pending("tenants", c.tenantId)) === 0, "the outbox drained without pub/sub", 10_000);
      // Idle once drained: the relay's own commits do not wake it, it just polls (every second by default).
      const relay = t.stack.tenants.outbox!;
      const passes = relay.passes;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(relay.passes - passes).toBeLessThanOrEqual(2);
    } finally {
      dropAllPublishes = false;
    }
    await expectIntactChain(c);
  }, 30_000);
});
