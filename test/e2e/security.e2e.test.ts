// Tenant isolation, token verification and permissions, end to end (memory pub/sub).
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomUUID } from "node:crypto";
import { hash } from "@node-rs/argon2";
import { SignJWT, base64url, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, type JWK } from "jose";
import pg from "pg";
import {
  AuditEventListDocument,
  ConnectorDetailDocument,
  ConnectorsDocument,
  CreateConnectorDocument,
  LoginDocument,
  MeDocument,
  MyPermissionsDocument,
  OverviewDocument,
  StartSyncRunDocument,
  SyncRunDetailDocument,
  SyncRunListDocument,
  TenantUsersDocument,
  UpdateSyncRunProgressDocument,
} from "../__generated__/graphql.js";
import { startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";
import { codesOf, post, prng, socketHandshake, waitUntil } from "./e2e-helpers.js";

describe("security", () => {
  let t: TestStack;
  let db: pg.Client;
  let a: TenantLogin;
  let b: TenantLogin;
  /** Tenant A's data that B must never see. */
  const A = { connectorIds: [] as string[], connectorNames: [] as string[], baseUrls: [] as string[], runIds: [] as string[], auditEventId: "" };
  let bConnectorId: string;
  let bRunId: string;

  async function ok<T extends { errors?: unknown; data?: unknown }>(p: Promise<T>): Promise<NonNullable<T["data"]>> {
    const res = await p;
    expect(res.errors).toBeUndefined();
    return res.data as NonNullable<T["data"]>;
  }

  beforeAll(async () => {
    t = await startTestStack();
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    a = await t.tenant("sec-a");
    b = await t.tenant("sec-b");
    for (const kind of ["ODOO", "MOODLE"] as const) {
      const name = `Secret ${kind} of A ${randomUUID().slice(0, 8)}`;
      const baseUrl = `https://a-${kind.toLowerCase()}-${randomUUID().slice(0, 8)}.example/`;
      const c = (await ok(t.request(CreateConnectorDocument, { input: { kind, name, baseUrl } }, a.token))).createConnector;
      A.connectorIds.push(c.id);
      A.connectorNames.push(c.name);
      A.baseUrls.push(c.baseUrl);
      const run = (await ok(t.request(StartSyncRunDocument, { input: { kind: "CONNECTOR", connectorId: c.id } }, a.token))).startSyncRun;
      A.runIds.push(run.id);
    }
    await ok(t.request(UpdateSyncRunProgressDocument, { id: A.runIds[0]!, input: { status: "RUNNING", processed: 11 } }, a.token));
    const pushRun = (await ok(t.request(StartSyncRunDocument, { input: { kind: "PUSH" } }, a.token))).startSyncRun;
    A.runIds.push(pushRun.id);
    const bc = (await ok(t.request(CreateConnectorDocument, { input: { kind: "ODOO", name: "B's own", baseUrl: "https://b.example" } }, b.token))).createConnector;
    bConnectorId = bc.id;
    bRunId = (await ok(t.request(StartSyncRunDocument, { input: { kind: "CONNECTOR", connectorId: bc.id } }, b.token))).startSyncRun.id;
    const events = await waitUntil(async () => {
      const r = await t.request(AuditEventListDocument, { limit: 50, actionPrefix: "connector.created" }, a.token);
      return (r.data?.auditEvents.nodes.length ?? 0) >= 2 ? r.data!.auditEvents.nodes : undefined;
    }, "A's connector.created audit events");
    A.auditEventId = events[0]!.id;
  });
  afterAll(async () => {
    await db?.end();
    await t?.stop();
  });

  /** Everything that would identify A's data in a response meant for B. */
  const aMarkers = () => [a.tenantId, a.userId, a.email, a.slug, "Tenant sec-a", ...A.connectorIds, ...A.connectorNames, ...A.baseUrls, ...A.runIds, A.auditEventId];
  /** Markers that are never part of B's own input (ids B sends may be echoed back in B's own errors and audit log). */
  const aSecrets = () => [a.email, a.slug, "Tenant sec-a", ...A.connectorNames, ...A.baseUrls];

  describe("cross-tenant reads through the gateway", () => {
    it("connector(id) of A's connector → NOT_FOUND for B (and found for A)", async () => {
      for (const id of A.connectorIds) {
        const res = await t.request(ConnectorDetailDocument, { id }, b.token);
        expect(res.data ?? null).toBeNull();
        expect(codesOf(res)).toEqual(["NOT_FOUND"]);
        const own = await t.request(ConnectorDetailDocument, { id }, a.token);
        expect(own.data?.connector.id).toBe(id);
      }
    });

    it("syncRun(id) of A's run → NOT_FOUND for B (and found for A)", async () => {
      for (const id of A.runIds) {
        const res = await t.request(SyncRunDetailDocument, { id }, b.token);
        expect(res.data ?? null).toBeNull();
        expect(codesOf(res)).toEqual(["NOT_FOUND"]);
        expect((await t.request(SyncRunDetailDocument, { id }, a.token)).data?.syncRun.id).toBe(id);
      }
    });

    it("updateSyncRunProgress on A's run → NOT_FOUND for B, and A's run is unchanged", async () => {
      const res = await t.request(UpdateSyncRunProgressDocument, { id: A.runIds[0]!, input: { status: "FAILED", processed: 999 } }, b.token);
      expect(codesOf(res)).toEqual(["NOT_FOUND"]);
      const run = (await ok(t.request(SyncRunDetailDocument, { id: A.runIds[0]! }, a.token))).syncRun;
      expect(run).toMatchObject({ status: "RUNNING", processed: 11 });
    });

    it("A's data never appears in B's syncRuns, connectors, auditEvents or Overview", async () => {
      const runs = (await ok(t.request(SyncRunListDocument, { limit: 200 }, b.token))).syncRuns.nodes;
      expect(runs.map((r) => r.id)).toEqual([bRunId]);
      const connectors = (await ok(t.request(ConnectorsDocument, {}, b.token))).connectors;
      expect(connectors.map((c) => c.id)).toEqual([bConnectorId]);
      const audit = (await ok(t.request(AuditEventListDocument, { limit: 500 }, b.token))).auditEvents.nodes;
      expect(audit.length).toBeGreaterThan(0);
      for (const e of audit) expect(e.actor?.id ?? b.userId).toBe(b.userId);
      const overview = await ok(t.request(OverviewDocument, {}, b.token));
      expect(overview.me.tenant.connectors.map((c) => c.id)).toEqual([bConnectorId]);
      for (const body of [runs, connectors, audit, overview]) {
        const text = JSON.stringify(body);
        for (const marker of aMarkers()) expect(text).not.toContain(marker);
      }
    });

    it("users lists only the caller's tenant", async () => {
      const users = (await ok(t.request(TenantUsersDocument, {}, b.token))).users.nodes;
      expect(users.map((u) => u.id)).toEqual([b.userId]);
    });
  });

  describe("subgraphs called directly with _entities", () => {
    const ENTITIES = "query Entities($r: [_Any!]!) { _entities(representations: $r) { __typename ...F } }";
    const q = (fragment: string) => `${ENTITIES}\n${fragment}`;

    const SYNC = q("fragment F on _Entity { ... on SyncRun { id status processed } ... on Connector { id syncRuns { id status } } }");
    const CONNECTORS = q("fragment F on _Entity { ... on Connector { id name baseUrl } ... on Tenant { id connectors { id name } } }");
    const TENANTS = q("fragment F on _Entity { ... on User { id email roles } ... on Tenant { id slug name } }");
    const AUDIT = q("fragment F on _Entity { ... on AuditEvent { id action } ... on User { id auditTrail { id action } } }");

    it("sync: A's SyncRun → null and A's Connector → no runs, for B's token (A's token resolves them)", async () => {
      const r = [{ __typename: "SyncRun", id: A.runIds[0] }, { __typename: "Connector", id: A.connectorIds[0] }];
      const asB = await post(t.stack.sync.url, SYNC, { r }, b.token);
      expect(asB.body.errors).toBeUndefined();
      expect(asB.body.data._entities).toEqual([null, { __typename: "Connector", id: A.connectorIds[0], syncRuns: [] }]);
      const asA = await post(t.stack.sync.url, SYNC, { r }, a.token);
      expect(asA.body.data._entities).toEqual([
        { __typename: "SyncRun", id: A.runIds[0], status: "RUNNING", processed: 11 },
        { __typename: "Connector", id: A.connectorIds[0], syncRuns: [{ id: A.runIds[0], status: "RUNNING" }] },
      ]);
    });

    it("connectors: A's Connector → null and A's Tenant → no connectors, for B's token", async () => {
      const r = [{ __typename: "Connector", id: A.connectorIds[0] }, { __typename: "Tenant", id: a.tenantId }];
      const asB = await post(t.stack.connectors.url, CONNECTORS, { r }, b.token);
      expect(asB.body.errors).toBeUndefined();
      expect(asB.body.data._entities).toEqual([null, { __typename: "Tenant", id: a.tenantId, connectors: [] }]);
      const asA = await post(t.stack.connectors.url, CONNECTORS, { r }, a.token);
      expect(asA.body.data._entities[0]).toMatchObject({ id: A.connectorIds[0], name: A.connectorNames[0] });
      expect(asA.body.data._entities[1].connectors).toHaveLength(2);
    });

    it("tenants: A's User and A's Tenant → null for B's token", async () => {
      const r = [{ __typename: "User", id: a.userId }, { __typename: "Tenant", id: a.tenantId }];
      const asB = await post(t.stack.tenants.url, TENANTS, { r }, b.token);
      expect(asB.body.errors).toBeUndefined();
      expect(asB.body.data._entities).toEqual([null, null]);
      const asA = await post(t.stack.tenants.url, TENANTS, { r }, a.token);
      expect(asA.body.data._entities).toEqual([
        { __typename: "User", id: a.userId, email: a.email, roles: ["ADMIN"] },
        { __typename: "Tenant", id: a.tenantId, slug: "sec-a", name: "Tenant sec-a" },
      ]);
    });

    it("audit: A's AuditEvent → null and A's User → empty audit trail, for B's token", async () => {
      const r = [{ __typename: "AuditEvent", id: A.auditEventId }, { __typename: "User", id: a.userId }];
      const asB = await post(t.stack.audit.url, AUDIT, { r }, b.token);
      expect(asB.body.errors).toBeUndefined();
      expect(asB.body.data._entities).toEqual([null, { __typename: "User", id: a.userId, auditTrail: [] }]);
      const asA = await post(t.stack.audit.url, AUDIT, { r }, a.token);
      expect(asA.body.data._entities[0]).toMatchObject({ id: A.auditEventId, action: "connector.created" });
      expect(asA.body.data._entities[1].auditTrail.length).toBeGreaterThan(0);
    });

    it.each([
      ["sync", () => t.stack.sync.url, SYNC, () => [{ __typename: "SyncRun", id: A.runIds[0] }, { __typename: "Connector", id: A.connectorIds[0] }]],
      ["connectors", () => t.stack.connectors.url, CONNECTORS, () => [{ __typename: "Connector", id: A.connectorIds[0] }, { __typename: "Tenant", id: a.tenantId }]],
      ["tenants", () => t.stack.tenants.url, TENANTS, () => [{ __typename: "User", id: a.userId }, { __typename: "Tenant", id: a.tenantId }]],
      ["audit", () => t.stack.audit.url, AUDIT, () => [{ __typename: "AuditEvent", id: A.auditEventId }, { __typename: "User", id: a.userId }]],
    ] as const)("%s: _entities without a token → UNAUTHENTICATED and no data", async (_name, url, query, reps) => {
      const res = await post(url(), query, { r: reps() });
      expect(codesOf(res.body).length).toBeGreaterThan(0);
      expect(new Set(codesOf(res.body))).toEqual(new Set(["UNAUTHENTICATED"]));
      for (const e of res.body.data?._entities ?? []) expect(e).toBeNull();
      for (const marker of aSecrets()) expect(JSON.stringify(res.body)).not.toContain(marker);
    });

    it.each(["sync", "connectors", "tenants", "audit"] as const)("%s: a garbage token is refused with UNAUTHENTICATED", async (name) => {
      const res = await post(t.stack[name].url, "{ __typename }", {}, "garbage");
      expect(codesOf(res.body)).toEqual(["UNAUTHENTICATED"]);
    });
  });

  describe("subgraphs enforce the query bounds themselves (called directly; defense in depth)", () => {
    /** `syncRun(id) { connector { syncRuns { connector { … } } } }`: 1 + 2 × pairs + 1 levels. */
    const deep = (pairs: number, root = `syncRun(id: "${A.runIds[0]}")`) => `{ ${root} { ${"connector { syncRuns { ".repeat(pairs)}id${" } }".repeat(pairs)} } }`;
    const tooComplex = (res: { status: number; body: any }) => ({ status: res.status, codes: codesOf(res.body), data: res.body?.data ?? null });
    const refusedAs = { status: 400, codes: ["QUERY_TOO_COMPLEX"], data: null };
    const postWith = async (url: string, body: unknown, headers: Record<string, string> = {}) => {
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${a.token}`, ...headers }, body: JSON.stringify(body) });
      const text = await res.text();
      return { status: res.status, body: JSON.parse(text) as any };
    };

    it("sync refuses depth 60, 1,000 aliases, a query costing over 5,000 and over 5,000 tokens (QUERY_TOO_COMPLEX, HTTP 400); the same shapes within the limits run", async () => {
      const url = t.stack.sync.url;
      expect(tooComplex(await post(url, deep(29), {}, a.token))).toEqual(refusedAs);
      const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: collections { id }`).join(" ")} }`;
      expect(tooComplex(await post(url, aliases(1_000), {}, a.token))).toEqual(refusedAs);
      // Each alias: 1 + 200/50 × 50 × (run + connector) = 401; 13 of them cost 5,213.
      const costly = `{ ${Array.from({ length: 13 }, (_, i) => `c${i}: syncRuns(first: 200) { nodes { id connector { id } } }`).join(" ")} }`;
      const cost = await post(url, costly, {}, a.token);
      expect(tooComplex(cost)).toEqual(refusedAs);
      expect(cost.body.errors[0].extensions.cost).toBeGreaterThan(5_000);
      expect(tooComplex(await post(url, `{ ${"__typename ".repeat(5_001)}}`, {}, a.token))).toEqual(refusedAs);
      // Controls: within the limits, the same shapes run.
      for (const query of [deep(2), aliases(30), `{ ${Array.from({ length: 12 }, (_, i) => `c${i}: syncRuns(first: 200) { nodes { id connector { id } } }`).join(" ")} }`]) {
        const res = await post(url, query, {}, a.token);
        expect({ query, errors: res.body.errors }).toEqual({ query, errors: undefined });
      }
    });

    it.each(["tenants", "connectors", "audit"] as const)("%s refuses 1,000 aliases and 6,000 tokens too", async (name) => {
      expect(tooComplex(await post(t.stack[name].url, `{ ${Array.from({ length: 1_000 }, (_, i) => `a${i}: _service { sdl }`).join(" ")} }`, {}, a.token))).toEqual(refusedAs);
      expect(tooComplex(await post(t.stack[name].url, `{ ${"__typename ".repeat(6_000)}}`, {}, a.token))).toEqual(refusedAs);
    });

    it("a batch (JSON array) is refused by every subgraph", async () => {
      for (const name of ["tenants", "sync", "connectors", "audit"] as const) {
        const res = await postWith(t.stack[name].url, [{ query: "{ __typename }" }, { query: "{ __typename }" }]);
        expect({ name, status: res.status, data: res.body?.data ?? null }).toEqual({ name, status: 400, data: null });
      }
    });

    it("_entities is priced by its representations: 5,001 refused for a direct caller; the gateway's own entity fetches (with its proof) pass", async () => {
      const query = "query E($r: [_Any!]!) { _entities(representations: $r) { ... on Connector { id } } }";
      const r = Array.from({ length: 5_001 }, () => ({ __typename: "Connector", id: A.connectorIds[0] }));
      const direct = await postWith(t.stack.sync.url, { query, variables: { r } });
      expect(tooComplex(direct)).toEqual(refusedAs);
      expect(direct.body.errors[0].extensions.cost).toBe(5_001);
      // A wrong proof is no proof.
      expect(tooComplex(await postWith(t.stack.sync.url, { query, variables: { r } }, { "x-tributary-gateway": "not-the-secret" }))).toEqual(refusedAs);
      // The gateway's planner fetches carry the service secret: entity batches follow the data, not a page size.
      const planner = await postWith(t.stack.sync.url, { query, variables: { r } }, { "x-tributary-gateway": t.secrets.internal });
      expect(planner.body.errors).toBeUndefined();
      expect(planner.body.data._entities).toHaveLength(5_001);
      // Even the gateway's operations keep a depth bound.
      expect(tooComplex(await postWith(t.stack.sync.url, { query: deep(30) }, { "x-tributary-gateway": t.secrets.internal }))).toEqual(refusedAs);
    });

    it("over graphql-ws too: a subgraph's socket answers a too-deep subscription with QUERY_TOO_COMPLEX", async () => {
      const errors: unknown[] = [];
      const res = await socketHandshake(t.stack.sync.wsUrl, { authorization: `Bearer ${a.token}` }, async (ws) => {
        ws.on("message", (m) => {
          const message = JSON.parse(String(m)) as { type: string; payload?: unknown };
          if (message.type === "error") errors.push(message.payload);
        });
        ws.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query: `subscription ${deep(29, `syncRunUpdated(id: "${A.runIds[0]}")`)}` } }));
        await waitUntil(() => errors.length > 0, "an error message");
      });
      expect(res.acknowledged).toBe(true);
      expect((errors[0] as { extensions?: { code?: string } }[]).map((e) => e.extensions?.code)).toEqual(["QUERY_TOO_COMPLEX"]);
    });

    it("through the gateway, a wide federated query still passes (its entity fetches are the gateway's)", async () => {
      const res = await post(t.url, "{ syncRuns(first: 200) { nodes { id connector { id name } triggeredBy { id email } } } }", {}, a.token);
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data.syncRuns.nodes.length).toBeGreaterThan(0);
      expect(res.body.data.syncRuns.nodes.find((n: { connector: { name: string } | null }) => n.connector)?.connector.name).toEqual(expect.any(String));
    });
  });

  describe("randomized cross-tenant attempts", () => {
    it("30 random requests from B that mix in A's ids never return A's data, and change nothing of A's", async () => {
      const seed = Number(process.env.E2E_SEED ?? Date.now() % 1_000_000);
      const rand = prng(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
      const variantsOf = (id: string) => [id, id.toUpperCase(), ` ${id}`, `${id}\n`, id.replace(/-/g, "")];
      const gw = (query: string, variables?: Record<string, unknown>) => post(t.url, query, variables, b.token);
      const ent = (url: string, fragment: string, r: unknown[]) => post(url, `query($r: [_Any!]!) { _entities(representations: $r) { __typename ${fragment} } }`, { r }, b.token);

      // Selections avoid key fields so an echoed representation cannot be mistaken for a leak.
      const attacks: Record<string, () => Promise<{ status: number; body: any }>> = {
        connector: () => gw("query($id: ID!) { connector(id: $id) { name baseUrl tenant { slug } syncRuns { status } } }", { id: pick(variantsOf(pick(A.connectorIds))) }),
        syncRun: () => gw("query($id: ID!) { syncRun(id: $id) { status processed connector { name } triggeredBy { email } } }", { id: pick(variantsOf(pick(A.runIds))) }),
        updateRun: () => gw("mutation($id: ID!, $p: Int) { updateSyncRunProgress(id: $id, input: { processed: $p, status: CANCELLED }) { status processed } }", { id: pick(variantsOf(pick(A.runIds))), p: Math.floor(rand() * 1000) }),
        startRunOnAsConnector: () => gw("mutation($c: ID) { startSyncRun(input: { kind: CONNECTOR, connectorId: $c }) { status connector { name baseUrl } } }", { c: pick(A.connectorIds) }),
        syncRuns: () => gw("query($l: Int!) { syncRuns(first: $l) { nodes { status processed connector { name } triggeredBy { email } } } }", { l: 1 + Math.floor(rand() * 200) }),
        connectors: () => gw("{ connectors { name baseUrl syncRuns { status } } tenant { slug name connectors { name } } }"),
        auditEvents: () => gw("query($p: String) { auditEvents(first: 500, filter: { action: $p }) { nodes { action metadata changes actor { email } } } }", { p: pick([null, "", "auth.", "connector.", "sync.", "%", "_"]) }),
        overview: () => gw("{ me { email tenant { slug connectors { name syncRuns { status } } } auditTrail { action } } users { nodes { email } } }"),
        syncEntities: () => ent(t.stack.sync.url, "... on SyncRun { status processed } ... on Connector { syncRuns { status processed } }", [{ __typename: pick(["SyncRun", "Connector"] as const), id: pick([...A.runIds, ...A.connectorIds]) }]),
        connectorEntities: () => ent(t.stack.connectors.url, "... on Connector { name baseUrl } ... on Tenant { connectors { name baseUrl } }", [pick([{ __typename: "Connector", id: pick(A.connectorIds) }, { __typename: "Tenant", id: a.tenantId }])]),
        tenantEntities: () => ent(t.stack.tenants.url, "... on User { email displayName tenant { slug } } ... on Tenant { slug name }", [pick([{ __typename: "User", id: a.userId }, { __typename: "Tenant", id: a.tenantId }])]),
        auditEntities: () => ent(t.stack.audit.url, "... on AuditEvent { action metadata } ... on User { auditTrail { action metadata } }", [pick([{ __typename: "AuditEvent", id: A.auditEventId }, { __typename: "User", id: a.userId }])]),
        manyRepresentations: () =>
          ent(t.stack.sync.url, "... on SyncRun { status } ... on Connector { syncRuns { status } }", [
            ...A.runIds.map((id) => ({ __typename: "SyncRun", id })),
            { __typename: "SyncRun", id: bRunId },
            ...A.connectorIds.map((id) => ({ __typename: "Connector", id })),
          ]),
      };
      const names = Object.keys(attacks);
      const seen = new Set<string>();
      for (let i = 0; i < 30; i++) {
        const name = i < names.length ? names[i]! : pick(names); // every kind at least once, then random
        seen.add(name);
        const res = await attacks[name]!();
        const context = `attack #${i} ${name} (E2E_SEED=${seed})`;
        expect({ context, status: res.status }).toEqual({ context, status: 200 });
        const data = JSON.stringify(res.body.data ?? null);
        // A's connector ids are excluded: B sends them in startSyncRun, and B's own audit log echoes B's input.
        for (const marker of aMarkers().filter((m) => !A.connectorIds.includes(m))) expect({ context, leaked: data.includes(marker) ? marker : null }).toEqual({ context, leaked: null });
        const errors = JSON.stringify(res.body.errors ?? []);
        for (const marker of aSecrets()) expect({ context, leakedInErrors: errors.includes(marker) ? marker : null }).toEqual({ context, leakedInErrors: null });
        for (const code of codesOf(res.body)) expect({ context, code }).toEqual({ context, code: expect.stringMatching(/^(NOT_FOUND|BAD_USER_INPUT)$/) });
      }
      expect(seen.size).toBe(names.length);

      // A's side is untouched: same connectors, same runs with the same state, none of B's runs under A's connectors.
      const mine = await ok(t.request(OverviewDocument, {}, a.token));
      expect(mine.me.tenant.connectors.map((c) => c.id).sort()).toEqual([...A.connectorIds].sort());
      for (const c of mine.me.tenant.connectors) expect(c.syncRuns.map((r) => r.id)).toEqual([A.runIds[A.connectorIds.indexOf(c.id)]]);
      const runs = (await ok(t.request(SyncRunListDocument, { limit: 200 }, a.token))).syncRuns.nodes;
      expect(runs.map((r) => r.id).sort()).toEqual([...A.runIds].sort());
      expect(runs.find((r) => r.id === A.runIds[0])).toMatchObject({ status: "RUNNING", processed: 11 });
      for (const r of runs.filter((r) => r.id !== A.runIds[0])) expect(r).toMatchObject({ status: "QUEUED", processed: 0 });
    });
  });

  describe("cross-tenant references in writes", () => {
    it("startSyncRun for another tenant's connector (or one that does not exist) is refused and creates no run", async () => {
      // sync-run.service.ts start() only checks that connectorId is a UUID: B can open a CONNECTOR run "of" A's
      // connector (or of nothing), a run whose connector then resolves to null forever.
      const before = (await ok(t.request(SyncRunListDocument, { limit: 200 }, b.token))).syncRuns.nodes.length;
      for (const connectorId of [A.connectorIds[1]!, randomUUID()]) {
        const res = await t.request(StartSyncRunDocument, { input: { kind: "CONNECTOR", connectorId } }, b.token);
        expect({ connectorId, data: res.data ?? null }).toEqual({ connectorId, data: null });
        expect(codesOf(res)).toEqual([expect.stringMatching(/^(NOT_FOUND|BAD_USER_INPUT)$/)]);
      }
      expect((await ok(t.request(SyncRunListDocument, { limit: 200 }, b.token))).syncRuns.nodes).toHaveLength(before);
    });
  });

  describe("tokens", () => {
    const ME = "{ me { id email } }";
    const gatewayMe = (authorization?: string) =>
      fetch(t.url, { method: "POST", headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) }, body: JSON.stringify({ query: ME }) }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

    /** The active signing key of this test stack (its own fresh database), to mint tokens with chosen claims. */
    async function stackKey() {
      const { rows } = await db.query<{ kid: string; private_jwk: JWK }>("select kid, private_jwk from tenants.signing_key where retired_at is null order by created_at desc limit 1");
      return { kid: rows[0]!.kid, key: await importJWK(rows[0]!.private_jwk, "EdDSA") };
    }
    function claimsOf(token: string) {
      const { sub, tid, email, roles, perms } = decodeJwt(token) as Record<string, unknown>;
      return { sub: sub as string, tid, email, roles, perms };
    }
    async function mint(opts: { exp?: number; iss?: string; aud?: string; drop?: string[]; nbf?: number; kid?: string } = {}) {
      const { kid: stackKid, key } = await stackKey();
      const kid = opts.kid ?? stackKid;
      const now = Math.floor(Date.now() / 1000);
      const { sub, ...claims } = claimsOf(a.token);
      const payload: Record<string, unknown> = { ...claims };
      for (const c of opts.drop ?? []) delete payload[c];
      let jwt = new SignJWT(payload).setProtectedHeader({ alg: "EdDSA", kid, typ: "JWT" }).setIssuer(opts.iss ?? "tributary").setAudience(opts.aud ?? "tributary-api").setIssuedAt(now - 60).setExpirationTime(opts.exp ?? now + 300);
      if (!opts.drop?.includes("sub")) jwt = jwt.setSubject(sub);
      if (!opts.drop?.includes("jti")) jwt = jwt.setJti(randomUUID());
      if (opts.nbf !== undefined) jwt = jwt.setNotBefore(opts.nbf);
      return jwt.sign(key);
    }

    it("missing token on me → UNAUTHENTICATED", async () => {
      const res = await t.request(MeDocument, {});
      expect(res.data ?? null).toBeNull();
      expect(codesOf(res)).toEqual(["UNAUTHENTICATED"]);
    });

    it.each([
      ["garbage", "Bearer garbage"],
      ["three dots of garbage", "Bearer a.b.c"],
      ["an empty bearer", "Bearer "],
      ["another scheme", "Basic YWRtaW46YWRtaW4="],
      ["a bare token without scheme", "eyJhbGciOiJFZERTQSJ9.e30.AAAA"],
    ])("%s → HTTP 401 + UNAUTHENTICATED", async (_label, authorization) => {
      const res = await gatewayMe(authorization);
      expect(res.status).toBe(401);
      expect(codesOf(res.body)).toEqual(["UNAUTHENTICATED"]);
      expect(res.body.data ?? null).toBeNull();
    });

    it("a token signed by a different Ed25519 key with the same kid → 401 UNAUTHENTICATED", async () => {
      const { kid } = decodeProtectedHeader(a.token);
      const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
      const { sub, ...claims } = claimsOf(a.token);
      const forged = await new SignJWT(claims).setProtectedHeader({ alg: "EdDSA", kid, typ: "JWT" }).setSubject(sub).setIssuer("tributary").setAudience("tributary-api").setJti(randomUUID()).setIssuedAt().setExpirationTime("10m").sign(privateKey);
      const res = await gatewayMe(`Bearer ${forged}`);
      expect(res.status).toBe(401);
      expect(codesOf(res.body)).toEqual(["UNAUTHENTICATED"]);
    });

    it("alg: none → 401 UNAUTHENTICATED", async () => {
      const { kid } = decodeProtectedHeader(a.token);
      const header = base64url.encode(JSON.stringify({ alg: "none", typ: "JWT", kid }));
      const payload = a.token.split(".")[1];
      for (const token of [`${header}.${payload}.`, `${header}.${payload}`, `${header}.${payload}.${a.token.split(".")[2]}`]) {
        const res = await gatewayMe(`Bearer ${token}`);
        expect(res.status).toBe(401);
        expect(codesOf(res.body)).toEqual(["UNAUTHENTICATED"]);
      }
    });

    it("HS256 signed with the public JWK (or its raw key) as the secret → 401 UNAUTHENTICATED", async () => {
      const { kid } = decodeProtectedHeader(a.token);
      const jwks = (await (await fetch(t.stack.tenants.jwksUrl)).json()) as { keys: JWK[] };
      const jwk = jwks.keys.find((k) => k.kid === kid)!;
      const { sub, ...claims } = claimsOf(a.token);
      const secrets = [new TextEncoder().encode(JSON.stringify(jwk)), base64url.decode(jwk.x!), new TextEncoder().encode(jwk.x!)];
      for (const secret of secrets) {
        const token = await new SignJWT(claims).setProtectedHeader({ alg: "HS256", kid, typ: "JWT" }).setSubject(sub).setIssuer("tributary").setAudience("tributary-api").setJti(randomUUID()).setIssuedAt().setExpirationTime("10m").sign(secret);
        const res = await gatewayMe(`Bearer ${token}`);
        expect(res.status).toBe(401);
        expect(codesOf(res.body)).toEqual(["UNAUTHENTICATED"]);
      }
    });

    it("a payload altered after signing (tenant, roles) → 401 UNAUTHENTICATED", async () => {
      const [header, payload, signature] = a.token.split(".");
      const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload!)));
      for (const altered of [{ ...claims, tid: b.tenantId }, { ...claims, roles: ["ADMIN", "ROOT"] }, { ...claims, exp: claims.exp + 3600 }]) {
        const token = `${header}.${base64url.encode(JSON.stringify(altered))}.${signature}`;
        const res = await gatewayMe(`Bearer ${token}`);
        expect(res.status).toBe(401);
        expect(codesOf(res.body)).toEqual(["UNAUTHENTICATED"]);
      }
    });

    it("a token minted with the stack's own key works (control), but not once expired, for another audience/issuer, or without tid/sub/jti", async () => {
      const control = await gatewayMe(`Bearer ${await mint()}`);
      expect(control.status).toBe(200);
      expect(control.body.data.me).toEqual({ id: a.userId, email: a.email });

      const now = Math.floor(Date.now() / 1000);
      const bad = [
        await mint({ exp: now - 120 }),
        await mint({ nbf: now + 600 }), // not yet valid
        await mint({ kid: randomUUID() }), // a kid no JWKS has
        await mint({ aud: "someone-else" }),
        await mint({ iss: "evil" }),
        await mint({ drop: ["tid"] }),
        await mint({ drop: ["sub"] }),
        await mint({ drop: ["jti"] }),
      ];
      for (const token of bad) {
        const res = await gatewayMe(`Bearer ${token}`);
        expect({ claims: decodeJwt(token), status: res.status, codes: codesOf(res.body) }).toEqual({ claims: decodeJwt(token), status: 401, codes: ["UNAUTHENTICATED"] });
      }
      // Subgraphs verify on their own too (a caller that skips the gateway gains nothing).
      for (const token of [await mint({ exp: now - 120 }), await mint({ aud: "another-audience" }), await mint({ nbf: now + 600 })]) {
        for (const url of [t.stack.tenants.url, t.stack.sync.url, t.stack.connectors.url, t.stack.audit.url]) {
          const res = await post(url, "{ __typename }", {}, token);
          expect({ url, codes: codesOf(res.body) }).toEqual({ url, codes: ["UNAUTHENTICATED"] });
        }
      }
    });
  });

  describe("login failures", () => {
    it("wrong password, unknown tenant and unknown email all → UNAUTHENTICATED (one answer, nothing to enumerate)", async () => {
      const attempts = [
        { tenant: "sec-a", email: a.email, password: "definitely-wrong" },
        { tenant: "no-such-tenant", email: a.email, password: "definitely-wrong" },
        { tenant: "sec-a", email: "nobody@sec-a.example", password: "definitely-wrong" },
      ];
      const answers = [];
      for (const input of attempts) {
        const res = await t.request(LoginDocument, { input });
        expect(res.data ?? null).toBeNull();
        answers.push({ status: res.status, codes: codesOf(res), message: res.errors?.[0]?.message });
      }
      expect(answers.map((x) => x.codes)).toEqual([["UNAUTHENTICATED"], ["UNAUTHENTICATED"], ["UNAUTHENTICATED"]]);
      // Same status and same error for all three: a caller cannot tell which part was wrong.
      expect(new Set(answers.map((x) => JSON.stringify(x))).size).toBe(1);
    });

    it("failed logins against a known tenant are audited as auth.login.failed", async () => {
      await t.request(LoginDocument, { input: { tenant: "sec-b", email: b.email, password: "wrong-for-b" } });
      await t.request(LoginDocument, { input: { tenant: "sec-b", email: "ghost@sec-b.example", password: "whatever" } });
      const events = await waitUntil(async () => {
        const r = await t.request(AuditEventListDocument, { limit: 50, actionPrefix: "auth.login.failed" }, b.token);
        return (r.data?.auditEvents.nodes.length ?? 0) >= 2 ? r.data!.auditEvents.nodes : undefined;
      }, "two auth.login.failed events for tenant B");
      expect(events).toHaveLength(2);
      const ghost = events.find((e) => (e.metadata as { email?: string } | null)?.email === "ghost@sec-b.example");
      const wrong = events.find((e) => (e.metadata as { email?: string } | null)?.email === b.email);
      expect(ghost).toMatchObject({ action: "auth.login.failed", actorType: "ANONYMOUS", actor: null, metadata: { reason: "unknown_user" } });
      expect(wrong).toMatchObject({ action: "auth.login.failed", actorType: "USER", actor: { id: b.userId, email: b.email }, metadata: { reason: "bad_password" } });
      // The password itself is never recorded.
      expect(JSON.stringify(events)).not.toContain("wrong-for-b");
      // Tenant A's log does not get B's failures.
      const aEvents = (await ok(t.request(AuditEventListDocument, { limit: 50, actionPrefix: "auth.login.failed" }, a.token))).auditEvents.nodes;
      expect(JSON.stringify(aEvents)).not.toContain("ghost@sec-b.example");
    });
  });

  describe("permissions", () => {
    const password = "analyst-password-123";
    let analyst: { id: string; email: string; token: string };

    async function insertUser(tenantId: string, email: string, roles: string[], status: "ACTIVE" | "DISABLED" = "ACTIVE") {
      const id = randomUUID();
      await db.query(
        `insert into tenants."user" (id, tenant_id, email, display_name, password_hash, roles, status, created_at) values ($1, $2, $3, $4, $5, $6, $7, now())`,
        [id, tenantId, email, email, await hash(password), roles, status],
      );
      return id;
    }
    async function login(slug: string, email: string) {
      return t.request(LoginDocument, { input: { tenant: slug, email, password } });
    }

    beforeAll(async () => {
      const email = "analyst@sec-a.example";
      const id = await insertUser(a.tenantId, email, ["ANALYST"]);
      const res = await login("sec-a", email);
      expect(res.errors).toBeUndefined();
      analyst = { id, email, token: res.data!.login.accessToken };
    });

    it("an ANALYST has only sync:pull", async () => {
      const me = (await ok(t.request(MyPermissionsDocument, {}, analyst.token))).me;
      expect(me).toEqual({ id: analyst.id, email: analyst.email, roles: ["ANALYST"], permissions: ["sync:pull"] });
    });

    it("an ANALYST cannot createConnector (FORBIDDEN) and nothing is written", async () => {
      const before = (await ok(t.request(ConnectorsDocument, {}, a.token))).connectors;
      const res = await t.request(CreateConnectorDocument, { input: { kind: "ODOO", name: "Analyst's", baseUrl: "https://analyst.example" } }, analyst.token);
      expect(res.data ?? null).toBeNull();
      expect(codesOf(res)).toEqual(["FORBIDDEN"]);
      expect((await ok(t.request(ConnectorsDocument, {}, a.token))).connectors).toEqual(before);
    });

    it("an ANALYST cannot startSyncRun or updateSyncRunProgress (FORBIDDEN) and nothing changes", async () => {
      const before = (await ok(t.request(SyncRunListDocument, { limit: 200 }, a.token))).syncRuns.nodes;
      const start = await t.request(StartSyncRunDocument, { input: { kind: "CONNECTOR", connectorId: A.connectorIds[0]! } }, analyst.token);
      expect(codesOf(start)).toEqual(["FORBIDDEN"]);
      const update = await t.request(UpdateSyncRunProgressDocument, { id: A.runIds[0]!, input: { status: "FAILED" } }, analyst.token);
      expect(codesOf(update)).toEqual(["FORBIDDEN"]);
      expect((await ok(t.request(SyncRunListDocument, { limit: 200 }, a.token))).syncRuns.nodes).toEqual(before);
    });

    it("an ANALYST can read runs and connectors, but not the audit log or the user list", async () => {
      const runs = (await ok(t.request(SyncRunListDocument, { limit: 200 }, analyst.token))).syncRuns.nodes;
      expect(runs.map((r) => r.id).sort()).toEqual(expect.arrayContaining(A.runIds));
      expect((await ok(t.request(ConnectorsDocument, {}, analyst.token))).connectors).toHaveLength(A.connectorIds.length);
      expect(codesOf(await t.request(AuditEventListDocument, { limit: 10 }, analyst.token))).toEqual(["FORBIDDEN"]);
      expect(codesOf(await t.request(TenantUsersDocument, {}, analyst.token))).toEqual(["FORBIDDEN"]);
    });

    it("a user with no roles can sign in but reads nothing permission-guarded", async () => {
      const email = "norole@sec-a.example";
      await insertUser(a.tenantId, email, []);
      const res = await login("sec-a", email);
      expect(res.errors).toBeUndefined();
      const token = res.data!.login.accessToken;
      expect(res.data!.login.user.permissions).toEqual([]);
      expect(codesOf(await t.request(SyncRunListDocument, { limit: 10 }, token))).toEqual(["FORBIDDEN"]);
      expect(codesOf(await t.request(SyncRunDetailDocument, { id: A.runIds[0]! }, token))).toEqual(["FORBIDDEN"]);
    });

    it("a disabled user with the right password → FORBIDDEN, audited as user_disabled", async () => {
      const email = "disabled@sec-a.example";
      const id = await insertUser(a.tenantId, email, ["ADMIN"], "DISABLED");
      const res = await login("sec-a", email);
      expect(res.data ?? null).toBeNull();
      expect(codesOf(res)).toEqual(["FORBIDDEN"]);
      const event = await waitUntil(async () => {
        const r = await t.request(AuditEventListDocument, { limit: 50, actionPrefix: "auth.login.failed" }, a.token);
        return r.data?.auditEvents.nodes.find((e) => e.targetId === id);
      }, "auth.login.failed for the disabled user");
      expect(event.metadata).toMatchObject({ reason: "user_disabled" });
    });

    it("a suspended tenant's users cannot sign in → TENANT_SUSPENDED", async () => {
      const suspended = await t.tenant("sec-suspended");
      const email = "member@sec-suspended.example";
      await insertUser(suspended.tenantId, email, ["ADMIN"]);
      await db.query(`update tenants.tenant set status = 'SUSPENDED' where id = $1`, [suspended.tenantId]);
      const res = await login("sec-suspended", email);
      expect(res.data ?? null).toBeNull();
      expect(codesOf(res)).toEqual(["TENANT_SUSPENDED"]);
    });
  });
});
