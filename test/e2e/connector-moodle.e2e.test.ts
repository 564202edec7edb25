// Moodle connector runs through the gateway against the Moodle simulator (REST, PHP arrays, warnings): courses by
// timemodified, users by content comparison (Moodle has no change tracking for them), full-run reconciliation of
// hard-deleted courses and soft-deleted users, and the allow-listed moodleCall passthrough.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import {
  ConnectorRunUpdatedDocument,
  CreateCollectionDocument,
  CreateConnectorFullDocument,
  CreateConnectorMappingDocument,
  MoodleCallDocument,
  StartSyncDocument,
  TestConnectionDocument,
  type RunProgressFragment,
} from "../__generated__/graphql.js";
import { startMoodleSimulator, type MoodleSimulator } from "../../simulators/moodle/moodle.simulator.js";
import { startTestStack, type TenantLogin, type TestStack } from "../harness/stack.js";
import { codesOf, Feed, pulledState, waitUntil } from "./e2e-helpers.js";

const FINAL = ["SUCCEEDED", "PARTIAL", "FAILED", "CANCELLED"];

describe("connector runs against the Moodle simulator", () => {
  let t: TestStack;
  let a: TenantLogin;
  let sim: MoodleSimulator;
  let connectorId: string;

  async function run(options: Record<string, unknown> = {}): Promise<RunProgressFragment> {
    const started = await t.request(StartSyncDocument, { connectorId, options }, a.token);
    if (!started.data) throw new Error(`startSync failed: ${JSON.stringify(started.errors)}`);
    const feed = new Feed(t.ws(a.token), ConnectorRunUpdatedDocument, { id: started.data.startSync.id });
    const end = await waitUntil(() => feed.results.map((r) => r.data?.syncRunUpdated).find((s) => s && FINAL.includes(s.status)), "the run to finish", 60_000);
    await feed.close();
    return end!;
  }

  async function live(collection: string): Promise<Map<string, Record<string, unknown>>> {
    const { state } = await pulledState<{ id: string; _deleted?: boolean }>(t.url, a.token, collection);
    const out = new Map<string, Record<string, unknown>>();
    for (const [id, d] of state) {
      if (d._deleted) continue;
      const { _deleted, ...doc } = d as Record<string, unknown>;
      out.set(id, doc);
    }
    return out;
  }

  const expectedCourses = () =>
    new Map(
      [...sim.store.courses.values()]
        .filter((c) => c.id !== 1)
        .map((c) => [String(c.id), { id: String(c.id), name: c.fullname, code: c.shortname, modifiedAt: new Date(c.timemodified * 1000).toISOString() }]),
    );
  const expectedUsers = () =>
    new Map(
      [...sim.store.users.values()]
        .filter((u) => !u.deleted && u.username !== "guest")
        .map((u) => [String(u.id), { id: String(u.id), username: u.username, email: u.email, name: u.firstname }]),
    );

  beforeAll(async () => {
    sim = await startMoodleSimulator({ seed: { courses: 60, users: 40, enrolmentsPerCourse: 3, seed: 5 } });
    t = await startTestStack({ connectors: { connectorJobs: { workers: 2, pollingIntervalSeconds: 0.5 } } });
    a = await t.tenant("moodle-sync");
    for (const name of ["courses", "learners"]) expect((await t.request(CreateCollectionDocument, { input: { name } }, a.token)).errors).toBeUndefined();
    const created = await t.request(
      CreateConnectorFullDocument,
      { input: { kind: "MOODLE", name: "LMS", baseUrl: sim.url, credentials: { token: sim.tokens.admin }, allowedCalls: ["core_course_get_courses", "core_webservice_get_site_info"] } },
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
          fieldMap: [
            { field: "name", remote: "fullname" },
            { field: "code", remote: "shortname" },
            { field: "modifiedAt", remote: "timemodified", convert: "UNIX_TIME" },
          ],
        },
      },
      a.token,
    );
    expect(courses.errors).toBeUndefined();
    const users = await t.request(
      CreateConnectorMappingDocument,
      { connectorId, input: { remoteModel: "user", collection: "learners", fieldMap: [{ field: "username", remote: "username" }, { field: "email", remote: "email" }, { field: "name", remote: "firstname" }] } },
      a.token,
    );
    expect(users.errors).toBeUndefined();
  }, 120_000);

  afterAll(async () => {
    await t?.stop();
    await sim?.close();
  });

  it("tests the connection and runs a full sync of courses and users", async () => {
    const test = await t.request(TestConnectionDocument, { id: connectorId }, a.token);
    expect(test.data?.testConnection).toMatchObject({ ok: true, remoteUser: "admin" });
    const end = await run({ full: true, batchSize: 25 });
    expect(end.status).toBe("SUCCEEDED");
    expect(end.created).toBe(expectedCourses().size + expectedUsers().size);
    expect(await live("courses")).toEqual(expectedCourses());
    expect(await live("learners")).toEqual(expectedUsers());
  }, 90_000);

  it("an incremental run picks up a changed course by timemodified and a changed user by content", async () => {
    const [course] = [...sim.store.courses.values()].filter((c) => c.id !== 1);
    sim.clock.advance(5);
    sim.store.updateCourse(course!.id, { fullname: "Renamed course", timemodified: sim.store.now() });
    const [user] = [...sim.store.users.values()].filter((u) => u.username.startsWith("user") || u.id > 4);
    sim.store.updateUser(user!.id, { email: "moved@example.org" });
    const end = await run();
    expect(end.status).toBe("SUCCEEDED");
    expect(end.updated).toBe(2);
    expect(end.created).toBe(0);
    expect((await live("courses")).get(String(course!.id))?.name).toBe("Renamed course");
    expect((await live("learners")).get(String(user!.id))?.email).toBe("moved@example.org");
  }, 90_000);

  it("a full run removes hard-deleted courses and soft-deleted users", async () => {
    const courses = [...sim.store.courses.values()].filter((c) => c.id !== 1);
    sim.store.deleteCourse(courses[1]!.id);
    const users = [...sim.store.users.values()].filter((u) => !u.deleted && u.id > 4);
    sim.store.deleteUser(users[0]!.id);
    const end = await run({ full: true });
    expect(end.status).toBe("SUCCEEDED");
    expect(end.deleted).toBe(2);
    expect(await live("courses")).toEqual(expectedCourses());
    expect(await live("learners")).toEqual(expectedUsers());
  }, 90_000);

  it("a remote error on one model mid-run: that model's error is recorded, the other model lands, the run is PARTIAL", async () => {
    const [course] = [...sim.store.courses.values()].filter((c) => c.id !== 1);
    sim.clock.advance(5);
    sim.store.updateCourse(course!.id, { fullname: "Renamed again", timemodified: sim.store.now() });
    sim.faults.add({ type: "exception", exception: "required_capability_exception", errorcode: "nopermissions", function: "core_user_get_users", times: 10 });
    const end = await run();
    sim.faults.clear();
    expect(end.status).toBe("PARTIAL");
    expect(end.updated).toBe(1);
    expect(end.errors).toEqual([expect.objectContaining({ collection: "learners", code: "REMOTE_PERMISSION" })]);
    expect((await live("courses")).get(String(course!.id))?.name).toBe("Renamed again");
    expect((await run()).status).toBe("SUCCEEDED");
  }, 90_000);

  it("moodleCall: allow-listed functions pass through; others are FORBIDDEN; remote errors keep their kind", async () => {
    const ok = await t.request(MoodleCallDocument, { connectorId, function: "core_course_get_courses" }, a.token);
    expect(ok.errors).toBeUndefined();
    expect(Array.isArray(ok.data!.moodleCall)).toBe(true);
    expect((ok.data!.moodleCall as { id: number }[]).length).toBe(expectedCourses().size + 1); // with the site course
    const denied = await t.request(MoodleCallDocument, { connectorId, function: "core_user_delete_users", params: { userids: [2] } }, a.token);
    expect(codesOf(denied)).toEqual(["FORBIDDEN"]);
    expect(denied.errors?.[0]?.extensions).toMatchObject({ reason: "CALL_NOT_ALLOWED" });
    const bad = await t.request(MoodleCallDocument, { connectorId, function: "core_course_get_courses", params: { options: { ids: ["abc"] } } }, a.token);
    expect(codesOf(bad)).toEqual(["UPSTREAM_ERROR"]);
    expect(bad.errors?.[0]?.extensions).toMatchObject({ remoteKind: "VALIDATION", remoteCode: "invalidparameter" });
  }, 60_000);
});
