// Connectors through the gateway: write-only credentials sealed at rest, settings and mapping validation, and the run
// lifecycle that needs no remote (no workers in this stack: runs stay QUEUED): one run per connector and model,
// cancellation, option checks, tenant isolation.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import {
  AuditEventsPageDocument,
  CancelSyncDocument,
  ConnectorStateDocument,
  CreateConnectorFullDocument,
  CreateConnectorMappingDocument,
  ConnectorsDocument,
  DeleteConnectorDocument,
  StartSyncDocument,
  TestConnectionDocument,
  UpdateConnectorDocument,
  UpdateConnectorMappingDocument,
  type CreateMappingInput,
} from "../__generated__/graphql.js";
import { Plan } from "../../subgraphs/tenants/tenant/tenant.entity.js";
import { startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";
import { codesOf, waitUntil } from "./e2e-helpers.js";

const ODOO_PASSWORD = "s3cret-Odoo-password-never-shown";
const MOODLE_TOKEN = "0123456789abcdef0123456789abcdef";

const partners: CreateMappingInput = {
  remoteModel: "res.partner",
  collection: "partners",
  fieldMap: [
    { field: "name", remote: "name" },
    { field: "email", remote: "email" },
    { field: "countryId", remote: "country_id", convert: "MANY2ONE_ID" as const },
    { field: "updatedAt", remote: "write_date", convert: "DATETIME" as const },
  ],
};

describe("connectors", () => {
  let t: TestStack;
  let a: TenantLogin;
  let b: TenantLogin;
  let odooId: string;

  beforeAll(async () => {
    t = await startTestStack({ connectors: { connectorJobs: { workers: 0 } } });
    [a, b] = await Promise.all([t.tenant("conn-a"), t.tenant("conn-b")]);
    const res = await t.request(
      CreateConnectorFullDocument,
      {
        input: {
          kind: "ODOO" as const,
          name: "ERP",
          baseUrl: "http://127.0.0.1:9/",
          credentials: { database: "prod", login: "sync@example.com", password: ODOO_PASSWORD },
          settings: { timeoutMs: 5_000, requestsPerSecond: 50 },
          allowedCalls: ["res.partner.search_read"],
        },
      },
      a.token,
    );
    expect(res.errors).toBeUndefined();
    odooId = res.data!.createConnector.id;
  }, 120_000);
  afterAll(() => t?.stop());

  it("keeps credentials write-only: never in an answer, sealed (not plain) in the database", async () => {
    const created = await t.request(ConnectorStateDocument, { id: odooId }, a.token);
    expect(created.data?.connector.hasCredentials).toBe(true);
    expect(JSON.stringify(created)).not.toContain(ODOO_PASSWORD);
    const db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query("select encrypted_credentials from connectors.connector where id = $1", [odooId]);
      const sealed = String(rows[0].encrypted_credentials);
      expect(sealed).toMatch(/^v1\./);
      expect(sealed).not.toContain(ODOO_PASSWORD);
      expect(Buffer.from(sealed.split(".")[3]!, "base64url").toString("latin1")).not.toContain(ODOO_PASSWORD);
    } finally {
      await db.end();
    }
    // Replacing them changes the timestamp and still returns nothing secret.
    const before = (await t.request(UpdateConnectorDocument, { id: odooId, input: { name: "ERP" } }, a.token)).data!.updateConnector.credentialsUpdatedAt;
    const updated = await t.request(UpdateConnectorDocument, { id: odooId, input: { credentials: { database: "prod", login: "sync@example.com", password: "rotated-" + ODOO_PASSWORD } } }, a.token);
    expect(updated.errors).toBeUndefined();
    expect(Date.parse(updated.data!.updateConnector.credentialsUpdatedAt!)).toBeGreaterThanOrEqual(Date.parse(before!));
    expect(JSON.stringify(updated)).not.toContain("rotated-");
  });

  it("refuses bad connector input with BAD_USER_INPUT and stores nothing", async () => {
    const cases = [
      { kind: "ODOO" as const, name: "x", baseUrl: "http://h/", credentials: { database: "d", password: "p" } },
      { kind: "MOODLE" as const, name: "x", baseUrl: "http://h/", credentials: { token: MOODLE_TOKEN, password: "p" } },
      { kind: "MOODLE" as const, name: "x", baseUrl: "ftp://h/" },
      { kind: "MOODLE" as const, name: "x", baseUrl: "http://user:pw@h/" },
      { kind: "MOODLE" as const, name: "x", baseUrl: "http://h/", settings: { timeoutMs: 10 } },
      { kind: "MOODLE" as const, name: "x", baseUrl: "http://h/", settings: { requestsPerSecond: 0 } },
      { kind: "MOODLE" as const, name: "x", baseUrl: "http://h/", allowedCalls: ["drop table"] },
    ];
    for (const input of cases) {
      const res = await t.request(CreateConnectorFullDocument, { input }, a.token);
      expect({ input, codes: codesOf(res) }).toEqual({ input, codes: ["BAD_USER_INPUT"] });
    }
    const list = await t.request(ConnectorStateDocument, { id: odooId }, a.token);
    expect(list.errors).toBeUndefined();
  });

  it("validates mappings: model names, field maps, conversions per kind, cron, duplicates", async () => {
    const moodle = (await t.request(CreateConnectorFullDocument, { input: { kind: "MOODLE" as const, name: "LMS", baseUrl: "http://127.0.0.1:9/", credentials: { token: MOODLE_TOKEN } } }, a.token)).data!
      .createConnector.id;
    const bad: [string, CreateMappingInput][] = [
      [odooId, { ...partners, remoteModel: "Partner; drop" }],
      [moodle, { ...partners, remoteModel: "res.partner" }],
      [odooId, { ...partners, collection: "bad name!" }],
      [odooId, { ...partners, fieldMap: [] }],
      [odooId, { ...partners, fieldMap: [{ field: "a", remote: "name" }, { field: "a", remote: "email" }] }],
      [odooId, { ...partners, fieldMap: [{ field: "_deleted", remote: "active" }] }],
      [odooId, { ...partners, fieldMap: [{ field: "t", remote: "timemodified", convert: "UNIX_TIME" as const }] }],
      [moodle, { remoteModel: "course", collection: "courses", fieldMap: [{ field: "c", remote: "category", convert: "MANY2ONE_ID" as const }] }],
      [odooId, { ...partners, schedule: "every day" }],
      [odooId, { ...partners, schedule: "61 * * * *" }],
    ];
    for (const [connectorId, input] of bad) {
      const res = await t.request(CreateConnectorMappingDocument, { connectorId, input }, a.token);
      expect({ input, codes: codesOf(res) }).toEqual({ input, codes: ["BAD_USER_INPUT"] });
    }
    const ok = await t.request(CreateConnectorMappingDocument, { connectorId: odooId, input: { ...partners, schedule: "*/15 * * * *" } }, a.token);
    expect(ok.errors).toBeUndefined();
    expect(ok.data!.createConnectorMapping).toMatchObject({ remoteModel: "res.partner", collection: "partners", direction: "INBOUND", schedule: "*/15 * * * *", enabled: true });
    expect(codesOf(await t.request(CreateConnectorMappingDocument, { connectorId: odooId, input: partners }, a.token))).toEqual(["CONFLICT"]);
    const unscheduled = await t.request(UpdateConnectorMappingDocument, { id: ok.data!.createConnectorMapping.id, input: { schedule: "" } }, a.token);
    expect(unscheduled.data?.updateConnectorMapping.schedule).toBeNull();
    const moodleCourses = await t.request(
      CreateConnectorMappingDocument,
      { connectorId: moodle, input: { remoteModel: "course", collection: "courses", fieldMap: [{ field: "name", remote: "fullname" }, { field: "modified", remote: "timemodified", convert: "UNIX_TIME" as const }] } },
      a.token,
    );
    expect(moodleCourses.errors).toBeUndefined();
    const state = await t.request(ConnectorStateDocument, { id: odooId }, a.token);
    expect(state.data!.connector.mappings.map((m) => m.remoteModel)).toEqual(["res.partner"]);
  });

  it("queues one run per connector and model, refuses a duplicate, cancels, and checks options", async () => {
    const started = await t.request(StartSyncDocument, { connectorId: odooId, options: { batchSize: 200 } }, a.token);
    expect(started.errors).toBeUndefined();
    const run = started.data!.startSync;
    expect(run).toMatchObject({ kind: "CONNECTOR", status: "QUEUED", actorType: "USER", collections: ["partners"], processed: 0 });
    expect(run.parameters).toMatchObject({ batchSize: 200, full: false, dryRun: false, models: ["res.partner"] });

    const again = await t.request(StartSyncDocument, { connectorId: odooId }, a.token);
    expect(codesOf(again)).toEqual(["CONFLICT"]);
    expect(again.errors?.[0]?.extensions).toMatchObject({ reason: "SYNC_ALREADY_RUNNING", runId: run.id });
    // A connector with a live run cannot be deleted.
    expect(codesOf(await t.request(DeleteConnectorDocument, { id: odooId }, a.token))).toEqual(["CONFLICT"]);

    // Another tenant can neither see nor stop it.
    expect(codesOf(await t.request(CancelSyncDocument, { runId: run.id }, b.token))).toEqual(["NOT_FOUND"]);
    expect(codesOf(await t.request(StartSyncDocument, { connectorId: odooId }, b.token))).toEqual(["NOT_FOUND"]);

    const cancelled = await t.request(CancelSyncDocument, { runId: run.id }, a.token);
    expect(cancelled.errors).toBeUndefined();
    expect(cancelled.data!.cancelSync).toMatchObject({ id: run.id, status: "CANCELLED" });
    expect(cancelled.data!.cancelSync.finishedAt).not.toBeNull();
    expect(codesOf(await t.request(CancelSyncDocument, { runId: run.id }, a.token))).toEqual(["CONFLICT"]);
    expect(codesOf(await t.request(CancelSyncDocument, { runId: "not-a-uuid" }, a.token))).toEqual(["NOT_FOUND"]);

    const badOptions = [
      { batchSize: 0 },
      { batchSize: 5_001 },
      { maxRecords: 0 },
      { since: new Date(Date.now() + 3_600_000).toISOString() },
      { full: true, since: new Date(0).toISOString() },
      { models: ["sale.order"] },
    ];
    for (const options of badOptions) {
      expect({ options, codes: codesOf(await t.request(StartSyncDocument, { connectorId: odooId, options }, a.token)) }).toEqual({ options, codes: ["BAD_USER_INPUT"] });
    }
    // Starting and cancelling are audited (each with the change's transaction), on the run.
    const audited = await waitUntil(async () => {
      const page = await t.request(AuditEventsPageDocument, { filter: { targetType: "SyncRun", targetId: run.id }, first: 10 }, a.token);
      const actions = page.data?.auditEvents.nodes.map((e) => e.action).sort() ?? [];
      return actions.length >= 2 ? actions : null;
    }, "the run's audit events", 15_000, 100);
    expect(audited).toEqual(["sync.cancelled", "sync.started"]);

    // The lock was released by the cancellation: a new run can start.
    const next = await t.request(StartSyncDocument, { connectorId: odooId, options: { full: true, dryRun: true } }, a.token);
    expect(next.errors).toBeUndefined();
    await t.request(CancelSyncDocument, { runId: next.data!.startSync.id }, a.token);
  });

  it("reports a missing or unreachable remote as data from testConnection", async () => {
    const bare = (await t.request(CreateConnectorFullDocument, { input: { kind: "ODOO" as const, name: "bare", baseUrl: "http://127.0.0.1:9/" } }, a.token)).data!.createConnector;
    expect(bare.hasCredentials).toBe(false);
    const res = await t.request(TestConnectionDocument, { id: bare.id }, a.token);
    expect(res.data?.testConnection).toMatchObject({ ok: false, errorCode: "NO_CREDENTIALS" });
    expect(codesOf(await t.request(TestConnectionDocument, { id: bare.id }, b.token))).toEqual(["NOT_FOUND"]);
    const deleted = await t.request(DeleteConnectorDocument, { id: bare.id }, a.token);
    expect(deleted.data?.deleteConnector).toBe(true);
    expect(codesOf(await t.request(ConnectorStateDocument, { id: bare.id }, a.token))).toEqual(["NOT_FOUND"]);
  });

  it("caps connectors at the plan's limit: PLAN_LIMIT_REACHED, nothing created, not even when asked twice at once; deleting one frees its place", async () => {
    const free = await t.tenant("conn-free", Plan.FREE);
    const create = (name: string) =>
      t.request(CreateConnectorFullDocument, { input: { kind: "MOODLE" as const, name, baseUrl: "http://127.0.0.1:9/", credentials: { token: "t".repeat(32) } } }, free.token);
    const first = await create("Only one");
    expect(first.errors).toBeUndefined();
    const second = await create("One too many");
    expect(codesOf(second)).toEqual(["PLAN_LIMIT_REACHED"]);
    expect(second.errors?.[0]?.extensions).toMatchObject({ limit: "connectors", max: 1 });
    const listed = async () => (await t.request(ConnectorsDocument, {}, free.token)).data!.connectors.map((c) => c.name);
    expect(await listed()).toEqual(["Only one"]);
    // Two at once after the place is freed: exactly one gets it.
    expect((await t.request(DeleteConnectorDocument, { id: first.data!.createConnector.id }, free.token)).errors).toBeUndefined();
    const raced = await Promise.all([create("Racer 1"), create("Racer 2")]);
    expect(raced.map((r) => codesOf(r).join() || "created").sort()).toEqual(["PLAN_LIMIT_REACHED", "created"]);
    expect(await listed()).toHaveLength(1);
  });
});
