// Issue 6, retention: each tenant keeps its audit events for its plan's default or an override (set by its admin, or by
// a platform operator, itself audited); the audit service's job deletes older events in bounded batches and keeps the
// chain verifiable across the cut (the boundary's position and hash are stored, and the cut is recorded in the chain).
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import { AuditSetRetentionDocument, IdentityPlatformLoginDocument, VerifyAuditChainDocument } from "../__generated__/graphql.js";
import { startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";
import { codesOf, waitUntil } from "./e2e-helpers.js";
import { AUDIT_RETENTION_PATH, internalHeaders } from "../../kernel/internal-auth.js";
import { AUDIT_EVENTS_PATH } from "../../kernel/outbox.js";
import type { AuditRecord } from "../../kernel/topics.js";
import type { RunningAudit } from "../../subgraphs/audit/start.js";
import { createPlatformUser } from "../../subgraphs/tenants/platform/platform.service.js";
import { PlatformRole } from "../../subgraphs/tenants/platform/platform-user.entity.js";

const DAY = 86_400_000;

describe("audit retention", () => {
  let t: TestStack;
  let db: pg.Client;
  let a: TenantLogin;
  let b: TenantLogin;
  let c: TenantLogin;
  let operator: string;
  const audit = () => t.stack.audit as RunningAudit;

  const count = async (sql: string, params: unknown[]) => Number((await db.query(sql, params)).rows[0].count);
  const old = (tenant: TenantLogin, i: number, action = "test.retention.old"): AuditRecord => ({
    id: randomUUID(),
    tenantId: tenant.tenantId,
    actorType: "USER",
    actorId: tenant.userId,
    action,
    targetType: "Thing",
    targetId: String(i),
    requestId: null,
    changes: { n: { before: i, after: i + 1 } },
    metadata: null,
    // Ten days old: past a 1-day retention, within every plan's default.
    occurredAt: new Date(Date.now() - 10 * DAY + i * 1000).toISOString(),
  });
  /** Posts records to the audit subgraph as an outbox relay does (one batch, stored in order). */
  const deliver = async (records: AuditRecord[]) => {
    const res = await fetch(new URL(AUDIT_EVENTS_PATH, t.stack.audit.url), { method: "POST", headers: { "content-type": "application/json", ...internalHeaders(t.secrets.internal) }, body: JSON.stringify({ events: records }) });
    expect(res.status).toBe(200);
  };
  /**
   * A tenant whose chain starts with `n` ten-day-old events: the tenants service's relay is held while the tenant is
   * created, so the old events are stored first (retention cuts the chain as a prefix).
   */
  const tenantWithOldEvents = async (slug: string, n: number): Promise<TenantLogin> => {
    const relay = t.stack.tenants.outbox!;
    await relay.stop();
    let tenant: TenantLogin;
    try {
      tenant = await t.tenant(slug);
      await deliver(Array.from({ length: n }, (_, i) => old(tenant, i)));
    } finally {
      relay.start();
    }
    await waitUntil(async () => (await count(`select count(*) from tenants.audit_outbox where tenant_id = $1 and delivered_at is null`, [tenant.tenantId])) === 0, "the tenant's own events delivered", 10_000);
    return tenant;
  };
  const verify = async (tenant: TenantLogin) => {
    const res = await t.request(VerifyAuditChainDocument, {}, tenant.token);
    expect(res.errors).toBeUndefined();
    return res.data!.verifyAuditChain;
  };
  const chained = (tenant: TenantLogin) => count(`select count(*) from audit.audit_event where tenant_id = $1 and chain_seq is not null`, [tenant.tenantId]);
  const seqOf = async (tenant: TenantLogin, seq: number) =>
    (await db.query(`select id, hash, metadata from audit.audit_event where tenant_id = $1 and chain_seq = $2`, [tenant.tenantId, seq])).rows[0] as { id: string; hash: string; metadata: unknown } | undefined;

  beforeAll(async () => {
    t = await startTestStack();
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    const email = `retention-${randomUUID().slice(0, 8)}@ops.example`;
    const password = `Pw-${randomUUID()}`;
    await createPlatformUser(t.stack.tenants.orm.em.fork(), { email, role: PlatformRole.ADMIN, password });
    operator = (await t.request(IdentityPlatformLoginDocument, { input: { email, password } })).data!.platformLogin.accessToken;
    a = await tenantWithOldEvents("retention-a", 40);
    c = await tenantWithOldEvents("retention-c", 50);
    b = await t.tenant("retention-b");
    // One more ten-day-old event of A, delivered late: it follows events that are still kept.
    await deliver([old(a, 99, "test.retention.late")]);
  }, 60_000);
  afterAll(async () => {
    await db?.end();
    await t?.stop();
  });

  it("is the plan's default unless overridden: tenant admins choose 30 to 3650 days, platform operators 1 to 3650; each change is audited", async () => {
    const set = (days: number | null, token: string, tenantId?: string) => t.request(AuditSetRetentionDocument, { days, tenantId }, token);
    for (const days of [0, 10, 29, 3651]) {
      const res = await set(days, a.token);
      expect(codesOf(res)).toEqual(["BAD_USER_INPUT"]);
      expect(res.errors?.[0]?.extensions?.field).toBe("days");
    }
    expect(codesOf(await set(120, a.token, b.tenantId))).toEqual(["FORBIDDEN"]);
    expect(codesOf(await set(1, operator))).toEqual(["BAD_USER_INPUT"]);
    expect(codesOf(await set(120, c.token.slice(0, 20)))).toEqual(["UNAUTHENTICATED"]);

    const byAdmin = await set(120, a.token);
    expect(byAdmin.errors).toBeUndefined();
    // ensureTenantWithAdmin makes PRO tenants: their default is 365 days.
    expect(byAdmin.data!.setAuditRetention).toMatchObject({ id: a.tenantId, auditRetentionDays: 120, auditRetentionOverrideDays: 120, limits: { auditRetentionDays: 365 } });
    const byOperator = await set(1, operator, a.tenantId);
    expect(byOperator.errors).toBeUndefined();
    expect(byOperator.data!.setAuditRetention).toMatchObject({ auditRetentionDays: 1, auditRetentionOverrideDays: 1 });

    const changes = async () =>
      (await db.query(`select actor_type, changes from audit.audit_event where tenant_id = $1 and action = 'tenant.audit_retention.changed' order by chain_seq`, [a.tenantId])).rows;
    await waitUntil(async () => (await changes()).length === 2, "both changes in A's trail", 10_000);
    expect(await changes()).toEqual([
      { actor_type: "USER", changes: { auditRetentionDays: { before: 365, after: 120 }, auditRetentionOverrideDays: { before: null, after: 120 } } },
      { actor_type: "PLATFORM_USER", changes: { auditRetentionDays: { before: 120, after: 1 }, auditRetentionOverrideDays: { before: 120, after: 1 } } },
    ]);

    // What the audit service's job reads: every kept tenant's effective retention.
    const policies = (await (await fetch(new URL(AUDIT_RETENTION_PATH, t.stack.tenants.url), { headers: internalHeaders(t.secrets.internal) })).json()) as { tenants: { tenantId: string; days: number }[] };
    const days = Object.fromEntries(policies.tenants.map((p) => [p.tenantId, p.days]));
    expect([days[a.tenantId], days[b.tenantId], days[c.tenantId]]).toEqual([1, 365, 365]);
  });

  it("the job deletes A's events past retention; the chain still verifies from the stored boundary, and an edited row is still detected", async () => {
    await waitUntil(async () => (await count(`select count(*) from tenants.audit_outbox where delivered_at is null`, [])) === 0, "every tenants event delivered", 10_000);
    const lastOld = await seqOf(a, 40);
    expect(lastOld).toBeDefined();
    const recent = () => count(`select count(*) from audit.audit_event where tenant_id = $1 and occurred_at > now() - interval '1 day'`, [a.tenantId]);
    const before = { chained: await chained(a), b: await chained(b), recent: await recent() };
    expect(await verify(a)).toMatchObject({ ok: true, checked: before.chained });

    await audit().applyRetention();

    // The 40 old events are gone; the late one stays (it follows events that are kept); nothing recent went.
    expect(await count(`select count(*) from audit.audit_event where tenant_id = $1 and action = 'test.retention.old'`, [a.tenantId])).toBe(0);
    expect(await count(`select count(*) from audit.audit_event where tenant_id = $1 and action = 'test.retention.late'`, [a.tenantId])).toBe(1);
    expect(await recent()).toBe(before.recent + 1); // + the record of the cut
    expect((await db.query(`select min(chain_seq)::int as lo from audit.audit_event where tenant_id = $1`, [a.tenantId])).rows[0].lo).toBe(41);
    expect((await db.query(`select chain_seq::int as seq, hash from audit.audit_chain_boundary where tenant_id = $1`, [a.tenantId])).rows).toEqual([{ seq: 40, hash: lastOld!.hash }]);
    const cuts = (await db.query(`select actor_type, metadata from audit.audit_event where tenant_id = $1 and action = 'audit.retention.applied'`, [a.tenantId])).rows;
    expect(cuts).toEqual([{ actor_type: "SERVICE", metadata: expect.objectContaining({ deleted: 40, throughSeq: 40, throughHash: lastOld!.hash, retentionDays: 1 }) }]);
    // Tenant B (default retention, nothing that old) is untouched.
    expect(await chained(b)).toBe(before.b);

    const remaining = await chained(a);
    expect(remaining).toBe(before.chained - 40 + 1);
    expect(await verify(a)).toEqual({ ok: true, checked: remaining, firstBrokenSeq: null, firstBrokenEventId: null, reason: null });

    // Editing the first remaining event (linked to the boundary) or a later one is detected.
    for (const seq of [41, 45]) {
      const row = (await db.query(`select id, action from audit.audit_event where tenant_id = $1 and chain_seq = $2`, [a.tenantId, seq])).rows[0];
      await db.query(`update audit.audit_event set action = 'test.retention.forged' where id = $1`, [row.id]);
      expect(await verify(a)).toMatchObject({ ok: false, firstBrokenSeq: seq, firstBrokenEventId: row.id });
      await db.query(`update audit.audit_event set action = $2 where id = $1`, [row.id, row.action]);
    }
    expect(await verify(a)).toMatchObject({ ok: true, checked: remaining });
  });

  it("a boundary moved or changed by hand no longer matches the chain's record of the cut", async () => {
    const boundary = (await db.query(`select chain_seq, hash from audit.audit_chain_boundary where tenant_id = $1`, [a.tenantId])).rows[0];
    await db.query(`update audit.audit_chain_boundary set hash = repeat('f', 64) where tenant_id = $1`, [a.tenantId]);
    expect(await verify(a)).toMatchObject({ ok: false, firstBrokenSeq: 41 });
    await db.query(`update audit.audit_chain_boundary set hash = $2 where tenant_id = $1`, [a.tenantId, boundary.hash]);
    expect((await verify(a)).ok).toBe(true);

    // Deleting the next event by hand and moving the boundary over it: every link holds, but the cut is not the recorded one.
    const next = (await seqOf(a, 41))!;
    const saved = (await db.query(`select * from audit.audit_event where id = $1`, [next.id])).rows[0];
    await db.query(`delete from audit.audit_event where id = $1`, [next.id]);
    await db.query(`update audit.audit_chain_boundary set chain_seq = 41, hash = $2 where tenant_id = $1`, [a.tenantId, next.hash]);
    const report = await verify(a);
    expect(report).toMatchObject({ ok: false, firstBrokenSeq: 42 });
    expect(report.reason).toMatch(/retention/);
    // Put back as it was.
    const columns = Object.keys(saved);
    await db.query(`insert into audit.audit_event (${columns.map((k) => `"${k}"`).join(", ")}) values (${columns.map((_, i) => `$${i + 1}`).join(", ")})`, columns.map((k) => (k === "changes" || k === "metadata") && saved[k] !== null ? JSON.stringify(saved[k]) : saved[k]));
    await db.query(`update audit.audit_chain_boundary set chain_seq = $2, hash = $3 where tenant_id = $1`, [a.tenantId, boundary.chain_seq, boundary.hash]);
    expect((await verify(a)).ok).toBe(true);
  });

  it("deletes in bounded batches, each recorded with the boundary it leaves; a second run finds nothing to delete", async () => {
    const hashes = new Map<number, string>();
    for (const seq of [7, 14, 49, 50]) hashes.set(seq, (await seqOf(c, seq))!.hash);
    const [result] = await audit().applyRetention({ policies: [{ tenantId: c.tenantId, days: 1 }], batchSize: 7 });
    expect(result).toEqual({ tenantId: c.tenantId, deleted: 50, throughSeq: 50 });
    const cuts = (await db.query(`select metadata from audit.audit_event where tenant_id = $1 and action = 'audit.retention.applied' order by chain_seq`, [c.tenantId])).rows.map((r) => r.metadata);
    // ceil(50 / 7) transactions, each at most 7 events, each naming the boundary it left.
    expect(cuts.map((m) => [m.deleted, m.throughSeq])).toEqual([[7, 7], [7, 14], [7, 21], [7, 28], [7, 35], [7, 42], [7, 49], [1, 50]]);
    for (const m of cuts) if (hashes.has(m.throughSeq)) expect(m.throughHash).toBe(hashes.get(m.throughSeq));
    expect(await count(`select count(*) from audit.audit_event where tenant_id = $1 and action = 'test.retention.old'`, [c.tenantId])).toBe(0);
    expect(await verify(c)).toMatchObject({ ok: true, checked: await chained(c) });

    const [again] = await audit().applyRetention({ policies: [{ tenantId: c.tenantId, days: 1 }], batchSize: 7 });
    expect(again).toEqual({ tenantId: c.tenantId, deleted: 0, throughSeq: null });
    expect((await verify(c)).ok).toBe(true);
  });

});
