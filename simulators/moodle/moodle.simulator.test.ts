// The simulator's own surface beyond the recorded transcript: the /__sim/ control endpoints (seed, data changes,
// scheduled mid-run changes, faults, clock, stats; not reachable through server.php), the test knobs, deterministic
// seeding, and protocol details the transcript does not show (PHP parameter decoding, XML of a null result,
// transaction rollbacks, heap order after updates).
import { createHash } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { MoodleSimControl } from "./moodle.control.js";
import { startMoodleSimulator, type CallInfo, type MoodleSimulator } from "./moodle.simulator.js";

let sim: MoodleSimulator;
let control: MoodleSimControl;

beforeAll(async () => {
  sim = await startMoodleSimulator();
  control = new MoodleSimControl(sim.url);
});

afterAll(async () => {
  await sim?.close();
});

afterEach(() => {
  sim.reset();
  sim.config.debug = false;
  sim.clock.real();
});

/** One server.php call with form parameters (raw fetch: the protocol as a client sees it). */
async function call(fn: string, params: Record<string, string> = {}, token = sim.tokens.admin): Promise<{ status: number; body: any; raw: string; type: string | null }> {
  const res = await fetch(sim.endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ wstoken: token, wsfunction: fn, moodlewsrestformat: "json", ...params }).toString(),
  });
  const raw = await res.text();
  let body: unknown = raw;
  try {
    body = JSON.parse(raw);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body, raw, type: res.headers.get("content-type") };
}

describe("control endpoints (/__sim/)", () => {
  it("seed, change and inspect data from another process", async () => {
    await control.reset({ courses: 5, users: 3, enrolmentsPerCourse: 2, seed: 7 });
    const state = await control.state();
    expect(state.counts).toEqual({ categories: 1, courses: 6, users: 7, deletedUsers: 0, enrolments: 10 });
    expect(state.tokens).toEqual(sim.tokens);

    const [created] = (await control.ops([{ op: "createCourse", fields: { fullname: "From control", shortname: "CTL1" } }])).results as { id: number }[];
    const found = await call("core_course_get_courses_by_field", { field: "shortname", value: "CTL1" });
    expect(found.body.courses.map((c: { id: number }) => c.id)).toEqual([created!.id]);
    expect((await control.course(created!.id)).fullname).toBe("From control");
    expect((await control.enrolments(2)).length).toBe(2);
  });

  it("a scheduled change happens after N matching calls, not before", async () => {
    await control.schedule(2, [{ op: "updateCourse", id: 1, fields: { fullname: "Renamed site" } }], "core_course_get_courses");
    await call("core_webservice_get_site_info");
    expect((await call("core_course_get_courses")).body[0].fullname).toBe("Realsys Moodle");
    expect((await call("core_course_get_courses")).body[0].fullname).toBe("Realsys Moodle");
    expect((await call("core_course_get_courses")).body[0].fullname).toBe("Renamed site");
  });

  it("faults, config, clock and stats", async () => {
    await control.addFault({ type: "http", status: 503, times: 2, function: "core_webservice_get_site_info" });
    expect((await call("core_webservice_get_site_info")).status).toBe(503);
    expect((await call("core_course_get_courses")).status).toBe(200); // another function: not hit
    expect((await call("core_webservice_get_site_info")).status).toBe(503);
    expect((await call("core_webservice_get_site_info")).status).toBe(200);
    expect(await control.stats()).toMatchObject({ calls: 4, faults: 2, byFunction: { core_webservice_get_site_info: 3, core_course_get_courses: 1 } });

    await control.configure({ debug: true });
    expect((await call("core_enrol_get_enrolled_users")).body.debuginfo).toBe("Missing required key in single structure: courseid");

    const { now } = await control.clock({ set: 1_900_000_000 });
    expect(now).toBe(1_900_000_000);
    await control.ops([{ op: "advanceClock", seconds: 5 }]);
    await call("core_course_create_courses", { "courses[0][fullname]": "Timed", "courses[0][shortname]": "T1", "courses[0][categoryid]": "1" });
    expect(sim.store.courseByShortname("T1")!.timecreated).toBe(1_900_000_005);
    await control.resetStats();
    expect((await control.stats()).calls).toBe(0);
  });

  it("is not reachable through server.php, honours a control token, and can be switched off", async () => {
    expect((await call("__sim/state")).body.errorcode).toBe("invalidrecord");
    const guarded = await startMoodleSimulator({ controlToken: "s3cret" });
    const off = await startMoodleSimulator({ control: false });
    try {
      expect((await fetch(`${guarded.url}/__sim/state`)).status).toBe(403);
      expect((await new MoodleSimControl(guarded.url, "s3cret").state()).counts.courses).toBe(1);
      expect((await fetch(`${off.url}/__sim/state`)).status).toBe(404);
      expect((await fetch(`${sim.url}/login/index.php`)).status).toBe(404);
    } finally {
      await guarded.close();
      await off.close();
    }
  });
});

describe("knobs", () => {
  it("fails the next calls of a function with a chosen Moodle exception, after letting some through", async () => {
    sim.faults.add({ type: "exception", errorcode: "dmlwriteexception", exception: "dml_write_exception", message: "Error writing to database", function: "core_course_update_courses", afterCalls: 1 });
    const ok = await call("core_course_update_courses", { "courses[0][id]": "1", "courses[0][fullname]": "x" });
    expect(ok.body).toEqual({ warnings: [] });
    const failed = await call("core_course_update_courses", { "courses[0][id]": "1", "courses[0][fullname]": "y" });
    expect(failed.body).toEqual({ exception: "dml_write_exception", errorcode: "dmlwriteexception", message: "Error writing to database" });
    expect(sim.store.courses.get(1)!.fullname).toBe("x");
  });

  it("a hang answers after `ms`, or never (the client gives up); a reset drops the connection", async () => {
    sim.faults.add({ type: "hang", ms: 150 });
    const started = performance.now();
    expect((await call("core_webservice_get_site_info")).body.username).toBe("admin");
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);

    sim.faults.add({ type: "hang" });
    await expect(fetch(`${sim.endpoint}?wstoken=${sim.tokens.admin}&wsfunction=core_webservice_get_site_info`, { signal: AbortSignal.timeout(150) })).rejects.toThrow();

    sim.faults.add({ type: "reset" });
    await expect(call("core_webservice_get_site_info")).rejects.toThrow();
    expect(sim.faults.pending()).toEqual([]);
  });

  it("latency per call and per function", async () => {
    sim.config.functionLatencyMs = { core_course_get_courses: 120 };
    try {
      let t = performance.now();
      await call("core_webservice_get_site_info");
      expect(performance.now() - t).toBeLessThan(110);
      t = performance.now();
      await call("core_course_get_courses");
      expect(performance.now() - t).toBeGreaterThanOrEqual(115);
    } finally {
      sim.config.functionLatencyMs = {};
    }
  });

  it("hooks see every call (count, function, token role) and may change data mid-run", async () => {
    const seen: CallInfo[] = [];
    const off = sim.onCall((info, store) => {
      seen.push(info);
      if (info.wsfunction === "core_course_get_courses" && info.functionN === 2) store.createCourse({ fullname: "Appeared", shortname: "APP" });
    });
    try {
      expect((await call("core_course_get_courses")).body.length).toBe(1);
      expect((await call("core_course_get_courses")).body.length).toBe(2);
      await call("core_webservice_get_site_info", {}, sim.tokens.limited);
    } finally {
      off();
    }
    expect(seen.map((s) => [s.n, s.wsfunction, s.functionN, s.role])).toEqual([
      [1, "core_course_get_courses", 1, "admin"],
      [2, "core_course_get_courses", 2, "admin"],
      [3, "core_webservice_get_site_info", 1, "limited"],
    ]);
  });
});

describe("seeding", () => {
  it("is deterministic for a seed, and different for another", async () => {
    const a = await startMoodleSimulator({ seed: { courses: 50, users: 20, enrolmentsPerCourse: 4, categories: 2, seed: 3 } });
    const b = await startMoodleSimulator({ seed: { courses: 50, users: 20, enrolmentsPerCourse: 4, categories: 2, seed: 3 } });
    const c = await startMoodleSimulator({ seed: { courses: 50, users: 20, enrolmentsPerCourse: 4, categories: 2, seed: 4 } });
    try {
      const dump = (s: MoodleSimulator) => JSON.stringify([[...s.store.courses.values()], [...s.store.users.values()], s.store.courseEnrolments(10)]);
      expect(dump(a)).toBe(dump(b));
      expect(dump(a)).not.toBe(dump(c));
      expect(a.store.categories.size).toBe(3);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  it("seeds 100,000 courses and 10,000 users quickly", () => {
    const started = performance.now();
    const r = sim.store.seed({ courses: 100_000, users: 10_000, enrolmentsPerCourse: 1 });
    const ms = performance.now() - started;
    expect(r.courses.length).toBe(100_000);
    expect(r.enrolments).toBe(100_000);
    expect(sim.store.courses.size).toBe(100_001);
    expect(ms).toBeLessThan(20_000);
  });
});

describe("protocol details", () => {
  it("decodes parameters like PHP: GET and POST merged (POST wins), duplicates keep the last, non-form bodies ignored", async () => {
    const viaGet = await fetch(`${sim.endpoint}?wstoken=${sim.tokens.admin}&wsfunction=core_webservice_get_site_info&moodlewsrestformat=json`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "wsfunction=core_course_get_courses&wsfunction=core_course_get_categories",
    });
    // The body's last wsfunction won: the categories, not site info (query) nor the courses (first duplicate).
    expect(await viaGet.json()).toEqual([expect.objectContaining({ id: 1, name: "Category 1", coursecount: 0 })]);
    const json = await fetch(sim.endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ wstoken: sim.tokens.admin, wsfunction: "core_webservice_get_site_info" }),
    });
    expect(await json.text()).toContain("<ERRORCODE>invalidtoken</ERRORCODE>");
  });

  it("answers XML for a function that returns null with an empty RESPONSE", async () => {
    const res = await fetch(sim.endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: `wstoken=${sim.tokens.admin}&wsfunction=enrol_manual_unenrol_users&enrolments[0][userid]=2&enrolments[0][courseid]=1`,
    });
    expect(res.headers.get("content-type")).toBe("application/xml; charset=utf-8");
    expect(await res.text()).toContain("<ERRORCODE>wsnoinstance</ERRORCODE>");
    sim.store.seed({ courses: 1, users: 1 });
    const ok = await fetch(sim.endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: `wstoken=${sim.tokens.admin}&wsfunction=enrol_manual_enrol_users&enrolments[0][roleid]=5&enrolments[0][userid]=5&enrolments[0][courseid]=2`,
    });
    expect(await ok.text()).toBe('<?xml version="1.0" encoding="UTF-8" ?>\n<RESPONSE>\n</RESPONSE>\n');
  });

  it("rolls a failed create back entirely (the id sequence is not rolled back)", async () => {
    const r = await call("core_course_create_courses", {
      "courses[0][fullname]": "First",
      "courses[0][shortname]": "F1",
      "courses[0][categoryid]": "1",
      "courses[1][fullname]": "Second",
      "courses[1][shortname]": "F1",
      "courses[1][categoryid]": "1",
    });
    expect(r.body.errorcode).toBe("shortnametaken");
    expect(sim.store.courseByShortname("F1")).toBeUndefined();
    const next = await call("core_course_create_courses", { "courses[0][fullname]": "Third", "courses[0][shortname]": "F3", "courses[0][categoryid]": "1" });
    expect(next.body).toEqual([{ id: 3, shortname: "F3" }]);
  });

  it("returns an updated course last from core_course_get_courses (no ORDER BY: table order)", async () => {
    sim.store.seed({ courses: 3 });
    await call("core_course_update_courses", { "courses[0][id]": "2", "courses[0][summary]": "moved" });
    expect((await call("core_course_get_courses")).body.map((c: { id: number }) => c.id)).toEqual([1, 3, 4, 2]);
    expect((await call("core_course_get_courses", { "options[ids][0]": "2", "options[ids][1]": "3" })).body.map((c: { id: number }) => c.id)).toEqual([3, 2]);
  });

  it("soft-deletes users: renamed <email>.<time>, email = md5(old username), idnumber cleared, enrolments gone", async () => {
    sim.clock.set(1_800_000_000);
    sim.store.seed({ courses: 1, users: 1, enrolmentsPerCourse: 1 });
    expect((await call("core_user_delete_users", { "userids[0]": "5" })).body).toBeNull();
    const [u] = (await call("core_user_get_users_by_field", { field: "id", "values[0]": "5" })).body;
    expect(u.username).toBe("user000005@example.com.1800000000");
    expect(u.email).toBe(createHash("md5").update("user000005").digest("hex"));
    expect(u).not.toHaveProperty("idnumber");
    expect(sim.store.courseEnrolments(2)).toEqual([]);
    expect((await call("core_user_get_users", { "criteria[0][key]": "username", "criteria[0][value]": "user000005" })).body.users).toEqual([]);
    // Deleting it again fails the whole call (one transaction), as does deleting an admin.
    expect((await call("core_user_delete_users", { "userids[0]": "5" })).body.errorcode).toBe("invalidrecord");
    expect((await call("core_user_delete_users", { "userids[0]": "2" })).body.errorcode).toBe("useradminodelete");
  });
});
