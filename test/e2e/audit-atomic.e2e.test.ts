// Issue 6, "never lost": an audited change of the tenants service and its audit event commit together or not at all.
// A trigger makes the insert into the tenants service's audit outbox fail for one action at a time: the mutation must
// then leave nothing behind (no change, no event, nothing announced to other services); the same mutation without the
// fault stores the change and exactly one event, which reaches the audit trail once.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import {
  AuditSetRetentionDocument,
  CreateRoleDocument,
  IdentityChangePasswordDocument,
  IdentityCreateApiKeyDocument,
  IdentityCreateUserDocument,
  IdentityDeactivateUserDocument,
  IdentityLoginDocument,
  IdentityMeDocument,
  IdentityMyTenantDocument,
  IdentityPlatformLoginDocument,
  IdentityRevokeApiKeyDocument,
  IdentitySuspendTenantDocument,
  IdentityUpdateTenantDocument,
  LifecycleCreatePlatformUserDocument,
} from "../__generated__/graphql.js";
import { startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";
import { codesOf, waitUntil } from "./e2e-helpers.js";
import { PLATFORM_AUDIT_TRAIL } from "../../kernel/audit.js";
import { createPlatformUser } from "../../subgraphs/tenants/platform/platform.service.js";
import { PlatformRole } from "../../subgraphs/tenants/platform/platform-user.entity.js";

type Result = { errors?: readonly { extensions?: Record<string, unknown> }[]; data?: unknown };

interface Case {
  name: string;
  /** The audit action whose outbox insert fails. */
  action: string;
  /** Whose trail the event goes to. */
  trail: () => string;
  /** Runs the mutation once (the same input both times: a failed first attempt must not make the second conflict). */
  run: () => Promise<Result>;
  /** Whether the mutation's change is stored. */
  changed: () => Promise<boolean>;
  /** Optional: what must still hold after the failed attempt (nothing was announced to other services). */
  afterFailure?: () => Promise<void>;
}

describe("atomic audit in the tenants service", () => {
  let t: TestStack;
  let db: pg.Client;
  let a: TenantLogin;
  let victim: TenantLogin;
  let operator: string;

  const count = async (sql: string, params: unknown[]) => Number((await db.query(sql, params)).rows[0].count);
  const outboxed = (trail: string, action: string) =>
    count(`select count(*) from tenants.audit_outbox where tenant_id = $1 and payload->>'action' = $2`, [trail, action]);
  const stored = (trail: string, action: string) => count(`select count(*) from audit.audit_event where tenant_id = $1 and action = $2`, [trail, action]);
  const failOutbox = (action: string | null) =>
    action ? db.query(`insert into test_faults.fail_action (action) values ($1)`, [action]) : db.query(`delete from test_faults.fail_action`);
  const login = async (slug: string, email: string, password: string) => t.request(IdentityLoginDocument, { input: { tenant: slug, email, password } });

  beforeAll(async () => {
    t = await startTestStack();
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    // The fault: the outbox insert of a listed action raises (as a full disk or a lost connection would).
    await db.query(`create schema test_faults`);
    await db.query(`create table test_faults.fail_action (action text primary key)`);
    await db.query(`create function test_faults.fail_outbox() returns trigger language plpgsql as $$
      begin
        if exists (select 1 from test_faults.fail_action where action = new.payload->>'action') then
          raise exception 'injected audit outbox failure for %', new.payload->>'action';
        end if;
        return new;
      end $$`);
    await db.query(`create trigger fail_outbox before insert on tenants.audit_outbox for each row execute function test_faults.fail_outbox()`);
    // A change that fails at commit, after its audit event was written in the same transaction.
    await db.query(`create function test_faults.fail_role_late() returns trigger language plpgsql as $$
      begin
        if new.name like 'late-fail-%' then raise exception 'injected failure at commit for role %', new.name; end if;
        return new;
      end $$`);
    await db.query(
      `create constraint trigger role_fails_late after insert on tenants.role deferrable initially deferred for each row execute function test_faults.fail_role_late()`,
    );

    a = await t.tenant("atomic-a");
    victim = await t.tenant("atomic-victim");
    const email = `atomic-${randomUUID().slice(0, 8)}@ops.example`;
    const password = `Pw-${randomUUID()}`;
    await createPlatformUser(t.stack.tenants.orm.em.fork(), { email, role: PlatformRole.SUPER_ADMIN, password });
    operator = (await t.request(IdentityPlatformLoginDocument, { input: { email, password } })).data!.platformLogin.accessToken;
  });
  afterAll(async () => {
    await db?.end();
    await t?.stop();
  });

  // A user of tenant A with a password and a live token (for deactivation and password change).
  const member = async (name: string) => {
    const email = `${name}@atomic-a.example`;
    const password = `Pw-${randomUUID()}`;
    const created = await t.request(IdentityCreateUserDocument, { input: { email, password, roles: ["USER"] } }, a.token);
    expect(created.errors).toBeUndefined();
    const signedIn = await login("atomic-a", email, password);
    expect(signedIn.errors).toBeUndefined();
    return { id: created.data!.createUser.user.id, email, password, token: signedIn.data!.login.accessToken };
  };
  const tokenWorks = async (token: string) => (await t.request(IdentityMeDocument, {}, token)).errors === undefined;

  const cases: Case[] = [
    {
      name: "createRole",
      action: "role.created",
      trail: () => a.tenantId,
      run: () => t.request(CreateRoleDocument, { input: { name: "Atomic auditors", permissions: ["sync:pull"] } }, a.token),
      changed: async () => (await count(`select count(*) from tenants.role where tenant_id = $1 and name = 'Atomic auditors'`, [a.tenantId])) === 1,
    },
    {
      name: "createUser",
      action: "user.created",
      trail: () => a.tenantId,
      run: () => t.request(IdentityCreateUserDocument, { input: { email: "carol@atomic-a.example", password: "a-long-password-1", roles: ["USER"] } }, a.token),
      changed: async () => (await count(`select count(*) from tenants."user" where tenant_id = $1 and email = 'carol@atomic-a.example'`, [a.tenantId])) === 1,
    },
    {
      name: "createApiKey",
      action: "api_key.created",
      trail: () => a.tenantId,
      run: () => t.request(IdentityCreateApiKeyDocument, { input: { name: "atomic-key", scopes: ["sync:pull"] } }, a.token),
      changed: async () => (await count(`select count(*) from tenants.api_key where tenant_id = $1 and name = 'atomic-key'`, [a.tenantId])) === 1,
    },
    {
      name: "setAuditRetention (tenant admin)",
      action: "tenant.audit_retention.changed",
      trail: () => a.tenantId,
      run: () => t.request(AuditSetRetentionDocument, { days: 400 }, a.token),
      changed: async () => (await count(`select count(*) from tenants.tenant where id = $1 and audit_retention_override_days = 400`, [a.tenantId])) === 1,
    },
    {
      name: "updateTenant (platform operator)",
      action: "tenant.updated",
      trail: () => a.tenantId,
      run: () => t.request(IdentityUpdateTenantDocument, { id: a.tenantId, input: { name: "Atomic renamed" } }, operator),
      changed: async () => (await count(`select count(*) from tenants.tenant where id = $1 and name = 'Atomic renamed'`, [a.tenantId])) === 1,
    },
    {
      name: "suspendTenant (platform operator): no revocation is announced for a rolled-back suspension",
      action: "tenant.suspended",
      trail: () => victim.tenantId,
      run: () => t.request(IdentitySuspendTenantDocument, { id: victim.tenantId, reason: "atomic" }, operator),
      changed: async () => (await count(`select count(*) from tenants.tenant where id = $1 and status = 'SUSPENDED'`, [victim.tenantId])) === 1,
      afterFailure: async () => expect(await tokenWorks(victim.token)).toBe(true),
    },
    {
      name: "createPlatformUser (the installation's trail)",
      action: "platform.user.created",
      trail: () => PLATFORM_AUDIT_TRAIL,
      run: () => t.request(LifecycleCreatePlatformUserDocument, { input: { email: "atomic-op@ops.example", role: PlatformRole.SUPPORT, password: "a-long-password-2" } }, operator),
      changed: async () => (await count(`select count(*) from tenants.platform_user where email = 'atomic-op@ops.example'`, [])) === 1,
    },
  ];

  for (const c of cases) {
    it(`${c.name}: with the outbox insert failing nothing is stored; without, the change and exactly one event`, async () => {
      const trail = c.trail();
      const [outboxBefore, storedBefore] = [await outboxed(trail, c.action), await stored(trail, c.action)];
      expect(await c.changed()).toBe(false);

      await failOutbox(c.action);
      try {
        const failed = await c.run();
        expect(codesOf(failed)).toEqual(["INTERNAL_SERVER_ERROR"]);
      } finally {
        await failOutbox(null);
      }
      expect(await c.changed()).toBe(false);
      expect(await outboxed(trail, c.action)).toBe(outboxBefore);
      await c.afterFailure?.();

      const ok = await c.run();
      expect(ok.errors).toBeUndefined();
      expect(await c.changed()).toBe(true);
      expect(await outboxed(trail, c.action)).toBe(outboxBefore + 1);
      await waitUntil(async () => (await stored(trail, c.action)) === storedBefore + 1, `${c.action} stored in the audit trail`, 10_000);
    }, 30_000);
  }

  it("deactivateUser: a failed deactivation keeps the user, their sessions and their token; a successful one ends them with one event", async () => {
    const bob = await member("bob");
    const before = await outboxed(a.tenantId, "user.deactivated");
    await failOutbox("user.deactivated");
    try {
      expect(codesOf(await t.request(IdentityDeactivateUserDocument, { id: bob.id }, a.token))).toEqual(["INTERNAL_SERVER_ERROR"]);
    } finally {
      await failOutbox(null);
    }
    expect((await db.query(`select status, tokens_valid_after from tenants."user" where id = $1`, [bob.id])).rows[0]).toEqual({ status: "ACTIVE", tokens_valid_after: null });
    expect(await count(`select count(*) from tenants.refresh_token where user_id = $1 and revoked_at is not null`, [bob.id])).toBe(0);
    // Nothing was announced: every service still accepts bob's token.
    expect(await tokenWorks(bob.token)).toBe(true);
    expect(await outboxed(a.tenantId, "user.deactivated")).toBe(before);

    const ok = await t.request(IdentityDeactivateUserDocument, { id: bob.id }, a.token);
    expect(ok.errors).toBeUndefined();
    expect(ok.data!.deactivateUser.status).toBe("DISABLED");
    expect(await outboxed(a.tenantId, "user.deactivated")).toBe(before + 1);
    await waitUntil(async () => !(await tokenWorks(bob.token)), "bob's token refused once the deactivation committed", 5_000);
  }, 30_000);

  it("changePassword: a failed change keeps the old password and the sessions", async () => {
    const dave = await member("dave");
    const hash = async () => (await db.query(`select password_hash from tenants."user" where id = $1`, [dave.id])).rows[0].password_hash as string;
    const before = { hash: await hash(), events: await outboxed(a.tenantId, "user.password.changed") };
    const input = { currentPassword: dave.password, newPassword: `New-${randomUUID()}` };
    await failOutbox("user.password.changed");
    try {
      expect(codesOf(await t.request(IdentityChangePasswordDocument, { input }, dave.token))).toEqual(["INTERNAL_SERVER_ERROR"]);
    } finally {
      await failOutbox(null);
    }
    expect(await hash()).toBe(before.hash);
    expect(await tokenWorks(dave.token)).toBe(true);
    expect((await login("atomic-a", dave.email, dave.password)).errors).toBeUndefined();
    expect(await outboxed(a.tenantId, "user.password.changed")).toBe(before.events);

    expect((await t.request(IdentityChangePasswordDocument, { input }, dave.token)).errors).toBeUndefined();
    expect(await hash()).not.toBe(before.hash);
    expect(await outboxed(a.tenantId, "user.password.changed")).toBe(before.events + 1);
    expect(codesOf(await login("atomic-a", dave.email, dave.password))).toEqual(["UNAUTHENTICATED"]);
  }, 30_000);

  it("revokeApiKey: a failed revocation leaves the key usable and unrevoked", async () => {
    const created = await t.request(IdentityCreateApiKeyDocument, { input: { name: "atomic-revoke", scopes: ["sync:pull"] } }, a.token);
    const { id } = created.data!.createApiKey.apiKey;
    const revokedAt = async () => (await db.query(`select revoked_at from tenants.api_key where id = $1`, [id])).rows[0].revoked_at as Date | null;
    const before = await outboxed(a.tenantId, "api_key.revoked");
    await failOutbox("api_key.revoked");
    try {
      expect(codesOf(await t.request(IdentityRevokeApiKeyDocument, { id }, a.token))).toEqual(["INTERNAL_SERVER_ERROR"]);
    } finally {
      await failOutbox(null);
    }
    expect(await revokedAt()).toBeNull();
    const keyWorks = async () => (await t.request(IdentityMyTenantDocument, {}, created.data!.createApiKey.secret)).errors === undefined;
    expect(await keyWorks()).toBe(true);
    expect(await outboxed(a.tenantId, "api_key.revoked")).toBe(before);
    expect((await t.request(IdentityRevokeApiKeyDocument, { id }, a.token)).errors).toBeUndefined();
    expect(await revokedAt()).not.toBeNull();
    expect(await outboxed(a.tenantId, "api_key.revoked")).toBe(before + 1);
    await waitUntil(async () => !(await keyWorks()), "the revoked key refused", 5_000);
  }, 30_000);

  it("login: a sign-in whose event cannot be written opens no session; failed sign-ins are still recorded on their own", async () => {
    const erin = await member("erin");
    const sessions = () => count(`select count(*) from tenants.refresh_token where user_id = $1`, [erin.id]);
    const lastLogin = async () => (await db.query(`select last_login_at from tenants."user" where id = $1`, [erin.id])).rows[0].last_login_at as Date | null;
    const before = { sessions: await sessions(), last: await lastLogin(), events: await outboxed(a.tenantId, "auth.login.succeeded") };
    await failOutbox("auth.login.succeeded");
    try {
      expect(codesOf(await login("atomic-a", erin.email, erin.password))).toEqual(["INTERNAL_SERVER_ERROR"]);
      // A failure is recorded on its own (nothing to commit with), unaffected by the success path's fault.
      const failures = await outboxed(a.tenantId, "auth.login.failed");
      expect(codesOf(await login("atomic-a", erin.email, "a-wrong-password"))).toEqual(["UNAUTHENTICATED"]);
      expect(await outboxed(a.tenantId, "auth.login.failed")).toBe(failures + 1);
    } finally {
      await failOutbox(null);
    }
    expect(await sessions()).toBe(before.sessions);
    expect(await lastLogin()).toEqual(before.last);
    expect(await outboxed(a.tenantId, "auth.login.succeeded")).toBe(before.events);
    expect((await login("atomic-a", erin.email, erin.password)).errors).toBeUndefined();
    expect(await sessions()).toBe(before.sessions + 1);
    expect(await outboxed(a.tenantId, "auth.login.succeeded")).toBe(before.events + 1);
  }, 30_000);

  it("a change that fails at commit, after its event was written in the transaction, leaves neither", async () => {
    const before = await outboxed(a.tenantId, "role.created");
    const res = await t.request(CreateRoleDocument, { input: { name: "late-fail-role", permissions: ["sync:pull"] } }, a.token);
    expect(codesOf(res)).toEqual(["INTERNAL_SERVER_ERROR"]);
    expect(await count(`select count(*) from tenants.role where name = 'late-fail-role'`, [])).toBe(0);
    expect(await outboxed(a.tenantId, "role.created")).toBe(before);
    expect(await count(`select count(*) from tenants.audit_outbox where payload->'changes'->'name'->>'after' = 'late-fail-role'`, [])).toBe(0);
  });

  it("nothing is duplicated afterwards: each successful mutation's event is stored once, and the chains verify", async () => {
    await waitUntil(async () => (await count(`select count(*) from tenants.audit_outbox where delivered_at is null`, [])) === 0, "the outbox drained", 10_000);
    for (const c of cases) expect({ action: c.action, outbox: await outboxed(c.trail(), c.action) }).toEqual({ action: c.action, outbox: await stored(c.trail(), c.action) });
    expect(await count(`select count(*) from audit.audit_event`, [])).toBe(await count(`select count(distinct id) from audit.audit_event`, []));
  });
});
