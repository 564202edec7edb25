// Roles, permissions and collection grants, end to end through the gateway (memory pub/sub).
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { print } from "graphql";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import {
  AssignRolesDocument,
  AuditEventListDocument,
  CreateRoleDocument,
  DeleteRoleDocument,
  LoginDocument,
  MyCollectionGrantSummaryDocument,
  MyCollectionGrantsDocument,
  PermissionMatrixDocument,
  RemoveCollectionGrantDocument,
  RoleByIdDocument,
  RolesCreateUserDocument,
  RolesDocument,
  RolesMeDocument,
  SetCollectionGrantDocument,
  UpdateRoleDocument,
} from "../__generated__/graphql.js";
import { startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";
import { codesOf, post, waitUntil } from "./e2e-helpers.js";

const PASSWORD = "correct horse battery staple";
const SYSTEM = ["ADMIN", "MANAGER", "USER", "ANALYST", "READ_ONLY"];

describe("roles", () => {
  let t: TestStack;
  let a: TenantLogin;
  let b: TenantLogin;

  async function ok<T extends { errors?: unknown; data?: unknown }>(p: Promise<T>): Promise<NonNullable<T["data"]>> {
    const res = await p;
    expect(res.errors).toBeUndefined();
    return res.data as NonNullable<T["data"]>;
  }
  const fieldsOf = (res: { errors?: readonly { extensions?: Record<string, unknown> }[] }) => (res.errors ?? []).map((e) => e.extensions?.field);

  /** Adds a user with a password to `tenant` (through the graph) and signs them in. */
  async function signedInUser(tenant: TenantLogin, local: string, roles: string[]) {
    const email = `${local}@${tenant.slug}.example`;
    const created = (await ok(t.request(RolesCreateUserDocument, { input: { email, displayName: local, roles, password: PASSWORD } }, tenant.token))).createUser.user;
    const login = (await ok(t.request(LoginDocument, { input: { tenant: tenant.slug, email, password: PASSWORD } }))).login;
    return { id: created.id, email, token: login.accessToken, permissions: login.user.permissions };
  }
  /**
   * Asks the tenants subgraph itself, as the sync subgraph does with its caller's token. (Through the gateway this
   * query's nested lists exceed the cost limit; clients there use MyCollectionGrantSummary.)
   */
  async function fromTenantsService<T>(doc: TypedDocumentNode<T, Record<string, never>>, token: string): Promise<T> {
    const res = await post(t.stack.tenants.url, print(doc), {}, token);
    expect([res.status, res.body.errors]).toEqual([200, undefined]);
    return res.body.data as T;
  }
  async function signIn(tenant: TenantLogin, email: string) {
    return (await ok(t.request(LoginDocument, { input: { tenant: tenant.slug, email, password: PASSWORD } }))).login;
  }

  beforeAll(async () => {
    t = await startTestStack();
    a = await t.tenant("roles-a");
    b = await t.tenant("roles-b");
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("every tenant has the five system roles, read-only, with their built-in * grant", async () => {
    const roles = (await ok(t.request(RolesDocument, {}, a.token))).roles;
    expect(roles.map((r) => [r.name, r.system])).toEqual(SYSTEM.map((n) => [n, true]));
    const analyst = roles.find((r) => r.name === "ANALYST")!;
    expect(analyst.permissions).toEqual(["sync:pull"]);
    expect(analyst.grants).toEqual([{ roleId: analyst.id, collection: "*", canPush: false, canPull: true, updatedAt: null }]);
    const detail = (await ok(t.request(RoleByIdDocument, { id: analyst.id }, a.token))).role;
    expect(detail.grants).toEqual([{ roleId: analyst.id, collection: "*", canPush: false, canPull: true, rowFilters: [], updatedAt: null }]);

    const admin = roles.find((r) => r.name === "ADMIN")!;
    const update = await t.request(UpdateRoleDocument, { id: admin.id, input: { description: "mine" } }, a.token);
    expect(codesOf(update)).toEqual(["FORBIDDEN"]);
    expect(codesOf(await t.request(DeleteRoleDocument, { id: admin.id }, a.token))).toEqual(["FORBIDDEN"]);
    const grant = await t.request(SetCollectionGrantDocument, { input: { roleId: admin.id, collection: "orders", canPush: false, canPull: false } }, a.token);
    expect(codesOf(grant)).toEqual(["FORBIDDEN"]);
    expect((await ok(t.request(RolesDocument, {}, a.token))).roles).toEqual(roles);
  });

  it("creates a tenant role; names are unique ignoring case; unknown permissions are refused by field", async () => {
    const created = (await ok(t.request(CreateRoleDocument, { input: { name: "Auditors", description: "Read the trail", permissions: ["audit:read"] } }, a.token))).createRole;
    expect(created).toMatchObject({ name: "Auditors", description: "Read the trail", permissions: ["audit:read"], system: false, deletedAt: null });

    expect(codesOf(await t.request(CreateRoleDocument, { input: { name: "AUDITORS", permissions: [] } }, a.token))).toEqual(["CONFLICT"]);
    expect(codesOf(await t.request(CreateRoleDocument, { input: { name: "analyst", permissions: [] } }, a.token))).toEqual(["CONFLICT"]);
    const unknown = await t.request(CreateRoleDocument, { input: { name: "Wizards", permissions: ["sync:teleport"] } }, a.token);
    expect([codesOf(unknown), fieldsOf(unknown)]).toEqual([["BAD_USER_INPUT"], ["permissions"]]);
    // Another tenant may use the same name.
    await ok(t.request(CreateRoleDocument, { input: { name: "Auditors", permissions: [] } }, b.token));

    const event = await waitUntil(async () => {
      const r = await t.request(AuditEventListDocument, { limit: 50, actionPrefix: "role." }, a.token);
      return r.data?.auditEvents.nodes.find((e) => e.action === "role.created" && e.targetId === created.id);
    }, "the role.created audit event");
    expect(event).toMatchObject({ targetType: "Role", actor: { id: a.userId } });
  });

  it("a custom role's permissions and grants reach its users at sign-in and through myCollectionGrants", async () => {
    const role = (await ok(t.request(CreateRoleDocument, { input: { name: "Sales reps", permissions: ["sync:pull", "sync:push"] } }, a.token))).createRole;
    const ownRecords = [{ field: "owner.id", op: "EQ" as const, value: "$user.id" }];
    const granted = (
      await ok(t.request(SetCollectionGrantDocument, { input: { roleId: role.id, collection: "orders", canPush: true, canPull: true, rowFilters: ownRecords } }, a.token))
    ).setCollectionGrant;
    expect(granted).toMatchObject({ roleId: role.id, collection: "orders", canPush: true, canPull: true, rowFilters: ownRecords, role: { name: "Sales reps" } });
    await ok(t.request(SetCollectionGrantDocument, { input: { roleId: role.id, collection: "contacts", canPush: false, canPull: true } }, a.token));

    const rep = await signedInUser(a, "rep", ["USER"]);
    const assigned = (await ok(t.request(AssignRolesDocument, { userId: rep.id, roles: ["sales REPS"] }, a.token))).assignRoles;
    expect(assigned).toEqual({ id: rep.id, email: rep.email, roles: ["Sales reps"] });

    const login = await signIn(a, rep.email);
    expect(login.user.roles).toEqual(["Sales reps"]);
    expect(login.user.permissions).toEqual(["sync:pull", "sync:push"]);
    expect((await ok(t.request(RolesMeDocument, {}, login.accessToken))).me.permissions).toEqual(["sync:pull", "sync:push"]);

    const grants = (await fromTenantsService(MyCollectionGrantsDocument, login.accessToken)).myCollectionGrants;
    expect(grants).toEqual([
      { collection: "*", canPush: false, canPull: false, pushFilters: [], pullFilters: [] },
      { collection: "contacts", canPush: false, canPull: true, pushFilters: [], pullFilters: null },
      {
        collection: "orders",
        canPush: true,
        canPull: true,
        pushFilters: [{ role: "Sales reps", filters: [{ field: "owner.id", op: "EQ", value: rep.id }] }],
        pullFilters: [{ role: "Sales reps", filters: [{ field: "owner.id", op: "EQ", value: rep.id }] }],
      },
    ]);

    expect((await ok(t.request(MyCollectionGrantSummaryDocument, {}, login.accessToken))).myCollectionGrants).toEqual([
      { collection: "*", canPush: false, canPull: false },
      { collection: "contacts", canPush: false, canPull: true },
      { collection: "orders", canPush: true, canPull: true },
    ]);

    // A rep manages nothing.
    expect(codesOf(await t.request(RolesDocument, {}, login.accessToken))).toEqual(["FORBIDDEN"]);
    expect(codesOf(await t.request(CreateRoleDocument, { input: { name: "Mine", permissions: [] } }, login.accessToken))).toEqual(["FORBIDDEN"]);
    expect(codesOf(await t.request(AssignRolesDocument, { userId: rep.id, roles: ["ADMIN"] }, login.accessToken))).toEqual(["FORBIDDEN"]);

    const matrix = (await ok(t.request(PermissionMatrixDocument, {}, a.token))).permissionMatrix;
    expect(matrix.collections).toEqual(["*", "contacts", "orders"]);
    const row = matrix.rows.find((r) => r.role.id === role.id)!;
    expect(row.cells.map((c) => [c.collection, c.canPush, c.canPull, c.inherited])).toEqual([
      ["*", false, false, false],
      ["contacts", false, true, false],
      ["orders", true, true, false],
    ]);
    expect(matrix.rows.find((r) => r.role.name === "USER")!.cells.every((c) => c.canPush && c.canPull)).toBe(true);

    // Removing a grant, then the role: the rep ends up with nothing.
    expect((await ok(t.request(RemoveCollectionGrantDocument, { roleId: role.id, collection: "contacts" }, a.token))).removeCollectionGrant).toBe(true);
    expect((await ok(t.request(RemoveCollectionGrantDocument, { roleId: role.id, collection: "contacts" }, a.token))).removeCollectionGrant).toBe(false);
    const deleted = (await ok(t.request(DeleteRoleDocument, { id: role.id }, a.token))).deleteRole;
    expect(deleted.deletedAt).toEqual(expect.any(String));
    expect(codesOf(await t.request(RoleByIdDocument, { id: role.id }, a.token))).toEqual(["NOT_FOUND"]);
    const after = await signIn(a, rep.email);
    expect(after.user.roles).toEqual([]);
    expect(after.user.permissions).toEqual([]);
    expect((await fromTenantsService(MyCollectionGrantsDocument, after.accessToken)).myCollectionGrants).toEqual([
      { collection: "*", canPush: false, canPull: false, pushFilters: [], pullFilters: [] },
    ]);
  });

  it("renaming a role keeps its users", async () => {
    const role = (await ok(t.request(CreateRoleDocument, { input: { name: "Support", permissions: ["user:read"] } }, a.token))).createRole;
    const agent = await signedInUser(a, "agent", ["Support"]);
    expect(agent.permissions).toEqual(["user:read"]);
    const renamed = (await ok(t.request(UpdateRoleDocument, { id: role.id, input: { name: "Customer care", permissions: ["audit:read", "user:read"] } }, a.token))).updateRole;
    expect(renamed).toMatchObject({ id: role.id, name: "Customer care", permissions: ["audit:read", "user:read"] });
    const login = await signIn(a, agent.email);
    expect(login.user.roles).toEqual(["Customer care"]);
    expect(login.user.permissions).toEqual(["audit:read", "user:read"]);
  });

  it("refuses bad grants by field", async () => {
    const role = (await ok(t.request(CreateRoleDocument, { input: { name: "Pullers", permissions: ["sync:pull"] } }, a.token))).createRole;
    const cases: [Record<string, unknown>, string][] = [
      [{ collection: "no spaces" }, "collection"],
      [{ canPush: true }, "canPush"],
      [{ rowFilters: [{ field: "a..b", op: "EQ", value: 1 }] }, "rowFilters[0].field"],
      [{ rowFilters: [{ field: "dept", op: "IN", value: "SALES" }] }, "rowFilters[0].value"],
      [{ rowFilters: [{ field: "dept", op: "EQ", value: "$user.password" }] }, "rowFilters[0].value"],
    ];
    for (const [input, field] of cases) {
      const res = await t.request(SetCollectionGrantDocument, { input: { roleId: role.id, collection: "orders", canPush: false, canPull: true, ...input } }, a.token);
      expect([field, codesOf(res), fieldsOf(res)]).toEqual([field, ["BAD_USER_INPUT"], [field]]);
    }
    expect((await ok(t.request(RoleByIdDocument, { id: role.id }, a.token))).role.grants).toEqual([]);
  });

  it("an admin cannot remove their own ADMIN role; unknown role names are refused", async () => {
    const own = await t.request(AssignRolesDocument, { userId: a.userId, roles: ["USER"] }, a.token);
    expect(codesOf(own)).toEqual(["CONFLICT"]);
    const unknown = await t.request(AssignRolesDocument, { userId: a.userId, roles: ["ADMIN", "Nobody"] }, a.token);
    expect([codesOf(unknown), fieldsOf(unknown)]).toEqual([["BAD_USER_INPUT"], ["roles"]]);
    expect((await ok(t.request(RolesMeDocument, {}, a.token))).me.roles).toEqual(["ADMIN"]);
  });

  it("another tenant's roles and users are NOT_FOUND and untouched", async () => {
    const secret = (await ok(t.request(CreateRoleDocument, { input: { name: "Secret", permissions: ["sync:pull"] } }, a.token))).createRole;
    expect((await ok(t.request(RolesDocument, {}, b.token))).roles.map((r) => r.name)).not.toContain("Secret");
    const attempts = [
      t.request(RoleByIdDocument, { id: secret.id }, b.token),
      t.request(UpdateRoleDocument, { id: secret.id, input: { name: "Stolen" } }, b.token),
      t.request(DeleteRoleDocument, { id: secret.id }, b.token),
      t.request(SetCollectionGrantDocument, { input: { roleId: secret.id, collection: "orders", canPush: false, canPull: true } }, b.token),
      t.request(RemoveCollectionGrantDocument, { roleId: secret.id, collection: "orders" }, b.token),
      t.request(AssignRolesDocument, { userId: a.userId, roles: ["USER"] }, b.token),
    ];
    for (const res of await Promise.all(attempts)) expect(codesOf(res)).toEqual(["NOT_FOUND"]);
    // B cannot hand out A's role either.
    const bUser = await signedInUser(b, "someone", ["USER"]);
    const cross = await t.request(AssignRolesDocument, { userId: bUser.id, roles: ["Secret"] }, b.token);
    expect(codesOf(cross)).toEqual(["BAD_USER_INPUT"]);
    const still = (await ok(t.request(RoleByIdDocument, { id: secret.id }, a.token))).role;
    expect(still).toMatchObject({ name: "Secret", deletedAt: null, grants: [] });
  });

  it("roles need a signed-in caller", async () => {
    expect(codesOf(await t.request(RolesDocument, {}))).toEqual(["UNAUTHENTICATED"]);
    expect(codesOf(await t.request(MyCollectionGrantSummaryDocument, {}))).toEqual(["UNAUTHENTICATED"]);
  });
});
