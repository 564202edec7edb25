// The Moodle client against the simulator (a real HTTP server speaking the recorded protocol): PHP-array encoding,
// typed results and warnings, the mapping of every Moodle failure to a RemoteError kind (with errorcode kept),
// retries with backoff on transient failures only, timeouts, creates not retried by default, and the token kept out
// of every message and of the client's printed form.
import { inspect } from "node:util";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { startMoodleSimulator, type MoodleSimulator } from "../../../simulators/moodle/moodle.simulator.js";
import { RemoteError, RemoteErrorKind } from "../remote/remote.errors.js";
import { encodeMoodleParams, MoodleClient, type MoodleClientOptions } from "./moodle.client.js";

let sim: MoodleSimulator;

beforeAll(async () => {
  sim = await startMoodleSimulator();
});

afterAll(async () => {
  await sim?.close();
});

beforeEach(() => {
  sim.reset({ courses: 3, users: 4, enrolmentsPerCourse: 2 });
});

const client = (opts: Partial<MoodleClientOptions> = {}) =>
  new MoodleClient({ url: sim.url, token: sim.tokens.admin, retries: 2, minBackoffMs: 5, maxBackoffMs: 20, timeoutMs: 5_000, ...opts });

/** The RemoteError a promise rejects with (fails the test if it resolves or throws something else). */
async function failure(p: Promise<unknown>): Promise<RemoteError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(RemoteError);
    return err as RemoteError;
  }
  throw new Error("expected a RemoteError, the call succeeded");
}

describe("encoding", () => {
  it("writes PHP array parameters as the recorded requests do (indices, + for spaces)", () => {
    expect(
      encodeMoodleParams({
        wsfunction: "core_course_create_courses",
        courses: [{ fullname: "Realsys Course A 263167", shortname: "RSA263167", categoryid: 1 }],
      }),
    ).toBe(
      "wsfunction=core_course_create_courses&courses%5B0%5D%5Bfullname%5D=Realsys+Course+A+263167&courses%5B0%5D%5Bshortname%5D=RSA263167&courses%5B0%5D%5Bcategoryid%5D=1",
    );
    expect(encodeMoodleParams({ options: { ids: [2, 3] } })).toBe("options%5Bids%5D%5B0%5D=2&options%5Bids%5D%5B1%5D=3");
  });

  it("sends booleans as 1/0, dates as Unix seconds, and leaves null/undefined out", () => {
    expect(encodeMoodleParams({ users: [{ createpassword: true, suspended: false, idnumber: null, city: undefined }] })).toBe(
      "users%5B0%5D%5Bcreatepassword%5D=1&users%5B0%5D%5Bsuspended%5D=0",
    );
    expect(encodeMoodleParams({ since: new Date("2026-01-01T00:00:00Z") })).toBe("since=1767225600");
  });
});

describe("typed calls", () => {
  it("reads text as Moodle stores it (moodlewssettingraw): no &amp; in names, summaries with their own format", async () => {
    const c = client();
    const fullname = `R&D "Quoted" & 'single' Ü a < b > c 😀 日本語 Tom &amp; Jerry`;
    const summary = `a & b <b>bold</b> <img src="@@PLUGINFILE@@/pic.png">`;
    const [created] = await c.createCourses([{ fullname, shortname: "ESC&1", categoryid: 1, summary, summaryformat: 2 }]);
    const expected = { fullname, shortname: "ESC&1", displayname: fullname, summary, summaryformat: 2 };
    expect((await c.getCourses([created!.id]))[0]).toMatchObject(expected);
    expect((await c.getCoursesByField("id", created!.id)).courses[0]).toMatchObject(expected);
    // The passthrough's generic call gets what Moodle answers by default (escaped, formatted).
    const plain = await c.call<{ fullname: string; summaryformat: number }[]>("core_course_get_courses", { options: { ids: [created!.id] } });
    expect(plain[0]).toMatchObject({ fullname: `R&amp;D "Quoted" &amp; 'single' Ü a &lt; b &gt; c 😀 日本語 Tom &amp; Jerry`, summaryformat: 1 });
  });

  it("reads site info: release, version, user and the service's functions", async () => {
    const info = await client().getSiteInfo();
    expect(info.release).toBe("4.5.5+ (Build: 20250613)");
    expect(info.username).toBe("admin");
    expect(info.userissiteadmin).toBe(true);
    expect(info.functions.map((f) => f.name)).toContain("core_enrol_get_enrolled_users");
  });

  it("creates, reads (site course included), updates and deletes courses; missing ids are typed warnings", async () => {
    const c = client();
    const [created] = await c.createCourses([{ fullname: "Algebra", shortname: "ALG1", categoryid: 1, idnumber: "EXT-ALG1" }]);
    expect(created).toEqual({ id: expect.any(Number), shortname: "ALG1" });
    const all = await c.getCourses();
    expect(all.map((x) => x.id)).toEqual(expect.arrayContaining([1, created!.id]));
    expect(all.find((x) => x.id === created!.id)).toMatchObject({ fullname: "Algebra", idnumber: "EXT-ALG1", timemodified: expect.any(Number) });

    const byField = await c.getCoursesByField("shortname", "ALG1");
    expect(byField.courses.map((x) => x.id)).toEqual([created!.id]);
    expect(byField.warnings).toEqual([]);

    expect(await c.updateCourses([{ id: created!.id, fullname: "Algebra I" }])).toEqual([]);
    expect((await c.getCourses([created!.id]))[0]!.fullname).toBe("Algebra I");
    expect(await c.updateCourses([{ id: 999_999, fullname: "x" }])).toEqual([
      { item: "course", itemid: 999_999, warningcode: "invalidrecord", message: "Can't find data record in database table course." },
    ]);

    expect(await c.deleteCourses([created!.id])).toEqual([]);
    expect(await c.deleteCourses([created!.id])).toEqual([
      { item: "course", itemid: created!.id, warningcode: "unknowncourseidnumber", message: `Unknown course ID ${created!.id}` },
    ]);
    expect(await c.getCourses([created!.id])).toEqual([]);
  });

  it("creates, finds, updates and soft-deletes users", async () => {
    const c = client();
    const [u] = await c.createUsers([{ username: "zoe", firstname: "Zoé", lastname: "Ng", email: "zoe@example.com", createpassword: true }]);
    const found = await c.getUsers([{ key: "email", value: "zoe@%" }]);
    expect(found.users.map((x) => x.id)).toEqual([u!.id]);
    expect(found.users[0]!.firstname).toBe("Zoé"); // \u-escaped on the wire, decoded here
    expect(await c.updateUsers([{ id: u!.id, city: "Oslo" }])).toEqual([]);
    expect(await c.updateUsers([{ id: 999_999, city: "x" }])).toEqual([
      { item: "user", itemid: 999_999, warningcode: "invaliduserid", message: "Invalid user ID" },
    ]);
    await c.deleteUsers([u!.id]);
    expect((await c.getUsers([{ key: "email", value: "zoe@%" }])).users).toEqual([]);
    // Still there by id, renamed, with no deleted flag.
    const [ghost] = await c.getUsersByField("id", [u!.id]);
    expect(ghost!.username).toMatch(/^zoe@example\.com\.\d+$/);
    expect(ghost).not.toHaveProperty("deleted");
  });

  it("an unsupported criteria key is a warning and returns every user", async () => {
    const r = await client().getUsers([{ key: "shoesize", value: "42" }]);
    expect(r.warnings).toEqual([expect.objectContaining({ item: "shoesize", warningcode: "invalidfieldparameter" })]);
    expect(r.users.length).toBe(sim.store.users.size);
  });

  it("enrols idempotently, pages enrolled users with limitfrom/limitnumber, unenrols", async () => {
    const c = client();
    const courseid = [...sim.store.courses.keys()].find((id) => id !== 1)!;
    const before = sim.store.courseEnrolments(courseid).length;
    const userid = [...sim.store.users.values()].find((u) => u.id > 4 && !sim.store.enrolment(courseid, u.id))!.id;
    await c.enrolUsers([{ roleid: 5, userid, courseid }]);
    await c.enrolUsers([{ roleid: 5, userid, courseid }]);
    const page1 = await c.getEnrolledUsers(courseid, { limitfrom: 0, limitnumber: 2, userfields: ["id", "roles"] });
    const page2 = await c.getEnrolledUsers(courseid, { limitfrom: 2, limitnumber: 2, userfields: ["id", "roles"] });
    const ids = [...page1, ...page2].map((u) => u.id);
    expect(ids.length).toBe(before + 1);
    expect(ids).toContain(userid);
    expect(page1[0]!.roles).toEqual([{ roleid: 5, name: "", shortname: "student", sortorder: 0 }]);
    expect((await c.getUsersCourses(userid)).map((x) => x.id)).toContain(courseid);
    await c.unenrolUsers([{ userid, courseid }]);
    expect((await c.getEnrolledUsers(courseid, { userfields: ["id"] })).map((u) => u.id)).not.toContain(userid);
  });
});

describe("errors become RemoteErrors with the Moodle errorcode", () => {
  const cases: [string, () => Promise<unknown>, RemoteErrorKind, string][] = [
    ["invalid token", () => client({ token: "0123456789abcdef0123456789abcdef" }).getSiteInfo(), RemoteErrorKind.AUTH, "invalidtoken"],
    ["no webservice/rest:use", () => client({ token: sim.tokens.norest }).getSiteInfo(), RemoteErrorKind.PERMISSION, "accessexception"],
    [
      "function not in the token's service",
      () => client({ token: sim.tokens.readonly }).createCourses([{ fullname: "A", shortname: "A", categoryid: 1 }]),
      RemoteErrorKind.PERMISSION,
      "accessexception",
    ],
    [
      "missing capability",
      () => client({ token: sim.tokens.limited }).createCourses([{ fullname: "A", shortname: "A", categoryid: 1 }]),
      RemoteErrorKind.PERMISSION,
      "nopermissions",
    ],
    ["unknown function", () => client().call("core_no_such_function"), RemoteErrorKind.NOT_FOUND, "invalidrecord"],
    ["bad parameter type", () => client().call("core_enrol_get_enrolled_users", { courseid: "abc" }), RemoteErrorKind.VALIDATION, "invalidparameter"],
    ["unexpected parameter", () => client().call("core_webservice_get_site_info", { bogus: 1 }), RemoteErrorKind.VALIDATION, "invalidparameter"],
    ["nonexistent course", () => client().getEnrolledUsers(999_999), RemoteErrorKind.NOT_FOUND, "invalidrecord"],
    [
      "shortname taken",
      () => client().createCourses([{ fullname: "Dup", shortname: "C000002", categoryid: 1 }]),
      RemoteErrorKind.VALIDATION,
      "shortnametaken",
    ],
    [
      "category not found",
      () => client().createCourses([{ fullname: "X", shortname: "X1", categoryid: 999_999 }]),
      RemoteErrorKind.VALIDATION,
      "errorcatcontextnotvalid",
    ],
    [
      "username taken",
      () => client().createUsers([{ username: "user000005", firstname: "a", lastname: "b", email: "new@example.com", password: "Passw0rd!x" }]),
      RemoteErrorKind.VALIDATION,
      "invalidparameter",
    ],
    [
      "nonexistent user in an enrolment",
      () => client().enrolUsers([{ roleid: 5, userid: 999_999, courseid: 2 }]),
      RemoteErrorKind.NOT_FOUND,
      "invaliduser",
    ],
    [
      "role not assignable",
      () => client().enrolUsers([{ roleid: 7, userid: 5, courseid: 2 }]),
      RemoteErrorKind.PERMISSION,
      "wsusercannotassign",
    ],
    ["deleting a missing user", () => client().deleteUsers([999_999]), RemoteErrorKind.NOT_FOUND, "invalidrecord"],
  ];

  it.each(cases)("%s", async (_name, call, kind, code) => {
    const err = await failure(call());
    expect(err.kind).toBe(kind);
    expect(err.detail.remoteCode).toBe(code);
    expect(err.detail.status).toBe(200);
    expect(err.transient).toBe(false);
  });

  it("a weak password is VALIDATION; the message is readable (Moodle's HTML errorcode is kept in remoteCode)", async () => {
    const err = await failure(
      client().createUsers([{ username: "weak", firstname: "W", lastname: "W", email: "weak@example.com", password: "abc" }]),
    );
    expect(err.kind).toBe(RemoteErrorKind.VALIDATION);
    expect(err.detail.remoteCode).toContain("<div>Passwords must be at least 8 characters long.</div>");
    expect(err.message).not.toMatch(/<div>/);
  });

  it("site maintenance (an exception envelope) is UNAVAILABLE and retried", async () => {
    sim.faults.add({ type: "exception", errorcode: "sitemaintenance", message: "Site is undergoing maintenance and is currently not available", times: 5 });
    const err = await failure(client({ retries: 1 }).getSiteInfo());
    expect(err.kind).toBe(RemoteErrorKind.UNAVAILABLE);
    expect(err.detail.remoteCode).toBe("sitemaintenance");
    expect(sim.stats.byFunction.core_webservice_get_site_info).toBe(2);
  });

  it("HTTP 5xx, a PHP error page and a dropped connection are UNAVAILABLE", async () => {
    sim.faults.add({ type: "http", status: 502, times: 3 });
    const http = await failure(client().getSiteInfo());
    expect(http).toMatchObject({ kind: RemoteErrorKind.UNAVAILABLE, detail: { status: 502 } });

    sim.faults.add({ type: "html", times: 3 });
    expect((await failure(client().getSiteInfo())).kind).toBe(RemoteErrorKind.UNAVAILABLE);

    sim.faults.add({ type: "reset", times: 3 });
    expect((await failure(client().getSiteInfo())).kind).toBe(RemoteErrorKind.UNAVAILABLE);
  });

  it("with site debugging on, the reason of a bad parameter is kept; SQL from debuginfo is not", async () => {
    sim.config.debug = true;
    try {
      const bad = await failure(client().call("core_enrol_get_enrolled_users", { courseid: "abc" }));
      expect(bad.message).toMatch(/courseid/);
      const missing = await failure(client().getEnrolledUsers(999_999));
      expect(missing.kind).toBe(RemoteErrorKind.NOT_FOUND);
      expect(missing.message).not.toMatch(/SELECT|\{course\}|array \(/);
    } finally {
      sim.config.debug = false;
    }
  });

  it("get_courses_by_field(ids) with a missing id fails the whole call (a PHP Error): NOT_FOUND", async () => {
    const err = await failure(client().getCoursesByField("ids", [2, 999_999]));
    expect(err.kind).toBe(RemoteErrorKind.NOT_FOUND);
    expect(err.detail.remoteCode).toBe("Error");
  });

  it("an unreachable host is UNAVAILABLE", async () => {
    const closed = await startMoodleSimulator();
    const url = closed.url;
    await closed.close();
    const err = await failure(new MoodleClient({ url, token: sim.tokens.admin, retries: 0 }).getSiteInfo());
    expect(err.kind).toBe(RemoteErrorKind.UNAVAILABLE);
  });
});

describe("retries and timeouts", () => {
  it("retries an injected 503 with backoff, then succeeds", async () => {
    sim.faults.add({ type: "http", status: 503, times: 2, function: "core_course_get_courses" });
    const courses = await client({ retries: 3 }).getCourses();
    expect(courses.length).toBe(sim.store.courses.size);
    expect(sim.stats.byFunction.core_course_get_courses).toBe(3);
    expect(sim.stats.faults).toBe(2);
  });

  it("does not retry AUTH", async () => {
    const err = await failure(client({ token: "00000000000000000000000000000000", retries: 3 }).getSiteInfo());
    expect(err.kind).toBe(RemoteErrorKind.AUTH);
    expect(sim.stats.calls).toBe(1);
  });

  it("a call hanging past the timeout is TIMEOUT; the retry then succeeds", async () => {
    sim.faults.add({ type: "hang", times: 5 });
    const err = await failure(client({ timeoutMs: 150, retries: 0 }).getSiteInfo());
    expect(err.kind).toBe(RemoteErrorKind.TIMEOUT);
    expect(err.transient).toBe(true);

    sim.faults.clear();
    sim.faults.add({ type: "hang", times: 1 });
    const info = await client({ timeoutMs: 150, retries: 1 }).getSiteInfo();
    expect(info.username).toBe("admin");
  });

  it("a slow answer within the timeout is not an error (latency knob)", async () => {
    sim.config.latencyMs = 100;
    try {
      const started = performance.now();
      await client({ timeoutMs: 2_000 }).getSiteInfo();
      expect(performance.now() - started).toBeGreaterThanOrEqual(95);
    } finally {
      sim.config.latencyMs = 0;
    }
  });

  it("does not retry creates unless asked (a timed-out create may have happened)", async () => {
    sim.faults.add({ type: "http", status: 503, function: "core_course_create_courses" });
    const err = await failure(client({ retries: 3 }).createCourses([{ fullname: "Once", shortname: "ONCE", categoryid: 1 }]));
    expect(err.kind).toBe(RemoteErrorKind.UNAVAILABLE);
    expect(sim.stats.byFunction.core_course_create_courses).toBe(1);

    sim.faults.add({ type: "http", status: 503, function: "core_course_create_courses" });
    const [created] = await client({ retries: 3, retryCreates: true }).createCourses([{ fullname: "Once", shortname: "ONCE", categoryid: 1 }]);
    expect(created!.shortname).toBe("ONCE");
    expect(sim.stats.byFunction.core_course_create_courses).toBe(3);
  });

  it("respects the rate limit toward the remote", async () => {
    const c = client({ requestsPerSecond: 2 });
    const started = performance.now();
    await Promise.all([c.getSiteInfo(), c.getSiteInfo(), c.getSiteInfo()]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(900);
  });
});

describe("the token stays secret", () => {
  it("never appears in error messages, even when Moodle echoes it", async () => {
    const token = sim.tokens.admin;
    sim.faults.add({ type: "exception", errorcode: "invalidparameter", message: `Invalid parameter value detected (wstoken=${token})` });
    const echoed = await failure(client({ retries: 0 }).getSiteInfo());
    expect(echoed.message).not.toContain(token);
    expect(echoed.message).toContain("<token>");

    const errors = [
      echoed,
      await failure(client().call("core_no_such_function")),
      await failure(client().call("core_enrol_get_enrolled_users", { courseid: "abc" })),
    ];
    sim.faults.add({ type: "http", status: 500, times: 3 });
    errors.push(await failure(client().getSiteInfo()));
    for (const e of errors) {
      expect(e.message).not.toContain(token);
      expect(JSON.stringify({ ...e, message: e.message })).not.toContain(token);
    }
  });

  it("is not in the client's printed or serialised form", () => {
    const c = client();
    expect(inspect(c, { depth: 5 })).not.toContain(sim.tokens.admin);
    expect(JSON.stringify(c)).not.toContain(sim.tokens.admin);
    expect(c.identity).not.toContain(sim.tokens.admin);
  });

  it("accepts the site URL or the full endpoint", () => {
    expect(new MoodleClient({ url: `${sim.url}/`, token: "x" }).endpoint).toBe(sim.endpoint);
    expect(new MoodleClient({ url: sim.endpoint, token: "x" }).endpoint).toBe(sim.endpoint);
  });
});
