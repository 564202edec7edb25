// Moodle as a ConnectorSource, over its REST functions. Models: `course`, `user`, `enrolment`.
//
// Moodle pages nothing but enrolled users, and no function filters by "modified since", so:
//   - course: one core_course_get_courses call lists every course (the site course, id 1, is left out); the list is
//     filtered and ordered here — full runs by id, incremental runs by (timemodified, id) from a floor — and served
//     page by page from a snapshot kept in memory between pages. The cursor holds the position as keys, not as an
//     index, so a worker that lost the snapshot (restart, another process) reads the list again and continues at the
//     same place. A finished incremental pass restarts `overlapSeconds` before the newest timemodified it saw: Moodle
//     stamps a course before its (sometimes minutes-long) transaction commits, so a late commit is read next time.
//   - user: core_user_get_users (email LIKE '%') lists every user but the soft-deleted ones, every run (users carry no
//     modification time: the job compares content); the guest account is left out. Served from a snapshot by id.
//   - enrolment: per course (ids from the course list), core_enrol_get_enrolled_users with limitfrom/limitnumber;
//     remote id `<courseid>:<userid>`.
// Outbound: core_course_*/core_user_* create/update/delete; enrolments via enrol_manual_enrol_users/unenrol_users.
import { randomUUID } from "node:crypto";
import { RemoteError, RemoteErrorKind } from "../remote/remote.errors.js";
import type { RemoteCallOptions } from "../remote/remote-call.js";
import type { ConnectionInfo, ConnectorSource, ReadPageOptions, RemoteRecord, SourceCursor, SourcePage } from "../remote/source.js";
import {
  MoodleClient,
  warningError,
  type MoodleClientOptions,
  type MoodleCourse,
  type MoodleCourseInput,
  type MoodleEnrolledUser,
  type MoodleUser,
  type MoodleUserInput,
} from "./moodle.client.js";

export const MOODLE_MODELS = ["course", "user", "enrolment"] as const;
export type MoodleModel = (typeof MOODLE_MODELS)[number];

/** Default re-read window of incremental course runs (s): course creation can hold a transaction for minutes. */
export const MOODLE_DEFAULT_OVERLAP_SECONDS = 600;
/** Default role of outbound enrolments (student). */
export const MOODLE_STUDENT_ROLE_ID = 5;
const SITE_COURSE_ID = 1;
/** At most this many get_enrolled_users calls per page (courses without enrolments cost a call each). */
const MAX_COURSE_CALLS_PER_PAGE = 200;
const ENROLMENT_USERFIELDS = ["id", "username", "firstname", "lastname", "email", "idnumber", "roles"];
/** Courses per core_enrol_get_enrolled_users_with_capability call (each is one (course, capability) entry). */
const MAX_BATCH_COURSES = 100;
/** Sites (client identities) whose token cannot use the batched function, since when (retried after a while). */
const NO_BATCH = new Map<string, number>();
const NO_BATCH_RETRY_MS = 10 * 60_000;

export interface MoodleSourceOptions {
  client: MoodleClient;
  overlapSeconds?: number;
  /** Role of enrolments created without a `roleid` (default 5, student). */
  defaultRoleId?: number;
  /** Category of courses created without a `categoryid` (default 1). */
  defaultCategoryId?: number;
}

// Fields outbound writes may set; known read-only ones are dropped silently, anything else is refused.
const COURSE_WRITABLE = new Set([
  "fullname", "shortname", "categoryid", "idnumber", "summary", "summaryformat", "format", "showgrades", "newsitems",
  "startdate", "enddate", "numsections", "maxbytes", "showreports", "visible", "hiddensections", "groupmode",
  "groupmodeforce", "defaultgroupingid", "enablecompletion", "completionnotify", "lang", "forcetheme",
  "courseformatoptions", "customfields",
]);
const COURSE_READONLY = new Set([
  "id", "displayname", "categorysortorder", "timecreated", "timemodified", "showactivitydates", "showcompletionconditions",
  "categoryname", "sortorder", "courseimage", "contacts", "enrollmentmethods", "summaryfiles", "overviewfiles", "filters",
  "cacherev", "marker", "legacyfiles", "calendartype", "requested", "theme", "category",
]);
const USER_WRITABLE = new Set([
  "username", "password", "firstname", "lastname", "email", "auth", "idnumber", "city", "country", "timezone",
  "description", "institution", "department", "phone1", "phone2", "address", "lang", "theme", "mailformat",
  "maildisplay", "middlename", "alternatename", "firstnamephonetic", "lastnamephonetic", "interests", "calendartype",
  "customfields", "suspended", "createpassword",
]);
const USER_READONLY = new Set([
  "id", "fullname", "firstaccess", "lastaccess", "confirmed", "profileimageurl", "profileimageurlsmall", "preferences",
  "descriptionformat", "trackforums", "roles", "enrolledcourses", "lastcourseaccess", "groups",
]);
const ENROLMENT_WRITABLE = new Set(["roleid", "timestart", "timeend", "suspend"]);
const ENROLMENT_READONLY = new Set(["courseid", "userid", "roleids", "roles", "username", "firstname", "lastname", "email", "idnumber", "fullname"]);
const TIME_FIELDS = new Set(["startdate", "enddate", "timestart", "timeend"]);

type CourseCursor = { v: 1; model: "course"; mode: "full" | "inc"; from: number | null; afterTm: number | null; afterId: number; high: number | null; snap: string | null };
type UserCursor = { v: 1; model: "user"; afterId: number; snap: string | null };
type EnrolmentCursor = { v: 1; model: "enrolment"; courseId: number; offset: number; snap: string | null };

interface Row {
  id: number;
  tm: number;
  record: RemoteRecord;
}

/** Snapshots shared by sources of the same site and token (a job may build a source per attempt). */
const SNAPSHOTS = new Map<string, { at: number; rows: Row[] }>();
const SNAPSHOT_TTL_MS = 15 * 60_000;
const SNAPSHOT_MAX = 8;

function getSnapshot(key: string): Row[] | undefined {
  const hit = SNAPSHOTS.get(key);
  if (!hit) return undefined;
  if (Date.now() - hit.at > SNAPSHOT_TTL_MS) {
    SNAPSHOTS.delete(key);
    return undefined;
  }
  SNAPSHOTS.delete(key); // refresh LRU position
  SNAPSHOTS.set(key, hit);
  return hit.rows;
}

/** Drops every cached list (tests: a worker that lost its memory resumes from the cursor alone). */
export function forgetMoodleSnapshots(): void {
  SNAPSHOTS.clear();
  NO_BATCH.clear();
}

function putSnapshot(key: string, rows: Row[]): void {
  SNAPSHOTS.set(key, { at: Date.now(), rows });
  while (SNAPSHOTS.size > SNAPSHOT_MAX) SNAPSHOTS.delete(SNAPSHOTS.keys().next().value!);
}

export class MoodleSource implements ConnectorSource {
  readonly kind = "MOODLE" as const;
  readonly client: MoodleClient;
  private readonly overlapSeconds: number;
  private readonly defaultRoleId: number;
  private readonly defaultCategoryId: number;

  constructor(options: MoodleSourceOptions) {
    this.client = options.client;
    this.overlapSeconds = options.overlapSeconds ?? MOODLE_DEFAULT_OVERLAP_SECONDS;
    this.defaultRoleId = options.defaultRoleId ?? MOODLE_STUDENT_ROLE_ID;
    this.defaultCategoryId = options.defaultCategoryId ?? 1;
  }

  async testConnection(signal?: AbortSignal): Promise<ConnectionInfo> {
    const started = performance.now();
    const info = await this.client.getSiteInfo(signal);
    return { version: info.release, latencyMs: Math.round(performance.now() - started), remoteUser: info.username };
  }

  models(): readonly string[] {
    return MOODLE_MODELS;
  }

  async readPage(model: string, cursor: SourceCursor | null, options: ReadPageOptions): Promise<SourcePage> {
    const pageSize = Math.max(1, Math.floor(options.pageSize));
    switch (asModel(model)) {
      case "course":
        return this.readCourses(cursor, options, pageSize);
      case "user":
        return this.readUsers(cursor, options, pageSize);
      case "enrolment":
        return this.readEnrolments(cursor, options, pageSize);
    }
  }

  // ---- courses -------------------------------------------------------------------------------------------------

  private async readCourses(cursor: SourceCursor | null, options: ReadPageOptions, pageSize: number): Promise<SourcePage> {
    const mode = options.full ? "full" : "inc";
    const parsed = parseCourseCursor(cursor, mode);
    const state: CourseCursor = parsed ?? {
      v: 1,
      model: "course",
      mode,
      from: !options.full && options.since ? Math.floor(options.since.getTime() / 1000) - this.overlapSeconds : null,
      afterTm: null,
      afterId: 0,
      high: null,
      snap: null,
    };
    const snap = state.snap ?? randomUUID();
    const key = `${this.client.identity}:course:${snap}:${mode}:${state.from}:${fieldsKey(options.fields)}`;
    let rows = getSnapshot(key);
    if (!rows) {
      const courses = await this.client.getCourses(undefined, options.signal);
      rows = courses
        .filter((c) => c.id !== SITE_COURSE_ID && (state.from === null || (c.timemodified ?? 0) >= state.from))
        .map((c) => ({ id: c.id, tm: c.timemodified ?? 0, record: { remoteId: String(c.id), fields: project(c, options.fields) } }));
      rows.sort(mode === "full" ? (a, b) => a.id - b.id : (a, b) => a.tm - b.tm || a.id - b.id);
      putSnapshot(key, rows);
    }
    const start =
      mode === "full"
        ? lowerBound(rows, (r) => r.id > state.afterId)
        : state.afterTm === null
          ? 0
          : lowerBound(rows, (r) => r.tm > state.afterTm! || (r.tm === state.afterTm && r.id > state.afterId));
    const page = rows.slice(start, start + pageSize);
    const last = page[page.length - 1];
    const high = page.reduce((h, r) => (h === null || r.tm > h ? r.tm : h), state.high);
    const done = start + page.length >= rows.length;
    if (!done) {
      return {
        records: page.map((r) => r.record),
        cursor: { ...state, afterTm: last ? last.tm : state.afterTm, afterId: last ? last.id : state.afterId, high, snap },
        done: false,
      };
    }
    SNAPSHOTS.delete(key);
    if (mode === "full") {
      return { records: page.map((r) => r.record), cursor: { ...state, afterId: last ? last.id : state.afterId, high, snap: null }, done: true };
    }
    // The next incremental pass starts `overlapSeconds` before the newest change seen (never before this one's start).
    const overlapStart = high === null ? null : high - this.overlapSeconds;
    const from = state.from === null ? overlapStart : overlapStart === null ? state.from : Math.max(state.from, overlapStart);
    return {
      records: page.map((r) => r.record),
      cursor: { v: 1, model: "course", mode: "inc", from, afterTm: null, afterId: 0, high: null, snap: null },
      done: true,
    };
  }

  // ---- users -----------------------------------------------------------------------------------------------------

  private async readUsers(cursor: SourceCursor | null, options: ReadPageOptions, pageSize: number): Promise<SourcePage> {
    const state = parseUserCursor(cursor) ?? { v: 1, model: "user", afterId: 0, snap: null };
    const snap = state.snap ?? randomUUID();
    const key = `${this.client.identity}:user:${snap}:${fieldsKey(options.fields)}`;
    let rows = getSnapshot(key);
    if (!rows) {
      rows = (await this.allUsers(options.signal)).map((u) => ({ id: u.id, tm: 0, record: { remoteId: String(u.id), fields: project(u, options.fields) } }));
      putSnapshot(key, rows);
    }
    const start = lowerBound(rows, (r) => r.id > state.afterId);
    const page = rows.slice(start, start + pageSize);
    const done = start + page.length >= rows.length;
    if (done) {
      SNAPSHOTS.delete(key);
      // Users have no change tracking: every run reads them all again.
      return { records: page.map((r) => r.record), cursor: { v: 1, model: "user", afterId: 0, snap: null }, done: true };
    }
    return { records: page.map((r) => r.record), cursor: { ...state, afterId: page[page.length - 1]!.id, snap }, done: false };
  }

  /** Every live user but guest, by id (soft-deleted users are not returned by core_user_get_users). */
  private async allUsers(signal?: AbortSignal): Promise<MoodleUser[]> {
    const { users } = await this.client.getUsers([{ key: "email", value: "%" }], signal);
    return users.filter((u) => u.username !== "guest").sort((a, b) => a.id - b.id);
  }

  // ---- enrolments ------------------------------------------------------------------------------------------------

  private async courseIds(snapKey: string | null, signal?: AbortSignal): Promise<{ ids: number[]; key: string }> {
    const key = `${this.client.identity}:courseids:${snapKey ?? randomUUID()}`;
    let rows = getSnapshot(key);
    if (!rows) {
      const courses = await this.client.getCourses(undefined, signal);
      rows = courses
        .filter((c) => c.id !== SITE_COURSE_ID)
        .map((c) => ({ id: c.id, tm: 0, record: { remoteId: String(c.id), fields: {} } }))
        .sort((a, b) => a.id - b.id);
      putSnapshot(key, rows);
    }
    return { ids: rows.map((r) => r.id), key };
  }

  private async readEnrolments(cursor: SourceCursor | null, options: ReadPageOptions, pageSize: number): Promise<SourcePage> {
    const state = parseEnrolmentCursor(cursor) ?? { v: 1, model: "enrolment", courseId: 0, offset: 0, snap: null };
    const snap = state.snap ?? randomUUID();
    const { ids, key } = await this.courseIds(snap, options.signal);
    let idx = lowerBound(ids, (id) => id >= state.courseId);
    let offset = ids[idx] === state.courseId ? state.offset : 0;
    const records: RemoteRecord[] = [];
    let calls = 0;
    const push = (courseid: number, users: MoodleEnrolledUser[]) => {
      for (const u of users) records.push({ remoteId: `${courseid}:${u.id}`, fields: project(enrolmentFields(courseid, u), options.fields) });
    };
    while (records.length < pageSize && idx < ids.length && calls < MAX_COURSE_CALLS_PER_PAGE) {
      const want = pageSize - records.length;
      if (offset === 0 && this.batchAvailable()) {
        // Several courses in one call, as many as should fill the page by the enrolments per course seen so far.
        const group = ids.slice(idx, idx + Math.max(1, Math.min(MAX_BATCH_COURSES, Math.round(want / this.enrolmentsPerCourse()))));
        const batch = await this.enrolledUsersOfCourses(group, { limitnumber: want, userfields: ENROLMENT_USERFIELDS }, options.signal);
        calls++;
        if (batch) {
          for (const courseid of group) {
            const users = batch.get(courseid) ?? [];
            const room = pageSize - records.length;
            if (users.length > room) {
              push(courseid, users.slice(0, room));
              offset = room;
              break;
            }
            push(courseid, users);
            if (users.length === want) {
              // Cut at the limit: the course may have more (read from here on its own).
              offset = users.length;
              break;
            }
            this.seen.courses++;
            this.seen.enrolments += users.length;
            idx++;
            if (records.length >= pageSize) break;
          }
          continue;
        }
      }
      const courseid = ids[idx]!;
      const users = await this.enrolledUsers(courseid, { limitfrom: offset, limitnumber: want, userfields: ENROLMENT_USERFIELDS }, options.signal);
      calls++;
      push(courseid, users);
      if (users.length < want) {
        idx++;
        offset = 0;
      } else {
        offset += users.length;
      }
    }
    const done = idx >= ids.length;
    if (done) {
      SNAPSHOTS.delete(key);
      return { records, cursor: { v: 1, model: "enrolment", courseId: 0, offset: 0, snap: null }, done: true };
    }
    return { records, cursor: { v: 1, model: "enrolment", courseId: ids[idx]!, offset, snap }, done: false };
  }

  private readonly seen = { courses: 0, enrolments: 0 };

  /** Enrolments per course seen so far by this source (a guess of 20 before any). */
  private enrolmentsPerCourse(): number {
    return this.seen.courses ? Math.max(1, this.seen.enrolments / this.seen.courses) : 20;
  }

  private batchAvailable(): boolean {
    const since = NO_BATCH.get(this.client.identity);
    return since === undefined || Date.now() - since > NO_BATCH_RETRY_MS;
  }

  /**
   * Enrolled users of several courses in one call (core_enrol_get_enrolled_users_with_capability); null when the site
   * does not offer it to this token (not in the service, no moodle/role:review...): the caller reads course by course,
   * and so does this source for a while. A course deleted since the list was read fails the whole call: the group is
   * then read course by course (a missing one has none).
   */
  private async enrolledUsersOfCourses(
    courseids: number[],
    opts: { limitnumber?: number; userfields: string[] },
    signal?: AbortSignal,
  ): Promise<Map<number, MoodleEnrolledUser[]> | null> {
    try {
      return await this.client.getEnrolledUsersOfCourses(courseids, opts, signal);
    } catch (err) {
      if (!(err instanceof RemoteError)) throw err;
      if (err.kind === RemoteErrorKind.NOT_FOUND && /table course\b/.test(err.message)) {
        const out = new Map<number, MoodleEnrolledUser[]>();
        for (const id of courseids) out.set(id, await this.enrolledUsers(id, { limitnumber: opts.limitnumber, userfields: opts.userfields }, signal));
        return out;
      }
      if (err.kind === RemoteErrorKind.PERMISSION || err.kind === RemoteErrorKind.VALIDATION || err.kind === RemoteErrorKind.NOT_FOUND) {
        NO_BATCH.set(this.client.identity, Date.now());
        return null;
      }
      throw err;
    }
  }

  /** Enrolled users of a course; a course deleted since the course list was read has none. */
  private async enrolledUsers(
    courseid: number,
    opts: { limitfrom?: number; limitnumber?: number; userfields: string[] },
    signal?: AbortSignal,
  ): Promise<MoodleEnrolledUser[]> {
    try {
      return await this.client.getEnrolledUsers(courseid, opts, signal);
    } catch (err) {
      if (err instanceof RemoteError && err.kind === RemoteErrorKind.NOT_FOUND && err.detail.remoteCode === "invalidrecord") return [];
      throw err;
    }
  }

  // ---- reconciliation --------------------------------------------------------------------------------------------

  async *liveIds(model: string, options: { pageSize: number; signal?: AbortSignal }): AsyncIterable<string[]> {
    const pageSize = Math.max(1, Math.floor(options.pageSize));
    const m = asModel(model);
    if (m === "course" || m === "user") {
      const ids =
        m === "course"
          ? (await this.client.getCourses(undefined, options.signal)).map((c) => c.id).filter((id) => id !== SITE_COURSE_ID)
          : (await this.allUsers(options.signal)).map((u) => u.id);
      ids.sort((a, b) => a - b);
      for (let i = 0; i < ids.length; i += pageSize) yield ids.slice(i, i + pageSize).map(String);
      return;
    }
    const { ids: courses, key } = await this.courseIds(null, options.signal);
    SNAPSHOTS.delete(key);
    let batch: string[] = [];
    // Many courses per call where the site allows it; course by course (paged) for the rest.
    let done = 0;
    while (done < courses.length && this.batchAvailable()) {
      const group = courses.slice(done, done + MAX_BATCH_COURSES);
      const enrolled = await this.enrolledUsersOfCourses(group, { userfields: ["id"] }, options.signal);
      if (!enrolled) break;
      for (const courseid of group) {
        for (const u of enrolled.get(courseid) ?? []) {
          batch.push(`${courseid}:${u.id}`);
          if (batch.length >= pageSize) {
            yield batch;
            batch = [];
          }
        }
      }
      done += group.length;
    }
    for (const courseid of courses.slice(done)) {
      for (let offset = 0; ; ) {
        const users = await this.enrolledUsers(courseid, { limitfrom: offset, limitnumber: pageSize, userfields: ["id"] }, options.signal);
        for (const u of users) {
          batch.push(`${courseid}:${u.id}`);
          if (batch.length >= pageSize) {
            yield batch;
            batch = [];
          }
        }
        if (users.length < pageSize) break;
        offset += users.length;
      }
    }
    if (batch.length) yield batch;
  }

  // ---- outbound --------------------------------------------------------------------------------------------------

  async read(model: string, remoteIds: string[], options: { fields?: string[]; signal?: AbortSignal }): Promise<RemoteRecord[]> {
    const out: RemoteRecord[] = [];
    switch (asModel(model)) {
      case "course": {
        // core_course_get_courses leaves unknown ids out (get_courses_by_field would fail the whole call).
        const ids = remoteIds.map((id) => toId(id, "course")).filter((id) => id !== SITE_COURSE_ID);
        if (!ids.length) return [];
        for (const c of await this.client.getCourses(ids, options.signal)) {
          if (ids.includes(c.id)) out.push({ remoteId: String(c.id), fields: project(c, options.fields) });
        }
        return out;
      }
      case "user":
        for (const remoteId of remoteIds) {
          // core_user_get_users by id: soft-deleted users are not returned (get_users_by_field would).
          const { users } = await this.client.getUsers([{ key: "id", value: toId(remoteId, "user") }], options.signal);
          for (const u of users) if (u.username !== "guest") out.push({ remoteId: String(u.id), fields: project(u, options.fields) });
        }
        return out;
      case "enrolment":
        for (const remoteId of remoteIds) {
          const { courseid, userid } = parseEnrolmentId(remoteId);
          const users = await this.enrolledUsers(courseid, { userfields: ENROLMENT_USERFIELDS }, options.signal);
          const u = users.find((x) => x.id === userid);
          if (u) out.push({ remoteId, fields: project(enrolmentFields(courseid, u), options.fields) });
        }
        return out;
    }
  }

  async create(model: string, fields: Record<string, unknown>, signal?: AbortSignal): Promise<string> {
    switch (asModel(model)) {
      case "course": {
        const input = writable("course", fields, COURSE_WRITABLE, COURSE_READONLY);
        input.categoryid ??= fields.category ?? this.defaultCategoryId;
        requireFields("course", input, ["fullname", "shortname"]);
        const [created] = await this.client.createCourses([input as unknown as MoodleCourseInput], signal);
        return String(created!.id);
      }
      case "user": {
        const input = writable("user", fields, USER_WRITABLE, USER_READONLY);
        delete input.suspended; // not a create parameter
        requireFields("user", input, ["username", "firstname", "lastname", "email"]);
        if (!input.password && input.createpassword === undefined) input.createpassword = true;
        const [created] = await this.client.createUsers([input as unknown as MoodleUserInput], signal);
        return String(created!.id);
      }
      case "enrolment": {
        const courseid = toInt(fields.courseid, "courseid");
        const userid = toInt(fields.userid, "userid");
        const input = writable("enrolment", fields, ENROLMENT_WRITABLE, ENROLMENT_READONLY);
        await this.client.enrolUsers([{ roleid: this.defaultRoleId, ...input, courseid, userid } as never], signal);
        return `${courseid}:${userid}`;
      }
    }
  }

  async update(model: string, remoteId: string, fields: Record<string, unknown>, signal?: AbortSignal): Promise<void> {
    switch (asModel(model)) {
      case "course": {
        const id = toId(remoteId, "course");
        const warnings = await this.client.updateCourses([{ ...writable("course", fields, COURSE_WRITABLE, COURSE_READONLY), id } as never], signal);
        const w = warnings.find((x) => x.itemid === undefined || x.itemid === id);
        if (w) throw warningError("core_course_update_courses", w);
        return;
      }
      case "user": {
        const id = toId(remoteId, "user");
        const input = writable("user", fields, USER_WRITABLE, USER_READONLY);
        delete input.createpassword;
        const warnings = await this.client.updateUsers([{ ...input, id } as never], signal);
        const w = warnings.find((x) => x.itemid === undefined || x.itemid === id);
        if (w) throw warningError("core_user_update_users", w);
        return;
      }
      case "enrolment": {
        const { courseid, userid } = parseEnrolmentId(remoteId);
        const input = writable("enrolment", fields, ENROLMENT_WRITABLE, ENROLMENT_READONLY);
        const enrolled = await this.enrolledUsers(courseid, { userfields: ["id", "roles"] }, signal);
        const current = enrolled.find((u) => u.id === userid);
        if (!current) throw new RemoteError(RemoteErrorKind.NOT_FOUND, `Moodle: user ${userid} is not enrolled in course ${courseid}`);
        const roleid = input.roleid ?? current.roles?.[0]?.roleid ?? this.defaultRoleId;
        await this.client.enrolUsers([{ ...input, roleid, courseid, userid } as never], signal);
        return;
      }
    }
  }

  async remove(model: string, remoteId: string, signal?: AbortSignal): Promise<void> {
    switch (asModel(model)) {
      case "course": {
        const id = toId(remoteId, "course");
        const warnings = await this.client.deleteCourses([id], signal);
        // Already gone (deleted there, or an earlier attempt whose answer was lost): the goal is reached.
        const w = warnings.find((x) => x.warningcode !== "unknowncourseidnumber");
        if (w) throw warningError("core_course_delete_courses", w);
        return;
      }
      case "user": {
        const id = toId(remoteId, "user");
        try {
          await this.client.deleteUsers([id], signal);
        } catch (err) {
          // Missing or already (soft-)deleted: Moodle reports invalidrecord on the user table.
          if (err instanceof RemoteError && err.detail.remoteCode === "invalidrecord" && /table user\b/.test(err.message)) return;
          throw err;
        }
        return;
      }
      case "enrolment": {
        const { courseid, userid } = parseEnrolmentId(remoteId);
        try {
          await this.client.unenrolUsers([{ courseid, userid }], signal);
        } catch (err) {
          if (!(err instanceof RemoteError)) throw err;
          // The course is gone: so is the enrolment.
          if (err.kind === RemoteErrorKind.NOT_FOUND && err.detail.remoteCode === "invalidrecord") return;
          // invalidparameter is what a missing user gets (the reason is only in debug info): check it.
          if (err.kind === RemoteErrorKind.VALIDATION && (await this.client.getUsersByField("id", [userid], signal)).length === 0) return;
          throw err;
        }
        return;
      }
    }
  }
}

/** Builds a MoodleSource with its own client from connector settings. */
export function createMoodleSource(
  settings: MoodleClientOptions & RemoteCallOptions & { overlapSeconds?: number; defaultRoleId?: number; defaultCategoryId?: number },
): MoodleSource {
  const { overlapSeconds, defaultRoleId, defaultCategoryId, ...clientOptions } = settings;
  return new MoodleSource({ client: new MoodleClient(clientOptions), overlapSeconds, defaultRoleId, defaultCategoryId });
}

// ---- helpers -----------------------------------------------------------------------------------------------------

function asModel(model: string): MoodleModel {
  if ((MOODLE_MODELS as readonly string[]).includes(model)) return model as MoodleModel;
  throw new RemoteError(RemoteErrorKind.NOT_FOUND, `Moodle has no model ${JSON.stringify(model)} (course, user, enrolment)`);
}

/** The record's fields: all of them, or only the requested ones. */
function project(row: MoodleCourse | MoodleUser | Record<string, unknown>, fields: string[] | undefined): Record<string, unknown> {
  const { ...all } = row as Record<string, unknown>;
  if (!fields?.length) return all;
  const out: Record<string, unknown> = {};
  for (const f of fields) if (f in all) out[f] = all[f];
  return out;
}

const fieldsKey = (fields: string[] | undefined) => (fields?.length ? [...fields].sort().join(",") : "*");

function enrolmentFields(courseid: number, u: MoodleEnrolledUser): Record<string, unknown> {
  const roles = u.roles ?? [];
  return {
    courseid,
    userid: u.id,
    roleid: roles[0]?.roleid ?? null,
    roleids: roles.map((r) => r.roleid),
    roles: roles.map((r) => r.shortname),
    username: u.username ?? null,
    fullname: u.fullname,
    email: u.email ?? null,
    idnumber: u.idnumber ?? "",
  };
}

/** First index whose element satisfies `pred` (elements are sorted so that pred is false, then true). */
function lowerBound<T>(items: readonly T[], pred: (item: T) => boolean): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pred(items[mid]!)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Keeps the fields Moodle accepts for this model; read-only fields are dropped, unknown ones refused. */
function writable(model: string, fields: Record<string, unknown>, allowed: Set<string>, readonly: Set<string>): Record<string, any> {
  const out: Record<string, unknown> = {};
  const unknown: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (allowed.has(k)) {
      if (v !== undefined && v !== null) out[k] = TIME_FIELDS.has(k) ? toUnixSeconds(v, k) : v;
    } else if (!readonly.has(k)) unknown.push(k);
  }
  if (unknown.length) {
    throw new RemoteError(RemoteErrorKind.VALIDATION, `Moodle ${model} has no writable field ${unknown.map((k) => JSON.stringify(k)).join(", ")}`);
  }
  return out;
}

function requireFields(model: string, input: Record<string, unknown>, names: string[]): void {
  const missing = names.filter((n) => input[n] === undefined || input[n] === "");
  if (missing.length) throw new RemoteError(RemoteErrorKind.VALIDATION, `A Moodle ${model} needs ${missing.join(", ")}`);
}

/** Times go to Moodle as Unix seconds (documents may hold ISO strings after a UNIX_TIME conversion). */
function toUnixSeconds(v: unknown, field: string): number {
  if (typeof v === "number" && Number.isFinite(v)) return Math.floor(v);
  if (v instanceof Date) return Math.floor(v.getTime() / 1000);
  if (typeof v === "string") {
    if (/^\d+$/.test(v)) return Number(v);
    const ms = Date.parse(v);
    if (!Number.isNaN(ms)) return Math.floor(ms / 1000);
  }
  throw new RemoteError(RemoteErrorKind.VALIDATION, `Moodle ${field} must be a time, got ${JSON.stringify(v)}`);
}

function toInt(v: unknown, field: string): number {
  const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n <= 0) {
    throw new RemoteError(RemoteErrorKind.VALIDATION, `A Moodle enrolment needs a numeric ${field}, got ${JSON.stringify(v)}`);
  }
  return n;
}

function toId(remoteId: string, model: string): number {
  if (!/^\d+$/.test(remoteId)) throw new RemoteError(RemoteErrorKind.VALIDATION, `Not a Moodle ${model} id: ${JSON.stringify(remoteId)}`);
  return Number(remoteId);
}

function parseEnrolmentId(remoteId: string): { courseid: number; userid: number } {
  const m = /^(\d+):(\d+)$/.exec(remoteId);
  if (!m) throw new RemoteError(RemoteErrorKind.VALIDATION, `Not a Moodle enrolment id (<courseid>:<userid>): ${JSON.stringify(remoteId)}`);
  return { courseid: Number(m[1]), userid: Number(m[2]) };
}

const badCursor = (what: string, cursor: SourceCursor) =>
  new RemoteError(RemoteErrorKind.VALIDATION, `Not a Moodle ${what} cursor: ${JSON.stringify(cursor)}`);
const intOrNull = (v: unknown) => v === null || (typeof v === "number" && Number.isInteger(v));
const snapOk = (v: unknown) => v === null || typeof v === "string";

function parseCourseCursor(cursor: SourceCursor | null, mode: "full" | "inc"): CourseCursor | null {
  if (cursor === null || cursor === undefined) return null;
  const c = cursor as Record<string, unknown>;
  const ok =
    c.v === 1 &&
    c.model === "course" &&
    c.mode === mode &&
    intOrNull(c.from) &&
    intOrNull(c.afterTm) &&
    typeof c.afterId === "number" &&
    Number.isInteger(c.afterId) &&
    intOrNull(c.high) &&
    snapOk(c.snap);
  if (!ok) throw badCursor(mode === "full" ? "course full-run" : "course incremental", cursor);
  return c as unknown as CourseCursor;
}

function parseUserCursor(cursor: SourceCursor | null): UserCursor | null {
  if (cursor === null || cursor === undefined) return null;
  const c = cursor as Record<string, unknown>;
  if (!(c.v === 1 && c.model === "user" && typeof c.afterId === "number" && Number.isInteger(c.afterId) && snapOk(c.snap))) throw badCursor("user", cursor);
  return c as unknown as UserCursor;
}

function parseEnrolmentCursor(cursor: SourceCursor | null): EnrolmentCursor | null {
  if (cursor === null || cursor === undefined) return null;
  const c = cursor as Record<string, unknown>;
  const ok =
    c.v === 1 &&
    c.model === "enrolment" &&
    typeof c.courseId === "number" &&
    Number.isInteger(c.courseId) &&
    typeof c.offset === "number" &&
    Number.isInteger(c.offset) &&
    c.offset >= 0 &&
    snapOk(c.snap);
  if (!ok) throw badCursor("enrolment", cursor);
  return c as unknown as EnrolmentCursor;
}
