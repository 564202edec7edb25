// Federation end to end: one gateway over the four real subgraphs; every entity reference crosses a service.
import { afterAll, beforeAll, describe, expect, it, jest } from "@jest/globals";
import { decodeJwt, decodeProtectedHeader } from "jose";
import {
  AuditEventListDocument,
  ConnectorDetailDocument,
  ConnectorsLatestRunsDocument,
  ConnectorsWithSyncRunsDocument,
  CreateConnectorDocument,
  LoginDocument,
  OverviewDocument,
  StartSyncRunDocument,
  SyncRunDetailDocument,
  SyncRunDocument,
  SyncRunListDocument,
  TenantConnectorsDocument,
} from "../__generated__/graphql.js";
import { ForwardingDataSource } from "../../gateway/data-source.js";
import { ensureTenantWithAdmin } from "../../subgraphs/tenants/tenant/demo-seed.js";
import { Plan } from "../../subgraphs/tenants/tenant/tenant.entity.js";
import { startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";
import { codesOf, post, waitUntil } from "./e2e-helpers.js";

describe("federation", () => {
  let t: TestStack;
  beforeAll(async () => {
    t = await startTestStack();
  });
  afterAll(async () => {
    await t?.stop();
  });

  async function createConnector(token: string, name: string, kind: "ODOO" | "MOODLE" = "ODOO") {
    const res = await t.request(CreateConnectorDocument, { input: { kind, name, baseUrl: `https://${name.toLowerCase().replace(/[^a-z0-9]+/g, "-")}.example/` } }, token);
    expect(res.errors).toBeUndefined();
    return res.data!.createConnector;
  }

  async function startConnectorRun(token: string, connectorId: string) {
    const res = await t.request(StartSyncRunDocument, { input: { kind: "CONNECTOR", connectorId } }, token);
    expect(res.errors).toBeUndefined();
    return res.data!.startSyncRun;
  }

  describe("login token", () => {
    let a: TenantLogin;
    beforeAll(async () => {
      a = await t.tenant("jwt-co");
    });

    it("is an EdDSA JWT whose kid is published in the tenants service's JWKS (public half only)", async () => {
      const header = decodeProtectedHeader(a.token);
      expect(header.alg).toBe("EdDSA");
      expect(typeof header.kid).toBe("string");
      expect(header.kid!.length).toBeGreaterThan(0);

      const jwks = (await (await fetch(t.stack.tenants.jwksUrl)).json()) as { keys: Record<string, unknown>[] };
      const key = jwks.keys.find((k) => k.kid === header.kid);
      expect(key).toMatchObject({ kty: "OKP", crv: "Ed25519", alg: "EdDSA", kid: header.kid });
      // The private scalar never leaves the tenants service.
      for (const k of jwks.keys) expect(k).not.toHaveProperty("d");
    });

    it("carries the user, tenant and permissions, and expires in about 15 minutes", async () => {
      const claims = decodeJwt(a.token);
      expect(claims).toMatchObject({ sub: a.userId, tid: a.tenantId, email: a.email, iss: "tributary", aud: "tributary-api" });
      expect(claims.roles).toEqual(["ADMIN"]);
      expect(claims.perms).toEqual(expect.arrayContaining(["connector:manage", "connector:run", "sync:pull", "audit:read"]));
      expect(typeof claims.jti).toBe("string");
      expect(claims.exp! - claims.iat!).toBe(15 * 60);
    });

    it("login returns a Bearer payload whose user (tenants) has the admin's permissions; email is case-insensitive", async () => {
      const seeded = await ensureTenantWithAdmin(t.stack.tenants.orm, { slug: "jwt-login", name: "JWT Login", adminEmail: "admin@jwt-login.example" });
      const res = await t.request(LoginDocument, { input: { tenant: " JWT-Login ", email: "ADMIN@jwt-login.example", password: seeded.adminPassword! } });
      expect(res.errors).toBeUndefined();
      const login = res.data!.login;
      expect(login.tokenType).toBe("Bearer");
      expect(login.user).toMatchObject({ id: seeded.adminUserId, email: "admin@jwt-login.example", roles: ["ADMIN"] });
      expect(login.user.permissions).toEqual(expect.arrayContaining(["connector:manage", "connector:run", "sync:pull", "sync:push", "audit:read"]));
      expect(new Date(login.expiresAt).getTime()).toBe(decodeJwt(login.accessToken).exp! * 1000);
      expect(decodeProtectedHeader(login.accessToken).kid).toBe(decodeProtectedHeader(a.token).kid);
    });
  });

  describe("one query over all four subgraphs", () => {
    let a: TenantLogin;
    let b: TenantLogin;
    let connector: { id: string; name: string };
    let runId: string;

    beforeAll(async () => {
      a = await t.tenant("overview-a");
      b = await t.tenant("overview-b");
      connector = await createConnector(a.token, "Overview Odoo");
      runId = (await startConnectorRun(a.token, connector.id)).id;
      // Tenant B has data of its own that must not show up in A's overview.
      const other = await createConnector(b.token, "Other Tenant Moodle", "MOODLE");
      await startConnectorRun(b.token, other.id);
    });

    it("Overview shows the connector, its tenant, its runs and the audit events with their actors", async () => {
      // Audit ingestion is asynchronous (pub/sub → audit service): poll until both actions are stored.
      const res = await waitUntil(async () => {
        const r = await t.request(OverviewDocument, {}, a.token);
        const actions = r.data?.auditEvents.nodes.map((e) => e.action) ?? [];
        return actions.includes("auth.login.succeeded") && actions.includes("connector.created") ? r : undefined;
      }, "auth.login.succeeded and connector.created in auditEvents");

      expect(res.errors).toBeUndefined();
      const { me, auditEvents } = res.data!;
      expect(me).toMatchObject({ id: a.userId, email: a.email, tenant: { id: a.tenantId, name: "Tenant overview-a" } });
      // connectors (connectors) under tenant (tenants), their tenant back from tenants, their runs from sync.
      expect(me.tenant.connectors).toEqual([
        { id: connector.id, name: "Overview Odoo", kind: "ODOO", tenant: { id: a.tenantId, slug: "overview-a" }, syncRuns: [{ id: runId, status: "QUEUED" }] },
      ]);
      // auditEvents (audit) with actor (tenants).
      const login = auditEvents.nodes.find((e) => e.action === "auth.login.succeeded");
      const created = auditEvents.nodes.find((e) => e.action === "connector.created");
      expect(login).toEqual({ action: "auth.login.succeeded", actorType: "USER", actor: { email: a.email } });
      expect(created).toEqual({ action: "connector.created", actorType: "USER", actor: { email: a.email } });
      // me.auditTrail (audit, keyed by the tenants service's User).
      expect(me.auditTrail.map((e) => e.action)).toEqual(expect.arrayContaining(["auth.login.succeeded", "connector.created"]));
      // Nothing of tenant B.
      expect(JSON.stringify(res.data)).not.toContain("Other Tenant Moodle");
      expect(JSON.stringify(res.data)).not.toContain(b.email);
    });

    it("the audit trail also records the run start, targeted at the run", async () => {
      const events = await waitUntil(async () => {
        const r = await t.request(AuditEventListDocument, { limit: 50, actionPrefix: "sync.run.started" }, a.token);
        return r.data?.auditEvents.nodes.length ? r.data.auditEvents.nodes : undefined;
      }, "sync.run.started in auditEvents");
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        action: "sync.run.started",
        actorType: "USER",
        targetType: "SyncRun",
        targetId: runId,
        metadata: { kind: "CONNECTOR", connectorId: connector.id },
        actor: { id: a.userId, email: a.email },
      });
    });

    it("SyncRun.connector.name (connectors) and SyncRun.triggeredBy.email (tenants) resolve, and chain on", async () => {
      const res = await t.request(SyncRunDetailDocument, { id: runId }, a.token);
      expect(res.errors).toBeUndefined();
      expect(res.data!.syncRun).toMatchObject({
        id: runId,
        kind: "CONNECTOR",
        status: "QUEUED",
        processed: 0,
        connector: { id: connector.id, name: "Overview Odoo", tenant: { slug: "overview-a" } },
        triggeredBy: { id: a.userId, email: a.email, tenant: { slug: "overview-a" } },
      });
      // The shared operation resolves the same way.
      const shared = await t.request(SyncRunDocument, { id: runId }, a.token);
      expect(shared.data!.syncRun.connector).toEqual({ id: connector.id, name: "Overview Odoo" });
      expect(shared.data!.syncRun.triggeredBy).toEqual({ id: a.userId, email: a.email });
    });

    it("a run without a connector has connector null, and still its triggeredBy", async () => {
      const push = await t.request(StartSyncRunDocument, { input: { kind: "PUSH" } }, a.token);
      const res = await t.request(SyncRunDetailDocument, { id: push.data!.startSyncRun.id }, a.token);
      expect(res.errors).toBeUndefined();
      expect(res.data!.syncRun.connector).toBeNull();
      expect(res.data!.syncRun.triggeredBy?.email).toBe(a.email);
    });

    it("connector(id) resolves its tenant and runs from the other services", async () => {
      const res = await t.request(ConnectorDetailDocument, { id: connector.id }, a.token);
      expect(res.errors).toBeUndefined();
      expect(res.data!.connector).toEqual({
        id: connector.id,
        name: "Overview Odoo",
        kind: "ODOO",
        baseUrl: "https://overview-odoo.example/",
        tenant: { id: a.tenantId, slug: "overview-a" },
        syncRuns: [{ id: runId }],
      });
    });
  });

  describe("entity batching", () => {
    const CONNECTORS = 20;
    let a: TenantLogin;
    let b: TenantLogin;
    /** connector id → its run ids, newest first. */
    const runsOf = new Map<string, string[]>();
    const names = new Map<string, string>();

    beforeAll(async () => {
      a = await t.tenant("batch-a", Plan.ENTERPRISE); // 20 connectors: more than PRO allows
      b = await t.tenant("batch-b");
      for (let i = 0; i < CONNECTORS; i++) {
        const c = await createConnector(a.token, `Batch ${String(i).padStart(2, "0")}`, i % 2 ? "MOODLE" : "ODOO");
        names.set(c.id, c.name);
        // Every connector has a run; some have two or three, so grouping mistakes change the counts.
        const ids: string[] = [];
        for (let r = 0; r <= i % 3; r++) ids.unshift((await startConnectorRun(a.token, c.id)).id);
        runsOf.set(c.id, ids);
      }
      // Noise in another tenant, in between.
      const other = await createConnector(b.token, "Batch other tenant");
      await startConnectorRun(b.token, other.id);
    });

    it(`connectors { syncRuns { id } } over ${CONNECTORS} connectors gives every connector exactly its own runs`, async () => {
      const res = await t.request(ConnectorsWithSyncRunsDocument, {}, a.token);
      expect(res.errors).toBeUndefined();
      const connectors = res.data!.connectors;
      expect(connectors).toHaveLength(CONNECTORS);
      for (const c of connectors) {
        expect(c.name).toBe(names.get(c.id));
        // Same runs, in order (newest first), no duplicates, nothing borrowed from a neighbour.
        expect(c.syncRuns.map((r) => r.id)).toEqual(runsOf.get(c.id));
      }
      const total = connectors.reduce((n, c) => n + c.syncRuns.length, 0);
      expect(total).toBe([...runsOf.values()].reduce((n, ids) => n + ids.length, 0));
    });

    it("batches: one _entities fetch to sync for all connectors, answered with one SyncRun lookup", async () => {
      // The stack runs in this process: count the gateway's subgraph fetches and the sync service's ORM finds.
      const fetches = jest.spyOn(ForwardingDataSource.prototype, "process");
      const finds = jest.spyOn(t.stack.sync.orm.em.getDriver(), "find");
      try {
        const res = await t.request(ConnectorsWithSyncRunsDocument, {}, a.token);
        expect(res.errors).toBeUndefined();
        const toSync = fetches.mock.calls.filter(([options], i) => (fetches.mock.contexts[i] as { url: string }).url === t.stack.sync.url && /_entities/.test(options.request.query ?? ""));
        expect(toSync).toHaveLength(1);
        expect((toSync[0]![0].request.variables as { representations: unknown[] }).representations).toHaveLength(CONNECTORS);
        const syncRunFinds = finds.mock.calls.filter(([entity]) => String((entity as { name?: string }).name ?? entity).includes("SyncRun"));
        expect(syncRunFinds).toHaveLength(1);
      } finally {
        fetches.mockRestore();
        finds.mockRestore();
      }
    });

    it("syncRuns(first) lists each connector's newest runs only (default 20, at most 100), still in one batch", async () => {
      for (const first of [1, 2]) {
        const res = await t.request(ConnectorsLatestRunsDocument, { first }, a.token);
        expect(res.errors).toBeUndefined();
        for (const c of res.data!.connectors) expect(c.syncRuns.map((r) => r.id)).toEqual(runsOf.get(c.id)!.slice(0, first));
      }
      for (const first of [0, -1]) {
        // One error per connector's field, each the same.
        const codes = codesOf(await t.request(ConnectorsLatestRunsDocument, { first }, a.token));
        expect({ first, errors: codes.length, codes: [...new Set(codes)] }).toEqual({ first, errors: CONNECTORS, codes: ["BAD_USER_INPUT"] });
      }
      // Above 100: the gateway's cost guard refuses the query first; the sync subgraph refuses it too when asked directly.
      expect(codesOf(await t.request(ConnectorsLatestRunsDocument, { first: 101 }, a.token))).toEqual(["QUERY_TOO_COMPLEX"]);
      const direct = await post(
        t.stack.sync.url,
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on Connector { syncRuns(first: 101) { id } } } }",
        { r: [{ __typename: "Connector", id: [...runsOf.keys()][0] }] },
        a.token,
      );
      expect(codesOf(direct.body)).toEqual(["BAD_USER_INPUT"]);
    });

    it("the same works nested under tenant { connectors }, and for the other tenant only its own", async () => {
      const res = await t.request(TenantConnectorsDocument, {}, a.token);
      expect(res.errors).toBeUndefined();
      expect(res.data!.tenant.connectors).toHaveLength(CONNECTORS);
      for (const c of res.data!.tenant.connectors) expect(c.syncRuns.map((r) => r.id)).toEqual(runsOf.get(c.id));

      const other = await t.request(ConnectorsWithSyncRunsDocument, {}, b.token);
      expect(other.errors).toBeUndefined();
      expect(other.data!.connectors).toHaveLength(1);
      expect(other.data!.connectors[0]!.syncRuns).toHaveLength(1);
    });

    it("syncRuns resolves every run's connector name and trigger in one query", async () => {
      const res = await t.request(SyncRunListDocument, { limit: 200 }, a.token);
      expect(res.errors).toBeUndefined();
      const expected = [...runsOf.values()].reduce((n, ids) => n + ids.length, 0);
      expect(res.data!.syncRuns.nodes).toHaveLength(expected);
      for (const run of res.data!.syncRuns.nodes) {
        const owner = [...runsOf.entries()].find(([, ids]) => ids.includes(run.id));
        expect(owner).toBeDefined();
        expect(run.connector).toEqual({ id: owner![0], name: names.get(owner![0]) });
        expect(run.triggeredBy).toEqual({ email: a.email });
      }
    });
  });
});
