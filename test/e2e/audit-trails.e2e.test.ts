// Issue 6, queries: the federated trails `Tenant.auditTrail`, `User.auditTrail`, `Connector.auditTrail` and
// `SyncRun.auditTrail`, resolved by the audit subgraph through the gateway: newest first, paged by cursor, batched
// (one query per request for many owners), tenant-scoped, `audit:read` required, page size bounded.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import {
  AuditConnectorsTrailsDocument,
  AuditMyTenantTrailDocument,
  AuditMyTrailDocument,
  AuditSyncRunTrailDocument,
  AuditUsersTrailsDocument,
  CreateConnectorDocument,
  CreateRoleDocument,
  IdentityCreateUserDocument,
  IdentityLoginDocument,
  StartSyncRunDocument,
  type AuditTrailEventFragment,
} from "../__generated__/graphql.js";
import { startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";
import { codesOf, waitUntil } from "./e2e-helpers.js";

describe("federated audit trails", () => {
  let t: TestStack;
  let db: pg.Client;
  let a: TenantLogin;
  let b: TenantLogin;
  const members: { id: string; email: string; token: string }[] = [];
  const connectors: string[] = [];
  let runId: string;
  /** Statements the audit subgraph ran that read trails (one per batch). */
  let trailQueries = 0;

  /** The trail as the database has it: events matching `where`, newest first. */
  const expected = async (where: string, params: unknown[], limit = 1_000): Promise<string[]> =>
    (await db.query(`select id from audit.audit_event where ${where} order by occurred_at desc, id desc limit ${limit}`, params)).rows.map((r) => r.id);
  const ids = (events: readonly Pick<AuditTrailEventFragment, "id">[]) => events.map((e) => e.id);
  const drained = () =>
    waitUntil(
      async () =>
        Number((await db.query(`select (select count(*) from tenants.audit_outbox where delivered_at is null) + (select count(*) from connectors.audit_outbox where delivered_at is null) + (select count(*) from sync.audit_outbox where delivered_at is null) as n`)).rows[0].n) === 0,
      "every outbox delivered",
      15_000,
    );

  beforeAll(async () => {
    t = await startTestStack();
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    a = await t.tenant("trails-a");
    b = await t.tenant("trails-b");
    for (const name of ["ann", "ben", "cat"]) {
      const email = `${name}@trails-a.example`;
      const password = `Pw-${randomUUID()}`;
      const created = await t.request(IdentityCreateUserDocument, { input: { email, password, roles: ["ADMIN"] } }, a.token);
      expect(created.errors).toBeUndefined();
      const token = (await t.request(IdentityLoginDocument, { input: { tenant: "trails-a", email, password } })).data!.login.accessToken;
      members.push({ id: created.data!.createUser.user.id, email, token });
    }
    // Each member does a different number of things (0, 1, 2 roles), so their trails differ.
    for (const [i, m] of members.entries()) {
      for (let r = 0; r < i; r++) expect((await t.request(CreateRoleDocument, { input: { name: `trail-${i}-${r}`, permissions: ["sync:pull"] } }, m.token)).errors).toBeUndefined();
    }
    for (const name of ["Trail Odoo", "Trail Moodle"]) {
      const c = await t.request(CreateConnectorDocument, { input: { name, kind: name.includes("Odoo") ? "ODOO" : "MOODLE", baseUrl: "https://remote.example" } } as never, a.token);
      expect(c.errors).toBeUndefined();
      connectors.push(c.data!.createConnector.id);
    }
    const run = await t.request(StartSyncRunDocument, { input: { kind: "CONNECTOR", connectorId: connectors[0] } } as never, a.token);
    expect(run.errors).toBeUndefined();
    runId = run.data!.startSyncRun.id;
    expect((await t.request(CreateRoleDocument, { input: { name: "trail-b", permissions: ["sync:pull"] } }, b.token)).errors).toBeUndefined();
    await drained();

    // Counts the audit subgraph's trail statements (they share its ORM's connection).
    const conn = t.stack.audit.orm.em.getConnection();
    const getClient = conn.getClient.bind(conn);
    conn.getClient = (() => {
      const client = getClient();
      return new Proxy(client, {
        get(target, prop) {
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
  }, 60_000);
  afterAll(async () => {
    await db?.end();
    await t?.stop();
  });

  it("User.auditTrail: what the user did, newest first; every user's trail of a page in one query", async () => {
    const mine = await t.request(AuditMyTrailDocument, { first: 100 }, a.token);
    expect(mine.errors).toBeUndefined();
    expect(ids(mine.data!.me.auditTrail)).toEqual(await expected(`tenant_id = $1 and actor_id = $2`, [a.tenantId, a.userId]));
    expect(mine.data!.me.auditTrail.length).toBeGreaterThan(3);

    trailQueries = 0;
    const all = await t.request(AuditUsersTrailsDocument, { first: 2 }, a.token);
    expect(all.errors).toBeUndefined();
    expect(all.data!.users.nodes).toHaveLength(4);
    for (const user of all.data!.users.nodes) {
      expect({ user: user.email, trail: ids(user.auditTrail) }).toEqual({ user: user.email, trail: await expected(`tenant_id = $1 and actor_id = $2`, [a.tenantId, user.id], 2) });
      for (const e of user.auditTrail) expect(e.actorType).toBe("USER");
    }
    // ann did one thing (signed in), cat three (signed in, two roles): the trails are really per user.
    const cat = all.data!.users.nodes.find((n) => n.email === "cat@trails-a.example")!;
    expect(cat.auditTrail.map((e) => e.action)).toEqual(["role.created", "role.created"]);
    expect(trailQueries).toBe(1);
  });

  it("pages through a trail with each event's cursor: every event once, in order", async () => {
    const all = await expected(`tenant_id = $1 and actor_id = $2`, [a.tenantId, a.userId]);
    const seen: string[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 50; pages++) {
      const res: Awaited<ReturnType<typeof t.request<any, any>>> = await t.request(AuditMyTrailDocument, { first: 2, after }, a.token);
      expect(res.errors).toBeUndefined();
      const trail = res.data!.me.auditTrail as AuditTrailEventFragment[];
      seen.push(...ids(trail));
      if (trail.length < 2) break;
      after = trail.at(-1)!.cursor;
    }
    expect(seen).toEqual(all);
  });

  it("Tenant.auditTrail: the tenant's whole trail; another tenant's stays apart", async () => {
    const res = await t.request(AuditMyTenantTrailDocument, { first: 30 }, a.token);
    expect(res.errors).toBeUndefined();
    expect(ids(res.data!.tenant.auditTrail)).toEqual(await expected(`tenant_id = $1`, [a.tenantId], 30));
    const other = await t.request(AuditMyTenantTrailDocument, { first: 100 }, b.token);
    expect(ids(other.data!.tenant.auditTrail)).toEqual(await expected(`tenant_id = $1`, [b.tenantId], 100));
    expect(ids(other.data!.tenant.auditTrail).filter((id) => ids(res.data!.tenant.auditTrail).includes(id))).toEqual([]);
  });

  it("Connector.auditTrail and SyncRun.auditTrail: the events that targeted them, batched across connectors", async () => {
    trailQueries = 0;
    const res = await t.request(AuditConnectorsTrailsDocument, { first: 10 }, a.token);
    expect(res.errors).toBeUndefined();
    expect(res.data!.connectors.map((c) => c.id).sort()).toEqual([...connectors].sort());
    for (const c of res.data!.connectors) {
      expect(c.auditTrail.length).toBeGreaterThan(0);
      expect(ids(c.auditTrail)).toEqual(await expected(`tenant_id = $1 and target_type = 'Connector' and target_id = $2`, [a.tenantId, c.id], 10));
      expect(c.auditTrail.map((e) => e.action)).toContain("connector.created");
    }
    expect(trailQueries).toBe(1);

    const run = await t.request(AuditSyncRunTrailDocument, { id: runId, first: 10 }, a.token);
    expect(run.errors).toBeUndefined();
    expect(run.data!.syncRun.auditTrail.map((e) => [e.action, e.targetType, e.targetId])).toEqual([["sync.run.started", "SyncRun", runId]]);
    // Tenant B cannot reach A's run at all.
    expect(codesOf(await t.request(AuditSyncRunTrailDocument, { id: runId, first: 10 }, b.token))).toEqual(["NOT_FOUND"]);
  });

  it("bad input gets clear codes: page size out of bounds, malformed or foreign cursors", async () => {
    for (const first of [0, 101]) {
      const res = await t.request(AuditMyTrailDocument, { first }, a.token);
      expect(codesOf(res)).toEqual(["BAD_USER_INPUT"]);
    }
    expect(codesOf(await t.request(AuditMyTrailDocument, { first: 2, after: "not-a-cursor" }, a.token))).toEqual(["BAD_USER_INPUT"]);
    const foreign = (await t.request(AuditMyTenantTrailDocument, { first: 1 }, b.token)).data!.tenant.auditTrail[0]!.cursor;
    expect(codesOf(await t.request(AuditMyTrailDocument, { first: 2, after: foreign }, a.token))).toEqual(["BAD_USER_INPUT"]);
    // The maximum itself is fine.
    expect((await t.request(AuditMyTrailDocument, { first: 100 }, a.token)).errors).toBeUndefined();
  });

  it("needs audit:read", async () => {
    const email = "reader@trails-a.example";
    const password = `Pw-${randomUUID()}`;
    expect((await t.request(IdentityCreateUserDocument, { input: { email, password, roles: ["READ_ONLY"] } }, a.token)).errors).toBeUndefined();
    const token = (await t.request(IdentityLoginDocument, { input: { tenant: "trails-a", email, password } })).data!.login.accessToken;
    expect(codesOf(await t.request(AuditMyTrailDocument, { first: 5 }, token))).toEqual(["FORBIDDEN"]);
    expect(codesOf(await t.request(AuditMyTenantTrailDocument, { first: 5 }, token))).toEqual(["FORBIDDEN"]);
    expect(codesOf(await t.request(AuditMyTrailDocument, { first: 5 }))).toEqual(["UNAUTHENTICATED"]);
  });
});
