// Identity end to end, through the gateway unless a test says otherwise: sessions and refresh-token rotation, platform
// operators, tenant suspension, users and invitations, API keys, signing-key rotation and login throttling.
// Each describe boots its own stack (fresh database); one embedded PostgreSQL serves the whole file.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomUUID } from "node:crypto";
import { decodeJwt, decodeProtectedHeader } from "jose";
import pg from "pg";
import {
  IdentityAcceptInvitationDocument,
  IdentityActivateTenantDocument,
  IdentityApiKeysDocument,
  IdentityAuditEventsDocument,
  IdentityChangePasswordDocument,
  IdentityConnectorsDocument,
  IdentityCreateApiKeyDocument,
  IdentityCreateConnectorDocument,
  IdentityCreateRoleDocument,
  IdentityCreateTenantDocument,
  IdentityCreateUserDocument,
  IdentityDeactivateUserDocument,
  IdentityDeleteTenantDocument,
  IdentityLoginDocument,
  IdentityLogoutDocument,
  IdentityLogoutEverywhereDocument,
  IdentityMeDocument,
  IdentityMyTenantDocument,
  IdentityPlatformLoginDocument,
  IdentityRefreshDocument,
  IdentityRevokeApiKeyDocument,
  IdentityRolesDocument,
  IdentityRotateSigningKeyDocument,
  IdentityStartSyncRunDocument,
  IdentitySuspendTenantDocument,
  IdentitySyncRunsDocument,
  IdentitySyncRunUpdatedDocument,
  IdentityTenantByIdDocument,
  IdentityTenantsDocument,
  IdentityUpdateTenantDocument,
  IdentityUsersDocument,
  IdentityViewerDocument,
  type IdentityTenantsQuery,
  type IdentityUsersQuery,
} from "../__generated__/graphql.js";
import { createTestDatabase, releasePostgres, startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";
import { createPlatformUser } from "../../subgraphs/tenants/platform/platform.service.js";
import { KEY_ACTIVATION_DELAY_MS } from "../../subgraphs/tenants/auth/key-store.js";
import { PlatformRole } from "../../subgraphs/tenants/platform/platform-user.entity.js";
import { API_KEY_EXCHANGE_PATH, REVOCATIONS_PATH, internalHeaders } from "../../kernel/internal-auth.js";
import { codesOf, Feed, post, socketHandshake, waitUntil } from "./e2e-helpers.js";

type AnyResult = { errors?: readonly { extensions?: Record<string, unknown> }[]; data?: unknown; status?: number };

/** Asserts the response has no errors and returns its data. */
async function ok<T extends AnyResult>(p: Promise<T>): Promise<NonNullable<T["data"]>> {
  const res = await p;
  expect(res.errors).toBeUndefined();
  expect(res.data).toBeTruthy();
  return res.data as NonNullable<T["data"]>;
}

/** The error codes of a response (and no data). */
async function refused(p: Promise<AnyResult>): Promise<unknown[]> {
  const res = await p;
  expect(res.data ?? null).toBeNull();
  return codesOf(res);
}

/** A strong, unique password. */
const newPassword = () => `pw-${randomUUID()}`;

/** Everything stored in the database, as text (every table of every schema): to prove secrets are never stored. */
async function databaseText(databaseUrl: string): Promise<string> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const tables = await db.query<{ s: string; t: string }>(
      `select table_schema as s, table_name as t from information_schema.tables
        where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')`,
    );
    expect(tables.rows.map((r) => `${r.s}.${r.t}`)).toEqual(expect.arrayContaining(["tenants.user", "tenants.api_key", "tenants.refresh_token"]));
    const parts: string[] = [];
    for (const { s, t } of tables.rows) {
      const rows = await db.query<{ row: string }>(`select x::text as row from "${s}"."${t}" x`);
      parts.push(...rows.rows.map((r) => r.row));
    }
    return parts.join("\n");
  } finally {
    await db.end();
  }
}

// One embedded PostgreSQL for the whole file (each describe's stack gets its own database on it).
beforeAll(async () => {
  await createTestDatabase();
});
afterAll(async () => {
  await releasePostgres();
});

interface Session {
  userId: string;
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
}

/** Helpers bound to one stack. */
function identity(get: () => TestStack) {
  const t = () => get();
  const login = (tenant: string, email: string, password: string) => t().request(IdentityLoginDocument, { input: { tenant, email, password } });
  async function session(tenant: string, email: string, password: string): Promise<Session> {
    const data = await ok(login(tenant, email, password));
    return { userId: data.login.user.id, email, password, accessToken: data.login.accessToken, refreshToken: data.login.refreshToken };
  }
  /** Creates a user with a password in the admin's tenant and signs them in. */
  async function member(admin: TenantLogin, roles: string[] = ["USER"], emailPrefix = "member"): Promise<Session> {
    const email = `${emailPrefix}-${randomUUID().slice(0, 8)}@${admin.slug}.example`;
    const password = newPassword();
    await ok(t().request(IdentityCreateUserDocument, { input: { email, roles, password } }, admin.token));
    return session(admin.slug, email, password);
  }
  /** A platform operator created in the database (as the CLI does), signed in through the gateway. */
  async function operator(role: PlatformRole): Promise<{ id: string; email: string; password: string; token: string }> {
    const email = `${role.toLowerCase()}-${randomUUID().slice(0, 8)}@ops.example`;
    const password = newPassword();
    const user = await createPlatformUser(t().stack.tenants.orm.em.fork(), { email, role, password });
    const data = await ok(t().request(IdentityPlatformLoginDocument, { input: { email, password } }));
    return { id: user.id, email, password, token: data.platformLogin.accessToken };
  }
  const me = (token: string) => t().request(IdentityMeDocument, {}, token);
  const refresh = (refreshToken: string) => t().request(IdentityRefreshDocument, { refreshToken });
  /** Polls the tenant's audit log until an event matches. */
  async function auditEvent(token: string, actionPrefix: string, match: (e: { action: string; targetId?: string | null; actorType: string; metadata?: unknown; changes?: unknown }) => boolean, what: string) {
    return waitUntil(async () => {
      const res = await t().request(IdentityAuditEventsDocument, { actionPrefix, limit: 100 }, token);
      expect(res.errors).toBeUndefined();
      return res.data?.auditEvents.nodes.find(match);
    }, what);
  }
  return { login, session, member, operator, me, refresh, auditEvent };
}

describe("identity: sessions and refresh tokens", () => {
  let t: TestStack;
  let admin: TenantLogin;
  const h = identity(() => t);

  beforeAll(async () => {
    t = await startTestStack();
    admin = await t.tenant("id-sessions");
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("login returns an access token for the user and a refresh token", async () => {
    const email = `login-${randomUUID().slice(0, 8)}@id-sessions.example`;
    const password = newPassword();
    const created = await ok(t.request(IdentityCreateUserDocument, { input: { email, roles: ["USER"], password } }, admin.token));
    const data = await ok(h.login("id-sessions", email, password));
    expect(data.login).toMatchObject({ tokenType: "Bearer", user: { id: created.createUser.user.id, email, roles: ["USER"] } });
    expect(data.login.refreshToken).toMatch(/^rt\.[0-9a-f-]{36}\.[A-Za-z0-9_-]{20,}$/);
    expect(new Date(data.login.refreshExpiresAt).getTime()).toBeGreaterThan(new Date(data.login.expiresAt).getTime());
    const claims = decodeJwt(data.login.accessToken);
    expect(claims).toMatchObject({ sub: created.createUser.user.id, tid: admin.tenantId, knd: "user" });
    expect((await ok(h.me(data.login.accessToken))).me).toMatchObject({ id: created.createUser.user.id, email });
  });

  it("refreshSession returns a new pair, and a chain of rotations keeps working", async () => {
    const s = await h.member(admin);
    let refreshToken = s.refreshToken;
    const seen = new Set([s.accessToken, s.refreshToken]);
    for (let i = 0; i < 3; i++) {
      const next = (await ok(h.refresh(refreshToken))).refreshSession;
      expect(next.user.id).toBe(s.userId);
      expect(seen.has(next.accessToken) || seen.has(next.refreshToken)).toBe(false);
      seen.add(next.accessToken).add(next.refreshToken);
      expect((await ok(h.me(next.accessToken))).me.id).toBe(s.userId);
      refreshToken = next.refreshToken;
    }
  });

  it("a spent refresh token → UNAUTHENTICATED, and its reuse revokes the family (the rotated token too), audited as auth.refresh.reused", async () => {
    const s = await h.member(admin);
    const rotated = (await ok(h.refresh(s.refreshToken))).refreshSession;
    // The spent token is refused...
    expect(await refused(h.refresh(s.refreshToken))).toEqual(["UNAUTHENTICATED"]);
    // ...and presenting it again was a reuse: the token it was exchanged for is dead too.
    expect(await refused(h.refresh(rotated.refreshToken))).toEqual(["UNAUTHENTICATED"]);
    expect(await refused(h.refresh(s.refreshToken))).toEqual(["UNAUTHENTICATED"]);
    const event = await h.auditEvent(admin.token, "auth.refresh", (e) => e.action === "auth.refresh.reused" && e.targetId === s.userId, "auth.refresh.reused for the member");
    expect(event).toMatchObject({ action: "auth.refresh.reused", actorType: "USER", targetType: "User", targetId: s.userId });
    expect((event.metadata as { familyId?: string }).familyId).toEqual(expect.any(String));
    // Another session of the same user is a different family: untouched.
    const other = await h.session("id-sessions", s.email, s.password);
    expect((await ok(h.refresh(other.refreshToken))).refreshSession.user.id).toBe(s.userId);
  });

  it("a malformed or unknown refresh token → UNAUTHENTICATED", async () => {
    for (const token of ["", "garbage", `rt.${randomUUID()}.${"x".repeat(43)}`]) {
      expect({ token, codes: await refused(h.refresh(token)) }).toEqual({ token, codes: ["UNAUTHENTICATED"] });
    }
  });

  it("logout(refreshToken) ends that session only", async () => {
    const s = await h.member(admin);
    const other = await h.session("id-sessions", s.email, s.password);
    expect((await ok(t.request(IdentityLogoutDocument, { refreshToken: s.refreshToken }))).logout).toBe(true);
    expect(await refused(h.refresh(s.refreshToken))).toEqual(["UNAUTHENTICATED"]);
    expect((await ok(h.refresh(other.refreshToken))).refreshSession.user.id).toBe(s.userId);
  });

  /**
   * Opens sockets with `token` at the gateway and straight at the sync subgraph (both acknowledged), runs `end`, and
   * returns how each socket was closed within 2 s.
   */
  async function socketsClosedBy(token: string, end: () => Promise<void>): Promise<{ gateway?: number; subgraph?: number }> {
    let ended!: () => void;
    const endedOnce = new Promise<void>((resolve) => (ended = resolve));
    const acks: Promise<void>[] = [];
    const watch = (url: string) => {
      let acked!: () => void;
      acks.push(new Promise<void>((resolve) => (acked = resolve)));
      return socketHandshake(url, { authorization: `Bearer ${token}` }, async (ws) => {
        acked();
        await endedOnce;
        await waitUntil(() => ws.readyState === ws.CLOSED, "the socket to be closed", 2_000).catch(() => undefined);
      });
    };
    const sockets = Promise.all([watch(t.wsUrl), watch(t.stack.sync.wsUrl)]);
    // Both acknowledged before the session ends (or one refused: checked below).
    await Promise.race([Promise.all(acks), sockets]);
    await end();
    ended();
    const [gateway, subgraph] = await sockets;
    expect([gateway.acknowledged, subgraph.acknowledged]).toEqual([true, true]);
    return { gateway: gateway.code, subgraph: subgraph.code };
  }

  /** How an access token fares at the gateway (HTTP status and code) and on each subgraph called directly. */
  async function accessFor(token: string) {
    const gateway = await h.me(token);
    const subgraphs: Record<string, unknown[]> = {};
    for (const name of ["tenants", "sync", "connectors", "audit"] as const) subgraphs[name] = codesOf((await post(t.stack[name].url, "{ __typename }", {}, token)).body);
    return { gateway: { status: gateway.status, codes: codesOf(gateway) }, subgraphs };
  }
  const refusedEverywhere = {
    gateway: { status: 401, codes: ["UNAUTHENTICATED"] },
    subgraphs: { tenants: ["UNAUTHENTICATED"], sync: ["UNAUTHENTICATED"], connectors: ["UNAUTHENTICATED"], audit: ["UNAUTHENTICATED"] },
  };
  const acceptedEverywhere = { gateway: { status: 200, codes: [] }, subgraphs: { tenants: [], sync: [], connectors: [], audit: [] } };

  it("logout(refreshToken) ends that session's access token at once: at the gateway, on every subgraph and on its open sockets (4401); another session stays", async () => {
    const s = await h.member(admin);
    const other = await h.session("id-sessions", s.email, s.password);
    expect(await accessFor(s.accessToken)).toEqual(acceptedEverywhere);
    const closed = await socketsClosedBy(s.accessToken, async () => {
      expect((await ok(t.request(IdentityLogoutDocument, { refreshToken: s.refreshToken }))).logout).toBe(true);
    });
    expect(closed).toEqual({ gateway: 4401, subgraph: 4401 });
    expect(await accessFor(s.accessToken)).toEqual(refusedEverywhere);
    // A new socket with the ended session's token is refused at connect.
    expect((await socketHandshake(t.wsUrl, { authorization: `Bearer ${s.accessToken}` })).code).toBe(4401);
    // The user's other session is another family: untouched.
    expect(await accessFor(other.accessToken)).toEqual(acceptedEverywhere);
  });

  it("refresh-token reuse ends the session's access tokens at once (the rotated one too), everywhere and on open sockets", async () => {
    const s = await h.member(admin);
    const other = await h.session("id-sessions", s.email, s.password);
    const rotated = (await ok(h.refresh(s.refreshToken))).refreshSession;
    expect(await accessFor(rotated.accessToken)).toEqual(acceptedEverywhere);
    const closed = await socketsClosedBy(rotated.accessToken, async () => {
      // The spent token presented again: a copy is in someone else's hands.
      expect(await refused(h.refresh(s.refreshToken))).toEqual(["UNAUTHENTICATED"]);
    });
    expect(closed).toEqual({ gateway: 4401, subgraph: 4401 });
    expect(await accessFor(rotated.accessToken)).toEqual(refusedEverywhere);
    expect(await accessFor(s.accessToken)).toEqual(refusedEverywhere);
    expect(await accessFor(other.accessToken)).toEqual(acceptedEverywhere);
  });

  it("a process that missed the announcement learns ended sessions from the revocation snapshot", async () => {
    const s = await h.member(admin);
    await ok(t.request(IdentityLogoutDocument, { refreshToken: s.refreshToken }));
    const res = await fetch(new URL(REVOCATIONS_PATH, t.stack.tenants.url), { headers: internalHeaders(t.secrets.internal) });
    const snapshot = (await res.json()) as { sessions?: { sessionId: string }[] };
    const sid = decodeJwt(s.accessToken).sid;
    expect(typeof sid).toBe("string");
    expect(snapshot.sessions?.map((x) => x.sessionId)).toContain(sid);
  });

  it("changePassword: wrong current password or a short new one → BAD_USER_INPUT, and nothing changes", async () => {
    const s = await h.member(admin);
    const wrong = await t.request(IdentityChangePasswordDocument, { input: { currentPassword: "not-my-password", newPassword: newPassword() } }, s.accessToken);
    expect(codesOf(wrong)).toEqual(["BAD_USER_INPUT"]);
    expect(wrong.errors?.[0]?.extensions?.field).toBe("currentPassword");
    const short = await t.request(IdentityChangePasswordDocument, { input: { currentPassword: s.password, newPassword: "short" } }, s.accessToken);
    expect(codesOf(short)).toEqual(["BAD_USER_INPUT"]);
    expect(short.errors?.[0]?.extensions?.field).toBe("newPassword");
    // The old password and the session still work.
    expect((await ok(h.me(s.accessToken))).me.id).toBe(s.userId);
    await ok(h.login("id-sessions", s.email, s.password));
  });

  it("changePassword: the old access token is refused at once, the old refresh token too; the new password signs in", async () => {
    const s = await h.member(admin);
    const changed = newPassword();
    expect((await ok(t.request(IdentityChangePasswordDocument, { input: { currentPassword: s.password, newPassword: changed } }, s.accessToken))).changePassword).toBe(true);
    expect(codesOf((await post(t.stack.tenants.url, "{ me { id } }", {}, s.accessToken)).body)).toEqual(["UNAUTHENTICATED"]);
    expect(await refused(h.refresh(s.refreshToken))).toEqual(["UNAUTHENTICATED"]);
    expect(await refused(h.login("id-sessions", s.email, s.password))).toEqual(["UNAUTHENTICATED"]);
    const fresh = await h.session("id-sessions", s.email, changed);
    expect((await ok(h.me(fresh.accessToken))).me.id).toBe(s.userId);
    // Through the gateway the old token is refused with the same code.
    expect(await refused(h.me(s.accessToken))).toEqual(["UNAUTHENTICATED"]);
  });

  it("changePassword: the new password is never stored or audited in clear", async () => {
    const s = await h.member(admin);
    const changed = newPassword();
    await ok(t.request(IdentityChangePasswordDocument, { input: { currentPassword: s.password, newPassword: changed } }, s.accessToken));
    await h.auditEvent(admin.token, "user.password", (e) => e.targetId === s.userId, "user.password.changed");
    const text = await databaseText(t.databaseUrl);
    expect(text).toContain(s.userId); // control: the dump does see the user's rows
    expect(text).not.toContain(changed);
    expect(text).not.toContain(s.password);
  });

  it("logoutEverywhere ends every access and refresh token of the user at once", async () => {
    const s = await h.member(admin);
    const second = await h.session("id-sessions", s.email, s.password);
    expect((await ok(t.request(IdentityLogoutEverywhereDocument, {}, s.accessToken))).logoutEverywhere).toBe(true);
    for (const token of [s.accessToken, second.accessToken]) {
      expect(codesOf((await post(t.stack.tenants.url, "{ me { id } }", {}, token)).body)).toEqual(["UNAUTHENTICATED"]);
    }
    expect(await refused(h.refresh(second.refreshToken))).toEqual(["UNAUTHENTICATED"]);
    // Another user is not affected; the user can sign in again.
    expect((await ok(h.me(admin.token))).me.id).toBe(admin.userId);
    const again = await h.session("id-sessions", s.email, s.password);
    expect((await ok(h.me(again.accessToken))).me.id).toBe(s.userId);
    // Through the gateway both old tokens are refused with the same code.
    expect(await refused(h.me(s.accessToken))).toEqual(["UNAUTHENTICATED"]);
    expect(await refused(h.me(second.accessToken))).toEqual(["UNAUTHENTICATED"]);
  });

  it("a revoked access token through the gateway → UNAUTHENTICATED on every subgraph's fields (never INTERNAL_SERVER_ERROR)", async () => {
    const s = await h.member(admin);
    await ok(t.request(IdentityLogoutEverywhereDocument, {}, s.accessToken));
    const results = {
      me: codesOf(await h.me(s.accessToken)),
      connectors: codesOf(await t.request(IdentityConnectorsDocument, {}, s.accessToken)),
      syncRuns: codesOf(await t.request(IdentitySyncRunsDocument, { limit: 1 }, s.accessToken)),
    };
    expect(results).toEqual({ me: ["UNAUTHENTICATED"], connectors: ["UNAUTHENTICATED"], syncRuns: ["UNAUTHENTICATED"] });
  });

  it("a revoked access token is refused by every subgraph called directly too", async () => {
    const s = await h.member(admin);
    await ok(t.request(IdentityLogoutEverywhereDocument, {}, s.accessToken));
    for (const name of ["tenants", "sync", "connectors", "audit"] as const) {
      const res = await post(t.stack[name].url, "{ __typename }", {}, s.accessToken);
      expect({ name, codes: codesOf(res.body) }).toEqual({ name, codes: ["UNAUTHENTICATED"] });
    }
  });
});

describe("identity: platform operators", () => {
  let t: TestStack;
  let tenantA: TenantLogin;
  let superAdmin: Awaited<ReturnType<ReturnType<typeof identity>["operator"]>>;
  const h = identity(() => t);

  beforeAll(async () => {
    t = await startTestStack();
    tenantA = await t.tenant("plat-a");
    superAdmin = await h.operator(PlatformRole.SUPER_ADMIN);
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("platformLogin returns a platform token (no tenant); a wrong password → UNAUTHENTICATED", async () => {
    const claims = decodeJwt(superAdmin.token);
    expect(claims).toMatchObject({ sub: superAdmin.id, knd: "platform", prl: "SUPER_ADMIN" });
    expect(claims.tid).toBeUndefined();
    expect(await refused(t.request(IdentityPlatformLoginDocument, { input: { email: superAdmin.email, password: "wrong-password-123" } }))).toEqual(["UNAUTHENTICATED"]);
    // A tenant admin's credentials are not platform credentials.
    expect(await refused(t.request(IdentityPlatformLoginDocument, { input: { email: tenantA.email, password: "whatever-password" } }))).toEqual(["UNAUTHENTICATED"]);
  });

  it("a platform token on tenant data (me, connectors, tenant, users) → FORBIDDEN", async () => {
    expect(await refused(h.me(superAdmin.token))).toEqual(["FORBIDDEN"]);
    expect(await refused(t.request(IdentityConnectorsDocument, {}, superAdmin.token))).toEqual(["FORBIDDEN"]);
    expect(await refused(t.request(IdentityMyTenantDocument, {}, superAdmin.token))).toEqual(["FORBIDDEN"]);
    expect(await refused(t.request(IdentityUsersDocument, { first: 10 }, superAdmin.token))).toEqual(["FORBIDDEN"]);
  });

  it("a tenant token on platform operations (tenants, tenantById, createTenant) → FORBIDDEN, and nothing is created", async () => {
    expect(await refused(t.request(IdentityTenantsDocument, { first: 10 }, tenantA.token))).toEqual(["FORBIDDEN"]);
    expect(await refused(t.request(IdentityTenantByIdDocument, { id: tenantA.tenantId }, tenantA.token))).toEqual(["FORBIDDEN"]);
    const input = { slug: "plat-by-tenant", name: "Nope", plan: "FREE" as const, adminEmail: "x@plat-by-tenant.example" };
    expect(await refused(t.request(IdentityCreateTenantDocument, { input }, tenantA.token))).toEqual(["FORBIDDEN"]);
    const all = (await ok(t.request(IdentityTenantsDocument, { first: 100, filter: { search: "plat-by-tenant" } }, superAdmin.token))).tenants;
    expect(all.nodes).toEqual([]);
  });

  it("createTenant validates the slug → BAD_USER_INPUT on field slug", async () => {
    for (const slug of ["ab", "Has Space", "-lead", "trail-", "dou--ble", "x".repeat(64), "ümlaut", ""]) {
      const res = await t.request(IdentityCreateTenantDocument, { input: { slug, name: "Bad slug", plan: "FREE", adminEmail: "a@bad.example" } }, superAdmin.token);
      expect({ slug, codes: codesOf(res), field: res.errors?.[0]?.extensions?.field }).toEqual({ slug, codes: ["BAD_USER_INPUT"], field: "slug" });
    }
  });

  it("createTenant with a taken slug (any letter case) → CONFLICT", async () => {
    for (const slug of ["plat-a", "PLAT-A"]) {
      const res = await t.request(IdentityCreateTenantDocument, { input: { slug, name: "Dup", plan: "FREE", adminEmail: "a@dup.example" } }, superAdmin.token);
      expect({ slug, codes: codesOf(res) }).toEqual({ slug, codes: ["CONFLICT"] });
      expect(res.errors?.[0]?.extensions?.field).toBe("slug");
    }
  });

  it("createTenant returns the generated admin password once; the admin signs in and the tenant has the system roles", async () => {
    const created = (
      await ok(t.request(IdentityCreateTenantDocument, { input: { slug: "plat-new", name: "Plat New", plan: "STARTER", trialDays: 0, adminEmail: "Boss@Plat-New.example" } }, superAdmin.token))
    ).createTenant;
    expect(created.tenant).toMatchObject({ slug: "plat-new", name: "Plat New", status: "ACTIVE", plan: "STARTER" });
    expect(created.adminEmail).toBe("boss@plat-new.example");
    expect(created.adminPassword).toEqual(expect.any(String));
    expect(created.adminPassword!.length).toBeGreaterThanOrEqual(12);
    const admin = await h.session("plat-new", created.adminEmail, created.adminPassword!);
    expect((await ok(h.me(admin.accessToken))).me).toMatchObject({ email: "boss@plat-new.example", roles: ["ADMIN"], status: "ACTIVE" });
    const roles = (await ok(t.request(IdentityRolesDocument, {}, admin.accessToken))).roles;
    expect(roles.filter((r) => r.system).map((r) => r.name).sort()).toEqual(["ADMIN", "ANALYST", "MANAGER", "READ_ONLY", "USER"]);
    // Later reads never show the password again.
    const byId = await ok(t.request(IdentityTenantByIdDocument, { id: created.tenant.id }, superAdmin.token));
    expect(JSON.stringify(byId)).not.toContain(created.adminPassword!);
    // A TRIAL tenant by default; a given password is not echoed.
    const trial = (
      await ok(t.request(IdentityCreateTenantDocument, { input: { slug: "plat-trial", name: "Plat Trial", plan: "FREE", adminEmail: "a@plat-trial.example", adminPassword: newPassword() } }, superAdmin.token))
    ).createTenant;
    expect(trial.tenant.status).toBe("TRIAL");
    expect(trial.adminPassword).toBeNull();
  });

  it("tenants(filter, first, after) walks every tenant once; search filters by slug or name", async () => {
    for (let i = 0; i < 5; i++) {
      await ok(t.request(IdentityCreateTenantDocument, { input: { slug: `plat-page-${i}`, name: `Paged ${i}`, plan: "FREE", adminEmail: `a@plat-page-${i}.example` } }, superAdmin.token));
    }
    const everything = (await ok(t.request(IdentityTenantsDocument, { first: 100 }, superAdmin.token))).tenants;
    expect(everything.pageInfo.hasNextPage).toBe(false);
    expect(everything.nodes.length).toBeGreaterThanOrEqual(6);
    const walked: string[] = [];
    let after: string | null | undefined = null;
    for (let pages = 0; pages < 50; pages++) {
      const page: IdentityTenantsQuery["tenants"] = (await ok(t.request(IdentityTenantsDocument, { first: 2, after }, superAdmin.token))).tenants;
      expect(page.nodes.length).toBeLessThanOrEqual(2);
      walked.push(...page.nodes.map((n) => n.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
      expect(after).toEqual(expect.any(String));
    }
    expect(new Set(walked).size).toBe(walked.length);
    expect(walked).toEqual(everything.nodes.map((n) => n.id));

    const bySlug = (await ok(t.request(IdentityTenantsDocument, { first: 100, filter: { search: "plat-page" } }, superAdmin.token))).tenants.nodes;
    expect(bySlug.map((n) => n.slug).sort()).toEqual(["plat-page-0", "plat-page-1", "plat-page-2", "plat-page-3", "plat-page-4"]);
    const byName = (await ok(t.request(IdentityTenantsDocument, { first: 100, filter: { search: "PAGED 3" } }, superAdmin.token))).tenants.nodes;
    expect(byName.map((n) => n.slug)).toEqual(["plat-page-3"]);
    // LIKE wildcards are literal.
    expect((await ok(t.request(IdentityTenantsDocument, { first: 100, filter: { search: "%" } }, superAdmin.token))).tenants.nodes).toEqual([]);
  });

  it("tenants: a bad cursor or page size → BAD_USER_INPUT", async () => {
    const bad = await t.request(IdentityTenantsDocument, { first: 2, after: "not-a-cursor" }, superAdmin.token);
    expect(codesOf(bad)).toEqual(["BAD_USER_INPUT"]);
    expect(bad.errors?.[0]?.extensions?.field).toBe("after");
    for (const first of [0, 101]) expect(codesOf(await t.request(IdentityTenantsDocument, { first }, superAdmin.token))).toEqual(["BAD_USER_INPUT"]);
  });

  it("updateTenant: a plan change shows in limits (platform view and the tenant's own)", async () => {
    const before = (await ok(t.request(IdentityMyTenantDocument, {}, tenantA.token))).tenant;
    expect(before.plan).toBe("PRO");
    const updated = (await ok(t.request(IdentityUpdateTenantDocument, { id: tenantA.tenantId, input: { plan: "FREE" } }, superAdmin.token))).updateTenant;
    expect(updated).toMatchObject({ id: tenantA.tenantId, plan: "FREE", limits: { maxUsers: 5, maxConnectors: 1 } });
    const byId = (await ok(t.request(IdentityTenantByIdDocument, { id: tenantA.tenantId }, superAdmin.token))).tenantById;
    expect(byId.limits).toEqual({ maxUsers: 5, maxConnectors: 1, requestsPerHour: 1_000, requestsPerDay: 10_000, webhooks: false, liveSync: false, connectorWriteBack: false });
    const own = (await ok(t.request(IdentityMyTenantDocument, {}, tenantA.token))).tenant;
    expect(own).toMatchObject({ plan: "FREE", limits: { maxUsers: 5 } });
    expect(own.limits.maxUsers).not.toBe(before.limits.maxUsers);
    await ok(t.request(IdentityUpdateTenantDocument, { id: tenantA.tenantId, input: { plan: "ENTERPRISE", name: "Renamed A" } }, superAdmin.token));
    expect((await ok(t.request(IdentityMyTenantDocument, {}, tenantA.token))).tenant).toMatchObject({ plan: "ENTERPRISE", name: "Renamed A", limits: { maxUsers: 10_000 } });
  });

  it("a SUPPORT operator reads tenants but cannot create, update or suspend one (FORBIDDEN)", async () => {
    const support = await h.operator(PlatformRole.SUPPORT);
    const list = (await ok(t.request(IdentityTenantsDocument, { first: 100 }, support.token))).tenants;
    expect(list.nodes.map((n) => n.id)).toContain(tenantA.tenantId);
    expect((await ok(t.request(IdentityTenantByIdDocument, { id: tenantA.tenantId }, support.token))).tenantById.id).toBe(tenantA.tenantId);
    const input = { slug: "plat-by-support", name: "Nope", plan: "FREE" as const, adminEmail: "a@plat-by-support.example" };
    expect(await refused(t.request(IdentityCreateTenantDocument, { input }, support.token))).toEqual(["FORBIDDEN"]);
    expect(await refused(t.request(IdentityUpdateTenantDocument, { id: tenantA.tenantId, input: { plan: "FREE" } }, support.token))).toEqual(["FORBIDDEN"]);
    expect(await refused(t.request(IdentitySuspendTenantDocument, { id: tenantA.tenantId }, support.token))).toEqual(["FORBIDDEN"]);
    expect((await ok(t.request(IdentityTenantsDocument, { first: 100, filter: { search: "plat-by-support" } }, superAdmin.token))).tenants.nodes).toEqual([]);
  });
});

describe("identity: tenant suspension", () => {
  let t: TestStack;
  let superAdmin: { token: string };
  const h = identity(() => t);

  beforeAll(async () => {
    t = await startTestStack();
    superAdmin = await h.operator(PlatformRole.SUPER_ADMIN);
  });
  afterAll(async () => {
    await t?.stop();
  });

  /** A fresh tenant with its admin and a member who has a session. */
  async function fixture(slug: string) {
    const admin = await t.tenant(slug);
    const member = await h.member(admin, ["ADMIN"]);
    return { admin, member };
  }
  const suspend = async (tenantId: string, reason = "unpaid invoices") =>
    (await ok(t.request(IdentitySuspendTenantDocument, { id: tenantId, reason }, superAdmin.token))).suspendTenant;

  it("the tenant's existing access tokens are refused at once with TENANT_SUSPENDED, through the gateway and on every subgraph; another tenant is unaffected", async () => {
    const { admin, member } = await fixture("susp-tokens");
    const other = await fixture("susp-bystander");
    expect((await ok(h.me(member.accessToken))).me.id).toBe(member.userId);

    const suspended = await suspend(admin.tenantId);
    expect(suspended).toMatchObject({ id: admin.tenantId, status: "SUSPENDED", suspendedAt: expect.any(String) });

    for (const name of ["tenants", "sync", "connectors", "audit"] as const) {
      const res = await post(t.stack[name].url, "{ __typename }", {}, member.accessToken);
      expect({ name, codes: codesOf(res.body) }).toEqual({ name, codes: ["TENANT_SUSPENDED"] });
    }
    expect((await ok(h.me(other.member.accessToken))).me.id).toBe(other.member.userId);
    expect((await ok(t.request(IdentityConnectorsDocument, {}, other.admin.token))).connectors).toEqual([]);
    await ok(h.login("susp-bystander", other.member.email, other.member.password));
    // Through the gateway, every subgraph's fields are refused with TENANT_SUSPENDED.
    expect(await refused(h.me(member.accessToken))).toEqual(["TENANT_SUSPENDED"]);
    expect(await refused(h.me(admin.token))).toEqual(["TENANT_SUSPENDED"]);
    expect(await refused(t.request(IdentityConnectorsDocument, {}, admin.token))).toEqual(["TENANT_SUSPENDED"]);
    expect(await refused(t.request(IdentitySyncRunsDocument, { limit: 1 }, admin.token))).toEqual(["TENANT_SUSPENDED"]);
  });

  it("a new socket of a suspended tenant is refused at connection_init with 4403, at the gateway and on a subgraph", async () => {
    const { admin, member } = await fixture("susp-connect");
    expect((await socketHandshake(t.wsUrl, { authorization: `Bearer ${member.accessToken}` })).acknowledged).toBe(true);
    await suspend(admin.tenantId);
    for (const url of [t.wsUrl, t.stack.sync.wsUrl, t.stack.tenants.wsUrl]) {
      const res = await socketHandshake(url, { authorization: `Bearer ${member.accessToken}` });
      expect({ url, acknowledged: res.acknowledged, code: res.code }).toEqual({ url, acknowledged: false, code: 4403 });
    }
  });

  it("login → TENANT_SUSPENDED and refreshSession → TENANT_SUSPENDED", async () => {
    const { admin, member } = await fixture("susp-login");
    await suspend(admin.tenantId);
    expect(await refused(h.login("susp-login", member.email, member.password))).toEqual(["TENANT_SUSPENDED"]);
    expect(await refused(h.refresh(member.refreshToken))).toEqual(["TENANT_SUSPENDED"]);
  });

  it("a refresh attempted during the suspension does not spend the session: after activateTenant the refresh token still works, and no reuse is recorded", async () => {
    const { admin, member } = await fixture("susp-refresh");
    await suspend(admin.tenantId);
    expect(await refused(h.refresh(member.refreshToken))).toEqual(["TENANT_SUSPENDED"]);
    await ok(t.request(IdentityActivateTenantDocument, { id: admin.tenantId }, superAdmin.token));
    const renewed = await h.refresh(member.refreshToken);
    const reuse = await t.request(IdentityAuditEventsDocument, { actionPrefix: "auth.refresh.reused", limit: 10 }, admin.token);
    expect({ refresh: codesOf(renewed), reuseEvents: reuse.data?.auditEvents.nodes.length ?? reuse.errors }).toEqual({ refresh: [], reuseEvents: 0 });
    expect(renewed.data?.refreshSession.user.id).toBe(member.userId);
  });

  it("an open graphql-ws socket of the tenant is closed (4403/4401) within 2 s; another tenant's socket stays open", async () => {
    const { admin, member } = await fixture("susp-socket");
    const other = await fixture("susp-socket-other");
    const open = async (session: Session) => {
      const run = (await ok(t.request(IdentityStartSyncRunDocument, { input: { kind: "PULL" } }, session.accessToken))).startSyncRun;
      const closed: { code: number }[] = [];
      const feed = new Feed(t.ws(session.accessToken, { on: { closed: (e) => void closed.push(e as { code: number }) } }), IdentitySyncRunUpdatedDocument, { id: run.id });
      expect((await feed.nth(1)).data?.syncRunUpdated).toMatchObject({ id: run.id, status: "QUEUED" });
      return { feed, closed };
    };
    const victim = await open(member);
    const bystander = await open(other.member);

    await suspend(admin.tenantId);
    await waitUntil(() => victim.closed.length > 0, "the suspended tenant's socket to close", 2_000);
    expect([4401, 4403]).toContain(victim.closed[0]!.code);
    await victim.feed.ended(2_000);
    expect(bystander.closed).toEqual([]);
    expect(bystander.feed.done).toBe(false);
    await bystander.feed.close();
  });

  it("activateTenant restores login; tenant.suspended and tenant.activated are audited on the tenant", async () => {
    const { admin, member } = await fixture("susp-restore");
    await suspend(admin.tenantId, "fraud check");
    expect(await refused(h.login("susp-restore", member.email, member.password))).toEqual(["TENANT_SUSPENDED"]);
    const active = (await ok(t.request(IdentityActivateTenantDocument, { id: admin.tenantId }, superAdmin.token))).activateTenant;
    expect(active).toMatchObject({ status: "ACTIVE", suspendedAt: null });
    const again = await h.session("susp-restore", member.email, member.password);
    expect((await ok(h.me(again.accessToken))).me.id).toBe(member.userId);

    const suspended = await h.auditEvent(again.accessToken, "tenant.", (e) => e.action === "tenant.suspended", "tenant.suspended on the tenant");
    expect(suspended).toMatchObject({ actorType: "PLATFORM_USER", targetType: "Tenant", targetId: admin.tenantId, changes: { status: { before: "ACTIVE", after: "SUSPENDED" } }, metadata: { reason: "fraud check" } });
    await h.auditEvent(again.accessToken, "tenant.", (e) => e.action === "tenant.activated" && e.targetId === admin.tenantId, "tenant.activated on the tenant");
  });

  it("invalid transitions → CONFLICT (a DELETED tenant cannot be activated, suspended or updated); an unknown id → NOT_FOUND", async () => {
    const { admin } = await fixture("susp-deleted");
    const deleted = (await ok(t.request(IdentityDeleteTenantDocument, { id: admin.tenantId, reason: "closed account" }, superAdmin.token))).deleteTenant;
    expect(deleted).toMatchObject({ status: "DELETED", deletedAt: expect.any(String) });
    expect(await refused(t.request(IdentityActivateTenantDocument, { id: admin.tenantId }, superAdmin.token))).toEqual(["CONFLICT"]);
    expect(await refused(t.request(IdentitySuspendTenantDocument, { id: admin.tenantId }, superAdmin.token))).toEqual(["CONFLICT"]);
    expect(await refused(t.request(IdentityUpdateTenantDocument, { id: admin.tenantId, input: { plan: "PRO" } }, superAdmin.token))).toEqual(["CONFLICT"]);
    expect((await ok(t.request(IdentityTenantByIdDocument, { id: admin.tenantId }, superAdmin.token))).tenantById.status).toBe("DELETED");
    expect(await refused(t.request(IdentityActivateTenantDocument, { id: randomUUID() }, superAdmin.token))).toEqual(["NOT_FOUND"]);
    // The deleted tenant's tokens are refused like a suspended tenant's.
    expect(codesOf((await post(t.stack.tenants.url, "{ me { id } }", {}, admin.token)).body)).toEqual(["TENANT_SUSPENDED"]);
    expect(await refused(h.me(admin.token))).toEqual(["TENANT_SUSPENDED"]);
  });
});

describe("identity: users and invitations", () => {
  let t: TestStack;
  let admin: TenantLogin;
  let superAdmin: { token: string };
  const h = identity(() => t);

  beforeAll(async () => {
    t = await startTestStack();
    admin = await t.tenant("users-a");
    superAdmin = await h.operator(PlatformRole.SUPER_ADMIN);
  });
  afterAll(async () => {
    await t?.stop();
  });

  const createUser = (input: { email: string; roles?: string[]; password?: string | null }, token = admin.token) => t.request(IdentityCreateUserDocument, { input }, token);

  it("createUser with a password → ACTIVE, no invitation, and the user can sign in", async () => {
    const password = newPassword();
    const created = (await ok(createUser({ email: "With.Password@users-a.example", roles: ["MANAGER"], password }))).createUser;
    expect(created).toMatchObject({ user: { email: "with.password@users-a.example", roles: ["MANAGER"], status: "ACTIVE" }, invitationToken: null });
    const s = await h.session("users-a", "with.password@users-a.example", password);
    expect(s.userId).toBe(created.user.id);
  });

  it("createUser without a password → INVITED with a one-time token; acceptInvitation then login works; reuse → BAD_USER_INPUT", async () => {
    const email = "invited@users-a.example";
    const created = (await ok(createUser({ email, roles: ["USER"] }))).createUser;
    expect(created.user.status).toBe("INVITED");
    expect(created.invitationToken).toMatch(/^inv\.[A-Za-z0-9_-]{20,}$/);
    const token = created.invitationToken!;
    // Not usable before accepting; a short password is refused without spending the invitation.
    expect(await refused(h.login("users-a", email, newPassword()))).toEqual(["UNAUTHENTICATED"]);
    const short = await t.request(IdentityAcceptInvitationDocument, { input: { token, password: "short" } });
    expect(codesOf(short)).toEqual(["BAD_USER_INPUT"]);

    const password = newPassword();
    expect((await ok(t.request(IdentityAcceptInvitationDocument, { input: { token, password } }))).acceptInvitation).toMatchObject({ id: created.user.id, status: "ACTIVE" });
    const s = await h.session("users-a", email, password);
    expect((await ok(h.me(s.accessToken))).me).toMatchObject({ id: created.user.id, status: "ACTIVE" });

    const reused = await t.request(IdentityAcceptInvitationDocument, { input: { token, password: newPassword() } });
    expect(codesOf(reused)).toEqual(["BAD_USER_INPUT"]);
    expect(reused.errors?.[0]?.extensions?.field).toBe("token");
    // The reuse did not change the password.
    await ok(h.login("users-a", email, password));
    for (const bad of ["inv.not-a-real-token-000000000000", "garbage"]) {
      expect(codesOf(await t.request(IdentityAcceptInvitationDocument, { input: { token: bad, password: newPassword() } }))).toEqual(["BAD_USER_INPUT"]);
    }
  });

  it("a duplicate email (any letter case) → CONFLICT; an unknown role → BAD_USER_INPUT on field roles", async () => {
    await ok(createUser({ email: "dup@users-a.example", password: newPassword() }));
    for (const email of ["dup@users-a.example", "DUP@Users-A.example"]) {
      const res = await createUser({ email, password: newPassword() });
      expect({ email, codes: codesOf(res) }).toEqual({ email, codes: ["CONFLICT"] });
    }
    const res = await createUser({ email: "role@users-a.example", roles: ["NO_SUCH_ROLE"], password: newPassword() });
    expect(codesOf(res)).toEqual(["BAD_USER_INPUT"]);
    expect(res.errors?.[0]?.extensions?.field).toBe("roles");
    const users = (await ok(t.request(IdentityUsersDocument, { first: 200 }, admin.token))).users.nodes.map((u) => u.email);
    expect(users.filter((e) => e === "dup@users-a.example")).toHaveLength(1);
    expect(users).not.toContain("role@users-a.example");
  });

  it("the FREE plan allows 5 users: the 6th → PLAN_LIMIT_REACHED (invited users count; a disabled one frees a seat)", async () => {
    const created = (
      await ok(t.request(IdentityCreateTenantDocument, { input: { slug: "users-free", name: "Free", plan: "FREE", trialDays: 0, adminEmail: "admin@users-free.example" } }, superAdmin.token))
    ).createTenant;
    const freeAdmin = await h.session("users-free", created.adminEmail, created.adminPassword!);
    const ids: string[] = [];
    for (let i = 1; i <= 4; i++) {
      const input = i === 4 ? { email: `u${i}@users-free.example` } : { email: `u${i}@users-free.example`, password: newPassword() };
      ids.push((await ok(createUser(input, freeAdmin.accessToken))).createUser.user.id);
    }
    const sixth = await createUser({ email: "u5@users-free.example", password: newPassword() }, freeAdmin.accessToken);
    expect(codesOf(sixth)).toEqual(["PLAN_LIMIT_REACHED"]);
    expect(sixth.errors?.[0]?.extensions).toMatchObject({ limit: "users", max: 5 });
    expect((await ok(t.request(IdentityUsersDocument, { first: 200 }, freeAdmin.accessToken))).users.nodes).toHaveLength(5);
    await ok(t.request(IdentityDeactivateUserDocument, { id: ids[0]! }, freeAdmin.accessToken));
    await ok(createUser({ email: "u5@users-free.example", password: newPassword() }, freeAdmin.accessToken));
  });

  it("deactivateUser ends that user's access token at once; they cannot sign in (FORBIDDEN) or refresh", async () => {
    const s = await h.member(admin, ["USER"]);
    expect((await ok(h.me(s.accessToken))).me.id).toBe(s.userId);
    expect((await ok(t.request(IdentityDeactivateUserDocument, { id: s.userId }, admin.token))).deactivateUser).toEqual({ id: s.userId, status: "DISABLED" });
    expect(codesOf((await post(t.stack.tenants.url, "{ me { id } }", {}, s.accessToken)).body)).toEqual(["UNAUTHENTICATED"]);
    expect(await refused(h.refresh(s.refreshToken))).toEqual(["UNAUTHENTICATED"]);
    expect(await refused(h.login("users-a", s.email, s.password))).toEqual(["FORBIDDEN"]);
    // The admin is untouched.
    expect((await ok(h.me(admin.token))).me.id).toBe(admin.userId);
    // Through the gateway the token is refused with the same code.
    expect(await refused(h.me(s.accessToken))).toEqual(["UNAUTHENTICATED"]);
  });

  it("an admin cannot deactivate themselves → CONFLICT", async () => {
    expect(await refused(t.request(IdentityDeactivateUserDocument, { id: admin.userId }, admin.token))).toEqual(["CONFLICT"]);
    expect((await ok(h.me(admin.token))).me).toMatchObject({ id: admin.userId, status: "ACTIVE" });
  });

  it("users(first, after) pages through every user once, in email order", async () => {
    for (let i = 0; i < 5; i++) await ok(createUser({ email: `page-${i}@users-a.example`, password: newPassword() }));
    const all = (await ok(t.request(IdentityUsersDocument, { first: 200 }, admin.token))).users;
    expect(all.pageInfo.hasNextPage).toBe(false);
    expect(all.nodes.length).toBeGreaterThanOrEqual(6);
    const walked: string[] = [];
    let after: string | null | undefined = null;
    for (let pages = 0; pages < 100; pages++) {
      const page: IdentityUsersQuery["users"] = (await ok(t.request(IdentityUsersDocument, { first: 3, after }, admin.token))).users;
      expect(page.nodes.length).toBeLessThanOrEqual(3);
      walked.push(...page.nodes.map((n) => n.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
      expect(after).toEqual(expect.any(String));
    }
    expect(new Set(walked).size).toBe(walked.length);
    expect(walked).toEqual(all.nodes.map((n) => n.id));
    const emails = all.nodes.map((n) => n.email);
    expect(emails).toEqual([...emails].sort());
  });
});

describe("identity: API keys", () => {
  let t: TestStack;
  let admin: TenantLogin;
  const h = identity(() => t);

  beforeAll(async () => {
    t = await startTestStack();
    admin = await t.tenant("keys-a");
    // Something to read with a sync:pull key.
    await ok(t.request(IdentityStartSyncRunDocument, { input: { kind: "PULL" } }, admin.token));
  });
  afterAll(async () => {
    await t?.stop();
  });

  const createKey = (scopes: string[], token = admin.token, name = `key ${randomUUID().slice(0, 8)}`) => t.request(IdentityCreateApiKeyDocument, { input: { name, scopes } }, token);
  const exchangeUrl = () => t.stack.tenants.url.replace(/\/graphql$/, API_KEY_EXCHANGE_PATH);
  const exchange = async (key: string) => {
    const res = await fetch(exchangeUrl(), { method: "POST", headers: { "content-type": "application/json", ...internalHeaders(t.secrets.internal) }, body: JSON.stringify({ key }) });
    return { status: res.status, body: (await res.json()) as { accessToken?: string } };
  };

  it("createApiKey returns the secret once; apiKeys never contains it, and it is not stored", async () => {
    const created = (await ok(createKey(["sync:pull"]))).createApiKey;
    expect(created.secret).toMatch(/^trb_[A-Za-z0-9_-]{20,}$/);
    expect(created.apiKey).toMatchObject({ prefix: created.secret.slice(0, 12), scopes: ["sync:pull"], revokedAt: null });
    const keys = (await ok(t.request(IdentityApiKeysDocument, {}, admin.token))).apiKeys;
    expect(keys.map((k) => k.id)).toContain(created.apiKey.id);
    expect(JSON.stringify(keys)).not.toContain(created.secret);
    const text = await databaseText(t.databaseUrl);
    expect(text).toContain(created.apiKey.id);
    expect(text).not.toContain(created.secret);
    expect(text).not.toContain(created.secret.slice(4));
  });

  it("scopes beyond the creator's permissions → FORBIDDEN, and no key is created", async () => {
    await ok(t.request(IdentityCreateRoleDocument, { input: { name: "Key Keeper", permissions: ["tenant:manage", "sync:pull"] } }, admin.token));
    const keeper = await h.member(admin, ["Key Keeper"], "keeper");
    const before = (await ok(t.request(IdentityApiKeysDocument, {}, admin.token))).apiKeys.length;
    for (const scopes of [["sync:push"], ["sync:pull", "audit:read"], ["platform:read"]]) {
      expect({ scopes, codes: await refused(createKey(scopes, keeper.accessToken)) }).toEqual({ scopes, codes: ["FORBIDDEN"] });
    }
    expect(await refused(createKey(["platform:tenants:manage"]))).toEqual(["FORBIDDEN"]);
    expect((await ok(t.request(IdentityApiKeysDocument, {}, admin.token))).apiKeys).toHaveLength(before);
    // Within the creator's permissions it works.
    expect((await ok(createKey(["sync:pull"], keeper.accessToken))).createApiKey.apiKey.scopes).toEqual(["sync:pull"]);
  });

  it("the tenants service exchanges a key for a token carrying its scopes; revoking the key refuses it and its tokens at once", async () => {
    const created = (await ok(createKey(["sync:pull"]))).createApiKey;
    const exchanged = await exchange(created.secret);
    expect(exchanged.status).toBe(200);
    const token = exchanged.body.accessToken!;
    expect(decodeJwt(token)).toMatchObject({ sub: created.apiKey.id, tid: admin.tenantId, knd: "api_key", perms: ["sync:pull"] });
    const runs = await post(t.stack.sync.url, "{ syncRuns(first: 10) { nodes { id } } }", {}, token);
    expect(runs.body.errors).toBeUndefined();
    expect(runs.body.data.syncRuns.nodes.length).toBeGreaterThan(0);
    expect(codesOf((await post(t.stack.audit.url, "{ auditEvents(first: 1) { nodes { id } } }", {}, token)).body)).toEqual(["FORBIDDEN"]);

    await ok(t.request(IdentityRevokeApiKeyDocument, { id: created.apiKey.id }, admin.token));
    expect((await exchange(created.secret)).status).toBe(401);
    expect(codesOf((await post(t.stack.sync.url, "{ syncRuns(first: 10) { nodes { id } } }", {}, token)).body)).toEqual(["UNAUTHENTICATED"]);
    expect((await exchange("trb_not-a-key")).status).toBe(401);
  });

  it("through the gateway (Authorization: Bearer trb_…), a key reads what its scopes allow and is FORBIDDEN beyond them", async () => {
    const { secret } = (await ok(createKey(["sync:pull"]))).createApiKey;
    const runs = (await ok(t.request(IdentitySyncRunsDocument, { limit: 10 }, secret))).syncRuns.nodes;
    expect(runs.length).toBeGreaterThan(0);
    expect(await refused(t.request(IdentityAuditEventsDocument, { limit: 5 }, secret))).toEqual(["FORBIDDEN"]);
    expect(await refused(t.request(IdentityCreateConnectorDocument, { input: { kind: "ODOO", name: "by key", baseUrl: "https://odoo.example" } }, secret))).toEqual(["FORBIDDEN"]);
    expect(await refused(t.request(IdentityApiKeysDocument, {}, secret))).toEqual(["FORBIDDEN"]);
  });

  it("revokeApiKey: the key is refused through the gateway at once (UNAUTHENTICATED); its use was audited as auth.api_key.used", async () => {
    const created = (await ok(createKey(["sync:pull"]))).createApiKey;
    // Control: it works before revocation.
    expect((await ok(t.request(IdentitySyncRunsDocument, { limit: 1 }, created.secret))).syncRuns.nodes).toHaveLength(1);
    const used = await h.auditEvent(admin.token, "auth.api_key", (e) => e.action === "auth.api_key.used" && e.targetId === created.apiKey.id, "auth.api_key.used for the key");
    expect(used).toMatchObject({ actorType: "API_KEY", targetType: "ApiKey" });

    const revoked = (await ok(t.request(IdentityRevokeApiKeyDocument, { id: created.apiKey.id }, admin.token))).revokeApiKey;
    expect(revoked.revokedAt).toEqual(expect.any(String));
    expect(await refused(t.request(IdentitySyncRunsDocument, { limit: 1 }, created.secret))).toEqual(["UNAUTHENTICATED"]);
    const listed = (await ok(t.request(IdentityApiKeysDocument, {}, admin.token))).apiKeys.find((k) => k.id === created.apiKey.id);
    expect(listed?.revokedAt).toEqual(expect.any(String));
  });

  it("a valid key of a suspended tenant → TENANT_SUSPENDED (HTTP 403, socket 4403), not UNAUTHENTICATED; a revoked key stays UNAUTHENTICATED", async () => {
    const other = await t.tenant("keys-suspended");
    const { secret } = (await ok(createKey(["sync:pull"], other.token))).createApiKey;
    const revokedKey = (await ok(createKey(["sync:pull"], other.token))).createApiKey;
    await ok(t.request(IdentityRevokeApiKeyDocument, { id: revokedKey.apiKey.id }, other.token));
    // Control: it works (and its exchanged token is cached by the gateway) before the suspension.
    expect((await ok(t.request(IdentitySyncRunsDocument, { limit: 1 }, secret))).syncRuns).toBeTruthy();
    const operator = await h.operator(PlatformRole.SUPER_ADMIN);
    await ok(t.request(IdentitySuspendTenantDocument, { id: other.tenantId, reason: "unpaid" }, operator.token));

    const res = await t.request(IdentitySyncRunsDocument, { limit: 1 }, secret);
    expect({ status: res.status, codes: codesOf(res) }).toEqual({ status: 403, codes: ["TENANT_SUSPENDED"] });
    expect((await exchange(secret)).status).toBe(403);
    expect((await socketHandshake(t.wsUrl, { authorization: `Bearer ${secret}` })).code).toBe(4403);
    const revoked = await t.request(IdentitySyncRunsDocument, { limit: 1 }, revokedKey.secret);
    expect({ status: revoked.status, codes: codesOf(revoked) }).toEqual({ status: 401, codes: ["UNAUTHENTICATED"] });
    // The admin's own token says the same as the key.
    expect(await refused(h.me(other.token))).toEqual(["TENANT_SUSPENDED"]);
  });

  it("viewer says who is calling (ApiKey with its scopes, User, PlatformUser); me with an API key → FORBIDDEN (reason NOT_A_USER), not UNAUTHENTICATED", async () => {
    const created = (await ok(createKey(["sync:pull"]))).createApiKey;
    expect((await ok(t.request(IdentityViewerDocument, {}, created.secret))).viewer).toEqual({ __typename: "ApiKey", id: created.apiKey.id, name: created.apiKey.name, scopes: ["sync:pull"] });
    expect((await ok(t.request(IdentityViewerDocument, {}, admin.token))).viewer).toEqual({ __typename: "User", id: admin.userId, email: admin.email });
    const operator = await h.operator(PlatformRole.SUPPORT);
    expect((await ok(t.request(IdentityViewerDocument, {}, operator.token))).viewer).toEqual({ __typename: "PlatformUser", id: operator.id, email: operator.email, role: "SUPPORT" });
    expect(await refused(t.request(IdentityViewerDocument, {}))).toEqual(["UNAUTHENTICATED"]);

    const me = await h.me(created.secret);
    expect({ codes: codesOf(me), reason: me.errors?.[0]?.extensions?.reason }).toEqual({ codes: ["FORBIDDEN"], reason: "NOT_A_USER" });
    // A machine client asks who it is beside its data, in one request.
    const both = await post(t.url, "{ viewer { __typename } syncRuns(first: 1) { nodes { id } } }", {}, created.secret);
    expect(both.body.errors).toBeUndefined();
    expect(both.body.data.viewer).toEqual({ __typename: "ApiKey" });
  });
});

describe("identity: signing-key rotation", () => {
  let t: TestStack;
  let admin: TenantLogin;
  const h = identity(() => t);

  beforeAll(async () => {
    t = await startTestStack();
    admin = await t.tenant("keys-rotate");
    // Every verifier has seen the current key.
    for (const name of ["tenants", "sync", "connectors", "audit"] as const) await post(t.stack[name].url, "{ __typename }", {}, admin.token);
    await ok(h.me(admin.token));
  });
  afterAll(async () => {
    await t?.stop();
  });

  const jwks = async () => ((await (await fetch(t.stack.tenants.jwksUrl)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);

  it("only a SUPER_ADMIN may rotate: ADMIN and SUPPORT operators and tenant admins → FORBIDDEN", async () => {
    const before = await jwks();
    for (const role of [PlatformRole.ADMIN, PlatformRole.SUPPORT]) {
      const op = await h.operator(role);
      expect({ role, codes: await refused(t.request(IdentityRotateSigningKeyDocument, {}, op.token)) }).toEqual({ role, codes: ["FORBIDDEN"] });
    }
    expect(await refused(t.request(IdentityRotateSigningKeyDocument, {}, admin.token))).toEqual(["FORBIDDEN"]);
    expect(await jwks()).toEqual(before);
  });

  it("rotateSigningKey: the JWKS serves both kids, tokens issued before keep working, tokens issued after carry the new kid", async () => {
    const superAdmin = await h.operator(PlatformRole.SUPER_ADMIN);
    const oldKid = decodeProtectedHeader(admin.token).kid;
    const member = await h.member(admin, ["ADMIN"]);
    expect(decodeProtectedHeader(member.accessToken).kid).toBe(oldKid);

    const rotation = (await ok(t.request(IdentityRotateSigningKeyDocument, {}, superAdmin.token))).rotateSigningKey;
    expect(rotation.retiredKid).toBe(oldKid);
    expect(rotation.kid).not.toBe(oldKid);
    expect(await jwks()).toEqual(expect.arrayContaining([oldKid, rotation.kid]));

    // Issued before: still valid, through the gateway and on the subgraphs.
    expect((await ok(h.me(member.accessToken))).me.id).toBe(member.userId);
    expect((await ok(t.request(IdentityConnectorsDocument, {}, member.accessToken))).connectors).toEqual([]);
    for (const name of ["sync", "connectors", "audit"] as const) {
      expect({ name, codes: codesOf((await post(t.stack[name].url, "{ __typename }", {}, member.accessToken)).body) }).toEqual({ name, codes: [] });
    }
    // The new key is published before it signs (KEY_ACTIVATION_DELAY_MS); once active, new tokens carry its kid.
    let fresh = await h.session("keys-rotate", member.email, member.password);
    expect([oldKid, rotation.kid]).toContain(decodeProtectedHeader(fresh.accessToken).kid);
    await waitUntil(async () => {
      fresh = await h.session("keys-rotate", member.email, member.password);
      return decodeProtectedHeader(fresh.accessToken).kid === rotation.kid;
    }, "new tokens to be signed with the new key", KEY_ACTIVATION_DELAY_MS + 5_000, 500);
    expect(decodeProtectedHeader((await h.operator(PlatformRole.SUPPORT)).token).kid).toBe(rotation.kid);
    expect(codesOf((await post(t.stack.tenants.url, "{ me { id } }", {}, fresh.accessToken)).body)).toEqual([]);
    await waitUntil(async () => (await h.me(fresh.accessToken)).data?.me.id === member.userId, "the gateway to accept a token signed with the new key", 15_000, 250);
  });

  it("a token issued right after a rotation is accepted at once by the gateway and every subgraph", async () => {
    const superAdmin = await h.operator(PlatformRole.SUPER_ADMIN);
    const member = await h.member(admin, ["ADMIN"]);
    // Every verifier has just used its current key set.
    await ok(h.me(member.accessToken));
    for (const name of ["sync", "connectors", "audit"] as const) await post(t.stack[name].url, "{ __typename }", {}, member.accessToken);

    const rotation = (await ok(t.request(IdentityRotateSigningKeyDocument, {}, superAdmin.token))).rotateSigningKey;
    const accepted = async (token: string) => {
      const results: Record<string, unknown> = { gateway: codesOf(await h.me(token)) };
      for (const name of ["sync", "connectors", "audit"] as const) results[name] = codesOf((await post(t.stack[name].url, "{ __typename }", {}, token)).body);
      return results;
    };
    // Right after the rotation, and right after the new key starts signing: accepted everywhere at once, because the
    // key was in the JWKS before any token carried it.
    const right = await h.session("keys-rotate", member.email, member.password);
    expect(await accepted(right.accessToken)).toEqual({ gateway: [], sync: [], connectors: [], audit: [] });
    let fresh = right;
    const deadline = Date.now() + KEY_ACTIVATION_DELAY_MS + 5_000;
    while (decodeProtectedHeader(fresh.accessToken).kid !== rotation.kid && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      fresh = await h.session("keys-rotate", member.email, member.password);
    }
    expect(decodeProtectedHeader(fresh.accessToken).kid).toBe(rotation.kid);
    expect(await accepted(fresh.accessToken)).toEqual({ gateway: [], sync: [], connectors: [], audit: [] });
  });
});

describe("identity: login throttling", () => {
  let t: TestStack;
  let admin: TenantLogin;
  const h = identity(() => t);

  beforeAll(async () => {
    t = await startTestStack();
    admin = await t.tenant("throttle-a");
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("after 10 failed logins for one account the 11th (even with the right password) → RATE_LIMITED with retryAfter; another account is unaffected", async () => {
    const victim = await h.member(admin, ["USER"], "victim");
    const bystander = await h.member(admin, ["USER"], "bystander");
    for (let i = 0; i < 10; i++) {
      expect({ attempt: i + 1, codes: await refused(h.login("throttle-a", victim.email, `wrong-password-${i}`)) }).toEqual({ attempt: i + 1, codes: ["UNAUTHENTICATED"] });
    }
    const blocked = await h.login("throttle-a", victim.email, victim.password);
    expect(blocked.data ?? null).toBeNull();
    expect(codesOf(blocked)).toEqual(["RATE_LIMITED"]);
    const retryAfter = blocked.errors?.[0]?.extensions?.retryAfter;
    expect(typeof retryAfter).toBe("number");
    expect(retryAfter as number).toBeGreaterThan(0);
    // The same email in letter-case variants is the same account.
    expect(codesOf(await h.login("THROTTLE-A", victim.email.toUpperCase(), victim.password))).toEqual(["RATE_LIMITED"]);
    // Another account of the same tenant signs in.
    const other = await h.session("throttle-a", bystander.email, bystander.password);
    expect((await ok(h.me(other.accessToken))).me.id).toBe(bystander.userId);
  });
});

describe("identity: the client's address reaches the tenants service (gateway behind a trusted proxy)", () => {
  let t: TestStack;
  let admin: TenantLogin;
  const h = identity(() => t);

  beforeAll(async () => {
    t = await startTestStack({ gateway: { guards: { trustProxy: true } } });
    admin = await t.tenant("client-ip");
  });
  afterAll(async () => {
    await t?.stop();
  });

  const loginFrom = (ip: string, email: string, password: string) =>
    t.raw(JSON.stringify({ query: "mutation($i: LoginInput!) { login(input: $i) { accessToken } }", variables: { i: { tenant: "client-ip", email, password } } }), {
      "x-forwarded-for": ip,
      "user-agent": "identity-e2e/1.0",
    });

  it("a failed login is audited with the client's IP and user agent, not the gateway's", async () => {
    const res = await loginFrom("203.0.113.9", "nobody@client-ip.example", "wrong-password");
    expect(codesOf(res.body)).toEqual(["UNAUTHENTICATED"]);
    const event = await h.auditEvent(admin.token, "auth.login.failed", (e) => (e.metadata as { email?: string })?.email === "nobody@client-ip.example", "auth.login.failed for nobody@");
    expect(event.metadata).toMatchObject({ ip: "203.0.113.9", userAgent: "identity-e2e/1.0" });
  });

  it("failed logins from one client do not lock out the sign-ins of another client", async () => {
    const member = await h.member(admin, ["USER"]);
    // 50 failures (the per-address budget) from one address, spread over accounts so no account is throttled.
    const attacker: unknown[][] = [];
    for (let i = 0; i < 50; i++) attacker.push(codesOf((await loginFrom("198.51.100.1", `ghost-${i % 10}@client-ip.example`, "wrong-password")).body));
    // Another client signs in...
    const res = await loginFrom("192.0.2.77", member.email, member.password);
    expect(codesOf(res.body)).toEqual([]);
    expect(res.body.data.login.accessToken).toEqual(expect.any(String));
    // ...while the attacking address is now throttled (control: the per-address limit is in force).
    expect(attacker).toEqual(Array.from({ length: 50 }, () => ["UNAUTHENTICATED"]));
    expect(codesOf((await loginFrom("198.51.100.1", "ghost-x@client-ip.example", "wrong-password")).body)).toEqual(["RATE_LIMITED"]);
  });
});
