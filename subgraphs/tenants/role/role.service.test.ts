// The role service against a real PostgreSQL (embedded, throwaway schema built from the entities).
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { GraphQLError } from "graphql";
import { MikroORM, type EntityManager } from "@mikro-orm/postgresql";
import type { Principal } from "../../../kernel/auth.js";
import { ApiKey } from "../auth/api-key.entity.js";
import { ormOptions } from "../../../kernel/db.js";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "../../../kernel/embedded-postgres.js";
import { forkForTenant, forkUnscoped } from "../../../kernel/tenancy.js";
import { User, UserStatus } from "../user/user.entity.js";
import { CollectionGrant } from "./collection-grant.entity.js";
import { effectiveGrantOn } from "./collection-grant.policy.js";
import { Role } from "./role.entity.js";
import { ALL_PERMISSIONS, SYSTEM_ROLE_NAMES } from "./role.permissions.js";
import {
  assignRoles,
  createRole,
  deleteRole,
  ensureSystemRoles,
  grantsFor,
  listRoles,
  myCollectionGrants,
  permissionMatrix,
  removeCollectionGrant,
  resolvePermissions,
  setCollectionGrant,
  updateRole,
  validateRoleNames,
} from "./role.service.js";
import { RowFilterOp } from "./row-filter.js";

let pg: EmbeddedDatabase;
let dir: string;
let orm: MikroORM;

async function codeOf(p: Promise<unknown>): Promise<{ code: unknown; field?: unknown }> {
  try {
    await p;
  } catch (e) {
    const ext = (e as GraphQLError).extensions ?? {};
    return ext.field === undefined ? { code: ext.code } : { code: ext.code, field: ext.field };
  }
  throw new Error("expected an error");
}

interface TestTenant {
  id: string;
  admin: Principal;
  em: () => EntityManager;
  user(roles: string[], status?: UserStatus): Promise<User>;
  as(user: User, permissions?: readonly string[]): Principal;
}

async function tenant(): Promise<TestTenant> {
  const id = randomUUID();
  const em = () => forkForTenant(orm, id);
  const user = async (roles: string[], status = UserStatus.ACTIVE) => {
    const e = em();
    const u = e.create(User, { id: randomUUID(), tenantId: id, email: `${randomUUID()}@t.example`, displayName: "T", passwordHash: "x", roles, status });
    await e.flush();
    return u;
  };
  const as = (u: User, permissions: readonly string[] = ALL_PERMISSIONS): Principal => ({
    kind: "user",
    userId: u.id,
    tenantId: id,
    email: u.email,
    roles: u.roles,
    permissions: [...permissions],
    plan: "PRO",
    tokenId: randomUUID(),
    issuedAt: new Date(),
    expiresAt: new Date(Date.now() + 60_000),
  });
  const adminUser = await user(["ADMIN"]);
  await ensureSystemRoles(em(), id);
  return { id, admin: as(adminUser), em, user, as };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "tributary-role-test-"));
  pg = await startEmbeddedPostgres({ dataDir: dir, persistent: false });
  const url = await pg.createDatabase(`role_${randomUUID().replace(/-/g, "")}`);
  orm = await MikroORM.init(ormOptions({ url, schema: "tenants", entities: [User, Role, CollectionGrant, ApiKey], migrations: [] }));
  await orm.em.getConnection().execute('create schema if not exists "tenants"');
  await orm.schema.create();
});

afterAll(async () => {
  await orm?.close();
  await pg?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("schema", () => {
  it("round-trips: the entities' indexes (partial unique on role names) need no further change", async () => {
    const sql = await orm.schema.getUpdateSchemaSQL({ wrap: false });
    expect(sql.split("\n").filter((l) => /"role"|collection_grant/.test(l))).toEqual([]);
  });
});

describe("system roles", () => {
  it("creates the five system roles once, even when called concurrently", async () => {
    const id = randomUUID();
    await Promise.all([1, 2, 3].map(() => ensureSystemRoles(forkForTenant(orm, id), id)));
    const roles = await ensureSystemRoles(forkForTenant(orm, id), id);
    expect(roles.map((r) => r.name)).toEqual(SYSTEM_ROLE_NAMES);
    expect(await forkForTenant(orm, id).count(Role, {})).toBe(5);
    expect(roles.every((r) => r.system && r.tenantId === id)).toBe(true);
  });

  it("works inside the transaction that creates a tenant, with an unscoped EntityManager", async () => {
    const id = randomUUID();
    await forkUnscoped(orm).transactional(async (tx) => {
      const roles = await ensureSystemRoles(tx, id);
      expect(roles).toHaveLength(5);
    });
    expect(await forkForTenant(orm, id).count(Role, { system: true })).toBe(5);
  });

  it("brings drifted rows back to the code's definition", async () => {
    const t = await tenant();
    await t.em().nativeUpdate(Role, { name: "USER" }, { permissions: ["tenant:manage"], description: "hacked" });
    const roles = await ensureSystemRoles(t.em(), t.id);
    expect(roles.find((r) => r.name === "USER")).toMatchObject({ permissions: ["sync:pull", "sync:push"], description: "Pushes and pulls records" });
    expect((await t.em().findOneOrFail(Role, { name: "USER" })).permissions).toEqual(["sync:pull", "sync:push"]);
  });
});

describe("permissions", () => {
  it("unions system and tenant roles, sorted, ignoring deleted, unknown and other tenants' roles", async () => {
    const t = await tenant();
    const other = await tenant();
    await createRole(t.em(), t.admin, { name: "Auditors", permissions: ["audit:read", "user:read"] });
    const gone = await createRole(t.em(), t.admin, { name: "Gone", permissions: ["tenant:manage"] });
    await deleteRole(t.em(), gone.id);
    await createRole(other.em(), other.admin, { name: "Other", permissions: ["connector:manage"] });
    // Login runs with an unscoped EntityManager: the tenant comes from the argument.
    const perms = await resolvePermissions(forkUnscoped(orm), t.id, ["ANALYST", "Auditors", "Gone", "Other", "NOPE"]);
    expect(perms).toEqual(["audit:read", "sync:pull", "user:read"]);
    expect(await resolvePermissions(forkUnscoped(orm), t.id, ["ADMIN"])).toEqual([...ALL_PERMISSIONS]);
    expect(await resolvePermissions(forkUnscoped(orm), t.id, [])).toEqual([]);
  });
});

describe("tenant roles", () => {
  it("validates names and permissions", async () => {
    const t = await tenant();
    expect(await codeOf(createRole(t.em(), t.admin, { name: "  ", permissions: [] }))).toEqual({ code: "BAD_USER_INPUT", field: "name" });
    expect(await codeOf(createRole(t.em(), t.admin, { name: "x".repeat(101), permissions: [] }))).toEqual({ code: "BAD_USER_INPUT", field: "name" });
    expect(await codeOf(createRole(t.em(), t.admin, { name: "ok", permissions: ["sync:pull", "sync:everything"] }))).toEqual({
      code: "BAD_USER_INPUT",
      field: "permissions",
    });
    expect(await codeOf(createRole(t.em(), t.admin, { name: "ok", description: "d".repeat(501), permissions: [] }))).toEqual({
      code: "BAD_USER_INPUT",
      field: "description",
    });
    const role = await createRole(t.em(), t.admin, { name: " Sales reps ", description: " Field team ", permissions: ["sync:push", "sync:pull", "sync:pull"] });
    expect(role).toMatchObject({ name: "Sales reps", description: "Field team", permissions: ["sync:pull", "sync:push"], system: false, tenantId: t.id });
  });

  it("refuses duplicate names ignoring case, and system role names (CONFLICT); other tenants and deleted roles do not count", async () => {
    const t = await tenant();
    const other = await tenant();
    const sales = await createRole(t.em(), t.admin, { name: "SALES", permissions: [] });
    expect(await codeOf(createRole(t.em(), t.admin, { name: "sales", permissions: [] }))).toEqual({ code: "CONFLICT", field: "name" });
    expect(await codeOf(createRole(t.em(), t.admin, { name: "admin", permissions: [] }))).toEqual({ code: "CONFLICT", field: "name" });
    await createRole(other.em(), other.admin, { name: "SALES", permissions: [] });
    await deleteRole(t.em(), sales.id);
    await createRole(t.em(), t.admin, { name: "SALES", permissions: [] });
  });

  it("the database refuses a duplicate that slips past the check (CONFLICT)", async () => {
    const t = await tenant();
    const results = await Promise.allSettled([1, 2, 3, 4].map(() => createRole(t.em(), t.admin, { name: "RACE", permissions: [] })));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results) if (r.status === "rejected") expect((r.reason as GraphQLError).extensions.code).toBe("CONFLICT");
  });

  it("nobody grants permissions they do not hold (FORBIDDEN)", async () => {
    const t = await tenant();
    const manager = t.as(await t.user([]), ["role:manage", "sync:pull"]);
    expect(await codeOf(createRole(t.em(), manager, { name: "Boss", permissions: ["tenant:manage"] }))).toEqual({ code: "FORBIDDEN" });
    const role = await createRole(t.em(), manager, { name: "Readers", permissions: ["sync:pull"] });
    expect(await codeOf(updateRole(t.em(), manager, role.id, { permissions: ["sync:pull", "user:manage"] }))).toEqual({ code: "FORBIDDEN" });
  });

  it("renames a role on every user holding it, and reports the changes", async () => {
    const t = await tenant();
    const role = await createRole(t.em(), t.admin, { name: "Sales", permissions: ["sync:pull"] });
    const u1 = await t.user(["USER", "Sales"]);
    const u2 = await t.user(["Sales"]);
    const u3 = await t.user(["USER"]);
    const { role: renamed, changes } = await updateRole(t.em(), t.admin, role.id, { name: "Sales EU", description: "Europe", permissions: ["sync:pull", "sync:push"] });
    expect(renamed).toMatchObject({ name: "Sales EU", description: "Europe", permissions: ["sync:pull", "sync:push"] });
    expect(changes).toEqual({
      name: { before: "Sales", after: "Sales EU" },
      description: { before: null, after: "Europe" },
      permissions: { before: ["sync:pull"], after: ["sync:pull", "sync:push"] },
    });
    const roles = async (u: User) => (await t.em().findOneOrFail(User, { id: u.id })).roles;
    expect(await roles(u1)).toEqual(["USER", "Sales EU"]);
    expect(await roles(u2)).toEqual(["Sales EU"]);
    expect(await roles(u3)).toEqual(["USER"]);
    expect((await updateRole(t.em(), t.admin, role.id, { name: "Sales EU" })).changes).toEqual({});
    expect((await updateRole(t.em(), t.admin, role.id, { description: "" })).role.description).toBeNull();
  });

  it("system roles cannot be changed or deleted (FORBIDDEN)", async () => {
    const t = await tenant();
    const admin = (await listRoles(t.em(), t.id)).find((r) => r.name === "ADMIN")!;
    expect(await codeOf(updateRole(t.em(), t.admin, admin.id, { description: "mine" }))).toEqual({ code: "FORBIDDEN" });
    expect(await codeOf(deleteRole(t.em(), admin.id))).toEqual({ code: "FORBIDDEN" });
    expect(await codeOf(setCollectionGrant(t.em(), t.admin, { roleId: admin.id, collection: "orders", canPush: false, canPull: true }))).toEqual({
      code: "FORBIDDEN",
    });
  });

  it("another tenant's role, a deleted role and a malformed id are NOT_FOUND", async () => {
    const t = await tenant();
    const other = await tenant();
    const theirs = await createRole(other.em(), other.admin, { name: "Theirs", permissions: [] });
    const gone = await createRole(t.em(), t.admin, { name: "Gone", permissions: [] });
    await deleteRole(t.em(), gone.id);
    for (const id of [theirs.id, gone.id, "not-a-uuid", randomUUID()]) {
      expect(await codeOf(updateRole(t.em(), t.admin, id, { description: "x" }))).toEqual({ code: "NOT_FOUND" });
      expect(await codeOf(deleteRole(t.em(), id))).toEqual({ code: "NOT_FOUND" });
    }
    expect((await other.em().findOneOrFail(Role, { id: theirs.id })).description).toBeNull();
  });

  it("deleting a role soft-deletes it and takes it from its users", async () => {
    const t = await tenant();
    const role = await createRole(t.em(), t.admin, { name: "Temp", permissions: ["audit:read"] });
    const u = await t.user(["USER", "Temp"]);
    const { role: deleted, usersAffected } = await deleteRole(t.em(), role.id);
    expect(deleted.deletedAt).toBeInstanceOf(Date);
    expect(usersAffected).toEqual([u.id]);
    expect((await t.em().findOneOrFail(User, { id: u.id })).roles).toEqual(["USER"]);
    expect((await listRoles(t.em(), t.id)).map((r) => r.name)).not.toContain("Temp");
    expect(await t.em().findOne(Role, { id: role.id })).not.toBeNull();
  });

  it("lists system roles first, then the tenant's by name", async () => {
    const t = await tenant();
    for (const name of ["zeta", "Alpha", "beta"]) await createRole(t.em(), t.admin, { name, permissions: [] });
    expect((await listRoles(t.em(), t.id)).map((r) => r.name)).toEqual([...SYSTEM_ROLE_NAMES, "Alpha", "beta", "zeta"]);
  });
});

describe("assigning roles", () => {
  it("replaces a user's roles with canonical names, deduplicated", async () => {
    const t = await tenant();
    await createRole(t.em(), t.admin, { name: "Sales", permissions: ["sync:pull"] });
    const u = await t.user(["USER"]);
    const { user, before, after } = await assignRoles(t.em(), t.admin, u.id, ["analyst", "SALES", " Sales ", "ANALYST"]);
    expect(before).toEqual(["USER"]);
    expect(after).toEqual(["ANALYST", "Sales"]);
    expect(user.roles).toEqual(["ANALYST", "Sales"]);
    expect((await t.em().findOneOrFail(User, { id: u.id })).roles).toEqual(["ANALYST", "Sales"]);
  });

  it("refuses unknown roles (BAD_USER_INPUT on roles), including deleted and other tenants' roles", async () => {
    const t = await tenant();
    const other = await tenant();
    await createRole(other.em(), other.admin, { name: "Theirs", permissions: [] });
    const gone = await createRole(t.em(), t.admin, { name: "Gone", permissions: [] });
    await deleteRole(t.em(), gone.id);
    const u = await t.user(["USER"]);
    for (const name of ["Theirs", "Gone", "SUPERUSER"]) {
      expect(await codeOf(assignRoles(t.em(), t.admin, u.id, ["USER", name]))).toEqual({ code: "BAD_USER_INPUT", field: "roles" });
    }
    expect((await t.em().findOneOrFail(User, { id: u.id })).roles).toEqual(["USER"]);
  });

  it("another tenant's user is NOT_FOUND", async () => {
    const t = await tenant();
    const other = await tenant();
    const theirs = await other.user(["USER"]);
    expect(await codeOf(assignRoles(t.em(), t.admin, theirs.id, ["ADMIN"]))).toEqual({ code: "NOT_FOUND" });
    expect(await codeOf(assignRoles(t.em(), t.admin, "nope", ["ADMIN"]))).toEqual({ code: "NOT_FOUND" });
    expect((await other.em().findOneOrFail(User, { id: theirs.id })).roles).toEqual(["USER"]);
  });

  it("nobody removes their own ADMIN role, and the tenant keeps an active ADMIN (CONFLICT)", async () => {
    const t = await tenant();
    expect(await codeOf(assignRoles(t.em(), t.admin, t.admin.userId, ["USER"]))).toEqual({ code: "CONFLICT", field: "roles" });
    // Another user with user:manage but not ADMIN cannot demote the last active admin either.
    const helper = await t.user(["USER"]);
    const helperPrincipal = t.as(helper, ALL_PERMISSIONS);
    expect(await codeOf(assignRoles(t.em(), helperPrincipal, t.admin.userId, ["USER"]))).toEqual({ code: "CONFLICT", field: "roles" });
    // With a second active admin it is fine; a disabled admin does not count.
    await t.user(["ADMIN"], UserStatus.DISABLED);
    expect(await codeOf(assignRoles(t.em(), helperPrincipal, t.admin.userId, ["USER"]))).toEqual({ code: "CONFLICT", field: "roles" });
    await t.user(["ADMIN"]);
    expect((await assignRoles(t.em(), helperPrincipal, t.admin.userId, ["USER"])).after).toEqual(["USER"]);
  });

  it("nobody hands out roles carrying permissions they lack, nor changes the roles of a user holding such permissions (FORBIDDEN)", async () => {
    const t = await tenant();
    const u = await t.user(["ADMIN", "USER"]);
    const manager = t.as(await t.user(["USER"]), ["user:manage", "sync:pull", "sync:push"]);
    expect(await codeOf(assignRoles(t.em(), manager, manager.userId, ["USER", "ADMIN"]))).toEqual({ code: "FORBIDDEN" });
    // Keeping the ADMIN role while adding another still changes the roles of someone who holds more than the manager.
    expect(await codeOf(assignRoles(t.em(), manager, u.id, ["ADMIN", "USER", "ANALYST"]))).toEqual({ code: "FORBIDDEN" });
    expect((await t.em().findOneOrFail(User, { id: u.id })).roles).toEqual(["ADMIN", "USER"]);
    // Within the manager's permissions roles change; the tenant's ADMIN changes anyone's.
    const v = await t.user(["USER"]);
    expect((await assignRoles(t.em(), manager, v.id, ["USER", "ANALYST"])).after).toEqual(["USER", "ANALYST"]);
    expect((await assignRoles(t.em(), t.admin, u.id, ["ADMIN", "USER", "ANALYST"])).after).toEqual(["ADMIN", "USER", "ANALYST"]);
  });

  it("validateRoleNames (user creation hook) wants exact names and no escalation", async () => {
    const t = await tenant();
    await createRole(t.em(), t.admin, { name: "Sales", permissions: ["sync:pull"] });
    await validateRoleNames({ em: t.em(), principal: t.admin }, ["USER", "Sales"]);
    expect(await codeOf(validateRoleNames({ em: t.em(), principal: t.admin }, ["sales"]))).toEqual({ code: "BAD_USER_INPUT", field: "roles" });
    expect(await codeOf(validateRoleNames({ em: t.em(), principal: t.admin }, ["admin"]))).toEqual({ code: "BAD_USER_INPUT", field: "roles" });
    const manager = t.as(await t.user(["ANALYST"]), ["user:manage", "sync:pull"]);
    await validateRoleNames({ em: t.em(), principal: manager }, ["ANALYST", "Sales"]);
    expect(await codeOf(validateRoleNames({ em: t.em(), principal: manager }, ["USER"]))).toEqual({ code: "FORBIDDEN" });
    // Holding sync:pull is not enough to give ANALYST's pull on every collection: the caller must reach them too.
    const bare = t.as(await t.user([]), ["user:manage", "sync:pull"]);
    expect(await codeOf(validateRoleNames({ em: t.em(), principal: bare }, ["ANALYST"]))).toEqual({ code: "FORBIDDEN" });
    await validateRoleNames({ em: t.em(), principal: bare }, ["Sales"]);
    // Installation work (no caller): the EntityManager's tenant, no escalation check; unscoped knows system roles only.
    await validateRoleNames({ em: t.em() }, ["ADMIN", "Sales"]);
    expect(await codeOf(validateRoleNames({ em: forkUnscoped(orm) }, ["ADMIN", "Sales"]))).toEqual({ code: "BAD_USER_INPUT", field: "roles" });
    await validateRoleNames({ em: forkUnscoped(orm) }, ["ADMIN"]);
  });
});

describe("collection grants", () => {
  it("validates the collection, the filters and the role's sync permissions", async () => {
    const t = await tenant();
    const puller = await createRole(t.em(), t.admin, { name: "Puller", permissions: ["sync:pull"] });
    const set = (input: Record<string, unknown>) =>
      codeOf(setCollectionGrant(t.em(), t.admin, { roleId: puller.id, collection: "orders", canPush: false, canPull: true, ...input } as never));
    expect(await set({ collection: "bad name" })).toEqual({ code: "BAD_USER_INPUT", field: "collection" });
    expect(await set({ canPush: true })).toEqual({ code: "BAD_USER_INPUT", field: "canPush" });
    expect(await set({ rowFilters: [{ field: "ok", op: "EQ", value: 1 }, { field: "x", op: "IN", value: 3 }] })).toEqual({
      code: "BAD_USER_INPUT",
      field: "rowFilters[1].value",
    });
    expect(await set({ roleId: randomUUID() })).toEqual({ code: "NOT_FOUND" });
    expect(await t.em().count(CollectionGrant, {})).toBe(0);
  });

  it("creates, replaces and removes a grant, and grantsFor merges them with system roles", async () => {
    const t = await tenant();
    const sales = await createRole(t.em(), t.admin, { name: "Sales", permissions: ["sync:pull", "sync:push"] });
    const owners = await createRole(t.em(), t.admin, { name: "Owners", permissions: ["sync:pull"] });
    const first = await setCollectionGrant(t.em(), t.admin, { roleId: sales.id, collection: "orders", canPush: false, canPull: true });
    expect(first.before).toBeNull();
    const dept = [{ field: "department", op: RowFilterOp.EQ, value: "SALES" }];
    const replaced = await setCollectionGrant(t.em(), t.admin, { roleId: sales.id, collection: "orders", canPush: true, canPull: true, rowFilters: dept });
    expect(replaced.before).toEqual({ collection: "orders", canPush: false, canPull: true, rowFilters: [] });
    expect(replaced.grant.id).toBe(first.grant.id);
    await setCollectionGrant(t.em(), t.admin, { roleId: sales.id, collection: "*", canPush: false, canPull: true });
    await setCollectionGrant(t.em(), t.admin, { roleId: sales.id, collection: "payroll", canPush: false, canPull: false });
    const mine = [{ field: "owner.id", op: RowFilterOp.EQ, value: "$user.id" }];
    await setCollectionGrant(t.em(), t.admin, { roleId: owners.id, collection: "orders", canPush: false, canPull: true, rowFilters: mine });
    expect(await t.em().count(CollectionGrant, {})).toBe(4);

    const grants = await grantsFor(forkUnscoped(orm), t.id, ["Sales", "Owners"]);
    expect(grants.map((g) => g.collection)).toEqual(["*", "orders", "payroll"]);
    expect(effectiveGrantOn(grants, "orders")).toEqual({
      collection: "orders",
      canPush: true,
      canPull: true,
      pushFilters: [{ role: "Sales", filters: dept }],
      pullFilters: [
        { role: "Sales", filters: dept },
        { role: "Owners", filters: mine },
      ],
    });
    expect(effectiveGrantOn(grants, "contacts")).toMatchObject({ collection: "*", canPush: false, canPull: true, pullFilters: null });
    expect(effectiveGrantOn(grants, "payroll")).toMatchObject({ canPush: false, canPull: false });
    // A system role widens it again.
    expect(effectiveGrantOn(await grantsFor(forkUnscoped(orm), t.id, ["Sales", "USER"]), "payroll")).toMatchObject({ canPush: true, canPull: true });

    expect(await removeCollectionGrant(t.em(), t.admin, sales.id, "payroll")).toEqual({ collection: "payroll", canPush: false, canPull: false, rowFilters: [] });
    expect(await removeCollectionGrant(t.em(), t.admin, sales.id, "payroll")).toBeNull();
    expect((await grantsFor(forkUnscoped(orm), t.id, ["Sales"])).map((g) => g.collection)).toEqual(["*", "orders"]);
  });

  it("ignores grants of deleted roles and of roles the caller lacks", async () => {
    const t = await tenant();
    const role = await createRole(t.em(), t.admin, { name: "Temp", permissions: ["sync:pull"] });
    await setCollectionGrant(t.em(), t.admin, { roleId: role.id, collection: "orders", canPush: false, canPull: true });
    expect(effectiveGrantOn(await grantsFor(t.em(), t.id, ["Temp"]), "orders")!.canPull).toBe(true);
    expect(effectiveGrantOn(await grantsFor(t.em(), t.id, ["ANALYST"]), "orders")).toMatchObject({ collection: "*", canPull: true, canPush: false });
    await deleteRole(t.em(), role.id);
    expect(await grantsFor(t.em(), t.id, ["Temp"])).toEqual([{ collection: "*", canPush: false, canPull: false, pushFilters: [], pullFilters: [] }]);
  });

  it("myCollectionGrants reads the caller's current roles and substitutes $user", async () => {
    const t = await tenant();
    const owners = await createRole(t.em(), t.admin, { name: "Owners", permissions: ["sync:pull", "sync:push"] });
    await setCollectionGrant(t.em(), t.admin, {
      roleId: owners.id,
      collection: "*",
      canPush: true,
      canPull: true,
      rowFilters: [
        { field: "ownerId", op: RowFilterOp.EQ, value: "$user.id" },
        { field: "team", op: RowFilterOp.IN, value: ["$user.email", "everyone"] },
      ],
    });
    const u = await t.user(["Owners"]);
    const p = { ...t.as(u), roles: ["ADMIN"] }; // a stale token must not matter
    expect(await myCollectionGrants(t.em(), p)).toEqual([
      {
        collection: "*",
        canPush: true,
        canPull: true,
        pushFilters: [{ role: "Owners", filters: [{ field: "ownerId", op: "EQ", value: u.id }, { field: "team", op: "IN", value: [u.email, "everyone"] }] }],
        pullFilters: [{ role: "Owners", filters: [{ field: "ownerId", op: "EQ", value: u.id }, { field: "team", op: "IN", value: [u.email, "everyone"] }] }],
      },
    ]);
    // An API key reaches what its creator reaches now (row filters evaluated as the creator), only in its scopes'
    // directions; a key whose row is gone (or never existed) reaches nothing.
    const keyId = randomUUID();
    const em = t.em();
    em.create(ApiKey, { id: keyId, tenantId: u.tenantId, name: "k", prefix: "trb_test", secretHash: randomUUID().replace(/-/g, ""), scopes: ["sync:pull"], createdById: u.id });
    await em.flush();
    const key: Principal = { ...t.as(u, ["sync:pull"]), kind: "api_key", userId: keyId, roles: [] };
    const ownerFilters = [{ role: "Owners", filters: [{ field: "ownerId", op: "EQ", value: u.id }, { field: "team", op: "IN", value: [u.email, "everyone"] }] }];
    expect(await myCollectionGrants(t.em(), key)).toEqual([{ collection: "*", canPush: false, canPull: true, pushFilters: ownerFilters, pullFilters: ownerFilters }]);
    const orphan: Principal = { ...key, userId: randomUUID() };
    expect(await myCollectionGrants(t.em(), orphan)).toEqual([]);
  });

  it("permissionMatrix lays out roles × collections", async () => {
    const t = await tenant();
    const sales = await createRole(t.em(), t.admin, { name: "Sales", permissions: ["sync:pull"] });
    await setCollectionGrant(t.em(), t.admin, { roleId: sales.id, collection: "orders", canPush: false, canPull: true, rowFilters: [{ field: "d", op: RowFilterOp.EQ, value: "S" }] });
    const m = await permissionMatrix(t.em(), t.id);
    expect(m.collections).toEqual(["*", "orders"]);
    expect(m.rows.map((r) => r.role.name)).toEqual([...SYSTEM_ROLE_NAMES, "Sales"]);
    const cells = Object.fromEntries(m.rows.map((r) => [r.role.name, r.cells.map((c) => [c.collection, c.canPush, c.canPull, c.inherited, c.rowFilters.length])]));
    expect(cells.ADMIN).toEqual([
      ["*", true, true, false, 0],
      ["orders", true, true, true, 0],
    ]);
    expect(cells.ANALYST).toEqual([
      ["*", false, true, false, 0],
      ["orders", false, true, true, 0],
    ]);
    expect(cells.Sales).toEqual([
      ["*", false, false, false, 0],
      ["orders", false, true, false, 1],
    ]);
  });
});

describe("nobody hands out collection access beyond their own (FORBIDDEN)", () => {
  /** A role pulling `public` only, held by a user signed in with the role's permissions. */
  async function restricted(t: TestTenant, name: string, permissions: string[]) {
    const role = await createRole(t.em(), t.admin, { name, permissions });
    await setCollectionGrant(t.em(), t.admin, { roleId: role.id, collection: "public", canPush: false, canPull: true });
    return { role, principal: t.as(await t.user([name]), permissions) };
  }
  const grantsOf = async (t: TestTenant, roleId: string) =>
    (await t.em().find(CollectionGrant, { roleId }, { orderBy: { collection: "asc" } })).map((g) => [g.collection, g.canPush, g.canPull]);

  it("setCollectionGrant: each direction must be held on the collection without row filters; * needs every collection", async () => {
    const t = await tenant();
    const ops = await restricted(t, "Ops", ["role:manage", "sync:pull"]);
    const other = await createRole(t.em(), t.admin, { name: "Other", permissions: ["sync:pull"] });
    const set = (roleId: string, collection: string, canPull = true, rowFilters?: unknown[]) =>
      setCollectionGrant(t.em(), ops.principal, { roleId, collection, canPush: false, canPull, rowFilters } as never);
    // Within its own access, filtered or not.
    await set(other.id, "public");
    await set(other.id, "public", true, [{ field: "dept", op: "EQ", value: "x" }]);
    // Beyond it: another collection, every collection, its own role included.
    for (const [roleId, collection] of [
      [other.id, "payroll"],
      [other.id, "*"],
      [ops.role.id, "*"],
      [ops.role.id, "payroll"],
    ] as const) {
      expect([roleId, collection, await codeOf(set(roleId, collection))]).toEqual([roleId, collection, { code: "FORBIDDEN" }]);
    }
    // A deny entry gives nothing.
    await set(ops.role.id, "payroll", false);
    expect(await grantsOf(t, ops.role.id)).toEqual([
      ["payroll", false, false],
      ["public", false, true],
    ]);
    expect(await grantsOf(t, other.id)).toEqual([["public", false, true]]);
    // Access the caller holds only through row filters does not count.
    await setCollectionGrant(t.em(), t.admin, { roleId: ops.role.id, collection: "orders", canPush: false, canPull: true, rowFilters: [{ field: "o", op: RowFilterOp.EQ, value: "$user.id" }] });
    expect(await codeOf(set(other.id, "orders"))).toEqual({ code: "FORBIDDEN" });
    // ANALYST's unrestricted * pull reaches everything, so its holder may grant pull anywhere.
    const analyst = t.as(await t.user(["ANALYST"]), ["role:manage", "sync:pull"]);
    await setCollectionGrant(t.em(), analyst, { roleId: other.id, collection: "*", canPush: false, canPull: true });
    await setCollectionGrant(t.em(), analyst, { roleId: other.id, collection: "payroll", canPush: false, canPull: true });
  });

  it("setCollectionGrant on *: collections where the caller has less than its own * count too", async () => {
    const t = await tenant();
    // Pulls everything except payroll.
    const role = await createRole(t.em(), t.admin, { name: "Most", permissions: ["role:manage", "sync:pull"] });
    await setCollectionGrant(t.em(), t.admin, { roleId: role.id, collection: "*", canPush: false, canPull: true });
    await setCollectionGrant(t.em(), t.admin, { roleId: role.id, collection: "payroll", canPush: false, canPull: false });
    const most = t.as(await t.user(["Most"]), ["role:manage", "sync:pull"]);
    const target = await createRole(t.em(), t.admin, { name: "Target", permissions: ["sync:pull"] });
    expect(await codeOf(setCollectionGrant(t.em(), most, { roleId: target.id, collection: "*", canPush: false, canPull: true }))).toEqual({ code: "FORBIDDEN" });
    // With payroll closed on the target itself, its * reaches only what the caller reaches.
    await setCollectionGrant(t.em(), most, { roleId: target.id, collection: "payroll", canPush: false, canPull: false });
    await setCollectionGrant(t.em(), most, { roleId: target.id, collection: "*", canPush: false, canPull: true });
  });

  it("removeCollectionGrant: removing an entry that the role's * grant would widen is refused beyond the caller's access", async () => {
    const t = await tenant();
    const ops = await restricted(t, "Ops", ["role:manage", "sync:pull"]);
    const wide = await createRole(t.em(), t.admin, { name: "Wide", permissions: ["sync:pull"] });
    await setCollectionGrant(t.em(), t.admin, { roleId: wide.id, collection: "*", canPush: false, canPull: true });
    await setCollectionGrant(t.em(), t.admin, { roleId: wide.id, collection: "payroll", canPush: false, canPull: false });
    await setCollectionGrant(t.em(), t.admin, { roleId: ops.role.id, collection: "*", canPush: false, canPull: false });
    expect(await codeOf(removeCollectionGrant(t.em(), ops.principal, wide.id, "payroll"))).toEqual({ code: "FORBIDDEN" });
    // Its own deny-all * entry gone, Ops still reaches only public: removing it widens nothing.
    expect(await removeCollectionGrant(t.em(), ops.principal, ops.role.id, "*")).toMatchObject({ collection: "*" });
    // Removing * only narrows; the admin removes anything.
    expect(await removeCollectionGrant(t.em(), ops.principal, wide.id, "*")).toMatchObject({ collection: "*", canPull: true });
    expect(await removeCollectionGrant(t.em(), t.admin, wide.id, "payroll")).toMatchObject({ collection: "payroll" });
  });

  it("updateRole: sync:pull added to a role whose grants were idle without it is refused beyond the caller's access", async () => {
    const t = await tenant();
    const ops = await restricted(t, "Ops", ["role:manage", "sync:pull"]);
    const idle = await createRole(t.em(), t.admin, { name: "Idle", permissions: ["sync:pull"] });
    await setCollectionGrant(t.em(), t.admin, { roleId: idle.id, collection: "*", canPush: false, canPull: true });
    await updateRole(t.em(), t.admin, idle.id, { permissions: [] });
    expect(await codeOf(updateRole(t.em(), ops.principal, idle.id, { permissions: ["sync:pull"] }))).toEqual({ code: "FORBIDDEN" });
    expect((await t.em().findOneOrFail(Role, { id: idle.id })).permissions).toEqual([]);
    await updateRole(t.em(), t.admin, idle.id, { permissions: ["sync:pull"] });
  });

  it("assignRoles and user creation: roles reaching beyond the caller's access are refused, for the caller's own account too", async () => {
    const t = await tenant();
    const steward = await restricted(t, "Steward", ["user:manage", "sync:pull"]);
    const u = await t.user([]);
    expect(await codeOf(assignRoles(t.em(), steward.principal, steward.principal.userId, ["Steward", "ANALYST"]))).toEqual({ code: "FORBIDDEN" });
    expect(await codeOf(assignRoles(t.em(), steward.principal, u.id, ["ANALYST"]))).toEqual({ code: "FORBIDDEN" });
    expect(await codeOf(validateRoleNames({ em: t.em(), principal: steward.principal }, ["ANALYST"]))).toEqual({ code: "FORBIDDEN" });
    expect((await t.em().findOneOrFail(User, { id: steward.principal.userId })).roles).toEqual(["Steward"]);
    // Roles within the steward's access are fine.
    expect((await assignRoles(t.em(), steward.principal, u.id, ["Steward"])).after).toEqual(["Steward"]);
    await validateRoleNames({ em: t.em(), principal: steward.principal }, ["Steward"]);
  });
});

describe("whose permissions shrink", () => {
  it("assignRoles reports a user who lost a permission, not one whose roles changed without losing any", async () => {
    const t = await tenant();
    const admin2 = await t.user(["ADMIN"]);
    expect((await assignRoles(t.em(), t.admin, admin2.id, ["USER"])).narrowed).toBe(true);
    expect((await assignRoles(t.em(), t.admin, admin2.id, ["USER", "ANALYST"])).narrowed).toBe(false);
    // ANALYST's permissions are within USER's: dropping it takes nothing away.
    expect((await assignRoles(t.em(), t.admin, admin2.id, ["USER"])).narrowed).toBe(false);
    expect((await assignRoles(t.em(), t.admin, admin2.id, ["ANALYST"])).narrowed).toBe(true);
  });

  it("updateRole and deleteRole report the holders who lost a permission (another role may still give it)", async () => {
    const t = await tenant();
    const role = await createRole(t.em(), t.admin, { name: "Audit", permissions: ["audit:read", "sync:pull"] });
    const only = await t.user(["Audit"]);
    const covered = await t.user(["Audit", "MANAGER"]);
    await t.user(["USER"]);
    expect((await updateRole(t.em(), t.admin, role.id, { permissions: ["audit:read", "sync:pull", "user:read"] })).narrowed).toEqual([]);
    expect((await updateRole(t.em(), t.admin, role.id, { name: "Auditors", permissions: ["sync:pull", "user:read"] })).narrowed).toEqual([only.id]);
    const { usersAffected, narrowed } = await deleteRole(t.em(), role.id);
    expect(usersAffected.sort()).toEqual([only.id, covered.id].sort());
    expect(narrowed).toEqual([only.id]);
  });
});
