// Text on output as the real Moodle 4.5.5+ answered it (../shared/protocols/real-findings.md, "Moodle escapes text on
// output") and as its source says per function and field (README.md, "Text on output"): util::format_string fields
// escaped (`&` → `&amp;` unless it starts an entity, `<`/`>` → `&lt;`/`&gt;`, quotes kept), format_text summaries
// cleaned as HTML (tags kept), create answers and user fields raw, and everything raw with `moodlewssettingraw=1`
// except what Moodle formats with weblib's format_string directly (enrolledcourses).
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startMoodleSimulator, type MoodleSimulator } from "./moodle.simulator.js";
import { formatString, formatText, phpStripTags } from "./moodle.text.js";

let sim: MoodleSimulator;

beforeAll(async () => {
  sim = await startMoodleSimulator();
});

afterAll(async () => {
  await sim?.close();
});

async function call(fn: string, params: Record<string, string> = {}): Promise<{ body: any; raw: string }> {
  const res = await fetch(sim.endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ wstoken: sim.tokens.admin, wsfunction: fn, moodlewsrestformat: "json", ...params }).toString(),
  });
  const raw = await res.text();
  return { body: JSON.parse(raw), raw };
}

describe("weblib format_string / format_text", () => {
  it("format_string escapes & (not entities), < and >, keeps quotes, strips tags", () => {
    expect(formatString(`R&D "Quoted" & 'single' Ü`)).toBe(`R&amp;D "Quoted" &amp; 'single' Ü`);
    expect(formatString("ESC&1")).toBe("ESC&amp;1");
    expect(formatString("a < b > c")).toBe("a &lt; b &gt; c");
    // A user who typed an entity: Moodle leaves it as it is (indistinguishable from an escaped `&` on output).
    expect(formatString("Tom &amp; Jerry &copy; &#169;")).toBe("Tom &amp; Jerry &copy; &#169;");
    expect(formatString("x <b>bold</b> y")).toBe("x bold y");
    expect(formatString("😀 日本語")).toBe("😀 日本語");
  });

  it("PHP strip_tags: '<' before whitespace is text, a stray '>' is text, an unclosed tag runs to the end", () => {
    expect(phpStripTags("a < b")).toBe("a < b");
    expect(phpStripTags("a > b")).toBe("a > b");
    expect(phpStripTags("a<b c")).toBe("a");
    expect(phpStripTags(`<a href="x>y">link</a>`)).toBe("link");
  });

  it("format_text: HTML cleaned with its tags kept; plain text through s() and nl2br; the format becomes HTML", () => {
    expect(formatText("a & b <b>bold</b>", 1)).toEqual(["a &amp; b <b>bold</b>", 1]);
    expect(formatText(`it's "x" & <y>`, 2)).toEqual(["it&#039;s &quot;x&quot; &amp; &lt;y&gt;", 1]);
    expect(formatText("line1\nline2", 0)).toEqual(["line1<br />\nline2", 1]);
    expect(formatText("", 0)).toEqual(["", 0]);
  });
});

describe("what the functions answer", () => {
  let courseId: number;

  beforeAll(async () => {
    const created = await call("core_course_create_courses", {
      "courses[0][fullname]": `R&D "Quoted" & 'single' Ü`,
      "courses[0][shortname]": "ESC&2",
      "courses[0][categoryid]": "1",
      "courses[0][summary]": "a & b <b>bold</b>",
    });
    // The create answer is raw (as recorded: [{"id":516,"shortname":"ESC&2"}]).
    expect(created.raw).toMatch(/^\[\{"id":\d+,"shortname":"ESC&2"\}\]$/);
    courseId = created.body[0].id;
    const user = sim.store.createUser({ username: "quoted", firstname: `Ann & "Bo"`, lastname: "O'Neil <x>", email: "q@example.org", city: "A&B" });
    sim.store.enrol(courseId, user.id, 5, {});
  });

  it("core_course_get_courses: fullname, shortname, displayname escaped; summary cleaned as HTML (the real answer)", async () => {
    const { raw, body } = await call("core_course_get_courses", { "options[ids][0]": String(courseId) });
    expect(raw).toContain(`"fullname":"R&amp;D \\"Quoted\\" &amp; 'single' \\u00dc","displayname":"R&amp;D \\"Quoted\\" &amp; 'single' \\u00dc"`);
    expect(body[0]).toMatchObject({ shortname: "ESC&amp;2", summary: "a &amp; b <b>bold</b>", summaryformat: 1 });
  });

  it("core_course_get_courses_by_field and core_enrol_get_users_courses escape the same fields", async () => {
    const { body } = await call("core_course_get_courses_by_field", { field: "id", value: String(courseId) });
    expect(body.courses[0]).toMatchObject({ fullname: `R&amp;D "Quoted" &amp; 'single' Ü`, displayname: `R&amp;D "Quoted" &amp; 'single' Ü`, shortname: "ESC&amp;2", summary: "a &amp; b <b>bold</b>" });
    const user = [...sim.store.users.values()].find((u) => u.username === "quoted")!;
    const courses = await call("core_enrol_get_users_courses", { userid: String(user.id) });
    expect(courses.body[0]).toMatchObject({ fullname: `R&amp;D "Quoted" &amp; 'single' Ü`, shortname: "ESC&amp;2" });
  });

  it("user fields come back as stored (core_user_get_users_by_field, core_enrol_get_enrolled_users)", async () => {
    const user = [...sim.store.users.values()].find((u) => u.username === "quoted")!;
    const { body } = await call("core_user_get_users_by_field", { field: "id", "values[0]": String(user.id) });
    expect(body[0]).toMatchObject({ firstname: `Ann & "Bo"`, lastname: "O'Neil <x>", fullname: `Ann & "Bo" O'Neil <x>`, city: "A&B" });
    const enrolled = await call("core_enrol_get_enrolled_users", { courseid: String(courseId) });
    expect(enrolled.body[0]).toMatchObject({ firstname: `Ann & "Bo"`, lastname: "O'Neil <x>" });
    // ...but the enrolled courses listed with them are formatted by weblib's format_string.
    expect(enrolled.body[0].enrolledcourses[0]).toMatchObject({ fullname: `R&amp;D "Quoted" &amp; 'single' Ü`, shortname: "ESC&amp;2" });
  });

  it("moodlewssettingraw=1: util::format_string / format_text fields as stored, with the stored format", async () => {
    sim.store.updateCourse(courseId, { summaryformat: 0 });
    const { body } = await call("core_course_get_courses", { "options[ids][0]": String(courseId), moodlewssettingraw: "1" });
    expect(body[0]).toMatchObject({ fullname: `R&D "Quoted" & 'single' Ü`, shortname: "ESC&2", displayname: `R&D "Quoted" & 'single' Ü`, summary: "a & b <b>bold</b>", summaryformat: 0 });
    const escaped = await call("core_course_get_courses", { "options[ids][0]": String(courseId), moodlewssettingraw: "0" });
    expect(escaped.body[0]).toMatchObject({ fullname: `R&amp;D "Quoted" &amp; 'single' Ü`, summaryformat: 1 });
    const byField = await call("core_course_get_courses_by_field", { field: "id", value: String(courseId), moodlewssettingraw: "true" });
    expect(byField.body.courses[0]).toMatchObject({ fullname: `R&D "Quoted" & 'single' Ü`, shortname: "ESC&2", categoryname: "Category 1" });
    // @@PLUGINFILE@@ is rewritten to the web service file URL unless the call says moodlewssettingfileurl=0 (raw or not).
    sim.store.updateCourse(courseId, { summary: `<img src="@@PLUGINFILE@@/a.png">` });
    const contextid = sim.store.courses.get(courseId)!.contextid;
    const urls = await call("core_course_get_courses", { "options[ids][0]": String(courseId), moodlewssettingraw: "1" });
    expect(urls.body[0].summary).toBe(`<img src="${sim.url}/webservice/pluginfile.php/${contextid}/course/summary/a.png">`);
    const stored = await call("core_course_get_courses", { "options[ids][0]": String(courseId), moodlewssettingraw: "1", moodlewssettingfileurl: "0" });
    expect(stored.body[0].summary).toBe(`<img src="@@PLUGINFILE@@/a.png">`);
    const enrolled = await call("core_enrol_get_enrolled_users", { courseid: String(courseId), moodlewssettingraw: "1" });
    expect(enrolled.body[0].enrolledcourses[0]).toMatchObject({ fullname: `R&amp;D "Quoted" &amp; 'single' Ü`, shortname: "ESC&amp;2" });
  });
});

describe("core_course_get_courses_by_field with field=ids (real-findings.md)", () => {
  it("an unknown or deleted id fails the whole call with a PHP Error: no errorcode, no warnings, no partial result", async () => {
    const a = sim.store.createCourse({ fullname: "A", shortname: "IDS-A", category: 1 });
    const b = sim.store.createCourse({ fullname: "B", shortname: "IDS-B", category: 1 });
    const ok = await call("core_course_get_courses_by_field", { field: "ids", value: `${a!.id},${b!.id}` });
    expect(ok.body.courses.map((c: { id: number }) => c.id)).toEqual([a!.id, b!.id].sort((x, y) => x - y));
    const unknown = await call("core_course_get_courses_by_field", { field: "ids", value: `${a!.id},999999` });
    expect(unknown.raw).toBe('{"exception":"Error","message":"Attempt to assign property \\"contextvalidated\\" on null"}');
    sim.store.deleteCourse(b!.id);
    const deleted = await call("core_course_get_courses_by_field", { field: "ids", value: `${a!.id},${b!.id}` });
    expect(deleted.body).toEqual({ exception: "Error", message: 'Attempt to assign property "contextvalidated" on null' });
    // field=id of a missing course is an empty answer, as recorded.
    expect((await call("core_course_get_courses_by_field", { field: "id", value: String(b!.id) })).body).toEqual({ courses: [], warnings: [] });
  });
});
