// Outbound write-back end to end: clients push to collections mapped BOTH, through the gateway, and the connectors
// service writes the changes to the Odoo and Moodle simulators (real JSON-RPC and REST) — creates linked to their
// records (the next inbound run updates the same record, no twin), updates and deletes, no echo of inbound runs,
// per-record remote errors on an OUTBOUND SyncRun visible through syncRuns/syncRun, transient failures retried until
// they succeed, and a create whose answer was lost found again by its mark instead of being created twice.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import {
  ConnectorRunDocument,
  ConnectorRunUpdatedDocument,
  ConnectorSyncRunsDocument,
  CreateCollectionDocument,
  CreateConnectorFullDocument,
  CreateConnectorMappingDocument,
  PushChangesDocument,
  StartSyncDocument,
  type RunProgressFragment,
} from "../__generated__/graphql.js";
import { startMoodleSimulator, type MoodleSimulator } from "../../simulators/moodle/moodle.simulator.js";
import { startOdooSimulator, type OdooSimulator } from "../../simulators/odoo/odoo.simulator.js";
import { defaultSourceBuilders } from "../../subgraphs/connectors/connector/source-builders.js";
import { OdooClient } from "../../subgraphs/connectors/odoo/odoo.client.js";
import { OdooSource } from "../../subgraphs/connectors/odoo/odoo.source.js";
import { SyncApi, SyncApiError, type RecordChange } from "../../subgraphs/connectors/jobs/sync-api.js";
import { startConnectorsProcess, startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";
import { Feed, pulledState, waitUntil } from "./e2e-helpers.js";

const FINAL = ["SUCCEEDED", "PARTIAL", "FAILED", "CANCELLED"];

/** When set, the next Odoo create is held after the remote answered (before the connector stores its link). */
let holdCreate: { reached: () => void; released: Promise<void> } | null = null;

/** What the outbound writer sent to Odoo `write`, by remote id (the last call each). */
const odooWrites = new Map<string, Record<string, unknown>>();

/** The real OdooSource, with a gate between Odoo's answer to a create and the caller seeing it. */
class GatedOdooSource extends OdooSource {
  override async update(model: string, remoteId: string, fields: Record<string, unknown>, signal?: AbortSignal): Promise<void> {
    odooWrites.set(remoteId, fields);
    return super.update(model, remoteId, fields, signal);
  }

  override async create(model: string, fields: Record<string, unknown>, signal?: AbortSignal): Promise<string> {
    const id = await super.create(model, fields, signal);
    const gate = holdCreate;
    if (gate) {
      holdCreate = null;
      gate.reached();
      await gate.released;
    }
    return id;
  }
}

type Doc = { id: string; _deleted?: boolean } & Record<string, unknown>;

describe("outbound write-back to the Odoo and Moodle simulators", () => {
  let t: TestStack;
  let a: TenantLogin;
  let odoo: OdooSimulator;
  let moodle: MoodleSimulator;
  let odooId: string;
  let moodleId: string;
  let countryId: number;

  const calls = (method: string) => odoo.stats.calls[`object.${method}`] ?? 0;
  const partnerByRef = (ref: string) => {
    const ids = odoo.store.ids("res.partner").filter((id) => odoo.store.row("res.partner", id)?.ref === ref);
    return ids.map((id) => odoo.store.row("res.partner", id)!);
  };
  const courseByShortname = (shortname: string) => [...moodle.store.courses.values()].filter((c) => c.shortname === shortname);

  async function push(collection: string, docs: Record<string, unknown>[]): Promise<void> {
    const res = await t.request(
      PushChangesDocument,
      { input: { collection, strategy: "CLIENT_WINS", rows: docs.map((d) => ({ assumedMasterState: null, newDocumentState: d })) } },
      a.token,
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!.pushChanges.rejected).toEqual([]);
    expect(res.data!.pushChanges.applied).toBe(docs.length);
  }

  async function live(collection: string): Promise<Map<string, Doc>> {
    const { state } = await pulledState<Doc>(t.url, a.token, collection);
    return new Map([...state].filter(([, d]) => !d._deleted));
  }

  async function outboundRuns(connectorId: string): Promise<RunProgressFragment[]> {
    const res = await t.request(ConnectorSyncRunsDocument, { connectorId, first: 200 }, a.token);
    expect(res.errors).toBeUndefined();
    return res.data!.syncRuns.nodes.filter((r) => (r.parameters as { direction?: string } | null)?.direction === "OUTBOUND");
  }

  /** The finished OUTBOUND run that wrote (or failed) `recordId`'s change: found by its counts changing. */
  async function finishedOutbound(connectorId: string, known: Set<string>, what: string): Promise<RunProgressFragment[]> {
    return waitUntil(
      async () => {
        const runs = (await outboundRuns(connectorId)).filter((r) => !known.has(r.id));
        return runs.length && runs.every((r) => FINAL.includes(r.status)) ? runs : null;
      },
      what,
      30_000,
      100,
    );
  }

  async function inbound(connectorId: string, options: Record<string, unknown> = {}): Promise<RunProgressFragment> {
    const started = await t.request(StartSyncDocument, { connectorId, options }, a.token);
    if (!started.data) throw new Error(`startSync failed: ${JSON.stringify(started.errors)}`);
    const feed = new Feed(t.ws(a.token), ConnectorRunUpdatedDocument, { id: started.data.startSync.id });
    const end = await waitUntil(() => feed.results.map((r) => r.data?.syncRunUpdated).find((s) => s && FINAL.includes(s.status)), "the inbound run to finish", 60_000);
    await feed.close();
    return end!;
  }

  beforeAll(async () => {
    odoo = await startOdooSimulator({ seed: { seed: 11, partners: 40, products: 0, orders: 0, archivedRatio: 0 } });
    moodle = await startMoodleSimulator({ seed: { courses: 5, users: 3, enrolmentsPerCourse: 0, seed: 3 } });
    t = await startTestStack({
      connectors: {
        connectorJobs: { workers: 2, pollingIntervalSeconds: 0.5 },
        connectorSources: {
          ...defaultSourceBuilders,
          ODOO: ({ baseUrl, credentials, call }) =>
            new GatedOdooSource({ client: new OdooClient({ url: baseUrl, db: credentials.database, login: credentials.login, password: credentials.password, ...call }) }),
        },
      },
    });
    a = await t.tenant("outbound");
    countryId = odoo.store.ids("res.country")[0]!;
    for (const name of ["contacts", "courses"]) expect((await t.request(CreateCollectionDocument, { input: { name } }, a.token)).errors).toBeUndefined();

    const erp = await t.request(
      CreateConnectorFullDocument,
      // No retries in the client: the outbound loop's own retries are what the transient-failure test exercises.
      { input: { kind: "ODOO", name: "ERP", baseUrl: odoo.url, credentials: { database: odoo.db, login: odoo.adminLogin, password: odoo.apiKey }, settings: { retries: 0, timeoutMs: 5_000 } } },
      a.token,
    );
    expect(erp.errors).toBeUndefined();
    odooId = erp.data!.createConnector.id;
    const partners = await t.request(
      CreateConnectorMappingDocument,
      {
        connectorId: odooId,
        input: {
          remoteModel: "res.partner",
          collection: "contacts",
          direction: "BOTH",
          fieldMap: [
            { field: "name", remote: "name" },
            { field: "email", remote: "email" },
            { field: "countryId", remote: "country_id", convert: "MANY2ONE_ID" },
            { field: "country", remote: "country_id", convert: "MANY2ONE_NAME" },
          ],
        },
      },
      a.token,
    );
    expect(partners.errors).toBeUndefined();

    const lms = await t.request(
      CreateConnectorFullDocument,
      { input: { kind: "MOODLE", name: "LMS", baseUrl: moodle.url, credentials: { token: moodle.tokens.admin }, settings: { retries: 0, timeoutMs: 5_000 } } },
      a.token,
    );
    expect(lms.errors).toBeUndefined();
    moodleId = lms.data!.createConnector.id;
    const courses = await t.request(
      CreateConnectorMappingDocument,
      {
        connectorId: moodleId,
        input: {
          remoteModel: "course",
          collection: "courses",
          direction: "BOTH",
          fieldMap: [
            { field: "name", remote: "fullname" },
            { field: "code", remote: "shortname" },
            { field: "startsAt", remote: "startdate", convert: "UNIX_TIME" },
          ],
        },
      },
      a.token,
    );
    expect(courses.errors).toBeUndefined();
  }, 120_000);

  afterAll(async () => {
    await t?.stop();
    await odoo?.close();
    await moodle?.close();
  });

  it("an inbound run's records are not echoed back: the simulator sees no write from them", async () => {
    odoo.resetStats();
    const active = odoo.store.ids("res.partner", { active: true }).length;
    const run = await inbound(odooId, { full: true });
    expect(run).toMatchObject({ status: "SUCCEEDED", created: active });
    // A client record pushed after them: once it reaches Odoo, the loop has gone past every inbound record (seq order).
    await push("contacts", [{ id: "c-marker", name: "Marker" }]);
    await waitUntil(() => partnerByRef("c-marker").length === 1, "the marker partner in Odoo", 30_000, 50);
    expect(calls("create")).toBe(1);
    expect(calls("write")).toBe(0);
    expect(calls("unlink")).toBe(0);
    const runs = await finishedOutbound(odooId, new Set(), "the marker's outbound run");
    expect(runs.reduce((n, r) => n + r.processed, 0)).toBe(1);
  }, 120_000);

  it("sync's internal changes API: latest state per record in seq order, pages that join up, the writer's connector, typed refusals", async () => {
    const api = new SyncApi(t.stack.sync.url, t.secrets.internal);
    const all: RecordChange[] = [];
    let after: string | null = null;
    for (;;) {
      const page = await api.changes({ tenantId: a.tenantId, collection: "contacts", after, limit: 7 });
      all.push(...page.changes);
      after = page.next;
      if (!page.hasMore) break;
      expect(page.changes).toHaveLength(7);
    }
    const whole = await api.changes({ tenantId: a.tenantId, collection: "contacts", after: null, limit: 1000 });
    expect(all).toEqual(whole.changes);
    expect(whole.hasMore).toBe(false);
    const state = await live("contacts");
    expect(new Set(all.map((c) => c.id))).toEqual(new Set(state.keys()));
    expect(all).toHaveLength(state.size);
    for (let i = 1; i < all.length; i++) expect(BigInt(all[i]!.seq)).toBeGreaterThan(BigInt(all[i - 1]!.seq));
    for (const c of all) {
      expect(c.originConnectorId).toBe(c.id === "c-marker" ? null : odooId);
      const { _deleted, ...doc } = state.get(c.id)!;
      expect(c.data).toEqual(doc);
      expect(c.deleted).toBe(false);
    }
    // Nothing after the head; the head is kept as the position.
    expect(await api.changes({ tenantId: a.tenantId, collection: "contacts", after: whole.next, limit: 10 })).toEqual({ changes: [], next: whole.next, hasMore: false });

    const refused = async (body: Parameters<SyncApi["changes"]>[0]) => {
      const err = await api.changes(body).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(SyncApiError);
      return { status: (err as SyncApiError).status, code: (err as SyncApiError).code };
    };
    expect(await refused({ tenantId: a.tenantId, collection: "contacts", after: "not-a-position", limit: 10 })).toEqual({ status: 400, code: "BAD_USER_INPUT" });
    expect(await refused({ tenantId: a.tenantId, collection: "contacts", after: null, limit: 1001 })).toEqual({ status: 400, code: "BAD_USER_INPUT" });
    expect(await refused({ tenantId: a.tenantId, collection: "contacts", after: null, limit: 0 })).toEqual({ status: 400, code: "BAD_USER_INPUT" });
    expect(await refused({ tenantId: a.tenantId, collection: "no-such-collection", after: null, limit: 10 })).toEqual({ status: 404, code: "NOT_FOUND" });
    const anonymous = await fetch(new URL("/internal/connector-runs/changes", t.stack.sync.url), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ tenantId: a.tenantId, collection: "contacts", after: null, limit: 10 }),
    });
    expect(anonymous.status).toBe(401);
  }, 60_000);

  it("a client's new record is created in Odoo and linked: the next inbound run updates it (no twin)", async () => {
    const known = new Set((await outboundRuns(odooId)).map((r) => r.id));
    await push("contacts", [{ id: "c-new", name: "Client Made", email: "client@example.com", countryId }]);
    const [partner] = await waitUntil(() => (partnerByRef("c-new").length ? partnerByRef("c-new") : null), "the partner in Odoo", 30_000, 50);
    expect(partner).toMatchObject({ name: "Client Made", email: "client@example.com", country_id: countryId, ref: "c-new" });
    const [run] = await finishedOutbound(odooId, known, "the create's outbound run");
    expect(run).toMatchObject({ kind: "CONNECTOR", actorType: "CONNECTOR", status: "SUCCEEDED", processed: 1, created: 1, failed: 0, collections: ["contacts"] });
    expect(run!.parameters).toMatchObject({ direction: "OUTBOUND", collection: "contacts", model: "res.partner" });

    // Changed in Odoo, then an inbound run: the same record "c-new" changes; no record under the partner's Odoo id.
    odoo.store.write("res.partner", [partner!.id as number], { email: "changed-in-odoo@example.com" });
    const back = await inbound(odooId);
    expect(back.status).toBe("SUCCEEDED");
    const now = await live("contacts");
    expect(now.get("c-new")).toMatchObject({ name: "Client Made", email: "changed-in-odoo@example.com", countryId, country: expect.any(String) });
    expect(now.has(String(partner!.id))).toBe(false);
    expect(now.size).toBe(odoo.store.ids("res.partner", { active: true }).length);
    // And a full run (reconciliation) keeps it: its link was seen live.
    expect((await inbound(odooId, { full: true })).status).toBe("SUCCEEDED");
    expect((await live("contacts")).get("c-new")).toMatchObject({ email: "changed-in-odoo@example.com" });
  }, 120_000);

  it("updates and deletes propagate, for client-made and inbound records alike", async () => {
    const [made] = partnerByRef("c-new");
    // An inbound record (its id is the partner's) of a seeded contact that no other partner points to (deletable).
    const all = odoo.store.ids("res.partner");
    const inboundIds = [...(await live("contacts")).keys()].filter((id) => /^\d+$/.test(id)).map(Number);
    const inboundId = String(inboundIds.filter((id) => id > 6 && !all.some((o) => odoo.store.row("res.partner", o)?.parent_id === id)).pop());
    expect(inboundId).toMatch(/^\d+$/);
    await push("contacts", [
      { id: "c-new", name: "Renamed by client", email: "changed-in-odoo@example.com", countryId: null },
      { id: inboundId, name: "Inbound renamed", email: null, countryId },
    ]);
    await waitUntil(() => odoo.store.row("res.partner", made!.id as number)?.name === "Renamed by client", "the update in Odoo", 30_000, 50);
    await waitUntil(() => odoo.store.row("res.partner", Number(inboundId))?.name === "Inbound renamed", "the inbound record's update", 30_000, 50);
    expect(odoo.store.row("res.partner", made!.id as number)?.country_id).toBe(false);
    // Only what the client changed against what the last inbound run read: the unchanged email is not written.
    expect(odooWrites.get(String(made!.id))).toEqual({ name: "Renamed by client", country_id: false });
    expect(odoo.store.row("res.partner", Number(inboundId))).toMatchObject({ email: false, country_id: countryId });

    await push("contacts", [
      { id: "c-new", _deleted: true },
      { id: inboundId, _deleted: true },
    ]);
    await waitUntil(() => !odoo.store.row("res.partner", made!.id as number) && !odoo.store.row("res.partner", Number(inboundId)), "the deletes in Odoo", 30_000, 50);
    // Deleting what is already gone remotely writes nothing more, and nothing comes back on the next full run.
    expect((await inbound(odooId, { full: true })).status).toBe("SUCCEEDED");
    const now = await live("contacts");
    expect(now.has("c-new")).toBe(false);
    expect(now.has(inboundId)).toBe(false);
  }, 120_000);

  it("a transient 503 is retried with backoff and then succeeds, in one run", async () => {
    const known = new Set((await outboundRuns(odooId)).map((r) => r.id));
    const before = { create: calls("create"), faults: odoo.stats.faultsInjected };
    odoo.faults.failNext(2, { kind: "http", status: 503 }, { method: "create", model: "res.partner" });
    await push("contacts", [{ id: "c-retry", name: "After two 503s" }]);
    await waitUntil(() => partnerByRef("c-retry").length === 1, "the partner after retries", 30_000, 50);
    expect(odoo.stats.faultsInjected - before.faults).toBe(2);
    expect(calls("create") - before.create).toBe(3);
    const runs = await finishedOutbound(odooId, known, "the retried run");
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ status: "SUCCEEDED", created: 1, failed: 0, errorCount: 0 });
  }, 60_000);

  it("a create whose answer was lost (applied, then 502) is found by its mark and linked, not created twice", async () => {
    const before = calls("create");
    odoo.faults.add({ method: "create", model: "res.partner", fault: { kind: "http", status: 502 }, afterServe: true });
    await push("contacts", [{ id: "c-lost", name: "Lost answer" }]);
    await waitUntil(() => odoo.stats.faultsInjected > 0 && partnerByRef("c-lost").length > 0, "the applied create", 30_000, 50);
    // The link is stored once the loop finds it: an update of the record then reaches that partner.
    await push("contacts", [{ id: "c-lost", name: "Lost answer, updated" }]);
    await waitUntil(() => partnerByRef("c-lost")[0]?.name === "Lost answer, updated", "the update of the found partner", 30_000, 50);
    expect(partnerByRef("c-lost")).toHaveLength(1);
    expect(calls("create") - before).toBe(1);
  }, 60_000);

  it("an inbound run that reads a new partner before its link is stored: the twin it made is removed", async () => {
    let reached!: () => void;
    let release!: () => void;
    const atCreate = new Promise<void>((resolve) => (reached = resolve));
    holdCreate = { reached, released: new Promise<void>((resolve) => (release = resolve)) };
    await push("contacts", [{ id: "c-race", name: "Raced" }]);
    await Promise.race([atCreate, new Promise((_, reject) => setTimeout(() => reject(new Error("the create never came")), 30_000))]);
    const [partner] = partnerByRef("c-race");
    // Odoo has the partner, the connector has not linked it yet: an inbound run stores it under its Odoo id.
    expect((await inbound(odooId)).status).toBe("SUCCEEDED");
    expect((await live("contacts")).has(String(partner!.id))).toBe(true);
    release();
    await waitUntil(async () => !(await live("contacts")).has(String(partner!.id)), "the twin removed", 30_000, 100);
    expect((await live("contacts")).get("c-race")).toMatchObject({ name: "Raced" });
    // From now on the partner is the record "c-race" both ways.
    odoo.store.write("res.partner", [partner!.id as number], { name: "Raced, renamed in Odoo" });
    expect((await inbound(odooId)).status).toBe("SUCCEEDED");
    const now = await live("contacts");
    expect(now.get("c-race")).toMatchObject({ name: "Raced, renamed in Odoo" });
    expect(now.has(String(partner!.id))).toBe(false);
    expect(partnerByRef("c-race")).toHaveLength(1);
  }, 90_000);

  it("a document value the field map cannot convert is a per-record error; the next changes still go out", async () => {
    const known = new Set((await outboundRuns(odooId)).map((r) => r.id));
    await push("contacts", [
      { id: "c-bad", name: "Bad country", countryId: "France" },
      { id: "c-good", name: "Fine" },
    ]);
    await waitUntil(() => partnerByRef("c-good").length === 1, "the good record", 30_000, 50);
    expect(partnerByRef("c-bad")).toHaveLength(0);
    const runs = await finishedOutbound(odooId, known, "the run with the bad record");
    const errors = runs.flatMap((r) => r.errors);
    expect(errors).toEqual([expect.objectContaining({ recordId: "c-bad", collection: "contacts", code: "BAD_FIELD_VALUE" })]);
    expect(runs.find((r) => r.errors.length)!.status).toBe("PARTIAL");
  }, 60_000);

  it("a write Odoo refuses (a country id that does not exist): the record takes Odoo's state back, the run keeps the error", async () => {
    const known = new Set((await outboundRuns(odooId)).map((r) => r.id));
    const contacts = await live("contacts");
    const [id, before] = [...contacts].find(([k]) => /^\d+$/.test(k))!;
    const { _deleted, ...doc } = before;
    await push("contacts", [{ ...doc, name: "Refused rename", countryId: 999_999 }]);
    const runs = await finishedOutbound(odooId, known, "the refused write's run");
    expect(runs.flatMap((r) => r.errors)).toEqual([expect.objectContaining({ recordId: id, collection: "contacts", code: "REMOTE_VALIDATION" })]);
    expect(odoo.store.row("res.partner", Number(id))?.name).toBe(doc.name);
    // Every client converges on what Odoo holds, without an inbound run: a new version with Odoo's state.
    await waitUntil(async () => (await live("contacts")).get(id)?.name === doc.name, "the record back at Odoo's state", 30_000, 100);
    expect((await live("contacts")).get(id)).toEqual(before);
    // That version came from the remote: it is not written back (no second run).
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await outboundRuns(odooId)).filter((r) => !known.has(r.id))).toHaveLength(runs.length);
  }, 60_000);

  it("an update of a partner deleted in Odoo (MissingError): the record becomes a tombstone, the run keeps the error", async () => {
    const known = new Set((await outboundRuns(odooId)).map((r) => r.id));
    const all = odoo.store.ids("res.partner");
    const [id, before] = [...(await live("contacts"))].find(
      ([k]) => /^\d+$/.test(k) && Number(k) > 6 && !all.some((o) => odoo.store.row("res.partner", o)?.parent_id === Number(k)),
    )!;
    odoo.store.unlink("res.partner", [Number(id)]);
    const { _deleted, ...doc } = before;
    await push("contacts", [{ ...doc, name: "Renamed after its deletion" }]);
    const runs = await finishedOutbound(odooId, known, "the missing record's run");
    expect(runs.flatMap((r) => r.errors)).toEqual([expect.objectContaining({ recordId: id, code: "REMOTE_NOT_FOUND" })]);
    await waitUntil(async () => !(await live("contacts")).has(id), "the record's tombstone", 30_000, 100);
  }, 60_000);

  it("credentials Odoo refuses: the change is not skipped; after repeated attempts the run ends FAILED with the reason", async () => {
    expect((await t.request(CreateCollectionDocument, { input: { name: "leads" } }, a.token)).errors).toBeUndefined();
    const wrong = await t.request(
      CreateConnectorFullDocument,
      { input: { kind: "ODOO", name: "ERP, wrong key", baseUrl: odoo.url, credentials: { database: odoo.db, login: odoo.adminLogin, password: "not-the-key" }, settings: { retries: 0, timeoutMs: 5_000 } } },
      a.token,
    );
    const wrongId = wrong.data!.createConnector.id;
    const mapped = await t.request(
      CreateConnectorMappingDocument,
      { connectorId: wrongId, input: { remoteModel: "res.partner", collection: "leads", direction: "OUTBOUND", fieldMap: [{ field: "name", remote: "name" }] } },
      a.token,
    );
    expect(mapped.errors).toBeUndefined();
    const creates = calls("create");
    await push("leads", [{ id: "l-1", name: "Never written" }]);
    // Five attempts with backoff (1 + 2 + 4 + 8 s): the run then ends with the reason, nothing recorded per record.
    const [failed] = await waitUntil(
      async () => {
        const runs = await outboundRuns(wrongId);
        return runs.length && runs.some((r) => FINAL.includes(r.status)) ? runs.filter((r) => FINAL.includes(r.status)) : null;
      },
      "the failing run to end",
      45_000,
      250,
    );
    expect(failed).toMatchObject({ status: "FAILED", processed: 0, failed: 0, errorCount: 0, collections: ["leads"] });
    expect(failed!.error).toMatch(/^AUTH: .*retried/);
    expect(calls("create")).toBe(creates);
  }, 60_000);

  it("Moodle: a course is created (idnumber = record id), a duplicate shortname is a REMOTE_VALIDATION error on an OUTBOUND run, update and delete follow", async () => {
    const known = new Set((await outboundRuns(moodleId)).map((r) => r.id));
    await push("courses", [{ id: "k-1", name: "Outbound Course", code: "OUT-1", startsAt: "2026-01-01T00:00:00.000Z" }]);
    const [course] = await waitUntil(() => (courseByShortname("OUT-1").length ? courseByShortname("OUT-1") : null), "the course in Moodle", 30_000, 50);
    expect(course).toMatchObject({ fullname: "Outbound Course", idnumber: "k-1", startdate: 1_767_225_600 });
    const [created] = await finishedOutbound(moodleId, known, "the course's run");
    expect(created).toMatchObject({ status: "SUCCEEDED", created: 1 });
    known.add(created!.id);

    await push("courses", [{ id: "k-dup", name: "Duplicate", code: "OUT-1" }]);
    const [refused] = await finishedOutbound(moodleId, known, "the duplicate's run");
    expect(refused).toMatchObject({ status: "PARTIAL", processed: 1, failed: 1, errorCount: 1 });
    expect(refused!.errors).toEqual([expect.objectContaining({ recordId: "k-dup", collection: "courses", code: "REMOTE_VALIDATION", message: expect.stringMatching(/Short name is already used/) })]);
    // The same through syncRun(id).
    const one = await t.request(ConnectorRunDocument, { id: refused!.id }, a.token);
    expect(one.data?.syncRun).toMatchObject({ id: refused!.id, status: "PARTIAL", parameters: expect.objectContaining({ direction: "OUTBOUND", model: "course" }) });
    expect(one.data?.syncRun.errors.map((e) => e.code)).toEqual(["REMOTE_VALIDATION"]);
    expect(courseByShortname("OUT-1")).toHaveLength(1);
    // Moodle has no such course: the refused record becomes a tombstone, for every client.
    await waitUntil(async () => !(await live("courses")).has("k-dup"), "the refused course's tombstone", 30_000, 100);

    // Linked: an inbound run updates "k-1", and no record appears under the Moodle course id.
    const run = await inbound(moodleId, { full: true });
    expect(run.status).toBe("SUCCEEDED");
    const now = await live("courses");
    expect(now.get("k-1")).toMatchObject({ name: "Outbound Course", code: "OUT-1" });
    expect(now.has(String(course!.id))).toBe(false);

    // An update Moodle refuses (the shortname of another course: a warning): the record takes Moodle's state back.
    const other = [...moodle.store.courses.values()].find((c) => c.id !== 1 && c.id !== course!.id)!;
    const before = (await live("courses")).get("k-1")!;
    await push("courses", [{ id: "k-1", name: "Outbound Course", code: other.shortname, startsAt: "2026-01-01T00:00:00.000Z" }]);
    await waitUntil(async () => (await live("courses")).get("k-1")?.code === "OUT-1", "k-1 back at Moodle's shortname", 30_000, 100);
    expect((await live("courses")).get("k-1")).toEqual(before);
    expect(moodle.store.courses.get(course!.id)?.shortname).toBe("OUT-1");

    await push("courses", [{ id: "k-1", name: "Renamed Course", code: "OUT-1", startsAt: "2026-01-01T00:00:00.000Z" }]);
    await waitUntil(() => moodle.store.courses.get(course!.id)?.fullname === "Renamed Course", "the course update", 30_000, 50);
    await push("courses", [{ id: "k-1", _deleted: true }]);
    await waitUntil(() => !moodle.store.courses.has(course!.id), "the course delete", 30_000, 50);
  }, 120_000);
});

describe("outbound write-back: a worker killed between Odoo's create and storing its link", () => {
  let t: TestStack;
  let a: TenantLogin;
  let odoo: OdooSimulator;

  const partnerByRef = (ref: string) => odoo.store.ids("res.partner").filter((id) => odoo.store.row("res.partner", id)?.ref === ref);

  beforeAll(async () => {
    odoo = await startOdooSimulator({ seed: { seed: 5, partners: 5, products: 0, orders: 0, archivedRatio: 0 } });
    // The stack's own connectors service runs no workers (so no outbound loop): only the child processes write.
    t = await startTestStack({ connectors: { connectorJobs: { workers: 0, pollingIntervalSeconds: 0.5 } } });
    a = await t.tenant("outbound-crash");
    expect((await t.request(CreateCollectionDocument, { input: { name: "contacts" } }, a.token)).errors).toBeUndefined();
  }, 120_000);
  afterAll(async () => {
    await t?.stop();
    await odoo?.close();
  });

  it("the next worker finds the partner by its ref, links it and finishes the run: one partner, no second create", async () => {
    const erp = await t.request(
      CreateConnectorFullDocument,
      { input: { kind: "ODOO", name: "ERP", baseUrl: odoo.url, credentials: { database: odoo.db, login: odoo.adminLogin, password: odoo.apiKey }, settings: { retries: 0, timeoutMs: 60_000 } } },
      a.token,
    );
    const connectorId = erp.data!.createConnector.id;
    const mapping = await t.request(
      CreateConnectorMappingDocument,
      { connectorId, input: { remoteModel: "res.partner", collection: "contacts", direction: "BOTH", fieldMap: [{ field: "name", remote: "name" }] } },
      a.token,
    );
    expect(mapping.errors).toBeUndefined();
    const first = await startConnectorsProcess(t, { jobs: { workers: 1, pollingIntervalSeconds: 0.5 } });
    // Odoo applies the create and never answers: the worker waits on it, its link not stored, when it is killed.
    odoo.faults.add({ method: "create", model: "res.partner", fault: { kind: "hang" }, afterServe: true });
    const pushed = await t.request(PushChangesDocument, { input: { collection: "contacts", rows: [{ assumedMasterState: null, newDocumentState: { id: "c-crash", name: "Crash" } }] } }, a.token);
    expect(pushed.data?.pushChanges.applied).toBe(1);
    await waitUntil(() => partnerByRef("c-crash").length === 1 && odoo.stats.faultsInjected === 1, "the create applied in Odoo", 30_000, 50);
    await first.kill("SIGKILL");
    const runsNow = async () =>
      (await t.request(ConnectorSyncRunsDocument, { connectorId, first: 50 }, a.token)).data!.syncRuns.nodes.filter((r) => (r.parameters as { direction?: string }).direction === "OUTBOUND");
    const [open] = await runsNow();
    expect(open).toMatchObject({ status: "RUNNING", created: 0 });

    await startConnectorsProcess(t, { jobs: { workers: 1, pollingIntervalSeconds: 0.5 } });
    const end = await waitUntil(
      async () => {
        const runs = await runsNow();
        return runs.length && runs.every((r) => FINAL.includes(r.status)) ? runs : null;
      },
      "the outbound run finished by the second worker",
      60_000,
      200,
    );
    // The same run, continued and ended by the second worker; the partner was found, not created again.
    expect(end).toHaveLength(1);
    expect(end[0]).toMatchObject({ id: open!.id, status: "SUCCEEDED", processed: 1, created: 1, failed: 0 });
    expect(partnerByRef("c-crash")).toHaveLength(1);
    expect(odoo.stats.calls["object.create"]).toBe(1);

    // Linked: a client's update reaches that partner, and an inbound run makes no twin of it.
    const [partnerId] = partnerByRef("c-crash");
    const updated = await t.request(
      PushChangesDocument,
      { input: { collection: "contacts", strategy: "CLIENT_WINS", rows: [{ assumedMasterState: null, newDocumentState: { id: "c-crash", name: "Crash, then updated" } }] } },
      a.token,
    );
    expect(updated.data?.pushChanges.applied).toBe(1);
    await waitUntil(() => odoo.store.row("res.partner", partnerId!)?.name === "Crash, then updated", "the update in Odoo", 30_000, 50);
    const started = await t.request(StartSyncDocument, { connectorId, options: { full: true } }, a.token);
    const runId = started.data!.startSync.id;
    const inbound = await waitUntil(async () => {
      const r = (await t.request(ConnectorRunDocument, { id: runId }, a.token)).data?.syncRun;
      return r && FINAL.includes(r.status) ? r : null;
    }, "the inbound run", 60_000, 200);
    expect(inbound.status).toBe("SUCCEEDED");
    const { state } = await pulledState<Doc>(t.url, a.token, "contacts");
    expect(state.get("c-crash")).toMatchObject({ name: "Crash, then updated" });
    expect(state.has(String(partnerId))).toBe(false);
    expect(partnerByRef("c-crash")).toHaveLength(1);
  }, 180_000);
});
