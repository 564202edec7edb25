// Contract: text survives Moodle read → client push → write-back → read unchanged (issue 16 §1). The Moodle
// simulator escapes on output exactly where real Moodle 4.5 does (simulators/moodle/README.md, "Text on output";
// real answers in ../shared/protocols/real-findings.md): `&`, `<`, `>`, quotes, an `&amp;` typed literally by a user,
// emoji and non-Latin text go through the real stack — the Moodle connector's inbound run, a client push through the
// gateway, the outbound writer — and the simulator's stored row equals what the client wrote, and the next inbound
// read gives the same record. Outbound sends only the fields the client changed: editing a summary sends no fullname
// or shortname (a carried field would overwrite a change made in Moodle since).
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import {
  ConnectorRunUpdatedDocument,
  CreateCollectionDocument,
  CreateConnectorFullDocument,
  CreateConnectorMappingDocument,
  PushChangesDocument,
  StartSyncDocument,
  type RunProgressFragment,
} from "../__generated__/graphql.js";
import { startMoodleSimulator, type CallInfo, type MoodleSimulator } from "../../simulators/moodle/moodle.simulator.js";
import { startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";
import { Feed, pulledState, waitUntil } from "./e2e-helpers.js";

const FINAL = ["SUCCEEDED", "PARTIAL", "FAILED", "CANCELLED"];

// What users type: entities typed literally, quotes, brackets (with spaces: PARAM_TEXT strips `<tag>` on input), emoji,
// non-Latin scripts.
const FULLNAME = `R&D "Quoted" & 'single' Ü — a < b > c &amp; &copy; 😀 日本語 Ωμέγα`;
const SHORTNAME = "ESC&1 > 😀";
// An embedded file as Moodle stores it (rewritten to a web service URL on output unless the call says fileurl=0).
const SUMMARY = `a & b <b>bold</b> "q" 'q' &amp; &lt;kept&gt; 😀 Привет <img src="@@PLUGINFILE@@/pic.png">`;

type Doc = { id: string; _deleted?: boolean } & Record<string, unknown>;

describe("Moodle text round trip through the connector (contract)", () => {
  let t: TestStack;
  let a: TenantLogin;
  let sim: MoodleSimulator;
  let connectorId: string;
  let courseId: number;
  let userId: number;
  const updates: Record<string, unknown>[] = [];

  async function inbound(options: Record<string, unknown> = {}): Promise<RunProgressFragment> {
    const started = await t.request(StartSyncDocument, { connectorId, options }, a.token);
    if (!started.data) throw new Error(`startSync failed: ${JSON.stringify(started.errors)}`);
    const feed = new Feed(t.ws(a.token), ConnectorRunUpdatedDocument, { id: started.data.startSync.id });
    const end = await waitUntil(() => feed.results.map((r) => r.data?.syncRunUpdated).find((s) => s && FINAL.includes(s.status)), "the run to finish", 60_000);
    await feed.close();
    return end!;
  }

  async function live(collection: string): Promise<Map<string, Doc>> {
    const { state } = await pulledState<Doc>(t.url, a.token, collection);
    return new Map([...state].filter(([, d]) => !d._deleted).map(([id, { _deleted, ...doc }]) => [id, doc as Doc]));
  }

  async function push(collection: string, docs: Record<string, unknown>[]): Promise<void> {
    const res = await t.request(
      PushChangesDocument,
      { input: { collection, strategy: "CLIENT_WINS", rows: docs.map((d) => ({ assumedMasterState: null, newDocumentState: d })) } },
      a.token,
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!.pushChanges.applied).toBe(docs.length);
  }

  beforeAll(async () => {
    sim = await startMoodleSimulator({ seed: { courses: 3, users: 2, enrolmentsPerCourse: 0, seed: 9 } });
    courseId = sim.store.createCourse({ fullname: FULLNAME, shortname: SHORTNAME, category: 1, summary: SUMMARY, summaryformat: 1 }).id;
    userId = sim.store.createUser({ username: "zoe", firstname: `Zoë & "Ann"`, lastname: "O'Neil &amp; Søn", email: "zoe@example.org", city: "Tōkyō a < b" }).id;
    sim.onCall((call: CallInfo) => {
      if (call.wsfunction === "core_course_update_courses" || call.wsfunction === "core_user_update_users") {
        updates.push(...((Object.values((call.params.courses ?? call.params.users) as object) as Record<string, unknown>[]) ?? []));
      }
    });
    t = await startTestStack({ connectors: { connectorJobs: { workers: 2, pollingIntervalSeconds: 0.5 } } });
    a = await t.tenant("moodle-text");
    for (const name of ["courses", "learners"]) expect((await t.request(CreateCollectionDocument, { input: { name } }, a.token)).errors).toBeUndefined();
    const created = await t.request(
      CreateConnectorFullDocument,
      { input: { kind: "MOODLE", name: "LMS", baseUrl: sim.url, credentials: { token: sim.tokens.admin }, settings: { retries: 0, timeoutMs: 5_000 } } },
      a.token,
    );
    expect(created.errors).toBeUndefined();
    connectorId = created.data!.createConnector.id;
    const courses = await t.request(
      CreateConnectorMappingDocument,
      {
        connectorId,
        input: {
          remoteModel: "course",
          collection: "courses",
          direction: "BOTH",
          fieldMap: [
            { field: "name", remote: "fullname" },
            { field: "code", remote: "shortname" },
            { field: "summary", remote: "summary" },
            { field: "summaryformat", remote: "summaryformat" },
          ],
        },
      },
      a.token,
    );
    expect(courses.errors).toBeUndefined();
    const users = await t.request(
      CreateConnectorMappingDocument,
      {
        connectorId,
        input: {
          remoteModel: "user",
          collection: "learners",
          direction: "BOTH",
          fieldMap: [
            { field: "username", remote: "username" },
            { field: "email", remote: "email" },
            { field: "firstname", remote: "firstname" },
            { field: "lastname", remote: "lastname" },
            { field: "city", remote: "city" },
          ],
        },
      },
      a.token,
    );
    expect(users.errors).toBeUndefined();
  }, 120_000);

  afterAll(async () => {
    await t?.stop();
    await sim?.close();
  });

  it("an inbound run stores the text as Moodle holds it (not as Moodle escapes it on output)", async () => {
    expect((await inbound({ full: true })).status).toBe("SUCCEEDED");
    expect((await live("courses")).get(String(courseId))).toEqual({ id: String(courseId), name: FULLNAME, code: SHORTNAME, summary: SUMMARY, summaryformat: 1 });
    expect((await live("learners")).get(String(userId))).toEqual({
      id: String(userId),
      username: "zoe",
      email: "zoe@example.org",
      firstname: `Zoë & "Ann"`,
      lastname: "O'Neil &amp; Søn",
      city: "Tōkyō a < b",
    });
  }, 90_000);

  it("editing only the summary sends only the summary; Moodle's row keeps its names; the next read is the same record", async () => {
    updates.length = 0;
    const summary = `new & <i>x</i> "y" &amp; 😀 中文 <img src="@@PLUGINFILE@@/pic.png">`;
    const before = (await live("courses")).get(String(courseId))!;
    await push("courses", [{ ...before, summary }]);
    await waitUntil(() => sim.store.courses.get(courseId)?.summary === summary, "the summary in Moodle", 30_000, 50);
    expect(updates).toEqual([{ id: String(courseId), summary }]);
    expect(sim.store.courses.get(courseId)).toMatchObject({ fullname: FULLNAME, shortname: SHORTNAME, summary, summaryformat: 1 });
    expect((await inbound()).status).toBe("SUCCEEDED");
    expect((await live("courses")).get(String(courseId))).toEqual({ ...before, summary });
  }, 90_000);

  it("names pushed with &, quotes, brackets, a typed &amp;, emoji and non-Latin text are stored exactly and read back unchanged", async () => {
    updates.length = 0;
    const name = `Tom & Jerry "101" 'x' &amp; a < b > c 😀 Ελληνικά`;
    const before = (await live("courses")).get(String(courseId))!;
    await push("courses", [{ ...before, name }]);
    await waitUntil(() => sim.store.courses.get(courseId)?.fullname === name, "the fullname in Moodle", 30_000, 50);
    expect(updates).toEqual([{ id: String(courseId), fullname: name }]);
    expect(sim.store.courses.get(courseId)).toMatchObject({ fullname: name, shortname: SHORTNAME });

    const learner = (await live("learners")).get(String(userId))!;
    const lastname = `O'Neil & "Søn" &amp; 😀 日本`;
    await push("learners", [{ ...learner, lastname }]);
    await waitUntil(() => sim.store.users.get(userId)?.lastname === lastname, "the lastname in Moodle", 30_000, 50);
    expect(updates.at(-1)).toEqual({ id: String(userId), lastname });
    expect(sim.store.users.get(userId)).toMatchObject({ firstname: `Zoë & "Ann"`, lastname, city: "Tōkyō a < b" });

    expect((await inbound({ full: true })).status).toBe("SUCCEEDED");
    expect((await live("courses")).get(String(courseId))).toEqual({ ...before, name });
    expect((await live("learners")).get(String(userId))).toEqual({ ...learner, lastname });
  }, 90_000);

  it("a course the client creates with such text is stored exactly and read back as the same record (no twin); an unchanged push sends nothing", async () => {
    const doc = { id: "client-course", name: `Ça & "ça" > < &amp; 🎓 한국어`, code: "CLI&1", summary: "<p>x &amp; y & z</p>", summaryformat: 1 };
    // First a push of a course as it is (nothing changed): nothing is sent for it; the new course after it is created.
    updates.length = 0;
    const unchanged = (await live("courses")).get(String(courseId))!;
    await push("courses", [{ ...unchanged, extra: "not mapped" }]);
    await push("courses", [doc]);
    const created = await waitUntil(() => [...sim.store.courses.values()].find((c) => c.idnumber === "client-course"), "the course in Moodle", 30_000, 50);
    expect(created).toMatchObject({ fullname: doc.name, shortname: doc.code, summary: doc.summary, summaryformat: 1 });
    expect(updates).toEqual([]);
    expect((await inbound({ full: true })).status).toBe("SUCCEEDED");
    const now = await live("courses");
    expect(now.get("client-course")).toEqual(doc);
    expect(now.has(String(created.id))).toBe(false);
  }, 90_000);
});
