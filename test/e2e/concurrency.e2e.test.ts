// Concurrent creations through the gateway (issue 22): plan caps that hold when a burst asks for the last place at once,
// names that stay unique when the same one is asked for at once (the database's constraints decide: CONFLICT), and
// services that keep answering through a burst of writes, or answer UPSTREAM_UNAVAILABLE with `retryAfter` within a
// bounded wait when their database connections are all taken — never hang.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomUUID } from "node:crypto";
import pg from "pg";
import type { Pool, PoolClient } from "pg";
import {
  ConcAssignRolesDocument,
  ConcConnectorsDocument,
  ConcCreateApiKeyDocument,
  ConcCreateCollectionDocument,
  ConcCreateConnectorDocument,
  ConcCreateMappingDocument,
  ConcCreatePlatformUserDocument,
  ConcCreateRoleDocument,
  ConcCreateTenantDocument,
  ConcCreateUserDocument,
  ConcDeactivateUserDocument,
  ConcDeleteRoleDocument,
  ConcPlatformLoginDocument,
  ConcPushDocument,
  ConcReactivateUserDocument,
  ConcSetAuditRetentionDocument,
  ConcSetGrantDocument,
  ConcStartSyncDocument,
  ConcUpdateRoleDocument,
} from "../__generated__/graphql.js";
import { createPlatformUser } from "../../subgraphs/tenants/platform/platform.service.js";
import { PlatformRole } from "../../subgraphs/tenants/platform/platform-user.entity.js";
import { Plan } from "../../subgraphs/tenants/tenant/tenant.entity.js";
import { startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";
import { codesOf } from "./e2e-helpers.js";

const ROUNDS = 20;
const BURST = 20;

/** "ok", or the response's error codes. */
const outcome = (res: { errors?: readonly { extensions?: Record<string, unknown> }[] }) => codesOf(res).join() || "ok";
/** How many of each outcome, e.g. `{ ok: 1, PLAN_LIMIT_REACHED: 19 }`. */
function tally(results: { errors?: readonly { extensions?: Record<string, unknown> }[] }[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of results) counts[outcome(r)] = (counts[outcome(r)] ?? 0) + 1;
  return counts;
}
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("concurrent creations", () => {
  let t: TestStack;
  let db: pg.Client;
  /** Audit records a service wrote (in the same transaction as the change) for one tenant and action. */
  const audited = async (schema: "tenants" | "connectors" | "sync", tenantId: string, actions: string[]) =>
    (
      await db.query(`select payload->>'targetId' as target from ${schema}.audit_outbox where tenant_id = $1 and payload->>'action' = any($2) order by 1`, [tenantId, actions])
    ).rows.map((r) => r.target as string);

  beforeAll(async () => {
    t = await startTestStack({ connectors: { connectorJobs: { workers: 0 } } });
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
  }, 120_000);
  afterAll(async () => {
    await db?.end();
    await t?.stop();
  });

  it(`connectors' cap holds: ${BURST} createConnector at once against one free place, ${ROUNDS} rounds: one created, the rest PLAN_LIMIT_REACHED, one audit event`, async () => {
    const tenants = await Promise.all(range(ROUNDS).map((i) => t.tenant(`cc-cap-${i}`, Plan.FREE)));
    for (const tenant of tenants) {
      const results = await Promise.all(
        range(BURST).map((i) => t.request(ConcCreateConnectorDocument, { input: { kind: "MOODLE" as const, name: `Racer ${i}`, baseUrl: "http://127.0.0.1:9/" } }, tenant.token)),
      );
      expect({ tenant: tenant.slug, outcomes: tally(results) }).toEqual({ tenant: tenant.slug, outcomes: { ok: 1, PLAN_LIMIT_REACHED: BURST - 1 } });
      const created = results.find((r) => !r.errors)!.data!.createConnector;
      const listed = await t.request(ConcConnectorsDocument, {}, tenant.token);
      expect(listed.data?.connectors).toEqual([created]);
      expect((await db.query("select id from connectors.connector where tenant_id = $1", [tenant.tenantId])).rows.map((r) => r.id)).toEqual([created.id]);
      expect(await audited("connectors", tenant.tenantId, ["connector.created"])).toEqual([created.id]);
    }
  }, 300_000);

  /** A FREE tenant (5 seats) whose admin and `others` users take `others + 1` of them. */
  async function tenantWithUsers(slug: string, others: number): Promise<{ tenant: TenantLogin; users: string[] }> {
    const tenant = await t.tenant(slug, Plan.FREE);
    const users: string[] = [];
    for (const i of range(others)) {
      const res = await t.request(ConcCreateUserDocument, { input: { email: `u${i}@${slug}.example`, roles: ["USER"] } }, tenant.token);
      expect(res.errors).toBeUndefined();
      users.push(res.data!.createUser.user.id);
    }
    return { tenant, users };
  }
  const seatsTaken = async (tenantId: string) =>
    Number((await db.query(`select count(*)::int as n from tenants."user" where tenant_id = $1 and status <> 'DISABLED'`, [tenantId])).rows[0].n);

  it(`users' cap holds: ${BURST} createUser at once against one free seat, ${ROUNDS} rounds: one created, the rest PLAN_LIMIT_REACHED, one audit event`, async () => {
    for (const round of range(ROUNDS)) {
      const slug = `cu-cap-${round}`;
      const { tenant } = await tenantWithUsers(slug, 3);
      expect(await seatsTaken(tenant.tenantId)).toBe(4);
      const before = await audited("tenants", tenant.tenantId, ["user.created", "user.invited"]);
      const results = await Promise.all(
        range(BURST).map((i) => t.request(ConcCreateUserDocument, { input: { email: `racer${i}@${slug}.example`, roles: ["USER"] } }, tenant.token)),
      );
      expect({ round, outcomes: tally(results) }).toEqual({ round, outcomes: { ok: 1, PLAN_LIMIT_REACHED: BURST - 1 } });
      const created = results.find((r) => !r.errors)!.data!.createUser.user;
      expect(await seatsTaken(tenant.tenantId)).toBe(5);
      const racers = await db.query(`select id from tenants."user" where tenant_id = $1 and email like 'racer%'`, [tenant.tenantId]);
      expect(racers.rows.map((r) => r.id)).toEqual([created.id]);
      expect(await audited("tenants", tenant.tenantId, ["user.created", "user.invited"])).toEqual([...before, created.id].sort());
    }
  }, 600_000);

  it(`users' cap holds with reactivations racing creations (${ROUNDS} rounds): exactly one seat is taken, by one of them, audited once`, async () => {
    for (const round of range(ROUNDS)) {
      const slug = `cu-react-${round}`;
      // 5 seats: the admin and 4 users; 2 deactivated, 1 more created: 4 taken, 1 free, 2 disabled users waiting.
      const { tenant, users } = await tenantWithUsers(slug, 4);
      for (const id of users.slice(0, 2)) expect((await t.request(ConcDeactivateUserDocument, { id }, tenant.token)).errors).toBeUndefined();
      expect((await t.request(ConcCreateUserDocument, { input: { email: `late@${slug}.example`, roles: ["USER"] } }, tenant.token)).errors).toBeUndefined();
      expect(await seatsTaken(tenant.tenantId)).toBe(4);
      const before = await audited("tenants", tenant.tenantId, ["user.created", "user.invited", "user.reactivated"]);
      const [d1, d2] = users as [string, string];
      const reactivations = [d1, d2, d1].map((id) => t.request(ConcReactivateUserDocument, { id }, tenant.token));
      const creations = range(BURST - 3).map((i) => t.request(ConcCreateUserDocument, { input: { email: `racer${i}@${slug}.example`, roles: ["USER"] } }, tenant.token));
      const [reactivated, created] = await Promise.all([Promise.all(reactivations), Promise.all(creations)]);
      expect(await seatsTaken(tenant.tenantId)).toBe(5);
      const newUsers = created.filter((r) => !r.errors).map((r) => r.data!.createUser.user.id);
      const backIds = [...new Set(reactivated.filter((r) => !r.errors).map((r) => r.data!.reactivateUser.id))];
      // One winner: a creation, or one of the two users back (asked twice: the second answer finds it active already).
      expect({ round, winners: newUsers.length + backIds.length }).toEqual({ round, winners: 1 });
      for (const r of [...reactivated, ...created]) expect(["ok", "PLAN_LIMIT_REACHED"]).toContain(outcome(r));
      expect(await audited("tenants", tenant.tenantId, ["user.created", "user.invited", "user.reactivated"])).toEqual([...before, ...newUsers, ...backIds].sort());
    }
  }, 600_000);

  it("the same name asked for at once: one wins, the others get CONFLICT (the database's unique constraints decide), never an internal error", async () => {
    const a = await t.tenant("cc-names", Plan.PRO);
    const burst = <T>(fn: (i: number) => Promise<T>) => Promise.all(range(BURST).map(fn));

    const emails = await burst(() => t.request(ConcCreateUserDocument, { input: { email: "same@cc-names.example", roles: ["USER"] } }, a.token));
    expect(tally(emails)).toEqual({ ok: 1, CONFLICT: BURST - 1 });

    const roles = await burst((i) => t.request(ConcCreateRoleDocument, { input: { name: i % 2 ? "Auditors" : "AUDITORS", permissions: ["sync:pull"] } }, a.token));
    expect(tally(roles)).toEqual({ ok: 1, CONFLICT: BURST - 1 });
    const others = await Promise.all(range(5).map((i) => t.request(ConcCreateRoleDocument, { input: { name: `Team ${i}`, permissions: ["sync:pull"] } }, a.token)));
    const renamed = await Promise.all(others.map((r) => t.request(ConcUpdateRoleDocument, { id: r.data!.createRole.id, input: { name: "Renamed" } }, a.token)));
    expect(tally(renamed)).toEqual({ ok: 1, CONFLICT: 4 });

    const collections = await burst(() => t.request(ConcCreateCollectionDocument, { input: { name: "orders" } }, a.token));
    expect(tally(collections)).toEqual({ ok: 1, CONFLICT: BURST - 1 });

    const roleId = roles.find((r) => !r.errors)!.data!.createRole.id;
    const grants = await burst((i) => t.request(ConcSetGrantDocument, { input: { roleId, collection: "orders", canPush: false, canPull: i % 2 === 0 } }, a.token));
    expect(tally(grants)).toEqual({ ok: BURST });
    expect(Number((await db.query("select count(*)::int as n from tenants.collection_grant where role_id = $1", [roleId])).rows[0].n)).toBe(1);

    const connector = await t.request(
      ConcCreateConnectorDocument,
      { input: { kind: "ODOO" as const, name: "ERP", baseUrl: "http://127.0.0.1:9/", credentials: { database: "d", login: "l", password: "p" } } },
      a.token,
    );
    const connectorId = connector.data!.createConnector.id;
    const mapping = { remoteModel: "res.partner", collection: "partners", fieldMap: [{ field: "name", remote: "name" }] };
    const mappings = await burst(() => t.request(ConcCreateMappingDocument, { connectorId, input: mapping }, a.token));
    expect(tally(mappings)).toEqual({ ok: 1, CONFLICT: BURST - 1 });
    const runs = await burst(() => t.request(ConcStartSyncDocument, { connectorId, options: { dryRun: true } }, a.token));
    expect(tally(runs)).toEqual({ ok: 1, CONFLICT: BURST - 1 });

    // Platform operators: tenant slugs and operator emails.
    const password = `pw-${randomUUID()}`;
    await createPlatformUser(t.stack.tenants.orm.em.fork(), { email: "root@cc-ops.example", role: PlatformRole.SUPER_ADMIN, password });
    const op = (await t.request(ConcPlatformLoginDocument, { input: { email: "root@cc-ops.example", password } })).data!.platformLogin.accessToken;
    const slugs = await burst(() => t.request(ConcCreateTenantDocument, { input: { slug: "cc-same-slug", name: "Same", plan: "FREE" as const, adminEmail: "admin@cc-same-slug.example" } }, op));
    expect(tally(slugs)).toEqual({ ok: 1, CONFLICT: BURST - 1 });
    const operators = await burst(() => t.request(ConcCreatePlatformUserDocument, { input: { email: "same@cc-ops.example", role: "SUPPORT" as const } }, op));
    expect(tally(operators)).toEqual({ ok: 1, CONFLICT: BURST - 1 });
  }, 300_000);

  it(`a role deleted while it is being assigned (${ROUNDS} rounds): no user is left holding the deleted role's name`, async () => {
    const a = await t.tenant("cc-roles-race", Plan.PRO);
    const users = await Promise.all(
      range(10).map(async (i) => (await t.request(ConcCreateUserDocument, { input: { email: `r${i}@cc-roles-race.example`, roles: ["USER"] } }, a.token)).data!.createUser.user.id),
    );
    for (const round of range(ROUNDS)) {
      const name = `Temp ${round}`;
      const role = (await t.request(ConcCreateRoleDocument, { input: { name, permissions: ["sync:pull"] } }, a.token)).data!.createRole.id;
      const [deleted, ...assigned] = await Promise.all([
        t.request(ConcDeleteRoleDocument, { id: role }, a.token),
        ...users.map((userId) => t.request(ConcAssignRolesDocument, { userId, roles: ["USER", name] }, a.token)),
      ]);
      expect(deleted.errors).toBeUndefined();
      // Each assignment came before the deletion (which then took the role away) or after it (an unknown role).
      for (const r of assigned) expect(["ok", "BAD_USER_INPUT"]).toContain(outcome(r));
      const holding = await db.query(`select id from tenants."user" where tenant_id = $1 and $2 = any(roles)`, [a.tenantId, name]);
      expect({ round, holding: holding.rows }).toEqual({ round, holding: [] });
    }
  }, 300_000);

  it("50 writes of every subgraph at once never hang a service: every answer comes (ok or a typed refusal) and { connectors } answers promptly after", async () => {
    const a = await t.tenant("cc-burst", Plan.PRO);
    expect((await t.request(ConcCreateCollectionDocument, { input: { name: "notes" } }, a.token)).errors).toBeUndefined();
    const N = 50;
    const started = Date.now();
    const all = await Promise.all([
      ...range(N).map((i) => t.request(ConcCreateConnectorDocument, { input: { kind: "MOODLE" as const, name: `Burst ${i}`, baseUrl: "http://127.0.0.1:9/" } }, a.token)),
      ...range(N).map((i) => t.request(ConcCreateUserDocument, { input: { email: `b${i}@cc-burst.example`, roles: ["USER"] } }, a.token)),
      ...range(N).map((i) => t.request(ConcCreateRoleDocument, { input: { name: `Burst ${i}`, permissions: ["sync:pull"] } }, a.token)),
      ...range(N).map((i) => t.request(ConcCreateApiKeyDocument, { input: { name: `key ${i}`, scopes: ["sync:pull"] } }, a.token)),
      ...range(N).map((i) => t.request(ConcSetAuditRetentionDocument, { days: 30 + i }, a.token)),
      ...range(N).map((i) => t.request(ConcPushDocument, { input: { collection: "notes", rows: [{ assumedMasterState: null, newDocumentState: { id: `n${i}`, text: `note ${i}` } }] } }, a.token)),
    ]);
    const burstMs = Date.now() - started;
    const [connectors, ...rest] = [all.slice(0, N), all.slice(N)];
    // PRO allows 10 connectors: the other 40 are refused, nothing else is.
    expect(tally(connectors)).toEqual({ ok: 10, PLAN_LIMIT_REACHED: N - 10 });
    expect(tally(rest.flat())).toEqual({ ok: 5 * N });
    const before = Date.now();
    const listed = await t.request(ConcConnectorsDocument, {}, a.token);
    const listMs = Date.now() - before;
    expect(listed.data?.connectors).toHaveLength(10);
    expect(listMs).toBeLessThan(2_000);
    // Printed for the record: how long the burst took.
    console.log(`burst of ${all.length} writes answered in ${burstMs} ms; { connectors } then in ${listMs} ms`);
  }, 120_000);

  it("a service whose database connections are all taken answers UPSTREAM_UNAVAILABLE with retryAfter within the pool's bounded wait, and answers again once they are free", async () => {
    const a = await t.tenant("cc-exhausted", Plan.PRO);
    const pool = (await t.stack.connectors.orm.em.getConnection().getNativeClient()) as unknown as Pool;
    const max = (pool as unknown as { options: { max: number } }).options.max;
    // Take every connection of the connectors service's pool (other work of the service may hold some for a moment).
    const held: PoolClient[] = [];
    try {
      while (held.length < max) held.push(await pool.connect());
      const started = Date.now();
      const res = await t.request(ConcConnectorsDocument, {}, a.token);
      const waited = Date.now() - started;
      expect(codesOf(res)).toEqual(["UPSTREAM_UNAVAILABLE"]);
      expect(res.errors?.[0]?.extensions?.retryAfter).toEqual(expect.any(Number));
      expect(waited).toBeLessThan(15_000);
    } finally {
      for (const c of held) c.release();
    }
    const again = await t.request(ConcConnectorsDocument, {}, a.token);
    expect(again.errors).toBeUndefined();
  }, 60_000);
});
