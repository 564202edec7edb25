// Issue 6, platform operators: their sign-ins, operator management and key rotation are recorded in the
// installation's own trail (a reserved chain id, readable and verifiable by platform operators only); their actions on
// a tenant and every read they make of a tenant's trail are recorded in that tenant's trail as PLATFORM_USER.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import {
  AuditEventsPageDocument,
  AuditPlatformEventsDocument,
  AuditPlatformTenantTrailDocument,
  AuditPlatformTenantsTrailsDocument,
  IdentityLoginDocument,
  IdentityPlatformLoginDocument,
  IdentityRotateSigningKeyDocument,
  IdentityUpdateTenantDocument,
  LifecycleCreatePlatformUserDocument,
  LifecycleDeactivatePlatformUserDocument,
  VerifyAuditChainDocument,
} from "../__generated__/graphql.js";
import { startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";
import { codesOf, waitUntil } from "./e2e-helpers.js";
import { PLATFORM_AUDIT_TRAIL } from "../../kernel/audit.js";
import { createPlatformUser } from "../../subgraphs/tenants/platform/platform.service.js";
import { PlatformRole } from "../../subgraphs/tenants/platform/platform-user.entity.js";

interface StoredEvent {
  id: string;
  action: string;
  actor_type: string;
  actor_id: string | null;
  target_type: string | null;
  target_id: string | null;
  metadata: Record<string, any> | null;
}

describe("platform operators in the audit trail", () => {
  let t: TestStack;
  let db: pg.Client;
  let a: TenantLogin;
  let b: TenantLogin;
  const ops = { email: `root-${randomUUID().slice(0, 8)}@ops.example`, password: `Pw-${randomUUID()}`, id: "", token: "" };
  const support = { email: `support-${randomUUID().slice(0, 8)}@ops.example`, password: `Pw-${randomUUID()}`, token: "" };

  /** Stored events of a trail with an action, oldest first, once `n` of them are there (the relays deliver asynchronously). */
  const events = async (trail: string, action: string, n = 1): Promise<StoredEvent[]> => {
    const read = async () =>
      (await db.query<StoredEvent>(`select id, action, actor_type, actor_id, target_type, target_id, metadata from audit.audit_event where tenant_id = $1 and action = $2 order by chain_seq`, [trail, action])).rows;
    await waitUntil(async () => (await read()).length >= n, `${n} × ${action} in ${trail}`, 10_000);
    return read();
  };
  const count = async (trail: string, action: string) => Number((await db.query(`select count(*) from audit.audit_event where tenant_id = $1 and action = $2`, [trail, action])).rows[0].count);
  const platformLogin = (email: string, password: string) => t.request(IdentityPlatformLoginDocument, { input: { email, password } });

  beforeAll(async () => {
    t = await startTestStack();
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    a = await t.tenant("platform-a");
    b = await t.tenant("platform-b");
    ops.id = (await createPlatformUser(t.stack.tenants.orm.em.fork(), { email: ops.email, role: PlatformRole.SUPER_ADMIN, password: ops.password })).id;
    await createPlatformUser(t.stack.tenants.orm.em.fork(), { email: support.email, role: PlatformRole.SUPPORT, password: support.password });
    ops.token = (await platformLogin(ops.email, ops.password)).data!.platformLogin.accessToken;
    support.token = (await platformLogin(support.email, support.password)).data!.platformLogin.accessToken;
  });
  afterAll(async () => {
    await db?.end();
    await t?.stop();
  });

  describe("the installation's own trail", () => {
    it("records operator creation outside a request (CLI, setup) as the installation itself", async () => {
      const created = (await events(PLATFORM_AUDIT_TRAIL, "platform.user.created", 2)).find((e) => e.target_id === ops.id);
      expect(created).toMatchObject({ actor_type: "SERVICE", actor_id: null, target_type: "PlatformUser", metadata: expect.objectContaining({ service: "system" }) });
    });

    it("records sign-ins and failed sign-ins (with the reason) of platform operators", async () => {
      const failuresBefore = await count(PLATFORM_AUDIT_TRAIL, "platform.login.failed");
      expect(codesOf(await platformLogin(ops.email, "a-wrong-password"))).toEqual(["UNAUTHENTICATED"]);
      expect(codesOf(await platformLogin("nobody@ops.example", "a-wrong-password"))).toEqual(["UNAUTHENTICATED"]);
      const failed = (await events(PLATFORM_AUDIT_TRAIL, "platform.login.failed", failuresBefore + 2)).slice(-2);
      expect(failed.map((e) => [e.actor_type, e.actor_id, e.metadata?.reason, e.metadata?.email])).toEqual([
        ["PLATFORM_USER", ops.id, "bad_password", ops.email],
        ["ANONYMOUS", null, "unknown_user", "nobody@ops.example"],
      ]);
      const succeeded = await events(PLATFORM_AUDIT_TRAIL, "platform.login.succeeded", 2);
      expect(succeeded.filter((e) => e.actor_id === ops.id)).toHaveLength(1);
      expect(succeeded.find((e) => e.actor_id === ops.id)).toMatchObject({ actor_type: "PLATFORM_USER", target_id: ops.id });
    });

    it("records sign-in attempts on a tenant that does not exist (no tenant trail to hold them)", async () => {
      const res = await t.request(IdentityLoginDocument, { input: { tenant: "no-such-tenant", email: "x@nowhere.example", password: "whatever-password" } });
      expect(codesOf(res)).toEqual(["UNAUTHENTICATED"]);
      const [event] = (await events(PLATFORM_AUDIT_TRAIL, "auth.login.failed")).slice(-1);
      expect(event).toMatchObject({ actor_type: "ANONYMOUS", metadata: expect.objectContaining({ reason: "unknown_tenant", tenant: "no-such-tenant", email: "x@nowhere.example" }) });
    });

    it("records operators created and deactivated through the API, and signing-key rotations, by the acting operator", async () => {
      const created = await t.request(LifecycleCreatePlatformUserDocument, { input: { email: `temp-${randomUUID().slice(0, 8)}@ops.example`, role: PlatformRole.SUPPORT } }, ops.token);
      expect(created.errors).toBeUndefined();
      const tempId = created.data!.createPlatformUser.user.id;
      expect((await t.request(LifecycleDeactivatePlatformUserDocument, { id: tempId }, ops.token)).errors).toBeUndefined();
      const rotated = await t.request(IdentityRotateSigningKeyDocument, {}, ops.token);
      expect(rotated.errors).toBeUndefined();

      const byOps = (list: StoredEvent[]) => list.filter((e) => e.actor_type === "PLATFORM_USER" && e.actor_id === ops.id);
      expect(byOps(await events(PLATFORM_AUDIT_TRAIL, "platform.user.created", 3)).map((e) => e.target_id)).toEqual([tempId]);
      expect(byOps(await events(PLATFORM_AUDIT_TRAIL, "platform.user.deactivated")).map((e) => e.target_id)).toEqual([tempId]);
      expect(byOps(await events(PLATFORM_AUDIT_TRAIL, "platform.signing_key.rotated")).map((e) => e.target_id)).toEqual([rotated.data!.rotateSigningKey.kid]);
      // None of it lands in a tenant's trail.
      expect(await count(a.tenantId, "platform.user.created")).toBe(0);
    });

    it("is readable and verifiable by platform operators only, like any chain; an edited row is detected", async () => {
      const page = await t.request(AuditPlatformEventsDocument, { tenantId: PLATFORM_AUDIT_TRAIL, filter: { action: "platform." }, first: 100 }, support.token);
      expect(page.errors).toBeUndefined();
      const actions = new Set(page.data!.auditEvents.nodes.map((n) => n.action));
      expect([...actions].sort()).toEqual(["platform.login.failed", "platform.login.succeeded", "platform.signing_key.rotated", "platform.user.created", "platform.user.deactivated"]);
      // Tenant callers cannot name it, and their own trail holds none of it.
      expect(codesOf(await t.request(AuditPlatformEventsDocument, { tenantId: PLATFORM_AUDIT_TRAIL, first: 10 }, a.token))).toEqual(["FORBIDDEN"]);
      expect((await t.request(AuditEventsPageDocument, { filter: { action: "platform." }, first: 10 }, a.token)).data!.auditEvents.nodes).toEqual([]);

      const chained = Number((await db.query(`select count(*) from audit.audit_event where tenant_id = $1 and chain_seq is not null`, [PLATFORM_AUDIT_TRAIL])).rows[0].count);
      const verified = await t.request(VerifyAuditChainDocument, { tenantId: PLATFORM_AUDIT_TRAIL }, support.token);
      expect(verified.data?.verifyAuditChain).toEqual({ ok: true, checked: chained, firstBrokenSeq: null, firstBrokenEventId: null, reason: null });
      expect(codesOf(await t.request(VerifyAuditChainDocument, { tenantId: PLATFORM_AUDIT_TRAIL }, a.token))).toEqual(["FORBIDDEN"]);

      const [victim] = (await db.query(`select id, chain_seq::int as seq from audit.audit_event where tenant_id = $1 and action = 'platform.signing_key.rotated'`, [PLATFORM_AUDIT_TRAIL])).rows;
      await db.query(`update audit.audit_event set target_id = 'forged-kid' where id = $1`, [victim.id]);
      const broken = await t.request(VerifyAuditChainDocument, { tenantId: PLATFORM_AUDIT_TRAIL }, support.token);
      expect(broken.data?.verifyAuditChain).toMatchObject({ ok: false, firstBrokenSeq: victim.seq, firstBrokenEventId: victim.id });
    });
  });

  describe("a tenant's trail", () => {
    const reads = (tenant: TenantLogin) => count(tenant.tenantId, "audit.trail.read");
    const lastRead = async (tenant: TenantLogin) => (await events(tenant.tenantId, "audit.trail.read")).at(-1)!;

    it("records a platform operator's change to a tenant in that tenant's trail as PLATFORM_USER", async () => {
      expect((await t.request(IdentityUpdateTenantDocument, { id: a.tenantId, input: { name: "Renamed by ops" } }, ops.token)).errors).toBeUndefined();
      const [event] = await events(a.tenantId, "tenant.updated");
      expect(event).toMatchObject({ actor_type: "PLATFORM_USER", actor_id: ops.id, target_id: a.tenantId });
    });

    it("records each platform read (auditEvents, Tenant.auditTrail, verifyAuditChain, CSV export) in the tenant's trail before answering", async () => {
      const before = await reads(a);
      const listed = await t.request(AuditPlatformEventsDocument, { tenantId: a.tenantId, filter: { action: "tenant." }, first: 5 }, support.token);
      expect(listed.errors).toBeUndefined();
      expect(listed.data!.auditEvents.nodes.map((n) => n.action)).toContain("tenant.updated");
      // Recorded synchronously: already there when the answer arrives.
      expect(await reads(a)).toBe(before + 1);
      expect(await lastRead(a)).toMatchObject({
        actor_type: "PLATFORM_USER",
        target_type: "AuditTrail",
        target_id: a.tenantId,
        metadata: expect.objectContaining({ via: "auditEvents", filter: { action: "tenant." }, first: 5 }),
      });

      const trail = await t.request(AuditPlatformTenantTrailDocument, { id: a.tenantId, first: 3 }, support.token);
      expect(trail.errors).toBeUndefined();
      // The newest event of the trail is the read itself.
      expect(trail.data!.tenantById.auditTrail[0]).toMatchObject({ action: "audit.trail.read", actorType: "PLATFORM_USER" });
      expect(await reads(a)).toBe(before + 2);
      expect((await lastRead(a)).metadata).toMatchObject({ via: "Tenant.auditTrail", first: 3 });

      const verified = await t.request(VerifyAuditChainDocument, { tenantId: a.tenantId }, support.token);
      expect(verified.data?.verifyAuditChain.ok).toBe(true);
      expect(await reads(a)).toBe(before + 3);

      const csv = await fetch(new URL(`/audit/export.csv?tenantId=${a.tenantId}&action=tenant.`, t.url), { headers: { authorization: `Bearer ${support.token}` } });
      expect(csv.status).toBe(200);
      expect((await csv.text()).split("\n").length).toBeGreaterThan(2);
      expect(await reads(a)).toBe(before + 4);
      expect((await lastRead(a)).metadata).toMatchObject({ via: "export.csv", filter: { action: "tenant." } });

      // The tenant's own admin sees who read their trail; tenant B's trail is untouched.
      const seen = await t.request(AuditEventsPageDocument, { filter: { action: "audit.trail.read" }, first: 10 }, a.token);
      expect(seen.data!.auditEvents.nodes).toHaveLength(before + 4);
      expect(await reads(b)).toBe(0);
      // Tenant callers' reads are not recorded.
      expect(await reads(a)).toBe(before + 4);
    });

    it("a read over several tenants records one read in each, and stays batched", async () => {
      const before = [await reads(a), await reads(b)];
      // Counts the audit subgraph's trail statements (they share its ORM's connection).
      let trailQueries = 0;
      const conn = t.stack.audit.orm.em.getConnection();
      const getClient = conn.getClient;
      conn.getClient = (() => {
        const client = getClient.call(conn);
        return new Proxy(client, {
          get: (target, prop) => {
            if (prop === "executeQuery") {
              return (query: { sql: string }) => {
                if (query.sql.includes("cross join lateral")) trailQueries++;
                return target.executeQuery(query as never);
              };
            }
            const value = Reflect.get(target, prop, target);
            // Kysely's methods use private fields: they must run on the client itself, not on the proxy.
            return typeof value === "function" ? value.bind(target) : value;
          },
        });
      }) as typeof conn.getClient;
      let res;
      try {
        res = await t.request(AuditPlatformTenantsTrailsDocument, { first: 2 }, support.token);
      } finally {
        conn.getClient = getClient;
      }
      expect(res.errors).toBeUndefined();
      expect(trailQueries).toBe(1);
      const bySlug = Object.fromEntries(res.data!.tenants.nodes.map((n) => [n.slug, n.auditTrail]));
      expect(bySlug["platform-a"]![0]!.action).toBe("audit.trail.read");
      expect(bySlug["platform-b"]![0]!.action).toBe("audit.trail.read");
      expect([await reads(a), await reads(b)]).toEqual([before[0]! + 1, before[1]! + 1]);
    });

    it("bad platform reads get clear codes and are not recorded", async () => {
      const before = await reads(a);
      expect(codesOf(await t.request(AuditPlatformEventsDocument, { tenantId: "not-a-uuid", first: 5 }, support.token))).toEqual(["BAD_USER_INPUT"]);
      expect(codesOf(await t.request(AuditPlatformEventsDocument, { tenantId: a.tenantId, first: 501 }, support.token))).toEqual(["BAD_USER_INPUT"]);
      expect(codesOf(await t.request(AuditPlatformTenantTrailDocument, { id: a.tenantId, first: 101 }, support.token))).toEqual(["BAD_USER_INPUT"]);
      expect(codesOf(await t.request(AuditEventsPageDocument, { first: 5 }, support.token))).toEqual(["BAD_USER_INPUT"]);
      // A tenant caller naming another tenant.
      expect(codesOf(await t.request(AuditPlatformEventsDocument, { tenantId: b.tenantId, first: 5 }, a.token))).toEqual(["FORBIDDEN"]);
      expect(await reads(a)).toBe(before);
    });

    it("a read that cannot be recorded is refused", async () => {
      await db.query(`create function audit.test_refuse_reads() returns trigger language plpgsql as $$
        begin if new.action = 'audit.trail.read' then raise exception 'injected: reads cannot be recorded'; end if; return new; end $$`);
      await db.query(`create trigger test_refuse_reads before insert on audit.audit_event for each row execute function audit.test_refuse_reads()`);
      try {
        const listed = await t.request(AuditPlatformEventsDocument, { tenantId: a.tenantId, first: 5 }, support.token);
        expect(codesOf(listed)).toEqual(["INTERNAL_SERVER_ERROR"]);
        expect(listed.data ?? null).toBeNull();
        const trail = await t.request(AuditPlatformTenantTrailDocument, { id: a.tenantId, first: 3 }, support.token);
        expect(codesOf(trail)).toEqual(["INTERNAL_SERVER_ERROR"]);
        expect(trail.data?.tenantById?.auditTrail ?? null).toBeNull();
        const csv = await fetch(new URL(`/audit/export.csv?tenantId=${a.tenantId}`, t.url), { headers: { authorization: `Bearer ${support.token}` } });
        expect(csv.status).toBe(500);
      } finally {
        await db.query(`drop trigger test_refuse_reads on audit.audit_event`);
        await db.query(`drop function audit.test_refuse_reads()`);
      }
    });
  });
});
