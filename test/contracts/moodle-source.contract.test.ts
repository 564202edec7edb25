// The ConnectorSource contract for Moodle (MoodleSource over MoodleClient against the Moodle simulator), run for each
// of its three models, each on its own simulator:
//   - course: the model with change tracking (timemodified; a late commit is a course stamped before the newest change
//     but visible only now — course creation holds its transaction for minutes on a real site);
//   - user: no change tracking (every run returns every live user); removal is Moodle's soft delete;
//   - enrolment: no change tracking, paged per course; ids `<courseid>:<userid>`.
import { startMoodleSimulator, type MoodleSimulator } from "../../simulators/moodle/moodle.simulator.js";
import { createMoodleSource, type MoodleSource } from "../../subgraphs/connectors/moodle/moodle.source.js";
import { describeConnectorSourceContract, type SourceContractHarness } from "./connector-source.contract.js";

const OVERLAP_SECONDS = 30;

function sourceFor(sim: MoodleSimulator, token: string): MoodleSource {
  return createMoodleSource({
    url: sim.url,
    token,
    timeoutMs: 500,
    retries: 1,
    minBackoffMs: 10,
    maxBackoffMs: 20,
    overlapSeconds: OVERLAP_SECONDS,
  });
}

type Harness = SourceContractHarness;

/** What every model's harness shares: the simulator, both sources, faults. */
async function common(model: string, seed: Parameters<typeof startMoodleSimulator>[0]) {
  const sim = await startMoodleSimulator(seed);
  return {
    sim,
    base: {
      source: sourceFor(sim, sim.tokens.admin),
      sourceWithBadCredentials: sourceFor(sim, "0123456789abcdef0123456789abcdef"),
      model,
      overlapSeconds: OVERLAP_SECONDS,
      pageSize: 25,
      fault: async (kind: "UNAVAILABLE" | "TIMEOUT") => {
        sim.faults.add(kind === "UNAVAILABLE" ? { type: "http", status: 503, times: Infinity } : { type: "hang", times: Infinity });
      },
      clearFaults: async () => sim.faults.clear(),
      close: () => sim.close(),
    },
  };
}

describeConnectorSourceContract("Moodle course", async (): Promise<Harness> => {
  const { sim, base } = await common("course", { seed: { courses: 60, users: 10, categories: 2, seed: 5 } });
  const store = sim.store;
  const courseIds = async () => [...store.courses.keys()].filter((id) => id !== 1).map(String);
  let n = 0;
  return {
    ...base,
    fullIds: courseIds,
    // Courses are hard-deleted: the live set is the full set.
    liveIds: courseIds,
    createRecords: async (count) => Array.from({ length: count }, () => String(store.createCourse({ fullname: `Contract course ${++n}`, shortname: `CC${n}` }).id)),
    updateInOneCall: async (ids) => {
      const at = store.now();
      const tag = ++n;
      for (const id of ids) store.updateCourse(Number(id), { summary: `batch ${tag}`, timemodified: at });
    },
    lateCommit: async (id, secondsAgo) => {
      const newest = Math.max(...[...store.courses.values()].map((c) => c.timemodified));
      store.updateCourse(Number(id), { summary: "committed late", timemodified: newest - secondsAgo });
    },
    removeRemotely: async (ids) => {
      for (const id of ids) store.deleteCourse(Number(id));
    },
    newRecordFields: () => ({ fullname: "Outbound course", shortname: `OUT${++n}`, idnumber: `EXT-OUT-${n}`, summary: "Created by the contract" }),
    changedFields: () => ({ fullname: "Outbound course (renamed)", summary: "Updated by the contract", visible: 0 }),
    readRemote: async (id) => {
      const c = store.courses.get(Number(id));
      return c ? { ...c } : null;
    },
  };
});

describeConnectorSourceContract("Moodle user", async (): Promise<Harness> => {
  const { sim, base } = await common("user", { seed: { courses: 3, users: 40, seed: 6 } });
  const store = sim.store;
  // Soft-deleted users are not live; guest is never synced.
  const userIds = async () => [...store.users.values()].filter((u) => !u.deleted && u.username !== "guest").map((u) => String(u.id));
  let n = 0;
  return {
    ...base,
    fullIds: userIds,
    liveIds: userIds,
    createRecords: async (count) =>
      Array.from({ length: count }, () => {
        const i = ++n;
        return String(store.createUser({ username: `contract${i}`, firstname: "Contract", lastname: `User ${i}`, email: `contract${i}@example.com` }).id);
      }),
    updateInOneCall: async (ids) => {
      const tag = ++n;
      for (const id of ids) store.updateUser(Number(id), { department: `batch ${tag}` });
    },
    removeRemotely: async (ids) => {
      for (const id of ids) store.deleteUser(Number(id));
    },
    newRecordFields: () => ({ username: `outbound${++n}`, firstname: "Out", lastname: "Bound", email: `outbound${n}@example.com`, city: "Ghent" }),
    changedFields: () => ({ city: "Lyon", department: "Contracts", suspended: true }),
    readRemote: async (id) => {
      const u = store.users.get(Number(id));
      return u && !u.deleted ? { ...u } : null;
    },
  };
});

describeConnectorSourceContract("Moodle enrolment", async (): Promise<Harness> => {
  const { sim, base } = await common("enrolment", { seed: { courses: 20, users: 30, enrolmentsPerCourse: 4, seed: 7 } });
  const store = sim.store;
  const enrolmentIds = async () => [...store.enrolments.values()].flatMap((m) => [...m.values()].map((e) => `${e.courseid}:${e.userid}`));
  const courses = () => [...store.courses.keys()].filter((id) => id !== 1);
  let n = 0;
  /** A fresh user (so the pair is not enrolled yet). */
  const newUser = () => {
    const i = ++n;
    return store.createUser({ username: `learner${i}`, firstname: "Learner", lastname: `${i}`, email: `learner${i}@example.com` }).id;
  };
  return {
    ...base,
    fullIds: enrolmentIds,
    liveIds: enrolmentIds,
    createRecords: async (count) =>
      Array.from({ length: count }, (_, i) => {
        const courseid = courses()[i % courses().length]!;
        const userid = newUser();
        store.enrol(courseid, userid, 5);
        return `${courseid}:${userid}`;
      }),
    updateInOneCall: async (ids) => {
      const end = store.now() + 86_400 * ++n;
      for (const id of ids) {
        const [courseid, userid] = id.split(":").map(Number);
        store.enrol(courseid!, userid!, 5, { timeend: end });
      }
    },
    removeRemotely: async (ids) => {
      for (const id of ids) {
        const [courseid, userid] = id.split(":").map(Number);
        store.unenrol(courseid!, userid!);
      }
    },
    newRecordFields: () => ({ courseid: courses()[0]!, userid: newUser(), roleid: 5 }),
    changedFields: () => ({ timeend: 1_900_000_000, suspend: 1 }),
    readRemote: async (id) => {
      const [courseid, userid] = id.split(":").map(Number);
      const e = store.enrolment(courseid!, userid!);
      return e ? { courseid: e.courseid, userid: e.userid, roleid: e.roles[0], timestart: e.timestart, timeend: e.timeend, suspend: e.status } : null;
    },
  };
});
