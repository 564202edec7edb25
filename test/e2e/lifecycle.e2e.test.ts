import { randomUUID } from "node:crypto";
import { internalHeaders } from "../../kernel/internal-auth.js";
import { AUDIT_EVENTS_PATH } from "../../kernel/outbox.js";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import { createPlatformUser } from "../../subgraphs/tenants/platform/platform.service.js";
import { PlatformRole } from "../../subgraphs/tenants/platform/platform-user.entity.js";
import {
  CreateConnectorDocument,
  LifecycleCreatePlatformUserDocument,
  LifecycleDeactivatePlatformUserDocument,
  LifecycleDeleteTenantDocument,
  LifecyclePlatformLoginDocument,
  LifecyclePlatformMeDocument,
  LifecyclePlatformUsersDocument,
  LifecycleTenantByIdDocument,
  StartSyncRunDocument,
} from "../__generated__/graphql.js";
import { startTestStack, type TestStack } from "../harness/stack.js";

const codes = (res: { errors?: readonly { extensions?: Record<string, unknown> }[] }) => (res.errors ?? []).map((e) => e.extensions?.code);

describe("tenant lifecycle and platform operators", () => {
  let t: TestStack;
  let db: pg.Client;
  let superToken: string;

  const operator = async (email: string, role: PlatformRole) => {
    const password = `pw-${email}-0123456789`;
    await createPlatformUser(t.stack.tenants.orm.em.fork(), { email, role, password });
    const res = await t.request(LifecyclePlatformLoginDocument, { input: { email, password } });
    return res.data!.platformLogin.accessToken;
  };
  const countRows = async (tenantId: string) => {
    const q = async (sql: string) => Number((await db.query<{ n: string }>(sql, [tenantId])).rows[0]!.n);
    return {
      users: await q("select count(*) as n from tenants.user where tenant_id = $1"),
      roles: await q("select count(*) as n from tenants.role where tenant_id = $1"),
      connectors: await q("select count(*) as n from connectors.connector where tenant_id = $1"),
      runs: await q("select count(*) as n from sync.sync_run where tenant_id = $1"),
      audit: await q("select count(*) as n from audit.audit_event where tenant_id = $1"),
    };
  };
  const eventually = async (check: () => Promise<boolean>, what: string, ms = 5_000) => {
    const end = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  beforeAll(async () => {
    t = await startTestStack();
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    superToken = await operator("root@ops.example", PlatformRole.SUPER_ADMIN);
  });
  afterAll(async () => {
    await db?.end();
    await t?.stop();
  });

  it("erases a deleted tenant's data in every service after retention, and only that tenant's", async () => {
    const gone = await t.tenant("purge-me");
    const kept = await t.tenant("keep-me");
    for (const who of [gone, kept]) {
      const c = await t.request(CreateConnectorDocument, { input: { kind: "ODOO", name: "erp", baseUrl: "https://erp.example.com" } }, who.token);
      await t.request(StartSyncRunDocument, { input: { kind: "CONNECTOR", connectorId: c.data!.createConnector.id } }, who.token);
    }
    await eventually(async () => (await countRows(gone.tenantId)).audit > 0 && (await countRows(kept.tenantId)).audit > 0, "audit events");
    const before = await countRows(gone.tenantId);
    expect(Object.values(before).every((n) => n > 0)).toBe(true);

    // Within retention nothing is erased.
    expect((await t.request(LifecycleDeleteTenantDocument, { id: gone.tenantId }, superToken)).data?.deleteTenant.status).toBe("DELETED");
    expect(await t.stack.tenants.purgeDeletedTenants(3600_000)).toEqual([]);
    expect((await countRows(gone.tenantId)).users).toBe(before.users);

    // Past retention: erased everywhere (each service on the announcement); the tenant row stays as a tombstone.
    expect(await t.stack.tenants.purgeDeletedTenants(0)).toEqual([gone.tenantId]);
    await eventually(async () => Object.values(await countRows(gone.tenantId)).every((n) => n === 0), `the purge in every service: ${JSON.stringify(await countRows(gone.tenantId))}`);
    // An audit event of the purged tenant that a relay delivers late (outboxes retry) is dropped, not stored again.
    const late = {
      id: randomUUID(),
      tenantId: gone.tenantId,
      actorType: "SERVICE",
      actorId: null,
      action: "test.late",
      targetType: null,
      targetId: null,
      requestId: null,
      changes: null,
      metadata: null,
      occurredAt: new Date().toISOString(),
    };
    const delivered = await fetch(new URL(AUDIT_EVENTS_PATH, t.stack.audit.url), { method: "POST", headers: { "content-type": "application/json", ...internalHeaders(t.secrets.internal) }, body: JSON.stringify({ events: [late] }) });
    expect(delivered.status).toBe(200);
    expect((await countRows(gone.tenantId)).audit).toBe(0);
    const tomb = await t.request(LifecycleTenantByIdDocument, { id: gone.tenantId }, superToken);
    expect(tomb.data?.tenantById).toMatchObject({ status: "DELETED", purgedAt: expect.any(String) });
    const other = await countRows(kept.tenantId);
    expect(Object.values(other).every((n) => n > 0)).toBe(true);
  });

  it("a TRIAL tenant whose trial has ended is suspended (audited, tokens refused) by the trial job", async () => {
    const trial = await t.tenant("trial-ends");
    await db.query("update tenants.tenant set status = 'TRIAL', trial_ends_at = now() - interval '1 minute' where id = $1", [trial.tenantId]);
    const running = await t.tenant("trial-running");
    await db.query("update tenants.tenant set status = 'TRIAL', trial_ends_at = now() + interval '1 day' where id = $1", [running.tenantId]);
    expect(await t.stack.tenants.expireTrials()).toEqual([trial.tenantId]);
    expect((await t.request(LifecycleTenantByIdDocument, { id: trial.tenantId }, superToken)).data?.tenantById.status).toBe("SUSPENDED");
    expect(codes(await t.request(LifecyclePlatformMeDocument, {}, trial.token))).toEqual(["TENANT_SUSPENDED"]);
    expect((await t.request(LifecycleTenantByIdDocument, { id: running.tenantId }, superToken)).data?.tenantById.status).toBe("TRIAL");
    await eventually(async () => Number((await db.query("select count(*) as n from audit.audit_event where tenant_id = $1 and action = 'tenant.suspended' and actor_type = 'SERVICE'", [trial.tenantId])).rows[0].n) === 1, "the audited suspension");
  });

  it("SUPER_ADMIN manages operators; a deactivated operator's token stops at once; others may not manage", async () => {
    const me = await t.request(LifecyclePlatformMeDocument, {}, superToken);
    expect(me.data?.platformMe).toMatchObject({ email: "root@ops.example", role: "SUPER_ADMIN" });
    const created = await t.request(LifecycleCreatePlatformUserDocument, { input: { email: "help@ops.example", role: "SUPPORT" } }, superToken);
    const password = created.data!.createPlatformUser.password!;
    expect(password.length).toBeGreaterThanOrEqual(12);
    const duplicate = await t.request(LifecycleCreatePlatformUserDocument, { input: { email: "help@ops.example", role: "SUPPORT" } }, superToken);
    expect(codes(duplicate)).toEqual(["CONFLICT"]);

    const support = (await t.request(LifecyclePlatformLoginDocument, { input: { email: "help@ops.example", password } })).data!.platformLogin.accessToken;
    expect((await t.request(LifecyclePlatformMeDocument, {}, support)).data?.platformMe.role).toBe("SUPPORT");
    expect(codes(await t.request(LifecyclePlatformUsersDocument, {}, support))).toEqual(["FORBIDDEN"]);
    const admin = await t.tenant("not-an-operator");
    expect(codes(await t.request(LifecyclePlatformUsersDocument, {}, admin.token))).toEqual(["FORBIDDEN"]);

    const id = created.data!.createPlatformUser.user.id;
    expect((await t.request(LifecycleDeactivatePlatformUserDocument, { id }, superToken)).data?.deactivatePlatformUser.active).toBe(false);
    expect(codes(await t.request(LifecyclePlatformMeDocument, {}, support))).toEqual(["UNAUTHENTICATED"]);
    expect(codes(await t.request(LifecyclePlatformLoginDocument, { input: { email: "help@ops.example", password } }))).toEqual(["UNAUTHENTICATED"]);
    const self = (await t.request(LifecyclePlatformMeDocument, {}, superToken)).data!.platformMe.id;
    expect(codes(await t.request(LifecycleDeactivatePlatformUserDocument, { id: self }, superToken))).toEqual(["CONFLICT"]);
  });
});
