// Replays every exchange of the recorded Odoo 18 transcript (a real server, fresh database) against a fresh simulator,
// in order, and compares each answer with the recording: HTTP status, content type, session cookie, envelope keys and
// id, error code/message/`data.name`/`data.message`, and the result value by value — ids, names, counts, many2one
// pairs, x2many lists, `false` vs `null`, field sets. The simulator's clock is pinned to the recording's timeline, so
// write_date/create_date are compared exactly too (that is how same-second and one-call-one-write_date semantics are
// checked). What is not compared: tracebacks (`data.debug`: only their shape), the PostgreSQL context lines of
// psycopg2 messages, the server URL and the cookie's value.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { parseTimestamp } from "../../simulators/odoo/odoo.domain.js";
import { startOdooSimulator, type OdooSimulator } from "../../simulators/odoo/odoo.simulator.js";

interface Exchange {
  label: string;
  note?: string;
  request: { method: string; path: string; headers: Record<string, string>; body: unknown };
  response: { status: number; headers?: Record<string, string>; body: unknown };
}

const transcript = JSON.parse(
  readFileSync(new URL("./fixtures/odoo-18.0-jsonrpc.transcript.json", import.meta.url), "utf8"),
) as { db: string; exchanges: Exchange[] };

/** Exchanges not replayed, each with the reason (none: XML-RPC and /web/session are simulated too). */
const SKIPPED: Record<string, string> = {};

/**
 * The recording's timeline (UTC): the database was created at 12:09:03, the first partners at 12:09:27; the calls
 * below started at these instants (microseconds chosen inside the recorded second). Every other call advances 1 ms.
 */
const TIMELINE: Record<string, string> = {
  "common.version": "2026-11-21 12:09:27.100000",
  "write res.partner (bool result)": "2026-11-21 12:09:30.200000",
  "write A (same-second test)": "2026-11-21 12:09:30.600000",
  "write B immediately after (same-second test)": "2026-11-21 12:09:31.100000",
  "create sale.order": "2026-11-21 12:09:36.300000",
};

const API_KEY = "5b1f9e0c2d3a4b6c7d8e9f0a1b2c3d4e5f6a7b8c";
const micros = (text: string) => parseTimestamp(text)!;
const DATETIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

let sim: OdooSimulator;
let now = micros("2026-11-21 12:09:03.400000");
let cookie: string | undefined;

beforeAll(async () => {
  sim = await startOdooSimulator({ db: transcript.db, adminPassword: "admin", apiKey: API_KEY, clock: () => now });
});

afterAll(async () => {
  await sim?.close();
});

/** Substitutes the recording's placeholders. */
function prepare(value: unknown): unknown {
  if (value === "<40-hex API key>") return API_KEY;
  if (Array.isArray(value)) return value.map(prepare);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, prepare(v)]));
  return value;
}

/** Differences between the recorded and the simulated body (empty when they agree). */
function compare(expected: unknown, actual: unknown, path: string, diffs: string[]): void {
  if (path.endsWith(".web.base.url")) {
    if (typeof actual !== "string" || !actual.startsWith("http://")) diffs.push(`${path}: expected a URL, got ${JSON.stringify(actual)}`);
    return;
  }
  if (expected === null || typeof expected !== "object") {
    if (typeof expected === "string" && DATETIME.test(expected) && !(typeof actual === "string" && DATETIME.test(actual))) {
      diffs.push(`${path}: expected a datetime like ${expected}, got ${JSON.stringify(actual)}`);
    } else if (expected !== actual) {
      diffs.push(`${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
    }
    return;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return void diffs.push(`${path}: expected an array, got ${JSON.stringify(actual)}`);
    if (actual.length !== expected.length) diffs.push(`${path}: expected ${expected.length} items, got ${actual.length}: ${JSON.stringify(actual).slice(0, 300)}`);
    expected.forEach((item, i) => i < actual.length && compare(item, actual[i], `${path}[${i}]`, diffs));
    return;
  }
  if (!actual || typeof actual !== "object" || Array.isArray(actual)) {
    return void diffs.push(`${path}: expected an object, got ${JSON.stringify(actual)}`);
  }
  const e = expected as Record<string, unknown>;
  const a = actual as Record<string, unknown>;
  const missing = Object.keys(e).filter((k) => !(k in a));
  const extra = Object.keys(a).filter((k) => !(k in e));
  if (missing.length || extra.length) diffs.push(`${path}: keys differ (missing ${JSON.stringify(missing)}, extra ${JSON.stringify(extra)})`);
  for (const k of Object.keys(e)) if (k in a) compare(e[k], a[k], `${path}.${k}`, diffs);
}

/** Error data: name and code exactly; messages exactly, except PostgreSQL's context lines; debug by shape. */
function compareError(expected: Record<string, unknown>, actual: Record<string, unknown>, diffs: string[]): void {
  compare(expected.code, actual.code, "error.code", diffs);
  compare(expected.message, actual.message, "error.message", diffs);
  const e = expected.data as Record<string, unknown>;
  const a = (actual.data ?? {}) as Record<string, unknown>;
  compare(Object.keys(e).sort(), Object.keys(a).sort(), "error.data(keys)", diffs);
  compare(e.name, a.name, "error.data.name", diffs);
  compare(e.context, a.context, "error.data.context", diffs);
  const fromPostgres = String(e.name).startsWith("psycopg2");
  const normalize = (m: unknown) => {
    const text = String(m);
    return fromPostgres ? text.split("\n")[0].replace(/port \d+/, "port N") : text;
  };
  compare(normalize(e.message), normalize(a.message), "error.data.message", diffs);
  const args = Array.isArray(a.arguments) ? a.arguments : [];
  compare((e.arguments as unknown[]).map(normalize), args.map(normalize), "error.data.arguments", diffs);
  const debug = String(a.debug ?? "");
  const shortName = String(a.name).replace(/^builtins\./, "");
  if (!debug.startsWith("Traceback (most recent call last):\n") || !debug.includes(`\n${shortName}: ${String(a.message).split("\n")[0]}`)) {
    diffs.push(`error.data.debug: not a traceback ending with the exception: ${JSON.stringify(debug.slice(-200))}`);
  }
}

describe("Odoo simulator replays the recorded Odoo 18 transcript", () => {
  it("covers every exchange of the recording (replayed or skipped with a reason)", () => {
    const labels = transcript.exchanges.map((x) => x.label);
    expect(new Set(labels).size).toBe(labels.length);
    for (const label of Object.keys(SKIPPED)) expect(labels).toContain(label);
    expect(labels.filter((l) => l.startsWith("xmlrpc"))).toHaveLength(4);
    expect(transcript.exchanges.length).toBe(87);
  });

  for (const exchange of transcript.exchanges) {
    const reason = SKIPPED[exchange.label];
    if (reason) {
      it.skip(`${exchange.label} — skipped: ${reason}`, () => undefined);
      continue;
    }
    it(exchange.label, async () => {
      now = TIMELINE[exchange.label] ? micros(TIMELINE[exchange.label]) : now + 1000;
      const { request, response } = exchange;
      const headers: Record<string, string> = { ...request.headers };
      const withoutSession = exchange.label.includes("without session");
      if (cookie && request.path.startsWith("/web/") && !withoutSession) headers.Cookie = cookie;
      const res = await fetch(sim.url + request.path, {
        method: request.method,
        headers,
        body: typeof request.body === "string" ? request.body : JSON.stringify(prepare(request.body)),
      });
      const text = await res.text();
      const diffs: string[] = [];
      compare(response.status, res.status, "status", diffs);
      const expectedType = response.headers?.["Content-Type"];
      if (expectedType) compare(expectedType, res.headers.get("content-type"), "content-type", diffs);
      const expectedCookie = response.headers?.["Set-Cookie"];
      const setCookie = res.headers.get("set-cookie");
      if (expectedCookie) {
        if (!setCookie || !/^session_id=[^;]+; Expires=[^;]+; Max-Age=604800; HttpOnly; Path=\/$/.test(setCookie)) {
          diffs.push(`set-cookie: expected a session cookie like the recording's, got ${JSON.stringify(setCookie)}`);
        } else {
          cookie = setCookie.split(";")[0];
        }
      } else if (setCookie) {
        diffs.push(`set-cookie: not expected, got ${setCookie}`);
      }
      if (typeof response.body === "string") {
        compare(response.body, text, "body", diffs);
      } else {
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          throw new Error(`not JSON: ${text.slice(0, 300)}`);
        }
        const expected = response.body as Record<string, unknown>;
        compare(Object.keys(expected).sort(), Object.keys(body).sort(), "envelope(keys)", diffs);
        compare(expected.jsonrpc, body.jsonrpc, "jsonrpc", diffs);
        compare(expected.id, body.id, "id", diffs);
        if ("error" in expected) compareError(expected.error as Record<string, unknown>, (body.error ?? {}) as Record<string, unknown>, diffs);
        else compare(expected.result, body.result, "result", diffs);
      }
      expect(diffs).toEqual([]);
    });
  }
});
