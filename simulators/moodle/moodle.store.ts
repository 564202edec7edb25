// The simulated Moodle site's data: categories, courses, users and manual enrolments, with the indexes the web
// service functions need and the quirks that matter to a sync: Unix-second times from a controllable clock, courses
// hard-deleted, users soft-deleted (username becomes `<email>.<time>`, email the md5 of the old username, idnumber
// cleared, enrolments dropped), and course rows that move to the end of the table when updated (PostgreSQL's heap
// order: `core_course_get_courses` has no ORDER BY, so the real server returns an updated course last).
// The programmatic API (create/update/delete, seed) is what tests and the /__sim/ control endpoints use; Moodle's own
// validation lives in the web service functions (moodle.functions.ts).
import { prng } from "../kit.js";
import { createHash } from "node:crypto";

export interface MoodleCategory {
  id: number;
  name: string;
  idnumber: string | null;
  description: string;
  descriptionformat: number;
  parent: number;
  sortorder: number;
  visible: number;
  visibleold: number;
  timemodified: number;
  depth: number;
  path: string;
  theme: string;
}

export interface MoodleCourseRecord {
  id: number;
  category: number;
  fullname: string;
  shortname: string;
  idnumber: string;
  summary: string;
  summaryformat: number;
  format: string;
  showgrades: number;
  newsitems: number;
  startdate: number;
  enddate: number;
  maxbytes: number;
  showreports: number;
  visible: number;
  groupmode: number;
  groupmodeforce: number;
  defaultgroupingid: number;
  enablecompletion: number;
  completionnotify: number;
  lang: string;
  theme: string;
  calendartype: string;
  marker: number;
  legacyfiles: number;
  requested: number;
  timecreated: number;
  timemodified: number;
  cacherev: number;
  /** Course format options (topics: hiddensections, coursedisplay; site: numsections). */
  hiddensections: number;
  coursedisplay: number;
  numsections: number;
  showactivitydates: boolean;
  showcompletionconditions: boolean | null;
  contextid: number;
}

export interface MoodleUserRecord {
  id: number;
  username: string;
  auth: string;
  confirmed: boolean;
  deleted: boolean;
  suspended: boolean;
  /** A stand-in for the password hash (never returned by any function). */
  passwordHash: string;
  idnumber: string;
  firstname: string;
  lastname: string;
  email: string;
  department: string;
  institution: string;
  address: string;
  phone1: string;
  phone2: string;
  city: string;
  country: string;
  lang: string;
  theme: string;
  timezone: string;
  mailformat: number;
  trackforums: number;
  description: string;
  descriptionformat: number;
  firstaccess: number;
  lastaccess: number;
  timecreated: number;
  timemodified: number;
  contextid: number;
  siteadmin: boolean;
  /** Holds `webservice/rest:use` (through its roles). */
  restUse: boolean;
  preferences: { name: string; value: string | number }[];
}

export interface MoodleEnrolmentRecord {
  courseid: number;
  userid: number;
  /** Role ids assigned in the course context, in assignment order. */
  roles: number[];
  timestart: number;
  timeend: number;
  /** 0 active, 1 suspended (ENROL_USER_ACTIVE / ENROL_USER_SUSPENDED). */
  status: number;
  timecreated: number;
  timemodified: number;
}

export interface MoodleRole {
  id: number;
  shortname: string;
  /** Assignable at course level (manual enrolments). */
  courseAssignable: boolean;
}

/** The standard roles of a fresh 4.5 site. */
export const ROLES: readonly MoodleRole[] = [
  { id: 1, shortname: "manager", courseAssignable: true },
  { id: 2, shortname: "coursecreator", courseAssignable: false },
  { id: 3, shortname: "editingteacher", courseAssignable: true },
  { id: 4, shortname: "teacher", courseAssignable: true },
  { id: 5, shortname: "student", courseAssignable: true },
  { id: 6, shortname: "guest", courseAssignable: false },
  { id: 7, shortname: "user", courseAssignable: false },
  { id: 8, shortname: "frontpage", courseAssignable: false },
];
export const roleById = new Map(ROLES.map((r) => [r.id, r]));

export const SITE_COURSE_ID = 1;
export const GUEST_USER_ID = 1;
const DAY = 86_400;

/** Unix seconds, real or controlled (tests move time to see `timemodified` change). */
export class SimClock {
  private fixed: number | null = null;
  private offset = 0;
  /** Current time in Unix seconds. */
  now(): number {
    return this.fixed ?? Math.floor(Date.now() / 1000) + this.offset;
  }
  /** Freezes the clock at `unix` seconds. */
  set(unix: number): void {
    this.fixed = Math.floor(unix);
  }
  /** Moves the clock forward (a frozen clock stays frozen, at the new time). */
  advance(seconds: number): void {
    if (this.fixed !== null) this.fixed += Math.floor(seconds);
    else this.offset += Math.floor(seconds);
  }
  /** Back to real time. */
  real(): void {
    this.fixed = null;
    this.offset = 0;
  }
}

export type CourseInput = Partial<Omit<MoodleCourseRecord, "id" | "contextid">> & { fullname: string; shortname: string };
export type UserInput = Partial<Omit<MoodleUserRecord, "id" | "contextid" | "deleted">> & { username: string };

export interface SeedOptions {
  /** Courses to add (besides the site course). */
  courses?: number;
  /** Users to add (besides guest, admin and the two web service users). */
  users?: number;
  /** Students enrolled in every seeded course (picked deterministically among the seeded users). */
  enrolmentsPerCourse?: number;
  /** Extra categories (courses are spread over them and Category 1). */
  categories?: number;
  /** PRNG seed: the same options and seed give the same data. */
  seed?: number;
  /** Unix time the seeded records were created around (default: the store's install time). */
  baseTime?: number;
}

export interface MoodleStoreOptions {
  clock?: SimClock;
  /** When the site was installed (Unix seconds): base records' times. Default: a fixed date before now. */
  installTime?: number;
}


const FIRST_NAMES = ["Ann", "Ben", "Chloé", "Dmitri", "Eva", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kofi", "Lena", "Mateo", "Nora", "Omar", "Priya"];
const LAST_NAMES = ["Andersen", "Brown", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Hansen", "Ivanova", "Jensen", "Kowalski", "López", "Müller", "Nakamura", "Okafor", "Petrov"];
const CITIES = ["Oslo", "Lyon", "Porto", "Kraków", "Osaka", "Lagos", "", ""];

export class MoodleStore {
  readonly clock: SimClock;
  readonly installTime: number;
  readonly categories = new Map<number, MoodleCategory>();
  /** Insertion order is the table's heap order (updates move a course to the end). */
  readonly courses = new Map<number, MoodleCourseRecord>();
  readonly users = new Map<number, MoodleUserRecord>();
  /** courseid → userid → enrolment. */
  readonly enrolments = new Map<number, Map<number, MoodleEnrolmentRecord>>();
  private readonly userCourses = new Map<number, Set<number>>();
  private readonly byShortname = new Map<string, number>();
  private readonly byCourseIdnumber = new Map<string, number>();
  private readonly byUsername = new Map<string, number>();
  private readonly byEmail = new Map<string, Set<number>>();
  /** Courses of each category in creation order (Moodle puts a new course at the top: sortorder renumbering). */
  private readonly categoryCourses = new Map<number, number[]>();
  private sortorderCache: Map<number, number> | null = null;
  private nextCourseId = 1;
  private nextUserId = 1;
  private nextCategoryId = 1;
  private nextContextId = 1;
  /** Bumps on every change (observers, caches). */
  version = 0;

  constructor(options: MoodleStoreOptions = {}) {
    this.clock = options.clock ?? new SimClock();
    this.installTime = options.installTime ?? Math.min(1_767_225_600, this.clock.now() - 30 * DAY);
    this.reset();
  }

  now(): number {
    return this.clock.now();
  }

  /** Back to a fresh site: Category 1, the site course (id 1), guest (1), admin (2), wslimited (3), wsnorest (4). */
  reset(): void {
    this.categories.clear();
    this.courses.clear();
    this.users.clear();
    this.enrolments.clear();
    this.userCourses.clear();
    this.byShortname.clear();
    this.byCourseIdnumber.clear();
    this.byUsername.clear();
    this.byEmail.clear();
    this.categoryCourses.clear();
    this.sortorderCache = null;
    this.nextCourseId = 1;
    this.nextUserId = 1;
    this.nextCategoryId = 1;
    // Contexts of a fresh site: system 1, front page 2, then the standard users...; new records start at 13.
    this.nextContextId = 2;
    this.version++;
    const t = this.installTime;
    this.addCategory({ name: "Category 1", idnumber: null, timemodified: t });
    this.insertCourse({
      category: 0,
      fullname: "Realsys Moodle",
      shortname: "realsys",
      summaryformat: 0,
      format: "site",
      newsitems: 3,
      startdate: 0,
      enddate: 0,
      numsections: 1,
      enablecompletion: 0,
      showactivitydates: false,
      showcompletionconditions: null,
      timecreated: t,
      timemodified: t + 75,
    });
    this.insertUser({
      username: "guest",
      firstname: "Guest user",
      lastname: " ",
      email: "root@localhost",
      description: "This user is a special user that allows read-only access to some courses.",
      descriptionformat: 1,
      timecreated: 0,
      restUse: false,
    });
    this.insertUser({
      username: "admin",
      firstname: "Admin",
      lastname: "User",
      email: "admin@example.com",
      siteadmin: true,
      timecreated: 0,
      preferences: [
        { name: "last_time_enrolments_synced", value: String(t + 93) },
        { name: "_lastloaded", value: t + 96 },
      ],
    });
    this.insertUser({
      username: "wslimited",
      firstname: "WS",
      lastname: "Limited",
      email: "wslimited@example.com",
      preferences: [
        { name: "auth_manual_passwordupdatetime", value: String(t + 89) },
        { name: "last_time_enrolments_synced", value: String(t + 98) },
        { name: "_lastloaded", value: t + 98 },
      ],
    });
    this.insertUser({ username: "wsnorest", firstname: "WS", lastname: "NoRest", email: "wsnorest@example.com", restUse: false });
    this.nextContextId = 13;
  }

  // ---- categories --------------------------------------------------------------------------------------------

  addCategory(input: Partial<MoodleCategory> & { name: string }): MoodleCategory {
    const id = this.nextCategoryId++;
    const cat: MoodleCategory = {
      id,
      name: input.name,
      idnumber: input.idnumber ?? null,
      description: input.description ?? "",
      descriptionformat: input.descriptionformat ?? 1,
      parent: input.parent ?? 0,
      sortorder: input.sortorder ?? id * 10_000,
      visible: input.visible ?? 1,
      visibleold: input.visibleold ?? input.visible ?? 1,
      timemodified: input.timemodified ?? this.now(),
      depth: 1,
      path: `/${id}`,
      theme: input.theme ?? "",
    };
    if (cat.parent) {
      const parent = this.categories.get(cat.parent);
      if (!parent) throw new Error(`category ${cat.parent} does not exist`);
      cat.depth = parent.depth + 1;
      cat.path = `${parent.path}/${id}`;
    }
    this.categories.set(id, cat);
    this.categoryCourses.set(id, []);
    this.version++;
    return cat;
  }

  /** Courses in a category. */
  courseCount(categoryId: number): number {
    return this.categoryCourses.get(categoryId)?.length ?? 0;
  }

  // ---- courses -----------------------------------------------------------------------------------------------

  /** A course's `sortorder`: its category's base plus its rank, newest first (what Moodle's renumbering yields). */
  sortorderOf(course: MoodleCourseRecord): number {
    if (course.category === 0) return 0;
    if (!this.sortorderCache) {
      const cache = new Map<number, number>();
      for (const [catId, ids] of this.categoryCourses) {
        const base = this.categories.get(catId)?.sortorder ?? 0;
        for (let i = 0; i < ids.length; i++) cache.set(ids[i]!, base + ids.length - i);
      }
      this.sortorderCache = cache;
    }
    return this.sortorderCache.get(course.id) ?? 0;
  }

  courseByShortname(shortname: string): MoodleCourseRecord | undefined {
    const id = this.byShortname.get(shortname);
    return id === undefined ? undefined : this.courses.get(id);
  }

  courseByIdnumber(idnumber: string): MoodleCourseRecord | undefined {
    const id = this.byCourseIdnumber.get(idnumber);
    return id === undefined ? undefined : this.courses.get(id);
  }

  /** Reserves a course id without creating it (a rolled-back insert still uses up its sequence value). */
  burnCourseId(): void {
    this.nextCourseId++;
  }

  burnUserId(): void {
    this.nextUserId++;
  }

  /** Creates a course (shortname and idnumber unique; category must exist). Times default to now. */
  createCourse(input: CourseInput): MoodleCourseRecord {
    if (!input.fullname?.trim() || !input.shortname?.trim()) throw new Error("fullname and shortname are required");
    if (this.byShortname.has(input.shortname)) throw new Error(`shortname ${input.shortname} is taken`);
    if (input.idnumber && this.byCourseIdnumber.has(input.idnumber)) throw new Error(`idnumber ${input.idnumber} is taken`);
    const category = input.category ?? 1;
    if (!this.categories.has(category)) throw new Error(`category ${category} does not exist`);
    return this.insertCourse({ ...input, category });
  }

  private insertCourse(input: Partial<MoodleCourseRecord> & { fullname: string; shortname: string; category: number }): MoodleCourseRecord {
    const now = this.now();
    const timecreated = input.timecreated ?? now;
    const midnight = Math.floor(timecreated / DAY) * DAY;
    const startdate = input.startdate ?? midnight;
    const course: MoodleCourseRecord = {
      id: this.nextCourseId++,
      category: input.category,
      fullname: input.fullname,
      shortname: input.shortname,
      idnumber: input.idnumber ?? "",
      summary: input.summary ?? "",
      summaryformat: input.summaryformat ?? 1,
      format: input.format ?? "topics",
      showgrades: input.showgrades ?? 1,
      newsitems: input.newsitems ?? 5,
      startdate,
      enddate: input.enddate ?? (startdate ? startdate + 365 * DAY : 0),
      maxbytes: input.maxbytes ?? 0,
      showreports: input.showreports ?? 0,
      visible: input.visible ?? 1,
      groupmode: input.groupmode ?? 0,
      groupmodeforce: input.groupmodeforce ?? 0,
      defaultgroupingid: input.defaultgroupingid ?? 0,
      enablecompletion: input.enablecompletion ?? 1,
      completionnotify: input.completionnotify ?? 0,
      lang: input.lang ?? "",
      theme: input.theme ?? "",
      calendartype: input.calendartype ?? "",
      marker: input.marker ?? 0,
      legacyfiles: input.legacyfiles ?? 0,
      requested: input.requested ?? 0,
      timecreated,
      timemodified: input.timemodified ?? timecreated,
      cacherev: input.cacherev ?? timecreated,
      hiddensections: input.hiddensections ?? 1,
      coursedisplay: input.coursedisplay ?? 0,
      numsections: input.numsections ?? 0,
      showactivitydates: input.showactivitydates ?? true,
      showcompletionconditions: input.showcompletionconditions === undefined ? true : input.showcompletionconditions,
      contextid: this.nextContextId++,
    };
    this.courses.set(course.id, course);
    this.byShortname.set(course.shortname, course.id);
    if (course.idnumber) this.byCourseIdnumber.set(course.idnumber, course.id);
    if (course.category) this.categoryCourses.get(course.category)?.push(course.id);
    this.sortorderCache = null;
    this.version++;
    return course;
  }

  /**
   * Updates a course: `timemodified` moves to now (unless given), and the row moves to the end of the heap.
   * Throws if the course does not exist or a unique field is taken.
   */
  updateCourse(id: number, patch: Partial<Omit<MoodleCourseRecord, "id" | "contextid">>): MoodleCourseRecord {
    const course = this.courses.get(id);
    if (!course) throw new Error(`course ${id} does not exist`);
    if (patch.shortname !== undefined && patch.shortname !== course.shortname && this.byShortname.has(patch.shortname)) {
      throw new Error(`shortname ${patch.shortname} is taken`);
    }
    if (patch.idnumber && patch.idnumber !== course.idnumber && this.byCourseIdnumber.has(patch.idnumber)) {
      throw new Error(`idnumber ${patch.idnumber} is taken`);
    }
    if (patch.category !== undefined && patch.category !== course.category && !this.categories.has(patch.category)) {
      throw new Error(`category ${patch.category} does not exist`);
    }
    this.byShortname.delete(course.shortname);
    if (course.idnumber) this.byCourseIdnumber.delete(course.idnumber);
    const oldCategory = course.category;
    for (const [key, v] of Object.entries(patch)) {
      if (v !== undefined) (course as unknown as Record<string, unknown>)[key] = v;
    }
    if (patch.timemodified === undefined) course.timemodified = this.now();
    this.byShortname.set(course.shortname, course.id);
    if (course.idnumber) this.byCourseIdnumber.set(course.idnumber, course.id);
    if (course.category !== oldCategory) {
      this.removeFromCategory(oldCategory, id);
      this.categoryCourses.get(course.category)?.push(id);
    }
    // An UPDATE writes a new row version at the end of the table.
    this.courses.delete(id);
    this.courses.set(id, course);
    this.sortorderCache = null;
    this.version++;
    return course;
  }

  /** Hard-deletes a course and its enrolments. Returns false if it did not exist. */
  deleteCourse(id: number): boolean {
    const course = this.courses.get(id);
    if (!course || id === SITE_COURSE_ID) return false;
    this.courses.delete(id);
    this.byShortname.delete(course.shortname);
    if (course.idnumber) this.byCourseIdnumber.delete(course.idnumber);
    this.removeFromCategory(course.category, id);
    for (const userid of this.enrolments.get(id)?.keys() ?? []) this.userCourses.get(userid)?.delete(id);
    this.enrolments.delete(id);
    this.sortorderCache = null;
    this.version++;
    return true;
  }

  private removeFromCategory(categoryId: number, courseId: number): void {
    const list = this.categoryCourses.get(categoryId);
    if (!list) return;
    const i = list.indexOf(courseId);
    if (i >= 0) list.splice(i, 1);
  }

  // ---- users -------------------------------------------------------------------------------------------------

  userByUsername(username: string): MoodleUserRecord | undefined {
    const id = this.byUsername.get(username);
    return id === undefined ? undefined : this.users.get(id);
  }

  /** Users (any, deleted included) whose email equals `email` case-insensitively. */
  usersByEmail(email: string): MoodleUserRecord[] {
    return [...(this.byEmail.get(email.toLowerCase()) ?? [])].map((id) => this.users.get(id)!).filter(Boolean);
  }

  /** Creates a user (username unique). */
  createUser(input: UserInput): MoodleUserRecord {
    if (!input.username) throw new Error("username is required");
    if (this.byUsername.has(input.username)) throw new Error(`username ${input.username} is taken`);
    return this.insertUser(input);
  }

  private insertUser(input: UserInput): MoodleUserRecord {
    const now = this.now();
    const user: MoodleUserRecord = {
      id: this.nextUserId++,
      username: input.username,
      auth: input.auth ?? "manual",
      confirmed: input.confirmed ?? true,
      deleted: false,
      suspended: input.suspended ?? false,
      passwordHash: input.passwordHash ?? "",
      idnumber: input.idnumber ?? "",
      firstname: input.firstname ?? "",
      lastname: input.lastname ?? "",
      email: input.email ?? "",
      department: input.department ?? "",
      institution: input.institution ?? "",
      address: input.address ?? "",
      phone1: input.phone1 ?? "",
      phone2: input.phone2 ?? "",
      city: input.city ?? "",
      country: input.country ?? "",
      lang: input.lang ?? "en",
      theme: input.theme ?? "",
      timezone: input.timezone ?? "99",
      mailformat: input.mailformat ?? 1,
      trackforums: input.trackforums ?? 0,
      description: input.description ?? "",
      descriptionformat: input.descriptionformat ?? 1,
      firstaccess: input.firstaccess ?? 0,
      lastaccess: input.lastaccess ?? 0,
      timecreated: input.timecreated ?? now,
      timemodified: input.timemodified ?? input.timecreated ?? now,
      contextid: this.nextContextId++,
      siteadmin: input.siteadmin ?? false,
      restUse: input.restUse ?? true,
      preferences: input.preferences ?? [],
    };
    this.users.set(user.id, user);
    this.byUsername.set(user.username, user.id);
    this.indexEmail(user);
    this.version++;
    return user;
  }

  private indexEmail(user: MoodleUserRecord): void {
    const key = user.email.toLowerCase();
    let set = this.byEmail.get(key);
    if (!set) this.byEmail.set(key, (set = new Set()));
    set.add(user.id);
  }

  private unindexEmail(user: MoodleUserRecord): void {
    this.byEmail.get(user.email.toLowerCase())?.delete(user.id);
  }

  /** Updates a user's fields (username stays unique). */
  updateUser(id: number, patch: Partial<Omit<MoodleUserRecord, "id" | "contextid">>): MoodleUserRecord {
    const user = this.users.get(id);
    if (!user) throw new Error(`user ${id} does not exist`);
    if (patch.username !== undefined && patch.username !== user.username && this.byUsername.has(patch.username)) {
      throw new Error(`username ${patch.username} is taken`);
    }
    this.byUsername.delete(user.username);
    this.unindexEmail(user);
    for (const [key, v] of Object.entries(patch)) {
      if (v !== undefined) (user as unknown as Record<string, unknown>)[key] = v;
    }
    if (patch.timemodified === undefined) user.timemodified = this.now();
    this.byUsername.set(user.username, user.id);
    this.indexEmail(user);
    this.version++;
    return user;
  }

  /**
   * Soft-deletes a user as `user_delete_user` does: username `<email>.<time>` (cleaned as PARAM_USERNAME), email the
   * md5 of the old username, idnumber cleared, enrolments and preferences removed. Returns false if absent or deleted.
   */
  deleteUser(id: number): boolean {
    const user = this.users.get(id);
    if (!user || user.deleted) return false;
    let delname = `${user.email}.${this.now()}`.toLowerCase().replace(/[^-.@_a-z0-9]/g, "");
    while (this.byUsername.has(delname)) delname = `${delname}1`;
    this.byUsername.delete(user.username);
    this.unindexEmail(user);
    user.email = createHash("md5").update(user.username).digest("hex");
    user.username = delname;
    user.deleted = true;
    user.idnumber = "";
    user.preferences = [];
    this.byUsername.set(user.username, user.id);
    this.indexEmail(user);
    for (const courseid of this.userCourses.get(id) ?? []) this.enrolments.get(courseid)?.delete(id);
    this.userCourses.delete(id);
    this.version++;
    return true;
  }

  /** Removes a user row entirely (a rolled-back insert); not something Moodle itself ever does. */
  discardUser(id: number): void {
    const user = this.users.get(id);
    if (!user) return;
    this.byUsername.delete(user.username);
    this.unindexEmail(user);
    for (const courseid of this.userCourses.get(id) ?? []) this.enrolments.get(courseid)?.delete(id);
    this.userCourses.delete(id);
    this.users.delete(id);
    this.version++;
  }

  // ---- enrolments ----------------------------------------------------------------------------------------------

  enrolment(courseid: number, userid: number): MoodleEnrolmentRecord | undefined {
    return this.enrolments.get(courseid)?.get(userid);
  }

  /** Enrolments of a course ordered by user id (core_enrol_get_enrolled_users' default order). */
  courseEnrolments(courseid: number): MoodleEnrolmentRecord[] {
    const m = this.enrolments.get(courseid);
    return m ? [...m.values()].sort((a, b) => a.userid - b.userid) : [];
  }

  /** Course ids a user is enrolled in. */
  coursesOfUser(userid: number): number[] {
    return [...(this.userCourses.get(userid) ?? [])];
  }

  enrolmentCount(): number {
    let n = 0;
    for (const m of this.enrolments.values()) n += m.size;
    return n;
  }

  /**
   * Manual enrolment (`enrol_manual_plugin::enrol_user`): idempotent; an existing enrolment gets the role added and,
   * when given, its dates and status replaced.
   */
  enrol(courseid: number, userid: number, roleid = 5, opts: { timestart?: number; timeend?: number; status?: number } = {}): MoodleEnrolmentRecord {
    if (!this.courses.has(courseid) || courseid === SITE_COURSE_ID) throw new Error(`course ${courseid} does not exist`);
    const user = this.users.get(userid);
    if (!user || user.deleted) throw new Error(`user ${userid} does not exist`);
    let byUser = this.enrolments.get(courseid);
    if (!byUser) this.enrolments.set(courseid, (byUser = new Map()));
    const now = this.now();
    let e = byUser.get(userid);
    if (!e) {
      e = { courseid, userid, roles: [], timestart: opts.timestart ?? 0, timeend: opts.timeend ?? 0, status: opts.status ?? 0, timecreated: now, timemodified: now };
      byUser.set(userid, e);
      let courses = this.userCourses.get(userid);
      if (!courses) this.userCourses.set(userid, (courses = new Set()));
      courses.add(courseid);
    } else {
      if (opts.timestart !== undefined) e.timestart = opts.timestart;
      if (opts.timeend !== undefined) e.timeend = opts.timeend;
      if (opts.status !== undefined) e.status = opts.status;
      e.timemodified = now;
    }
    if (!e.roles.includes(roleid)) e.roles.push(roleid);
    this.version++;
    return e;
  }

  /** Removes an enrolment (and its roles). Returns false if there was none. */
  unenrol(courseid: number, userid: number): boolean {
    const removed = this.enrolments.get(courseid)?.delete(userid) ?? false;
    if (removed) {
      this.userCourses.get(userid)?.delete(courseid);
      this.version++;
    }
    return removed;
  }

  // ---- seeding -------------------------------------------------------------------------------------------------

  /**
   * Adds deterministic data fast: `courses` courses (shortnames `C000001`...), `users` users (`user000001`...),
   * `enrolmentsPerCourse` students per course. Seeded times lie between `baseTime` and now, several courses per
   * second (so incremental cursors meet ties), all before any change made afterwards.
   */
  seed(options: SeedOptions): { courses: number[]; users: number[]; enrolments: number } {
    const rand = prng(options.seed ?? 1);
    const base = options.baseTime ?? this.installTime + DAY;
    const categoryIds = [1];
    for (let i = 0; i < (options.categories ?? 0); i++) {
      const n = this.nextCategoryId;
      categoryIds.push(this.addCategory({ name: `Category ${n}`, idnumber: `CAT-${n}`, timemodified: base }).id);
    }
    const userIds: number[] = [];
    const userCount = options.users ?? 0;
    const firstUser = this.nextUserId;
    for (let i = 0; i < userCount; i++) {
      const n = String(firstUser + i).padStart(6, "0");
      const first = FIRST_NAMES[Math.floor(rand() * FIRST_NAMES.length)]!;
      const last = LAST_NAMES[Math.floor(rand() * LAST_NAMES.length)]!;
      const t = base + Math.floor(i / 10);
      userIds.push(
        this.createUser({
          username: `user${n}`,
          firstname: first,
          lastname: last,
          email: `user${n}@example.com`,
          idnumber: `U-${n}`,
          city: CITIES[Math.floor(rand() * CITIES.length)]!,
          country: "",
          timecreated: t,
          timemodified: t,
        }).id,
      );
    }
    const courseIds: number[] = [];
    const courseCount = options.courses ?? 0;
    const firstCourse = this.nextCourseId;
    for (let i = 0; i < courseCount; i++) {
      const n = String(firstCourse + i).padStart(6, "0");
      const t = base + Math.floor(i / 10);
      courseIds.push(
        this.createCourse({
          fullname: `Course ${n}`,
          shortname: `C${n}`,
          idnumber: `EXT-C-${n}`,
          summary: rand() < 0.5 ? `Summary of course ${n}` : "",
          category: categoryIds[i % categoryIds.length]!,
          visible: rand() < 0.9 ? 1 : 0,
          timecreated: t,
          timemodified: t,
          startdate: Math.floor(t / DAY) * DAY,
        }).id,
      );
    }
    let enrolments = 0;
    const per = options.enrolmentsPerCourse ?? 0;
    const pool = userIds.length ? userIds : [...this.users.values()].filter((u) => !u.deleted && u.id > 4).map((u) => u.id);
    if (per > 0 && pool.length) {
      for (const courseid of courseIds) {
        const start = Math.floor(rand() * pool.length);
        const count = Math.min(per, pool.length);
        for (let k = 0; k < count; k++) {
          this.enrol(courseid, pool[(start + k) % pool.length]!, 5);
          enrolments++;
        }
      }
    }
    return { courses: courseIds, users: userIds, enrolments };
  }
}
