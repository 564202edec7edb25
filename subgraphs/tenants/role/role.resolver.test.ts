// The role feature's GraphQL surface, executed against its own federated schema and a real PostgreSQL (the tenants
// subgraph wires the same resolvers). Also checks test/operations/roles.graphql against that schema.
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Kind, execute, parse, validate, type DocumentNode, type GraphQLSchema, type OperationDefinitionNode } from "graphql";
import { MikroORM } from "@mikro-orm/postgresql";
import { pino } from "pino";
import type { AuditInput } from "../../../kernel/audit.js";
import type { Principal } from "../../../kernel/auth.js";
import { ormOptions } from "../../../kernel/db.js";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "../../../kernel/embedded-postgres.js";
import { buildFederatedSchema } from "../../../kernel/federation.js";
import { LoaderRegistry } from "../../../kernel/loaders.js";
import { forkForTenant, forkUnscoped } from "../../../kernel/tenancy.js";
import { ApiKey } from "../auth/api-key.entity.js";
import { User } from "../user/user.entity.js";
import { roleEntities, roleResolvers } from "./index.js";
import { ALL_PERMISSIONS, SYSTEM_ROLES } from "./role.permissions.js";

let pg: EmbeddedDatabase;
let dir: string;
let orm: MikroORM;
let schema: GraphQLSchema;
let operations: DocumentNode;
const audit: AuditInput[] = [];
const logger = pino({ level: "silent" });
/** `grants.changed` announcements the resolvers publish (sync drops its cached grants on them). */
const announced: unknown[] = [];
const pubsub = { publish: async (topic: string, payload: unknown) => void (topic === "grants.changed" && announced.push(payload)) };

const OPERATIONS_FILE = path.resolve(import.meta.dirname, "../../../test/operations/roles.graphql");

/** Runs one named operation of roles.graphql (or of `document`) as `principal` (anonymous when undefined). */
async function run(name: string, variables: Record<string, unknown> = {}, principal?: Principal, document: DocumentNode = operations) {
  const em = principal ? forkForTenant(orm, principal.tenantId) : forkUnscoped(orm);
  const contextValue = {
    requestId: randomUUID(),
    client: {},
    logger,
    em,
    loaders: new LoaderRegistry(em),
    principal,
    audit: { record: async (_ctx: unknown, input: AuditInput) => void audit.push(input) },
    pubsub,
  };
  const res = await execute({ schema, document, operationName: name, variableValues: variables, contextValue });
  return {
    data: res.data as any,
    codes: (res.errors ?? []).map((e) => e.extensions.code),
    fields: (res.errors ?? []).map((e) => e.extensions.field),
  };
}

async function ok(name: string, variables: Record<string, unknown>, principal: Principal) {
  const res = await run(name, variables, principal);
  expect(res.codes).toEqual([]);
  return res.data;
}

interface Member {
  principal: Principal;
  user: User;
}

async function member(tenantId: string, roles: string[], permissions: readonly string[] = roles.flatMap((r) => SYSTEM_ROLES[r] ?? [])): Promise<Member> {
  const em = forkForTenant(orm, tenantId);
  const user = em.create(User, { id: randomUUID(), tenantId, email: `${randomUUID().slice(0, 8)}@t.example`, displayName: "T", passwordHash: "x", roles });
  await em.flush();
  const principal: Principal = {
    kind: "user",
    userId: user.id,
    tenantId,
    email: user.email,
    roles,
    permissions: [...new Set(permissions)],
    plan: "PRO",
    tokenId: randomUUID(),
    issuedAt: new Date(),
    expiresAt: new Date(Date.now() + 60_000),
  };
  return { principal, user };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "tributary-role-gql-"));
  pg = await startEmbeddedPostgres({ dataDir: dir, persistent: false });
  const url = await pg.createDatabase(`role_${randomUUID().replace(/-/g, "")}`);
  orm = await MikroORM.init(ormOptions({ url, schema: "tenants", entities: [User, ApiKey, ...roleEntities], migrations: [] }));
  await orm.em.getConnection().execute('create schema if not exists "tenants"');
  await orm.schema.create();
  schema = await buildFederatedSchema({ resolvers: roleResolvers });
  // Operations of other features (createUser, me) are left out: this schema has only the role feature.
  const all = parse(readFileSync(OPERATIONS_FILE, "utf8"));
  const root = (op: OperationDefinitionNode) => (op.operation === "mutation" ? schema.getMutationType() : schema.getQueryType())!.getFields();
  operations = {
    ...all,
    definitions: all.definitions.filter(
      (d) => d.kind !== Kind.OPERATION_DEFINITION || d.selectionSet.selections.every((s) => s.kind === Kind.FIELD && s.name.value in root(d)),
    ),
  };
});

afterAll(async () => {
  await orm?.close();
  await pg?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("operations", () => {
  it("test/operations/roles.graphql is valid against the role feature's schema", () => {
    const names = operations.definitions.flatMap((d) => (d.kind === Kind.OPERATION_DEFINITION ? [d.name!.value] : []));
    expect(names).toEqual(
      expect.arrayContaining([
        "Roles",
        "RoleById",
        "CreateRole",
        "UpdateRole",
        "DeleteRole",
        "AssignRoles",
        "SetCollectionGrant",
        "RemoveCollectionGrant",
        "PermissionMatrix",
        "MyCollectionGrants",
        "MyCollectionGrantSummary",
      ]),
    );
    expect(validate(schema, operations).map((e) => e.message)).toEqual([]);
  });
});

describe("access", () => {
  it("needs a signed-in caller", async () => {
    expect((await run("Roles")).codes).toEqual(["UNAUTHENTICATED"]);
    expect((await run("MyCollectionGrants")).codes).toEqual(["UNAUTHENTICATED"]);
  });

  it("reads need role:read or role:manage; writes need role:manage; assignRoles needs user:manage", async () => {
    const tenantId = randomUUID();
    const user = await member(tenantId, ["USER"]);
    const readOnly = await member(tenantId, ["READ_ONLY"]);
    const roleManager = await member(tenantId, [], ["role:manage"]);
    expect((await run("Roles", {}, user.principal)).codes).toEqual(["FORBIDDEN"]);
    expect((await run("PermissionMatrix", {}, user.principal)).codes).toEqual(["FORBIDDEN"]);
    expect((await ok("Roles", {}, readOnly.principal)).roles).toHaveLength(5);
    expect((await ok("Roles", {}, roleManager.principal)).roles).toHaveLength(5);
    expect((await run("CreateRole", { input: { name: "X", permissions: [] } }, readOnly.principal)).codes).toEqual(["FORBIDDEN"]);
    expect((await run("AssignRoles", { userId: user.user.id, roles: ["ANALYST"] }, roleManager.principal)).codes).toEqual(["FORBIDDEN"]);
    // Anyone signed in reads their own grants.
    expect((await ok("MyCollectionGrants", {}, user.principal)).myCollectionGrants).toEqual([
      { collection: "*", canPush: true, canPull: true, pushFilters: null, pullFilters: null },
    ]);
  });
});

describe("managing roles and grants", () => {
  it("runs the whole flow, with audit records, errors by code and per-caller grants", async () => {
    const tenantId = randomUUID();
    const admin = await member(tenantId, ["ADMIN"], ALL_PERMISSIONS);
    const roles = (await ok("Roles", {}, admin.principal)).roles;
    expect(roles.map((r: any) => [r.name, r.system])).toEqual(Object.keys(SYSTEM_ROLES).map((n) => [n, true]));
    const analyst = roles.find((r: any) => r.name === "ANALYST");
    expect(analyst.grants).toEqual([{ roleId: analyst.id, collection: "*", canPush: false, canPull: true, updatedAt: null }]);
    expect((await ok("RoleById", { id: analyst.id }, admin.principal)).role.grants).toEqual([
      { roleId: analyst.id, collection: "*", canPush: false, canPull: true, rowFilters: [], updatedAt: null },
    ]);

    audit.length = 0;
    const created = (await ok("CreateRole", { input: { name: "Field sales", description: "Reps", permissions: ["sync:push", "sync:pull"] } }, admin.principal)).createRole;
    expect(created).toMatchObject({ name: "Field sales", description: "Reps", permissions: ["sync:pull", "sync:push"], system: false, deletedAt: null });
    expect(audit).toEqual([
      expect.objectContaining({ action: "role.created", targetType: "Role", targetId: created.id, changes: expect.objectContaining({ name: { after: "Field sales" } }) }),
    ]);

    const dup = await run("CreateRole", { input: { name: "FIELD SALES", permissions: [] } }, admin.principal);
    expect(dup.codes).toEqual(["CONFLICT"]);
    const unknown = await run("CreateRole", { input: { name: "Other", permissions: ["sync:teleport"] } }, admin.principal);
    expect([unknown.codes, unknown.fields]).toEqual([["BAD_USER_INPUT"], ["permissions"]]);
    const system = await run("UpdateRole", { id: roles[0].id, input: { description: "x" } }, admin.principal);
    expect(system.codes).toEqual(["FORBIDDEN"]);
    const foreign = await run("UpdateRole", { id: randomUUID(), input: { description: "x" } }, admin.principal);
    expect(foreign.codes).toEqual(["NOT_FOUND"]);

    const badFilter = await run(
      "SetCollectionGrant",
      { input: { roleId: created.id, collection: "orders", canPush: false, canPull: true, rowFilters: [{ field: "owner.id", op: "IN", value: "$user.id" }] } },
      admin.principal,
    );
    expect([badFilter.codes, badFilter.fields]).toEqual([["BAD_USER_INPUT"], ["rowFilters[0].value"]]);

    audit.length = 0;
    const grant = (
      await ok(
        "SetCollectionGrant",
        {
          input: {
            roleId: created.id,
            collection: "orders",
            canPush: true,
            canPull: true,
            rowFilters: [
              { field: "owner.id", op: "EQ", value: "$user.id" },
              { field: "amount", op: "LT", value: 1000 },
            ],
          },
        },
        admin.principal,
      )
    ).setCollectionGrant;
    expect(grant).toMatchObject({
      roleId: created.id,
      collection: "orders",
      canPush: true,
      canPull: true,
      rowFilters: [
        { field: "owner.id", op: "EQ", value: "$user.id" },
        { field: "amount", op: "LT", value: 1000 },
      ],
      role: { id: created.id, name: "Field sales" },
    });
    expect(audit).toEqual([
      expect.objectContaining({ action: "role.grant.set", targetId: created.id, metadata: { collection: "orders" }, changes: expect.objectContaining({ canPush: { before: null, after: true } }) }),
    ]);
    expect(announced.at(-1)).toEqual({ tenantId });

    const rep = await member(tenantId, ["USER"]);
    audit.length = 0;
    const assigned = (await ok("AssignRoles", { userId: rep.user.id, roles: ["field SALES"] }, admin.principal)).assignRoles;
    expect(assigned).toEqual({ id: rep.user.id, email: rep.user.email, roles: ["Field sales"] });
    expect(audit).toEqual([expect.objectContaining({ action: "user.roles.assigned", targetId: rep.user.id, changes: { roles: { before: ["USER"], after: ["Field sales"] } } })]);
    expect((await run("AssignRoles", { userId: admin.user.id, roles: ["USER"] }, admin.principal)).codes).toEqual(["CONFLICT"]);

    const mine = (await ok("MyCollectionGrants", {}, rep.principal)).myCollectionGrants;
    const filters = [
      { field: "owner.id", op: "EQ", value: rep.user.id },
      { field: "amount", op: "LT", value: 1000 },
    ];
    expect(mine).toEqual([
      { collection: "*", canPush: false, canPull: false, pushFilters: [], pullFilters: [] },
      { collection: "orders", canPush: true, canPull: true, pushFilters: [{ role: "Field sales", filters }], pullFilters: [{ role: "Field sales", filters }] },
    ]);

    const matrix = (await ok("PermissionMatrix", {}, admin.principal)).permissionMatrix;
    expect(matrix.collections).toEqual(["*", "orders"]);
    expect(matrix.rows.at(-1)).toEqual({
      role: { id: created.id, name: "Field sales", system: false },
      cells: [
        { collection: "*", canPush: false, canPull: false, inherited: false },
        { collection: "orders", canPush: true, canPull: true, inherited: false },
      ],
    });

    // The full matrix, row filters included (fine here; through the gateway its nested lists cost too much).
    const full = await run("FullMatrix", {}, admin.principal, parse("query FullMatrix { permissionMatrix { rows { role { id } cells { collection rowFilters { field op value } } } } }"));
    expect(full.codes).toEqual([]);
    expect(full.data.permissionMatrix.rows.at(-1)).toEqual({
      role: { id: created.id },
      cells: [
        { collection: "*", rowFilters: [] },
        { collection: "orders", rowFilters: grant.rowFilters },
      ],
    });

    audit.length = 0;
    expect((await ok("RemoveCollectionGrant", { roleId: created.id, collection: "orders" }, admin.principal)).removeCollectionGrant).toBe(true);
    expect((await ok("RemoveCollectionGrant", { roleId: created.id, collection: "orders" }, admin.principal)).removeCollectionGrant).toBe(false);
    expect(audit.map((a) => a.action)).toEqual(["role.grant.removed"]);

    const renamed = (await ok("UpdateRole", { id: created.id, input: { name: "Sales" } }, admin.principal)).updateRole;
    expect(renamed.name).toBe("Sales");
    const deleted = (await ok("DeleteRole", { id: created.id }, admin.principal)).deleteRole;
    expect(deleted.deletedAt).toEqual(expect.any(String));
    expect((await run("RoleById", { id: created.id }, admin.principal)).codes).toEqual(["NOT_FOUND"]);
    expect(audit.map((a) => a.action)).toEqual(["role.grant.removed", "role.updated", "role.deleted"]);
  });

  it("another tenant's roles are invisible and untouchable", async () => {
    const a = await member(randomUUID(), ["ADMIN"], ALL_PERMISSIONS);
    const b = await member(randomUUID(), ["ADMIN"], ALL_PERMISSIONS);
    const role = (await ok("CreateRole", { input: { name: "Secret", permissions: [] } }, a.principal)).createRole;
    expect((await ok("Roles", {}, b.principal)).roles.map((r: any) => r.name)).not.toContain("Secret");
    for (const [op, vars] of [
      ["RoleById", { id: role.id }],
      ["UpdateRole", { id: role.id, input: { name: "Mine" } }],
      ["DeleteRole", { id: role.id }],
      ["SetCollectionGrant", { input: { roleId: role.id, collection: "x", canPush: false, canPull: false } }],
      ["RemoveCollectionGrant", { roleId: role.id, collection: "x" }],
      ["AssignRoles", { userId: a.user.id, roles: ["USER"] }],
    ] as const) {
      expect([op, (await run(op, vars, b.principal)).codes]).toEqual([op, ["NOT_FOUND"]]);
    }
    expect((await ok("RoleById", { id: role.id }, a.principal)).role.name).toBe("Secret");
  });
});
