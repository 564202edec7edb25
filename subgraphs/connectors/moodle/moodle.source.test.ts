// MoodleSource against the simulator: what a sync job relies on for Moodle specifically — courses by id (full) and by
// (timemodified, id) with an overlap (incremental), resuming from the cursor alone when the in-memory list is gone,
// users all every time (soft-deleted ones not live), enrolments paged per course with `<courseid>:<userid>` ids, and
// outbound create/update/remove with Moodle's quirks (warnings for missing ids, soft deletes, idempotent enrolments).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { startMoodleSimulator, type MoodleSimulator } from "../../../simulators/moodle/moodle.simulator.js";
import { RemoteError, RemoteErrorKind } from "../remote/remote.errors.js";
import type { ReadPageOptions, RemoteRecord, SourceCursor } from "../remote/source.js";
import { MoodleClient } from "./moodle.client.js";
import { forgetMoodleSnapshots, MoodleSource } from "./moodle.source.js";

let sim: MoodleSimulator;

beforeAll(async () => {
  sim = await startMoodleSimulator();
});

afterAll(async () => {
  await sim?.close();
});

beforeEach(() => {
  forgetMoodleSnapshots();
  sim.clock.real();
  sim.reset({ courses: 25, users: 12, enrolmentsPerCourse: 3 });
});

const source = (token = sim.tokens.admin, overlapSeconds = 60) =>
  new MoodleSource({ client: new MoodleClient({ url: sim.url, token, retries: 2, minBackoffMs: 5, maxBackoffMs: 20 }), overlapSeconds });

/** Reads a model to the end; returns the records and the final cursor. */
async function readAll(src: MoodleSource, model: string, opts: Partial<ReadPageOptions> & { pageSize: number }, cursor: SourceCursor | null = null) {
  const records: RemoteRecord[] = [];
  let pages = 0;
  for (;;) {
    const page = await src.readPage(model, cursor, { full: false, ...opts });
    records.push(...page.records);
    cursor = page.cursor;
    expect(JSON.parse(JSON.stringify(cursor))).toEqual(cursor); // JSON-serialisable, as the job stores it
    if (page.done) return { records, cursor, pages: pages + 1 };
    if (++pages > 10_000) throw new Error("no end");
  }
}

async function failure(p: Promise<unknown>): Promise<RemoteError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(RemoteError);
    return err as RemoteError;
  }
  throw new Error("expected a RemoteError");
}

const courseIds = () => [...sim.store.courses.keys()].filter((id) => id !== 1).sort((a, b) => a - b).map(String);
const liveUserIds = () =>
  [...sim.store.users.values()].filter((u) => !u.deleted && u.username !== "guest").map((u) => String(u.id)).sort((a, b) => Number(a) - Number(b));
const enrolmentIds = () =>
  [...sim.store.enrolments.values()].flatMap((m) => [...m.values()].map((e) => `${e.courseid}:${e.userid}`)).sort();
const collect = async (it: AsyncIterable<string[]>) => {
  const out: string[] = [];
  for await (const chunk of it) out.push(...chunk);
  return out;
};

describe("connection", () => {
  it("reports Moodle's release, the token's user and the latency", async () => {
    const info = await source().testConnection();
    expect(info).toEqual({ version: "4.5.5+ (Build: 20250613)", remoteUser: "admin", latencyMs: expect.any(Number) });
    expect(source().models()).toEqual(["course", "user", "enrolment"]);
  });

  it("a wrong token is AUTH", async () => {
    expect((await failure(source("ffffffffffffffffffffffffffffffff").testConnection())).kind).toBe(RemoteErrorKind.AUTH);
  });
});

describe("courses", () => {
  it("a full run pages every course by id, without the site course, with only the mapped fields", async () => {
    const { records, pages } = await readAll(source(), "course", { full: true, pageSize: 7, fields: ["fullname", "shortname"] });
    expect(records.map((r) => r.remoteId)).toEqual(courseIds());
    expect(pages).toBe(4);
    const c = sim.store.courses.get(Number(records[0]!.remoteId))!;
    expect(records[0]!.fields).toEqual({ fullname: c.fullname, shortname: c.shortname });
    // One list call for the whole run: pages come from the snapshot.
    expect(sim.stats.byFunction.core_course_get_courses).toBe(1);
  });

  it("incremental runs read what changed since the last one, with an overlap window, by (timemodified, id)", async () => {
    const src = source(undefined, 60);
    const first = await readAll(src, "course", { pageSize: 4 });
    expect(first.records.map((r) => r.remoteId).sort()).toEqual(courseIds().sort());
    // Ties: several seeded courses share a second; the order is (timemodified, id) and nothing repeats.
    const tms = first.records.map((r) => [Number(r.fields.timemodified), Number(r.remoteId)] as const);
    expect(tms).toEqual([...tms].sort((a, b) => a[0] - b[0] || a[1] - b[1]));

    const nothing = await readAll(src, "course", { pageSize: 4 }, first.cursor);
    const newest = Math.max(...first.records.map((r) => Number(r.fields.timemodified)));
    // Only the overlap window comes back: the courses stamped within 60 s of the newest seen.
    expect(nothing.records.every((r) => Number(r.fields.timemodified) >= newest - 60)).toBe(true);

    sim.clock.advance(3_600);
    const [a, b] = courseIds();
    sim.store.updateCourse(Number(a), { fullname: "Renamed A" });
    sim.store.updateCourse(Number(b), { summary: "New summary" });
    const created = sim.store.createCourse({ fullname: "Brand new", shortname: "NEW1" });
    const next = await readAll(src, "course", { pageSize: 2 }, nothing.cursor);
    const ids = next.records.map((r) => r.remoteId);
    expect(ids).toEqual(expect.arrayContaining([a, b, String(created.id)]));
    expect(next.records.find((r) => r.remoteId === a)!.fields.fullname).toBe("Renamed A");
    // Older courses outside the window are not read again.
    expect(ids.length).toBeLessThanOrEqual(3 + nothing.records.length);
  });

  it("`since` starts an incremental run (minus the overlap) when there is no cursor", async () => {
    sim.clock.advance(86_400);
    const changed = sim.store.updateCourse(Number(courseIds()[5]), { fullname: "Changed" });
    const since = new Date((changed.timemodified - 10) * 1000);
    const { records } = await readAll(source(undefined, 5), "course", { pageSize: 10, since });
    expect(records.map((r) => r.remoteId)).toEqual([String(changed.id)]);
  });

  it("resumes from the cursor alone when the course list was lost mid-run (another worker), changes included", async () => {
    const src = source();
    const page1 = await src.readPage("course", null, { full: true, pageSize: 10 });
    const seen = page1.records.map((r) => r.remoteId);
    forgetMoodleSnapshots();
    const later = courseIds().slice(15);
    sim.store.updateCourse(Number(later[0]), { fullname: "Changed while paused" });
    sim.store.deleteCourse(Number(later[1]));
    const rest = await readAll(source(), "course", { full: true, pageSize: 10 }, page1.cursor);
    const all = [...seen, ...rest.records.map((r) => r.remoteId)];
    expect(all).toEqual(courseIds());
    expect(rest.records.find((r) => r.remoteId === later[0])!.fields.fullname).toBe("Changed while paused");
    expect(sim.stats.byFunction.core_course_get_courses).toBe(2);
  });

  it("a change made mid-run (after N calls) is read by the next incremental run", async () => {
    const src = source(undefined, 0);
    const target = Number(courseIds()[0]);
    sim.schedule({ afterCalls: 1, function: "core_course_get_courses", run: (s) => (s.clock.advance(120), s.updateCourse(target, { fullname: "Mid-run" })) });
    const first = await readAll(src, "course", { pageSize: 5 });
    // The snapshot was taken before the change: the first run saw the old name.
    expect(first.records.find((r) => r.remoteId === String(target))!.fields.fullname).not.toBe("Mid-run");
    const second = await readAll(src, "course", { pageSize: 5 }, first.cursor);
    // With no overlap the next run starts at the newest second seen (inclusive: that second may not be complete).
    const newest = Math.max(...first.records.map((r) => Number(r.fields.timemodified)));
    const lastSecond = first.records.filter((r) => r.fields.timemodified === newest && r.remoteId !== String(target)).map((r) => r.remoteId);
    expect(second.records.map((r) => r.remoteId)).toEqual([...lastSecond, String(target)]);
    expect(second.records.at(-1)!.fields.fullname).toBe("Mid-run");
  });

  it("liveIds lists every course but the site course; a hard-deleted course is simply absent", async () => {
    sim.store.deleteCourse(Number(courseIds()[3]));
    expect(await collect(source().liveIds("course", { pageSize: 4 }))).toEqual(courseIds());
  });
});

describe("users", () => {
  it("every run reads every user (no change tracking), without guest and without soft-deleted users", async () => {
    const victim = Number(liveUserIds().at(-1));
    sim.store.deleteUser(victim);
    const src = source();
    const first = await readAll(src, "user", { pageSize: 5 });
    expect(first.records.map((r) => r.remoteId)).toEqual(liveUserIds());
    expect(first.records.map((r) => r.remoteId)).not.toContain(String(victim));
    const second = await readAll(src, "user", { pageSize: 5 }, first.cursor);
    expect(second.records.map((r) => r.remoteId)).toEqual(liveUserIds());
    expect(await collect(src.liveIds("user", { pageSize: 3 }))).toEqual(liveUserIds());
  });
});

describe("enrolments", () => {
  it("pages enrolled users course by course with limitfrom/limitnumber; ids are <courseid>:<userid>", async () => {
    const { records } = await readAll(source(), "enrolment", { pageSize: 2 });
    expect(records.map((r) => r.remoteId).sort()).toEqual(enrolmentIds());
    const r = records[0]!;
    const [courseid, userid] = r.remoteId.split(":").map(Number);
    expect(r.fields).toMatchObject({ courseid, userid, roleid: 5, roleids: [5], roles: ["student"] });
    expect(sim.stats.byFunction.core_enrol_get_enrolled_users).toBeGreaterThanOrEqual(25);
  });

  it("a page spans several courses; a course deleted mid-run is skipped, a transient failure retried", async () => {
    const src = source();
    const page1 = await src.readPage("enrolment", null, { full: true, pageSize: 7 });
    expect(page1.records.length).toBe(7);
    expect(new Set(page1.records.map((r) => r.remoteId.split(":")[0])).size).toBeGreaterThan(1);
    const nextCourse = Number(page1.cursor.courseId);
    const following = courseIds().map(Number).find((id) => id > nextCourse)!;
    sim.store.deleteCourse(following);
    sim.faults.add({ type: "http", status: 503, function: "core_enrol_get_enrolled_users" });
    const rest = await readAll(src, "enrolment", { full: true, pageSize: 7 }, page1.cursor);
    const all = [...page1.records, ...rest.records].map((r) => r.remoteId).sort();
    expect(all).toEqual(enrolmentIds());
    expect(sim.stats.faults).toBe(1);
  });

  it("liveIds lists every enrolment", async () => {
    expect((await collect(source().liveIds("enrolment", { pageSize: 4 }))).sort()).toEqual(enrolmentIds());
  });
});

describe("outbound", () => {
  it("courses: create, update (NOT_FOUND when gone), remove (idempotent); read-only fields ignored, unknown refused", async () => {
    const src = source();
    const id = await src.create("course", { fullname: "Outbound", shortname: "OUT1", idnumber: "X-1", displayname: "ignored", timemodified: 1 });
    expect(sim.store.courses.get(Number(id))).toMatchObject({ fullname: "Outbound", shortname: "OUT1", idnumber: "X-1", category: 1 });
    await src.update("course", id, { fullname: "Outbound 2", startdate: "2027-01-01T00:00:00.000Z" });
    expect(sim.store.courses.get(Number(id))).toMatchObject({ fullname: "Outbound 2", startdate: 1798761600 });
    expect((await failure(src.update("course", id, { colour: "red" }))).kind).toBe(RemoteErrorKind.VALIDATION);
    expect((await failure(src.create("course", { shortname: "NOFULL" }))).kind).toBe(RemoteErrorKind.VALIDATION);
    const taken = await failure(src.create("course", { fullname: "Twin", shortname: "OUT1" }));
    expect([taken.kind, taken.detail.remoteCode]).toEqual([RemoteErrorKind.VALIDATION, "shortnametaken"]);
    await src.remove("course", id);
    expect(sim.store.courses.has(Number(id))).toBe(false);
    await src.remove("course", id);
    const missing = await failure(src.update("course", id, { fullname: "x" }));
    expect([missing.kind, missing.detail.remoteCode]).toEqual([RemoteErrorKind.NOT_FOUND, "invalidrecord"]);
    expect((await failure(src.remove("course", "1"))).kind).not.toBe(RemoteErrorKind.NOT_FOUND);
  });

  it("users: create (password generated when none), update, soft-delete (then not live; updating it is NOT_FOUND)", async () => {
    const src = source();
    const id = await src.create("user", { username: "out.user", firstname: "Out", lastname: "User", email: "out@example.com", fullname: "ignored" });
    expect(sim.store.users.get(Number(id))).toMatchObject({ username: "out.user", email: "out@example.com" });
    await src.update("user", id, { city: "Porto", suspended: true });
    expect(sim.store.users.get(Number(id))).toMatchObject({ city: "Porto", suspended: true });
    expect((await failure(src.update("user", "999999", { city: "x" }))).kind).toBe(RemoteErrorKind.NOT_FOUND);
    await src.remove("user", id);
    expect(sim.store.users.get(Number(id))!.deleted).toBe(true);
    expect(await collect(src.liveIds("user", { pageSize: 100 }))).not.toContain(id);
    await src.remove("user", id);
    expect((await failure(src.update("user", id, { city: "x" }))).kind).toBe(RemoteErrorKind.NOT_FOUND);
  });

  it("enrolments: create (student by default), update the role, remove; gone course or user counts as removed", async () => {
    const src = source();
    const courseid = Number(courseIds()[0]);
    const userid = Number(liveUserIds().find((u) => Number(u) > 4 && !sim.store.enrolment(courseid, Number(u))));
    const id = await src.create("enrolment", { courseid, userid });
    expect(id).toBe(`${courseid}:${userid}`);
    expect(sim.store.enrolment(courseid, userid)!.roles).toEqual([5]);
    await src.update("enrolment", id, { roleid: 3 });
    expect(sim.store.enrolment(courseid, userid)!.roles).toEqual([5, 3]);
    await src.remove("enrolment", id);
    expect(sim.store.enrolment(courseid, userid)).toBeUndefined();
    await src.remove("enrolment", id);
    expect((await failure(src.update("enrolment", id, { roleid: 5 }))).kind).toBe(RemoteErrorKind.NOT_FOUND);
    await src.remove("enrolment", `999999:${userid}`);
    await src.remove("enrolment", `${courseid}:999999`);
    expect((await failure(src.create("enrolment", { courseid, userid: 999_999 }))).kind).toBe(RemoteErrorKind.NOT_FOUND);
    expect((await failure(src.remove("enrolment", "abc"))).kind).toBe(RemoteErrorKind.VALIDATION);
  });

  it("a token without the write functions gets PERMISSION", async () => {
    const err = await failure(source(sim.tokens.readonly).create("course", { fullname: "No", shortname: "NO1" }));
    expect([err.kind, err.detail.remoteCode]).toEqual([RemoteErrorKind.PERMISSION, "accessexception"]);
  });
});

describe("bad input", () => {
  it("an unknown model is NOT_FOUND; a cursor that is not this source's is VALIDATION", async () => {
    expect((await failure(source().readPage("grade", null, { full: true, pageSize: 5 }))).kind).toBe(RemoteErrorKind.NOT_FOUND);
    expect((await failure(source().readPage("course", { v: 1, mode: "full" }, { full: true, pageSize: 5 }))).kind).toBe(RemoteErrorKind.VALIDATION);
    expect((await failure(source().readPage("user", { afterId: "x" }, { full: true, pageSize: 5 }))).kind).toBe(RemoteErrorKind.VALIDATION);
  });
});

describe("enrolments of many courses per call (core_enrol_get_enrolled_users_with_capability)", () => {
  let batchSim: MoodleSimulator;
  const BATCHED = "core_enrol_get_enrolled_users_with_capability";

  beforeAll(async () => {
    batchSim = await startMoodleSimulator({ extraServiceFunctions: [BATCHED] });
  });
  afterAll(async () => {
    await batchSim?.close();
  });
  beforeEach(() => {
    forgetMoodleSnapshots();
    batchSim.reset({ courses: 40, users: 30, enrolmentsPerCourse: 3 });
    // One large course and a few empty ones.
    const [big, ...rest] = [...batchSim.store.courses.values()].filter((c) => c.id !== 1);
    for (const u of [...batchSim.store.users.values()].filter((x) => x.id > 2)) batchSim.store.enrol(big!.id, u.id, 5);
    for (const c of rest.slice(0, 3)) for (const e of batchSim.store.courseEnrolments(c.id)) batchSim.store.unenrol(c.id, e.userid);
  });

  const batchSource = () => new MoodleSource({ client: new MoodleClient({ url: batchSim.url, token: batchSim.tokens.admin, retries: 0 }) });
  const ids = () => [...batchSim.store.enrolments.values()].flatMap((m) => [...m.values()].map((e) => `${e.courseid}:${e.userid}`)).sort();

  it("reads every enrolment once at any page size, in far fewer calls; the same records as course by course", async () => {
    const perCourse = batchSource();
    batchSim.faults.add({ type: "exception", exception: "webservice_access_exception", errorcode: "accessexception", function: BATCHED, times: Infinity });
    const slow = await readAll(perCourse, "enrolment", { pageSize: 500, full: true });
    batchSim.faults.clear();
    forgetMoodleSnapshots();
    const slowCalls = batchSim.stats.byFunction.core_enrol_get_enrolled_users ?? 0;
    expect(slowCalls).toBe(40); // one per course
    for (const pageSize of [1, 2, 7, 50, 500]) {
      const before = { per: batchSim.stats.byFunction.core_enrol_get_enrolled_users ?? 0, batched: batchSim.stats.byFunction[BATCHED] ?? 0 };
      const { records } = await readAll(batchSource(), "enrolment", { pageSize, full: true });
      expect(records.map((r) => r.remoteId).sort()).toEqual(ids());
      expect(records.map((r) => r.remoteId)).toHaveLength(new Set(records.map((r) => r.remoteId)).size);
      if (pageSize === 500) {
        expect(new Map(records.map((r) => [r.remoteId, r.fields]))).toEqual(new Map(slow.records.map((r) => [r.remoteId, r.fields])));
        expect((batchSim.stats.byFunction[BATCHED] ?? 0) - before.batched).toBeLessThanOrEqual(2);
        expect((batchSim.stats.byFunction.core_enrol_get_enrolled_users ?? 0) - before.per).toBeLessThanOrEqual(1);
      }
    }
    const live: string[] = [];
    for await (const page of batchSource().liveIds("enrolment", { pageSize: 9 })) live.push(...page);
    expect(live.sort()).toEqual(ids());
  });

  it("a course deleted after the course list was read: the call of its group fails, the group is read course by course", async () => {
    const src = batchSource();
    const first = await src.readPage("enrolment", null, { full: true, pageSize: 5 });
    const gone = [...batchSim.store.courses.values()].filter((c) => c.id !== 1).at(-1)!;
    batchSim.store.deleteCourse(gone.id);
    const rest = await readAll(src, "enrolment", { pageSize: 50, full: true }, first.cursor);
    expect([...first.records, ...rest.records].map((r) => r.remoteId).sort()).toEqual(ids());
  });
});
