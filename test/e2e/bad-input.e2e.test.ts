// Bad input end to end: malformed requests, invalid arguments and illegal state changes get stable error codes,
// write nothing, leak nothing (no stack traces, no SQL), and leave the server serving.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import {
  ConnectorDetailDocument,
  ConnectorsDocument,
  CreateConnectorDocument,
  LoginDocument,
  MeDocument,
  StartSyncRunDocument,
  SyncRunDetailDocument,
  UpdateSyncRunProgressDocument,
} from "../__generated__/graphql.js";
import { startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";
import { codesOf, leaksIn } from "./e2e-helpers.js";

describe("bad input", () => {
  let t: TestStack;
  let a: TenantLogin;
  /** Every GraphQL error response of this file, checked for leaks at the end. */
  const errorBodies: { label: string; body: unknown }[] = [];

  beforeAll(async () => {
    t = await startTestStack();
    a = await t.tenant("bad-input");
  });
  afterAll(async () => {
    await t?.stop();
  });

  /** POSTs a raw body as A, remembering error responses. */
  async function send(label: string, body: unknown, token: string | undefined = a.token) {
    const res = await t.raw(typeof body === "string" ? body : JSON.stringify(body), token ? { authorization: `Bearer ${token}` } : {});
    if (typeof res.body !== "object" || res.body?.errors) errorBodies.push({ label, body: res.body });
    return res;
  }
  /** A typed request as A, remembering error responses. */
  async function request<R, V>(label: string, doc: TypedDocumentNode<R, V>, vars: V, token: string | undefined = a.token) {
    const res = await t.request(doc, vars, token);
    if (res.errors) errorBodies.push({ label, body: res });
    return res;
  }

  async function newRun(): Promise<string> {
    const res = await t.request(StartSyncRunDocument, { input: { kind: "PULL" } }, a.token);
    expect(res.errors).toBeUndefined();
    return res.data!.startSyncRun.id;
  }
  async function runState(id: string) {
    const res = await t.request(SyncRunDetailDocument, { id }, a.token);
    expect(res.errors).toBeUndefined();
    const { status, processed, created, updated, deleted, failed, conflicts, error } = res.data!.syncRun;
    return { status, processed, created, updated, deleted, failed, conflicts, error };
  }
  async function connectorsOfA() {
    const res = await t.request(ConnectorsDocument, {}, a.token);
    expect(res.errors).toBeUndefined();
    return res.data!.connectors;
  }

  describe("malformed requests", () => {
    it.each([
      ["an unclosed selection", "query {"],
      ["an unbalanced brace", "{ me { id }"],
      ["a stray token", "}{"],
      ["a variable without a type", "query Q($x: ) { me { id } }"],
      ["plain text", "give me everything"],
    ])("%s → 400 GRAPHQL_PARSE_FAILED", async (label, query) => {
      const res = await send(label, { query });
      expect(res.status).toBe(400);
      expect(codesOf(res.body)).toEqual(["GRAPHQL_PARSE_FAILED"]);
    });

    it.each([
      ["an unknown root field", "{ nope }"],
      ["an unknown nested field", "{ me { id nope } }"],
      ["an unknown argument", "{ syncRuns(nope: 1) { nodes { id } } }"],
      ["a missing required argument", "{ connector { id } }"],
      ["a scalar without a selection", "{ me }"],
      ["an undefined variable", "{ syncRun(id: $id) { id } }"],
      ["a mutation field in a query", "query { createConnector(input: { kind: ODOO, name: \"x\", baseUrl: \"http://x\" }) { id } }"],
      ["an invalid enum literal", "{ syncRuns(filter: { status: WALKING }) { nodes { id } } }"],
      ["an Int literal out of range", "{ syncRuns(first: 99999999999) { nodes { id } } }"],
    ])("%s → 400 GRAPHQL_VALIDATION_FAILED", async (label, query) => {
      const res = await send(label, { query });
      expect(res.status).toBe(400);
      expect(codesOf(res.body).length).toBeGreaterThan(0);
      expect(new Set(codesOf(res.body))).toEqual(new Set(["GRAPHQL_VALIDATION_FAILED"]));
    });

    it.each([
      ["an object for an ID", "query Q($id: ID!) { syncRun(id: $id) { id } }", { id: { $ne: null } }],
      ["a missing required variable", "query Q($id: ID!) { syncRun(id: $id) { id } }", {}],
      ["null for a non-null variable", "query Q($id: ID!) { syncRun(id: $id) { id } }", { id: null }],
      ["a string for an Int", "query Q($l: Int!) { syncRuns(first: $l) { nodes { id } } }", { l: "ten" }],
      ["an Int beyond 32 bits", "mutation M($id: ID!, $p: Int) { updateSyncRunProgress(id: $id, input: { processed: $p }) { id } }", { id: "00000000-0000-4000-8000-000000000000", p: 2 ** 31 }],
      ["a float for an Int", "query Q($l: Int!) { syncRuns(first: $l) { nodes { id } } }", { l: 1.5 }],
      ["an unknown enum value", "query Q($s: SyncRunStatus) { syncRuns(filter: { status: $s }) { nodes { id } } }", { s: "WALKING" }],
      ["an input missing a required field", "mutation M($i: CreateConnectorInput!) { createConnector(input: $i) { id } }", { i: { kind: "ODOO", name: "x" } }],
      ["an input with an unknown field", "mutation M($i: StartSyncRunInput!) { startSyncRun(input: $i) { id } }", { i: { kind: "PULL", tenantId: "00000000-0000-4000-8000-000000000000" } }],
      ["a list for an input object", "mutation M($i: LoginInput!) { login(input: $i) { accessToken } }", { i: [] }],
    ])("%s → BAD_USER_INPUT", async (label, query, variables) => {
      const res = await send(label, { query, variables });
      expect(res.status).toBe(400);
      expect(codesOf(res.body).length).toBeGreaterThan(0);
      expect(new Set(codesOf(res.body))).toEqual(new Set(["BAD_USER_INPUT"]));
    });

    it("an invalid JSON body → HTTP 400", async () => {
      for (const body of ["{not json", '{"query": "{ me { id } }"', "", "[1,2"]) {
        const res = await t.raw(body, { authorization: `Bearer ${a.token}` });
        expect({ body, status: res.status }).toEqual({ body, status: 400 });
      }
    });

    it("an invalid JSON body gets no stack trace or server paths back", async () => {
      // express.json()'s parse error falls through to Express's default handler, which (outside production) renders
      // the error's stack as HTML.
      const res = await t.raw("{not json", { authorization: `Bearer ${a.token}` });
      expect(res.status).toBe(400);
      expect(leaksIn(res.body)).toEqual([]);
    });

    it("a JSON body without a query → 400 BAD_REQUEST", async () => {
      for (const body of [{}, { query: "" }, { variables: {} }]) {
        const res = await send("no query", body);
        expect(res.status).toBe(400);
        expect(codesOf(res.body)).toEqual(["BAD_REQUEST"]);
      }
    });
  });

  describe("arguments the services validate", () => {
    it.each([100_000, 201, 0, -1])("syncRuns(first: %d) → BAD_USER_INPUT", async (limit) => {
      const res = await send(`syncRuns(first: ${limit})`, { query: "query Q($l: Int!) { syncRuns(first: $l) { nodes { id } } }", variables: { l: limit } });
      expect(res.body.data ?? null).toBeNull();
      expect(codesOf(res.body)).toEqual(["BAD_USER_INPUT"]);
    });

    it.each([501, 0])("auditEvents(first: %d) → BAD_USER_INPUT", async (limit) => {
      const res = await send(`auditEvents(first: ${limit})`, { query: "query Q($l: Int!) { auditEvents(first: $l) { nodes { id } } }", variables: { l: limit } });
      expect(codesOf(res.body)).toEqual(["BAD_USER_INPUT"]);
    });

    it("the largest allowed pages are fine", async () => {
      const res = await send("max pages", { query: "{ syncRuns(first: 200) { nodes { id } } auditEvents(first: 500) { nodes { id } } }" });
      expect(res.body.errors).toBeUndefined();
    });

    it.each([
      ["a bad URL", { name: "Bad URL", baseUrl: "not a url" }],
      ["an ftp URL", { name: "FTP", baseUrl: "ftp://files.example/" }],
      ["a javascript: URL", { name: "XSS", baseUrl: "javascript:alert(1)" }],
      ["a file: URL", { name: "File", baseUrl: "file:///etc/passwd" }],
      ["an empty URL", { name: "Empty URL", baseUrl: "" }],
      ["a relative URL", { name: "Relative", baseUrl: "/odoo" }],
      ["an empty name", { name: "", baseUrl: "https://ok.example" }],
      ["a blank name", { name: "   \t ", baseUrl: "https://ok.example" }],
      ["a 201-character name", { name: "n".repeat(201), baseUrl: "https://ok.example" }],
    ])("createConnector with %s → BAD_USER_INPUT and nothing written", async (label, input) => {
      const before = await connectorsOfA();
      const res = await request(`createConnector ${label}`, CreateConnectorDocument, { input: { kind: "ODOO", ...input } });
      expect(res.data ?? null).toBeNull();
      expect(codesOf(res)).toEqual(["BAD_USER_INPUT"]);
      expect(await connectorsOfA()).toEqual(before);
    });

    it("createConnector with a 200-character name and an https URL works (the limits are inclusive)", async () => {
      const res = await request("createConnector ok", CreateConnectorDocument, { input: { kind: "MOODLE", name: "m".repeat(200), baseUrl: "https://moodle.example/path" } });
      expect(res.errors).toBeUndefined();
      expect(res.data!.createConnector).toMatchObject({ name: "m".repeat(200), baseUrl: "https://moodle.example/path", health: "UNKNOWN" });
    });

    it("startSyncRun CONNECTOR without a connector, or with a malformed one → BAD_USER_INPUT", async () => {
      for (const input of [{ kind: "CONNECTOR" as const }, { kind: "CONNECTOR" as const, connectorId: null }, { kind: "CONNECTOR" as const, connectorId: "nope" }, { kind: "PUSH" as const, connectorId: "1 or 1=1" }]) {
        const res = await request("startSyncRun", StartSyncRunDocument, { input });
        expect({ input, codes: codesOf(res) }).toEqual({ input, codes: ["BAD_USER_INPUT"] });
      }
    });

    it("ids are UUIDs in any letter case: connector(id) resolves the upper-case form, as syncRun(id) does", async () => {
      // kernel/loaders.ts byIdLoader accepts upper-case UUIDs (isUuid is case-insensitive) and PostgreSQL finds the
      // row, but the result map is keyed by the stored lower-case id, so the lookup misses and the owner gets NOT_FOUND.
      const connector = (await request("create", CreateConnectorDocument, { input: { kind: "ODOO", name: "Case", baseUrl: "https://case.example" } })).data!.createConnector;
      const runId = await newRun();
      const run = await request("syncRun upper", SyncRunDetailDocument, { id: runId.toUpperCase() });
      expect(run.data?.syncRun.id).toBe(runId);
      const res = await request("connector upper", ConnectorDetailDocument, { id: connector.id.toUpperCase() });
      expect(codesOf(res)).toEqual([]);
      expect(res.data?.connector.id).toBe(connector.id);
    });

    it("login with blank fields or an oversized password → BAD_USER_INPUT", async () => {
      for (const input of [{ tenant: "", email: "a@b", password: "x" }, { tenant: "bad-input", email: "  ", password: "x" }, { tenant: "bad-input", email: a.email, password: "" }, { tenant: "bad-input", email: a.email, password: "p".repeat(1025) }]) {
        const res = await request("login", LoginDocument, { input }, undefined);
        expect(codesOf(res)).toEqual(["BAD_USER_INPUT"]);
      }
    });

    it("a NUL character in a text argument → BAD_USER_INPUT, never an internal error, and nothing written", async () => {
      // PostgreSQL rejects U+0000 in text ("invalid message format"); the services pass it through unchecked, so it
      // surfaces as INTERNAL_SERVER_ERROR (from login even unauthenticated).
      const before = await connectorsOfA();
      const runId = await newRun();
      const attempts = [
        ["createConnector name", () => request("nul name", CreateConnectorDocument, { input: { kind: "ODOO", name: "Odoo\u0000", baseUrl: "https://nul.example" } })],
        ["login tenant", () => request("nul login", LoginDocument, { input: { tenant: "bad\u0000input", email: a.email, password: "x" } }, undefined)],
        ["login email", () => request("nul login email", LoginDocument, { input: { tenant: "bad-input", email: "a\u0000@b", password: "x" } }, undefined)],
        ["run error text", () => request("nul error", UpdateSyncRunProgressDocument, { id: runId, input: { status: "FAILED", error: "boom\u0000" } })],
        ["auditEvents prefix", () => send("nul prefix", { query: "query Q($p: String) { auditEvents(filter: { action: $p }) { nodes { id } } }", variables: { p: "auth\u0000" } }).then((r) => r.body)],
      ] as const;
      const codes: Record<string, unknown[]> = {};
      for (const [label, attempt] of attempts) codes[label] = codesOf(await attempt());
      expect(codes).toEqual(Object.fromEntries(attempts.map(([label]) => [label, ["BAD_USER_INPUT"]])));
      expect(await connectorsOfA()).toEqual(before);
      expect((await runState(runId)).status).toBe("QUEUED");
    });
  });

  describe("sync run progress", () => {
    it("moving a count backwards → BAD_USER_INPUT and the run is unchanged", async () => {
      const id = await newRun();
      await request("progress", UpdateSyncRunProgressDocument, { id, input: { status: "RUNNING", processed: 50, created: 10 } });
      const before = await runState(id);
      for (const input of [{ processed: 49 }, { created: 9 }, { processed: 60, created: 5 }, { failed: -1 }, { conflicts: -5 }]) {
        const res = await request("backwards", UpdateSyncRunProgressDocument, { id, input });
        expect({ input, data: res.data ?? null, codes: codesOf(res) }).toEqual({ input, data: null, codes: ["BAD_USER_INPUT"] });
      }
      // Nothing of a rejected update sticks (not even the valid `processed: 60` beside the invalid `created: 5`).
      expect(await runState(id)).toEqual(before);
      // Equal counts are not "backwards".
      const same = await request("same", UpdateSyncRunProgressDocument, { id, input: { processed: 50, created: 10 } });
      expect(same.errors).toBeUndefined();
    });

    it("an illegal status transition → BAD_USER_INPUT", async () => {
      const id = await newRun();
      for (const status of ["SUCCEEDED", "PARTIAL"] as const) {
        const res = await request("QUEUED→final", UpdateSyncRunProgressDocument, { id, input: { status } });
        expect({ status, codes: codesOf(res) }).toEqual({ status, codes: ["BAD_USER_INPUT"] });
      }
      await request("run", UpdateSyncRunProgressDocument, { id, input: { status: "RUNNING" } });
      const back = await request("RUNNING→QUEUED", UpdateSyncRunProgressDocument, { id, input: { status: "QUEUED" } });
      expect(codesOf(back)).toEqual(["BAD_USER_INPUT"]);
      expect((await runState(id)).status).toBe("RUNNING");
    });

    it("any update of a finished run → CONFLICT, and the run keeps its final state", async () => {
      const id = await newRun();
      await request("run", UpdateSyncRunProgressDocument, { id, input: { status: "RUNNING", processed: 5 } });
      const done = await request("finish", UpdateSyncRunProgressDocument, { id, input: { status: "SUCCEEDED", processed: 6 } });
      expect(done.errors).toBeUndefined();
      const final = await runState(id);
      for (const input of [{ processed: 7 }, { status: "FAILED" as const }, { status: "SUCCEEDED" as const }, { error: "late" }, {}]) {
        const res = await request("after final", UpdateSyncRunProgressDocument, { id, input });
        expect({ input, data: res.data ?? null, codes: codesOf(res) }).toEqual({ input, data: null, codes: ["CONFLICT"] });
      }
      expect(await runState(id)).toEqual(final);
    });

    it("updating a run that does not exist → NOT_FOUND", async () => {
      for (const id of ["00000000-0000-4000-8000-000000000000", "nope"]) {
        const res = await request("missing run", UpdateSyncRunProgressDocument, { id, input: { processed: 1 } });
        expect(codesOf(res)).toEqual(["NOT_FOUND"]);
      }
    });

    // Races are timing-dependent: each property is checked over several fresh runs, so a missing lock shows up
    // on practically every execution while a correct implementation passes them all.
    const ROUNDS = 8;

    it("concurrent final updates: exactly one wins, every other one gets CONFLICT", async () => {
      // The "finished → CONFLICT" rule is checked on a row read without a lock, so concurrent updates can all pass
      // the check and the last writer silently replaces the status the others were told succeeded.
      const statuses = ["SUCCEEDED", "FAILED", "CANCELLED", "PARTIAL", "SUCCEEDED", "FAILED", "CANCELLED", "PARTIAL", "SUCCEEDED", "FAILED"] as const;
      const rounds: { winners: string[]; loserCodes: unknown[]; stored: string }[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const id = await newRun();
        await request("run", UpdateSyncRunProgressDocument, { id, input: { status: "RUNNING" } });
        const results = await Promise.all(statuses.map((status) => t.request(UpdateSyncRunProgressDocument, { id, input: { status } }, a.token)));
        rounds.push({
          winners: results.filter((r) => !r.errors).map((r) => r.data!.updateSyncRunProgress.status),
          loserCodes: [...new Set(results.filter((r) => r.errors).flatMap((r) => codesOf(r)))],
          stored: (await runState(id)).status,
        });
      }
      // Per round: one winner, the rest CONFLICT, and the stored status is the one the winner was told.
      expect(rounds.filter((r) => r.winners.length !== 1 || r.stored !== r.winners[0] || JSON.stringify(r.loserCodes) !== '["CONFLICT"]')).toEqual([]);
    });

    it("concurrent count updates never move a count backwards", async () => {
      // Each accepted update promises processed >= every earlier value; with a read-check-write and no lock,
      // a slower request writes a lower count over a higher one that was already accepted.
      const values = Array.from({ length: 30 }, (_, i) => i + 1);
      const rounds: { maxAccepted: number; stored: number; codes: unknown[] }[] = [];
      for (let round = 0; round < ROUNDS / 2; round++) {
        const id = await newRun();
        const results = await Promise.all(values.map((processed) => t.request(UpdateSyncRunProgressDocument, { id, input: { processed } }, a.token)));
        const accepted = results.filter((r) => !r.errors).map((r) => r.data!.updateSyncRunProgress.processed);
        rounds.push({
          maxAccepted: Math.max(0, ...accepted),
          stored: (await runState(id)).processed,
          codes: [...new Set(results.flatMap((r) => codesOf(r)))],
        });
      }
      for (const r of rounds) {
        // Rejections, if any, are the documented ones; the stored count is the highest one accepted.
        expect(r.codes.filter((c) => c !== "BAD_USER_INPUT" && c !== "CONFLICT")).toEqual([]);
        expect(r.maxAccepted).toBeGreaterThan(0);
      }
      expect(rounds.filter((r) => r.stored !== r.maxAccepted)).toEqual([]);
    });
  });

  describe("afterwards", () => {
    it("the server still serves: me works", async () => {
      const res = await t.request(MeDocument, {}, a.token);
      expect(res.errors).toBeUndefined();
      expect(res.data!.me).toMatchObject({ id: a.userId, email: a.email, tenant: { slug: "bad-input" } });
    });

    it("/healthz is 200 and /readyz is 200 with every check true", async () => {
      const base = t.url.replace(/\/graphql$/, "");
      const health = await fetch(`${base}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: "ok" });
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(200);
      const body = (await ready.json()) as { status: string; checks: Record<string, boolean> };
      expect(body).toEqual({ status: "ready", checks: { tenants: true, sync: true, connectors: true, audit: true, pubsub: true } });
    });

    it("no error response of this file carried a stack trace or SQL", () => {
      expect(errorBodies.length).toBeGreaterThan(40);
      const leaks = errorBodies.map(({ label, body }) => ({ label, leaks: leaksIn(body) })).filter((x) => x.leaks.length);
      expect(leaks).toEqual([]);
      for (const { body } of errorBodies) {
        for (const e of (body as { errors?: { extensions?: Record<string, unknown> }[] }).errors ?? []) {
          expect(e.extensions).not.toHaveProperty("stacktrace");
          expect(e.extensions).not.toHaveProperty("exception");
        }
      }
    });
  });
});
