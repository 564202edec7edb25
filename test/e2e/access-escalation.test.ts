// Access escalation through the gateway: the checks that creating a user or assigning roles makes must also hold where
// the same result is reached another way. Guards three gaps found while building the dashboard's Access page:
// reactivateUser brought a user back past the plan's user limit, and with roles whose permissions the caller lacks;
// setCollectionGrant let a caller grant push or pull without holding sync:push / sync:pull themselves. And four found
// after: a demoted admin's access token kept its permissions until it expired (enough to make itself ADMIN again); a
// role:manage holder restricted to some collections granted its own role the rest, and a user:manage holder gave itself
// a role that reaches them (permissions compared, collection grants not); a lesser user:manage holder deactivated
// admins and took their ADMIN role away.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { REVOCATIONS_PATH, internalHeaders } from "../../kernel/internal-auth.js";
import type { RevocationSnapshot } from "../../kernel/revocations.js";
import { Plan } from "../../subgraphs/tenants/tenant/tenant.entity.js";
import { ensureTenantWithAdmin } from "../../subgraphs/tenants/tenant/demo-seed.js";
import {
  AccessE2eAssignRolesDocument,
  AccessE2eCreateCollectionDocument,
  AccessE2eCreateRoleDocument,
  AccessE2eCreateUserDocument,
  AccessE2eDeactivateUserDocument,
  AccessE2eLoginDocument,
  AccessE2ePullDocument,
  AccessE2ePushDocument,
  AccessE2eReactivateUserDocument,
  AccessE2eRoleDocument,
  AccessE2eRolesDocument,
  AccessE2eSetGrantDocument,
  AccessE2eUpdateRoleDocument,
  AccessE2eUsersDocument,
  AccessEscCreateApiKeyDocument,
  AccessEscDeleteRoleDocument,
  AccessEscLoginDocument,
  AccessEscMeDocument,
  AccessEscRefreshDocument,
  AccessEscRemoveGrantDocument,
} from "../__generated__/graphql.js";
import { startTestStack, type TestStack } from "../harness/stack.js";
import { codesOf, waitUntil } from "./e2e-helpers.js";

const PASSWORD = "correct horse battery staple";

describe("access escalation", () => {
  let t: TestStack;

  async function ok<T extends { errors?: unknown; data?: unknown }>(p: Promise<T>): Promise<NonNullable<T["data"]>> {
    const res = await p;
    expect(res.errors).toBeUndefined();
    return res.data as NonNullable<T["data"]>;
  }
  /** A tenant with its admin signed in, and helpers acting in it. */
  async function tenant(slug: string, plan?: Plan) {
    const seeded = await ensureTenantWithAdmin(t.stack.tenants.orm, { slug, name: slug, adminEmail: `admin@${slug}.example`, plan });
    const login = async (email: string, password = PASSWORD) =>
      (await ok(t.request(AccessE2eLoginDocument, { input: { tenant: slug, email, password } }))).login.accessToken;
    const token = await login(seeded.adminEmail, seeded.adminPassword!);
    const user = async (local: string, roles: string[]) =>
      (await ok(t.request(AccessE2eCreateUserDocument, { input: { email: `${local}@${slug}.example`, roles, password: PASSWORD } }, token))).createUser.user.id;
    const role = async (name: string, permissions: string[]) => (await ok(t.request(AccessE2eCreateRoleDocument, { input: { name, permissions } }, token))).createRole.id;
    const status = async (id: string) => (await ok(t.request(AccessE2eUsersDocument, { search: null }, token))).users.nodes.find((u) => u.id === id)?.status;
    const rolesOf = async (id: string) => (await ok(t.request(AccessE2eUsersDocument, { search: null }, token))).users.nodes.find((u) => u.id === id)?.roles;
    /** Signs in and keeps the refresh token too. */
    const session = async (email: string) => (await ok(t.request(AccessEscLoginDocument, { input: { tenant: slug, email, password: PASSWORD } }))).login;
    const grant = (roleId: string, collection: string, canPull: boolean, canPush = false, as = token) =>
      t.request(AccessE2eSetGrantDocument, { input: { roleId, collection, canPush, canPull } }, as);
    return { slug, token, login, user, role, status, rolesOf, session, grant };
  }

  beforeAll(async () => {
    t = await startTestStack();
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("reactivateUser takes a seat like createUser: past the plan's user limit → PLAN_LIMIT_REACHED, and the user stays deactivated", async () => {
    const free = await tenant("esc-free", Plan.FREE);
    const ids: string[] = [];
    for (let i = 1; i <= 4; i++) ids.push(await free.user(`u${i}`, ["USER"]));
    await ok(t.request(AccessE2eDeactivateUserDocument, { id: ids[0]! }, free.token));
    // The freed seat is taken by a new user: five of five.
    const fifth = await free.user("u5", ["USER"]);
    const refused = await t.request(AccessE2eReactivateUserDocument, { id: ids[0]! }, free.token);
    expect(codesOf(refused)).toEqual(["PLAN_LIMIT_REACHED"]);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ limit: "users", max: 5 });
    expect(await free.status(ids[0]!)).toBe("DISABLED");
    expect(codesOf(await t.request(AccessE2eLoginDocument, { input: { tenant: free.slug, email: "u1@esc-free.example", password: PASSWORD } }))).toEqual(["FORBIDDEN"]);
    // Once a seat is free again, the same reactivation works.
    await ok(t.request(AccessE2eDeactivateUserDocument, { id: fifth }, free.token));
    expect((await ok(t.request(AccessE2eReactivateUserDocument, { id: ids[0]! }, free.token))).reactivateUser.status).toBe("ACTIVE");
    await free.login("u1@esc-free.example");
  });

  it("reactivateUser cannot bring back a user whose roles give permissions the caller lacks (FORBIDDEN), as createUser and assignRoles cannot give them", async () => {
    const a = await tenant("esc-react");
    const helpdesk = await a.role("Helpdesk", ["user:manage", "sync:pull"]);
    // Reactivating restores the user's collection access too, which must be within the caller's (ANALYST pulls all).
    await ok(a.grant(helpdesk, "*", true));
    await a.user("help", ["Helpdesk"]);
    const help = await a.login("help@esc-react.example");
    const otherAdmin = await a.user("admin2", ["ADMIN"]);
    const analyst = await a.user("analyst", ["ANALYST"]);
    for (const id of [otherAdmin, analyst]) await ok(t.request(AccessE2eDeactivateUserDocument, { id }, a.token));

    // Giving ADMIN directly is refused ...
    expect(codesOf(await t.request(AccessE2eCreateUserDocument, { input: { email: "x@esc-react.example", roles: ["ADMIN"], password: PASSWORD } }, help))).toEqual(["FORBIDDEN"]);
    // ... and so is giving it back by reactivating a deactivated ADMIN.
    expect(codesOf(await t.request(AccessE2eReactivateUserDocument, { id: otherAdmin }, help))).toEqual(["FORBIDDEN"]);
    expect(await a.status(otherAdmin)).toBe("DISABLED");
    expect(codesOf(await t.request(AccessE2eLoginDocument, { input: { tenant: a.slug, email: "admin2@esc-react.example", password: PASSWORD } }))).toEqual(["FORBIDDEN"]);
    // Within the caller's own permissions reactivation works; the tenant's ADMIN may reactivate anyone.
    expect((await ok(t.request(AccessE2eReactivateUserDocument, { id: analyst }, help))).reactivateUser.status).toBe("ACTIVE");
    expect((await ok(t.request(AccessE2eReactivateUserDocument, { id: otherAdmin }, a.token))).reactivateUser.status).toBe("ACTIVE");
  });

  it("setCollectionGrant: granting push or pull needs the caller to hold sync:push / sync:pull (FORBIDDEN, nothing saved)", async () => {
    const a = await tenant("esc-grant");
    await ok(t.request(AccessE2eCreateCollectionDocument, { input: { name: "payroll" } }, a.token));
    const readers = await a.role("Readers", ["sync:pull", "sync:push"]);
    await a.role("Grantor", ["role:manage", "role:read"]);
    await a.user("grantor", ["Grantor"]);
    const grantor = await a.login("grantor@esc-grant.example");
    await a.user("reader", ["Readers"]);
    const reader = await a.login("reader@esc-grant.example");

    for (const [canPush, canPull] of [
      [false, true],
      [true, false],
    ] as const) {
      expect(codesOf(await t.request(AccessE2eSetGrantDocument, { input: { roleId: readers, collection: "payroll", canPush, canPull } }, grantor))).toEqual(["FORBIDDEN"]);
    }
    expect((await ok(t.request(AccessE2eRoleDocument, { id: readers }, a.token))).role.grants).toEqual([]);
    expect(codesOf(await t.request(AccessE2ePullDocument, { collections: ["payroll"] }, reader))).toEqual(["FORBIDDEN"]);
    // Granting nothing (a deny entry) needs no sync permission; the admin, who holds them, grants pull.
    expect((await ok(t.request(AccessE2eSetGrantDocument, { input: { roleId: readers, collection: "payroll", canPush: false, canPull: false } }, grantor))).setCollectionGrant).toEqual({
      collection: "payroll",
      canPush: false,
      canPull: false,
    });
    await ok(t.request(AccessE2eSetGrantDocument, { input: { roleId: readers, collection: "payroll", canPush: false, canPull: true } }, a.token));
    // (The sync service hears of grant changes through an event.)
    await waitUntil(async () => (await t.request(AccessE2ePullDocument, { collections: ["payroll"] }, reader)).data?.pullChanges?.documents.length === 0, "the reader to pull payroll");
  });

  it("a demoted admin's access token is refused at once (UNAUTHENTICATED); the refreshed token carries the reduced permissions and cannot re-escalate", async () => {
    const a = await tenant("esc-demote");
    const admin2 = await a.user("admin2", ["ADMIN"]);
    const s = await a.session("admin2@esc-demote.example");
    // Other sessions of the same user (signed in at once: sign-ins queue on the user's row, none fails).
    const others = await Promise.all([1, 2, 3].map(() => a.session("admin2@esc-demote.example")));
    // A key the admin made while ADMIN, in use through the gateway (which caches the token it was exchanged for).
    const created = (await ok(t.request(AccessEscCreateApiKeyDocument, { input: { name: "ops", scopes: ["role:manage", "tenant:manage"] } }, s.accessToken))).createApiKey;
    const key = created.secret;
    await ok(t.request(AccessE2eRolesDocument, {}, key));
    const demotedAt = Date.now();
    await ok(t.request(AccessE2eAssignRolesDocument, { userId: admin2, roles: ["USER"] }, a.token));

    // The old token worked a moment ago; now it is refused everywhere, before it could make a role or take ADMIN back.
    expect(codesOf(await t.request(AccessEscMeDocument, {}, s.accessToken))).toEqual(["UNAUTHENTICATED"]);
    expect(codesOf(await t.request(AccessE2eCreateRoleDocument, { input: { name: "Back door", permissions: ["tenant:manage"] } }, s.accessToken))).toEqual(["UNAUTHENTICATED"]);
    expect(codesOf(await t.request(AccessE2eAssignRolesDocument, { userId: admin2, roles: ["ADMIN"] }, s.accessToken))).toEqual(["UNAUTHENTICATED"]);
    for (const other of others) expect(codesOf(await t.request(AccessEscMeDocument, {}, other.accessToken))).toEqual(["UNAUTHENTICATED"]);
    // The key's token ends too: exchanged again, its scopes are capped by what its creator holds now.
    expect(codesOf(await t.request(AccessE2eRolesDocument, {}, key))).toEqual(["FORBIDDEN"]);
    // A process that missed the announcement learns both from the tenants service's snapshot.
    const snapshotUrl = t.stack.tenants.url.replace(/\/graphql$/, "") + REVOCATIONS_PATH;
    const snapshot = (await (await fetch(snapshotUrl, { headers: internalHeaders(t.secrets.internal) })).json()) as RevocationSnapshot;
    for (const id of [admin2, created.apiKey.id]) {
      expect([id, snapshot.users.some((u) => u.userId === id && u.notBefore >= demotedAt)]).toEqual([id, true]);
    }

    // The session itself lives on: the refresh token gives a token with USER's permissions.
    const refreshed = (await ok(t.request(AccessEscRefreshDocument, { refreshToken: s.refreshToken }))).refreshSession;
    expect(refreshed.user).toMatchObject({ id: admin2, roles: ["USER"], permissions: ["sync:pull", "sync:push"] });
    // Every session refreshes, in parallel too.
    await Promise.all(others.map(async (o) => ok(t.request(AccessEscMeDocument, {}, (await ok(t.request(AccessEscRefreshDocument, { refreshToken: o.refreshToken }))).refreshSession.accessToken))));
    expect((await ok(t.request(AccessEscMeDocument, {}, refreshed.accessToken))).me.id).toBe(admin2);
    expect(codesOf(await t.request(AccessE2eCreateRoleDocument, { input: { name: "Back door", permissions: ["tenant:manage"] } }, refreshed.accessToken))).toEqual(["FORBIDDEN"]);
    expect(codesOf(await t.request(AccessE2eAssignRolesDocument, { userId: admin2, roles: ["ADMIN"] }, refreshed.accessToken))).toEqual(["FORBIDDEN"]);
    expect(await a.rolesOf(admin2)).toEqual(["USER"]);
    expect((await ok(t.request(AccessE2eRolesDocument, {}, a.token))).roles.map((r) => r.name)).not.toContain("Back door");
    // Gaining a role ends nothing; the admin who demoted is untouched.
    await ok(t.request(AccessE2eAssignRolesDocument, { userId: admin2, roles: ["USER", "ANALYST"] }, a.token));
    await ok(t.request(AccessEscMeDocument, {}, refreshed.accessToken));
    await ok(t.request(AccessEscMeDocument, {}, a.token));
  });

  it("a permission removed from a role, or the role deleted, ends the access tokens of holders who lose a permission, not of those who keep it", async () => {
    const a = await tenant("esc-narrow");
    const managers = await a.role("Managers", ["role:manage", "role:read"]);
    const auditors = await a.role("Auditors", ["audit:read", "sync:pull"]);
    await a.user("m1", ["Managers"]);
    await a.user("a1", ["Auditors"]);
    await a.user("a2", ["Auditors", "MANAGER"]); // MANAGER gives audit:read and sync:pull as well
    const bystander = await a.user("b1", ["USER"]);
    const [m1, a1, a2, b1] = await Promise.all(["m1", "a1", "a2", "b1"].map((u) => a.session(`${u}@esc-narrow.example`)));
    const alive = async (token: string) => (await t.request(AccessEscMeDocument, {}, token)).errors === undefined;

    await ok(t.request(AccessE2eUpdateRoleDocument, { id: managers, input: { permissions: ["role:read"] } }, a.token));
    expect(codesOf(await t.request(AccessE2eCreateRoleDocument, { input: { name: "Mine", permissions: [] } }, m1.accessToken))).toEqual(["UNAUTHENTICATED"]);
    const m1Again = (await ok(t.request(AccessEscRefreshDocument, { refreshToken: m1.refreshToken }))).refreshSession;
    expect(m1Again.user.permissions).toEqual(["role:read"]);
    expect(codesOf(await t.request(AccessE2eCreateRoleDocument, { input: { name: "Mine", permissions: [] } }, m1Again.accessToken))).toEqual(["FORBIDDEN"]);
    expect([await alive(a1.accessToken), await alive(a2.accessToken), await alive(b1.accessToken), await alive(a.token)]).toEqual([true, true, true, true]);

    await ok(t.request(AccessEscDeleteRoleDocument, { id: auditors }, a.token));
    expect([await alive(a1.accessToken), await alive(a2.accessToken), await alive(b1.accessToken)]).toEqual([false, true, true]);
    expect((await ok(t.request(AccessEscRefreshDocument, { refreshToken: a1.refreshToken }))).refreshSession.user).toMatchObject({ roles: [], permissions: [] });
    expect(await a.status(bystander)).toBe("ACTIVE");
  });

  it("role:manage cannot widen its own role's (or any role's) collection access beyond what it holds without row filters (FORBIDDEN)", async () => {
    const a = await tenant("esc-ops");
    for (const name of ["public", "payroll"]) await ok(t.request(AccessE2eCreateCollectionDocument, { input: { name } }, a.token));
    await ok(t.request(AccessE2ePushDocument, { input: { collection: "payroll", rows: [{ newDocumentState: { id: "p1", salary: 1 } }] } }, a.token));
    const ops = await a.role("Ops", ["role:manage", "role:read", "sync:pull"]);
    await ok(a.grant(ops, "public", true));
    const other = await a.role("Other", ["sync:pull"]);
    await a.user("ops", ["Ops"]);
    const token = await a.login("ops@esc-ops.example");
    expect(codesOf(await t.request(AccessE2ePullDocument, { collections: ["payroll"] }, token))).toEqual(["FORBIDDEN"]);

    for (const [roleId, collection] of [
      [ops, "*"],
      [ops, "payroll"],
      [other, "*"],
      [other, "payroll"],
    ] as const) {
      const res = await a.grant(roleId, collection, true, false, token);
      expect([collection, codesOf(res)]).toEqual([collection, ["FORBIDDEN"]]);
      expect(res.errors?.[0]?.extensions?.beyond).toEqual(expect.arrayContaining([expect.objectContaining({ direction: "pull" })]));
    }
    // With * pull but payroll closed (by the admin), removing its own payroll entry would open payroll too.
    await ok(a.grant(ops, "*", true));
    await ok(a.grant(ops, "payroll", false));
    expect(codesOf(await t.request(AccessEscRemoveGrantDocument, { roleId: ops, collection: "payroll" }, token))).toEqual(["FORBIDDEN"]);
    expect((await ok(t.request(AccessE2eRoleDocument, { id: ops }, a.token))).role.grants.map((g) => [g.collection, g.canPull])).toEqual([
      ["*", true],
      ["payroll", false],
      ["public", true],
    ]);
    expect((await ok(t.request(AccessE2eRoleDocument, { id: other }, a.token))).role.grants).toEqual([]);
    expect(codesOf(await t.request(AccessE2ePullDocument, { collections: ["payroll"] }, token))).toEqual(["FORBIDDEN"]);
    // Within its own access it grants: pull on public, for another role.
    await ok(a.grant(other, "public", true, false, token));
  });

  it("user:manage cannot give anyone, itself included, a role reaching collections it does not (FORBIDDEN): assignRoles, createUser, reactivateUser", async () => {
    const a = await tenant("esc-steward");
    await ok(t.request(AccessE2eCreateCollectionDocument, { input: { name: "payroll" } }, a.token));
    await ok(t.request(AccessE2ePushDocument, { input: { collection: "payroll", rows: [{ newDocumentState: { id: "p1", salary: 1 } }] } }, a.token));
    const steward = await a.role("Steward", ["user:manage", "sync:pull"]);
    await ok(a.grant(steward, "public", true));
    const self = await a.user("steward", ["Steward"]);
    const token = await a.login("steward@esc-steward.example");
    const plain = await a.user("plain", ["Steward"]);
    const analyst = await a.user("analyst", ["ANALYST"]);
    await ok(t.request(AccessE2eDeactivateUserDocument, { id: analyst }, a.token));
    expect(codesOf(await t.request(AccessE2ePullDocument, { collections: ["payroll"] }, token))).toEqual(["FORBIDDEN"]);

    // ANALYST's permission (sync:pull) the steward holds; its pull on every collection it does not.
    expect(codesOf(await t.request(AccessE2eAssignRolesDocument, { userId: self, roles: ["Steward", "ANALYST"] }, token))).toEqual(["FORBIDDEN"]);
    expect(codesOf(await t.request(AccessE2eAssignRolesDocument, { userId: plain, roles: ["ANALYST"] }, token))).toEqual(["FORBIDDEN"]);
    // Nor through a new user whose password it chooses, or by bringing a deactivated analyst back.
    expect(codesOf(await t.request(AccessE2eCreateUserDocument, { input: { email: "x@esc-steward.example", roles: ["ANALYST"], password: PASSWORD } }, token))).toEqual(["FORBIDDEN"]);
    expect(codesOf(await t.request(AccessE2eReactivateUserDocument, { id: analyst }, token))).toEqual(["FORBIDDEN"]);
    expect([await a.rolesOf(self), await a.rolesOf(plain), await a.status(analyst)]).toEqual([["Steward"], ["Steward"], "DISABLED"]);
    expect((await ok(t.request(AccessE2eUsersDocument, { search: "x@" }, a.token))).users.nodes).toEqual([]);
    const again = await a.login("steward@esc-steward.example");
    expect(codesOf(await t.request(AccessE2ePullDocument, { collections: ["payroll"] }, again))).toEqual(["FORBIDDEN"]);
    // Roles within its access it gives; the admin gives ANALYST, and then payroll can be pulled.
    await ok(t.request(AccessE2eCreateUserDocument, { input: { email: "y@esc-steward.example", roles: ["Steward"], password: PASSWORD } }, token));
    await ok(t.request(AccessE2eAssignRolesDocument, { userId: plain, roles: ["ANALYST"] }, a.token));
    const plainToken = await a.login("plain@esc-steward.example");
    expect((await ok(t.request(AccessE2ePullDocument, { collections: ["payroll"] }, plainToken))).pullChanges.documents).toHaveLength(1);
  });

  it("user:manage cannot deactivate, reactivate or change the roles of a user holding a permission it lacks (FORBIDDEN), admins included", async () => {
    const a = await tenant("esc-helpdesk");
    await a.role("Helpdesk", ["user:manage"]);
    const self = await a.user("help", ["Helpdesk"]);
    const help = await a.login("help@esc-helpdesk.example");
    const admin2 = await a.user("admin2", ["ADMIN"]);
    const admin3 = await a.user("admin3", ["ADMIN"]);
    const member = await a.user("member", ["USER"]);
    const peer = await a.user("peer", ["Helpdesk"]);
    const disabledAdmin = await a.user("admin4", ["ADMIN"]);
    await ok(t.request(AccessE2eDeactivateUserDocument, { id: disabledAdmin }, a.token));

    const refused = [
      await t.request(AccessE2eDeactivateUserDocument, { id: admin2 }, help),
      await t.request(AccessE2eAssignRolesDocument, { userId: admin3, roles: ["USER"] }, help),
      await t.request(AccessE2eAssignRolesDocument, { userId: admin3, roles: ["ADMIN", "Helpdesk"] }, help),
      await t.request(AccessE2eDeactivateUserDocument, { id: member }, help),
      await t.request(AccessE2eAssignRolesDocument, { userId: member, roles: [] }, help),
      await t.request(AccessE2eReactivateUserDocument, { id: disabledAdmin }, help),
    ];
    expect(refused.map(codesOf)).toEqual(refused.map(() => ["FORBIDDEN"]));
    expect(refused[0]!.errors?.[0]?.extensions?.permissions).toEqual(expect.arrayContaining(["tenant:manage", "role:manage"]));
    expect([await a.status(admin2), await a.rolesOf(admin3), await a.status(member), await a.rolesOf(member), await a.status(disabledAdmin)]).toEqual([
      "ACTIVE",
      ["ADMIN"],
      "ACTIVE",
      ["USER"],
      "DISABLED",
    ]);
    // Its peers it manages; its own account's rules are unchanged (no deactivating itself).
    await ok(t.request(AccessE2eAssignRolesDocument, { userId: peer, roles: [] }, help));
    await ok(t.request(AccessE2eDeactivateUserDocument, { id: peer }, help));
    await ok(t.request(AccessE2eReactivateUserDocument, { id: peer }, help));
    expect(codesOf(await t.request(AccessE2eDeactivateUserDocument, { id: self }, help))).toEqual(["CONFLICT"]);
    // The tenant's ADMIN still does all of it.
    await ok(t.request(AccessE2eDeactivateUserDocument, { id: admin2 }, a.token));
    await ok(t.request(AccessE2eAssignRolesDocument, { userId: admin3, roles: ["USER"] }, a.token));
  });
});
