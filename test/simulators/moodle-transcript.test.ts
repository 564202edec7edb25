// Replays every exchange of the recorded Moodle 4.5 transcript (a real site, fresh install) against a fresh simulator,
// in order, with the recorded bodies byte for byte (tokens substituted), and compares each answer with the recording:
// HTTP status and content type, then the body — JSON parsed and compared key by key in order (bare array vs object,
// key sets and order, value types, error exception/errorcode/message/debuginfo, warning entries, ids, names, counts),
// and then the raw text itself (PHP's `\/` escaping, XML layout) with only the volatile parts masked: Unix times
// (10-digit numbers), the site URL and the per-user private access key. Times are checked through their relations
// instead (timemodified after timecreated when the recording says so, end date one year after start date, ...).
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startMoodleSimulator, type MoodleSimulator } from "../../simulators/moodle/moodle.simulator.js";
import { SimClock } from "../../simulators/moodle/moodle.store.js";

interface Exchange {
  label: string;
  note?: string;
  request: { method: string; path: string; headers?: Record<string, string>; body?: string | null };
  response: { status: number; headers: Record<string, string>; raw: string; body: unknown };
}

const transcript = JSON.parse(
  readFileSync(new URL("./fixtures/moodle-4.5-rest.transcript.json", import.meta.url), "utf8"),
) as { base_url: string; exchanges: Exchange[] };

/** Exchanges not replayed, each with the reason (none: every recorded exchange is reproduced). */
const SKIPPED: Record<string, string> = {};

/** The recorded site was installed at this Unix time (its category and site course carry it). */
const INSTALL_TIME = 1_795_263_074;
const RECORDED_BASE = transcript.base_url;
const TIME_KEYS = new Set(["timecreated", "timemodified", "cacherev", "startdate", "enddate"]);

let sim: MoodleSimulator;
const clock = new SimClock();

beforeAll(async () => {
  clock.set(INSTALL_TIME + 90);
  sim = await startMoodleSimulator({ clock, installTime: INSTALL_TIME });
});

afterAll(async () => {
  await sim?.close();
});

function substitute(text: string): string {
  return text
    .replaceAll("<ADMIN_TOKEN>", sim.tokens.admin)
    .replaceAll("<LIMITED_TOKEN>", sim.tokens.limited)
    .replaceAll("<NOREST_TOKEN>", sim.tokens.norest);
}

/** Differences between the recorded and the simulated value (empty when they agree). */
function compare(expected: unknown, actual: unknown, path: string, diffs: string[]): void {
  const key = path.split(".").pop()!;
  const inPreferences = /preferences\[\d+\]\.value$/.test(path);
  if (typeof expected === "string") {
    const e = expected.replaceAll(RECORDED_BASE, sim.url);
    if (typeof actual !== "string") diffs.push(`${path}: expected a string, got ${JSON.stringify(actual)}`);
    else if (TIME_KEYS.has(key) && /^\d+$/.test(e)) {
      if (!/^\d+$/.test(actual)) diffs.push(`${path}: expected a Unix time, got ${actual}`);
    } else if (key === "userprivateaccesskey") {
      if (!/^[0-9a-f]{32}$/.test(actual)) diffs.push(`${path}: expected 32 hex characters, got ${actual}`);
    } else if (inPreferences || /\.\d{10}$/.test(e)) {
      const mask = (s: string) => s.replace(/\d{10}/g, "T");
      if (mask(e) !== mask(actual)) diffs.push(`${path}: expected ${JSON.stringify(e)} (times masked), got ${JSON.stringify(actual)}`);
    } else if (e !== actual) diffs.push(`${path}: expected ${JSON.stringify(e)}, got ${JSON.stringify(actual)}`);
    return;
  }
  if (typeof expected === "number") {
    if (typeof actual !== "number") diffs.push(`${path}: expected a number, got ${JSON.stringify(actual)}`);
    else if (!(TIME_KEYS.has(key) || inPreferences) && expected !== actual) diffs.push(`${path}: expected ${expected}, got ${actual}`);
    return;
  }
  if (expected === null || typeof expected === "boolean") {
    if (expected !== actual) diffs.push(`${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
    return;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) {
      diffs.push(`${path}: expected an array, got ${JSON.stringify(actual)?.slice(0, 200)}`);
      return;
    }
    if (expected.length !== actual.length) diffs.push(`${path}: expected ${expected.length} items, got ${actual.length}`);
    expected.forEach((e, i) => compare(e, actual[i], `${path}[${i}]`, diffs));
    return;
  }
  const exp = expected as Record<string, unknown>;
  if (!actual || typeof actual !== "object" || Array.isArray(actual)) {
    diffs.push(`${path}: expected an object, got ${JSON.stringify(actual)?.slice(0, 200)}`);
    return;
  }
  const act = actual as Record<string, unknown>;
  if (Object.keys(exp).join(",") !== Object.keys(act).join(",")) {
    diffs.push(`${path}: keys ${Object.keys(exp).join(",")} expected, got ${Object.keys(act).join(",")}`);
  }
  for (const k of Object.keys(exp)) compare(exp[k], act[k], path ? `${path}.${k}` : k, diffs);
  // Times are volatile; their relations are not.
  const rel = (o: Record<string, unknown>, a: string, b: string) => Math.sign(Number(o[a]) - Number(o[b]));
  if ("timecreated" in exp && "timemodified" in exp && rel(exp, "timemodified", "timecreated") !== rel(act, "timemodified", "timecreated")) {
    diffs.push(`${path}: timemodified vs timecreated: expected ${exp.timemodified} vs ${exp.timecreated}, got ${act.timemodified} vs ${act.timecreated}`);
  }
  if (typeof exp.startdate === "number" && typeof exp.enddate === "number") {
    if (Number(exp.enddate) - Number(exp.startdate) !== Number(act.enddate) - Number(act.startdate)) {
      diffs.push(`${path}: enddate - startdate: expected ${Number(exp.enddate) - Number(exp.startdate)}, got ${Number(act.enddate) - Number(act.startdate)}`);
    }
    if (Number(exp.startdate) % 86_400 === 0 && Number(act.startdate) % 86_400 !== 0) diffs.push(`${path}.startdate: expected a midnight`);
  }
}

/** The REST XML as a value: SINGLE → object, MULTIPLE → array, VALUE → string (null for `null="null"`). */
function parseRestXml(xml: string): unknown {
  if (!xml.includes("<RESPONSE>")) return xml; // an EXCEPTION document: compared as text
  const tokens = xml.match(/<[^>]+>|[^<]+/g) ?? [];
  let i = 0;
  const skipText = () => {
    while (i < tokens.length && !tokens[i]!.startsWith("<")) i++;
  };
  const unescape = (s: string) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&amp;/g, "&");
  function parseValue(): unknown {
    skipText();
    const t = tokens[i++]!;
    if (t === '<VALUE null="null"/>') return null;
    if (t === "<VALUE>") {
      let text = "";
      if (!tokens[i]!.startsWith("<")) text = unescape(tokens[i++]!);
      if (tokens[i++] !== "</VALUE>") throw new Error(`bad VALUE near token ${i}`);
      return text;
    }
    if (t === "<MULTIPLE>") {
      const items: unknown[] = [];
      for (;;) {
        skipText();
        if (tokens[i] === "</MULTIPLE>") {
          i++;
          return items;
        }
        items.push(parseValue());
      }
    }
    if (t === "<SINGLE>") {
      const obj: Record<string, unknown> = {};
      for (;;) {
        skipText();
        const k = tokens[i++]!;
        if (k === "</SINGLE>") return obj;
        const m = /^<KEY name="([^"]*)">$/.exec(k);
        if (!m) throw new Error(`expected KEY, got ${k}`);
        obj[m[1]!] = parseValue();
        skipText();
        if (tokens[i++] !== "</KEY>") throw new Error(`unclosed KEY ${m[1]}`);
      }
    }
    throw new Error(`unexpected token ${t}`);
  }
  while (i < tokens.length && tokens[i] !== "<RESPONSE>") i++;
  i++;
  skipText();
  return tokens[i] === "</RESPONSE>" ? null : parseValue();
}

/** The raw body with the volatile parts masked (site URL, Unix times, private access keys). */
function mask(raw: string, base: string): string {
  return raw
    .replaceAll(base.replaceAll("/", "\\/"), "<BASE>")
    .replaceAll(base, "<BASE>")
    .replace(/"userprivateaccesskey":"[0-9a-f]{32}"/g, '"userprivateaccesskey":"<KEY>"')
    .replace(/\d{10}/g, "<T>");
}

describe("Moodle 4.5 transcript replayed against the simulator", () => {
  it("has nothing skipped without a reason, and every label exists", () => {
    const labels = new Set(transcript.exchanges.map((e) => e.label));
    for (const label of Object.keys(SKIPPED)) expect(labels.has(label)).toBe(true);
    expect(transcript.exchanges.length).toBe(69);
  });

  transcript.exchanges.forEach((ex, index) => {
    const run = SKIPPED[ex.label] ? it.skip : it;
    run(`#${index} ${ex.label}`, async () => {
      clock.advance(1);
      sim.config.debug = ex.label.startsWith("DEBUG ON");
      const headers = { ...(ex.request.headers ?? {}) };
      const res = await fetch(`${sim.url}${substitute(ex.request.path)}`, {
        method: ex.request.method,
        headers,
        body: ex.request.body == null ? undefined : substitute(ex.request.body),
      });
      const raw = await res.text();
      expect(res.status).toBe(ex.response.status);
      const recordedType = Object.entries(ex.response.headers).find(([k]) => k.toLowerCase() === "content-type")![1];
      expect(res.headers.get("content-type")).toBe(recordedType);

      const diffs: string[] = [];
      if (recordedType.startsWith("application/json")) {
        compare(ex.response.body, JSON.parse(raw), "", diffs);
      } else {
        compare(parseRestXml(ex.response.raw), parseRestXml(raw), "", diffs);
      }
      expect(diffs).toEqual([]);
      expect(mask(raw, sim.url)).toBe(mask(ex.response.raw, RECORDED_BASE));
    });
  });
});
