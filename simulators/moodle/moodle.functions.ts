// The Moodle 4.5 external functions the simulator serves: parameter descriptions (validated before the function
// runs, as webservice_base_server::execute does), capability and context checks in Moodle's order, and results
// shaped key for key like the recorded transcript (JSON keys follow each function's returns description).
// Permissions are modelled simply: a site admin may do everything; any other user may see the site course and the
// courses they are enrolled in, and holds no capability beyond that.
import {
  MoodleErrors,
  MoodleException,
  type MoodleWarning,
} from "./moodle.errors.js";
import {
  cleanParam,
  installed,
  isValidEmail,
  multiple,
  optional,
  single,
  validateParameters,
  value,
  withDefault,
  VALUE_DEFAULT,
  VALUE_OPTIONAL,
  type ExternalSingle,
} from "./moodle.params.js";
import {
  roleById,
  SITE_COURSE_ID,
  type MoodleCourseRecord,
  type MoodleStore,
  type MoodleUserRecord,
} from "./moodle.store.js";
import { externalFormatString, externalFormatText, formatString, type ExternalSettings } from "./moodle.text.js";

export const MOODLE_RELEASE = "4.5.5+ (Build: 20250613)";
export const MOODLE_VERSION = "2024100705.01";
const ENROL_MANUAL_VERSION = "2024100700";

/** What a function sees of the call: the site, the token's user and service, and the debug setting. */
export interface CallContext {
  store: MoodleStore;
  user: MoodleUserRecord;
  /** Functions of the token's service, in the order site info lists them. */
  serviceFunctions: readonly string[];
  debug: boolean;
  /** The site's wwwroot (no trailing slash). */
  wwwroot: string;
  siteName: string;
  /** The call's external settings (`moodlewssettingraw`): text as stored, or formatted as Moodle formats it. */
  settings: ExternalSettings;
}

export interface FunctionDef {
  name: string;
  params: ExternalSingle;
  run(ctx: CallContext, params: Record<string, any>): unknown;
  /**
   * The XML writer prints every key of the returns description, absent optional ones as null or an empty list; JSON
   * omits them. Functions whose recorded XML shows such keys add them here.
   */
  xml?: (result: unknown) => unknown;
}

// ---- permission helpers -------------------------------------------------------------------------------------------

const isAdmin = (ctx: CallContext) => ctx.user.siteadmin;

function requireCapability(ctx: CallContext, name: string): void {
  if (!isAdmin(ctx)) throw MoodleErrors.noPermissions(name);
}

/** `validate_context` on a course: the site course and enrolled courses are accessible to everyone else. */
function validateCourseContext(ctx: CallContext, course: MoodleCourseRecord): void {
  if (isAdmin(ctx) || course.id === SITE_COURSE_ID) return;
  const e = ctx.store.enrolment(course.id, ctx.user.id);
  if (!e || e.status !== 0) throw MoodleErrors.requireLogin();
}

const contextMissing = () => MoodleErrors.invalidParameter("Context does not exist");

const sqlDebug = (sql: string, params: unknown[]) =>
  `${sql}\n[array (\n${params.map((p, i) => `  ${i} => ${typeof p === "number" ? p : `'${String(p)}'`},\n`).join("")})]`;

const missingCourse = (id: number) =>
  MoodleErrors.missingRecord("course", sqlDebug("SELECT id,category FROM {course} WHERE id = ?", [id]));

// ---- result shapes -------------------------------------------------------------------------------------------------

const FILTERS = ["displayh5p", "activitynames", "mathjaxloader", "emoticon", "urltolink", "mediaplugin"].map((filter) => ({
  filter,
  localstate: 0,
  inheritedstate: 1,
}));

function imageUrl(ctx: CallContext, size: "f1" | "f2"): string {
  return `${ctx.wwwroot}/theme/image.php/boost/core/${ctx.store.installTime + 62}/u/${size}`;
}

const fullnameOf = (u: MoodleUserRecord) => `${u.firstname} ${u.lastname}`;

/** One course of core_course_get_courses (fields beyond the public ones only with moodle/course:update). */
function courseListEntry(ctx: CallContext, c: MoodleCourseRecord): Record<string, unknown> {
  const admin = isAdmin(ctx);
  const site = c.format === "site";
  // course/externallib.php get_courses(): fullname, shortname, displayname through util::format_string, summary
  // through util::format_text; idnumber and the rest as stored.
  const o: Record<string, unknown> = { id: c.id, shortname: externalFormatString(ctx.settings, c.shortname), categoryid: c.category };
  if (admin) o.categorysortorder = ctx.store.sortorderOf(c);
  o.fullname = externalFormatString(ctx.settings, c.fullname);
  o.displayname = externalFormatString(ctx.settings, c.fullname);
  if (admin) o.idnumber = c.idnumber;
  [o.summary, o.summaryformat] = externalFormatText(ctx.settings, c.summary, c.summaryformat, { contextid: c.contextid, component: "course", filearea: "summary" });
  o.format = c.format;
  if (admin) {
    o.showgrades = c.showgrades;
    o.newsitems = c.newsitems;
  }
  o.startdate = c.startdate;
  o.enddate = c.enddate;
  if (site || admin) o.numsections = c.numsections;
  if (admin) {
    o.maxbytes = c.maxbytes;
    o.showreports = c.showreports;
    o.visible = c.visible;
    if (!site) o.hiddensections = c.hiddensections;
    o.groupmode = c.groupmode;
    o.groupmodeforce = c.groupmodeforce;
    o.defaultgroupingid = c.defaultgroupingid;
    o.timecreated = c.timecreated;
    o.timemodified = c.timemodified;
    o.enablecompletion = c.enablecompletion;
    o.completionnotify = c.completionnotify;
    o.lang = c.lang;
    o.forcetheme = c.theme;
    o.courseformatoptions = site
      ? [{ name: "numsections", value: c.numsections }]
      : [
          { name: "hiddensections", value: c.hiddensections },
          { name: "coursedisplay", value: c.coursedisplay },
        ];
  }
  o.showactivitydates = c.showactivitydates;
  o.showcompletionconditions = c.showcompletionconditions;
  return o;
}

/** One course of core_course_get_courses_by_field. */
function courseFieldEntry(ctx: CallContext, c: MoodleCourseRecord): Record<string, unknown> {
  const store = ctx.store;
  const contacts = store
    .courseEnrolments(c.id)
    .filter((e) => e.roles.includes(3) && e.status === 0)
    .map((e) => store.users.get(e.userid))
    .filter((u): u is MoodleUserRecord => !!u && !u.deleted)
    .map((u) => ({ id: u.id, fullname: fullnameOf(u) }));
  // get_course_public_information(): fullname, displayname, shortname, categoryname through util::format_string,
  // summary through util::format_text; contacts' fullname (fullname()) and the other fields as stored.
  const [summary, summaryformat] = externalFormatText(ctx.settings, c.summary, c.summaryformat, { contextid: c.contextid, component: "course", filearea: "summary" });
  return {
    id: c.id,
    fullname: externalFormatString(ctx.settings, c.fullname),
    displayname: externalFormatString(ctx.settings, c.fullname),
    shortname: externalFormatString(ctx.settings, c.shortname),
    courseimage: `${ctx.wwwroot}/pluginfile.php/${c.contextid}/course/generated/course.svg`,
    categoryid: c.category,
    categoryname: externalFormatString(ctx.settings, store.categories.get(c.category)?.name ?? ""),
    sortorder: store.sortorderOf(c),
    summary,
    summaryformat,
    summaryfiles: [],
    overviewfiles: [],
    showactivitydates: c.showactivitydates,
    showcompletionconditions: c.showcompletionconditions,
    contacts,
    enrollmentmethods: ["manual"],
    idnumber: c.idnumber,
    format: c.format,
    showgrades: c.showgrades,
    newsitems: c.newsitems,
    startdate: c.startdate,
    enddate: c.enddate,
    maxbytes: c.maxbytes,
    showreports: c.showreports,
    visible: c.visible,
    groupmode: c.groupmode,
    groupmodeforce: c.groupmodeforce,
    defaultgroupingid: c.defaultgroupingid,
    enablecompletion: c.enablecompletion,
    completionnotify: c.completionnotify,
    lang: c.lang,
    theme: c.theme,
    marker: c.marker,
    legacyfiles: c.legacyfiles,
    calendartype: c.calendartype,
    timecreated: c.timecreated,
    timemodified: c.timemodified,
    requested: c.requested,
    cacherev: c.cacherev,
    filters: FILTERS,
    courseformatoptions: [
      { name: "hiddensections", value: c.hiddensections },
      { name: "coursedisplay", value: c.coursedisplay },
      { name: "indentation", value: "1" },
    ],
  };
}

/** The XML of get_courses_by_field also prints the optional keys the JSON omits (as the recording shows). */
function coursesByFieldXml(result: unknown): unknown {
  const r = result as { courses: Record<string, unknown>[]; warnings: unknown[] };
  return {
    courses: r.courses.map((c) => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(c)) {
        out[k] = v;
        if (k === "enrollmentmethods") out.customfields = [];
      }
      out.communicationroomname = null;
      out.communicationroomurl = null;
      return out;
    }),
    warnings: r.warnings,
  };
}

interface UserDetailOptions {
  /** The course of core_enrol_get_enrolled_users (adds lastcourseaccess, roles, enrolled courses). */
  courseId?: number;
  /** `userfields` option: only these (plus id and fullname). */
  userfields?: readonly string[];
}

/** `user_get_user_details` as an admin (or the user themselves) sees it; null when the viewer may not see the user. */
function userDetails(ctx: CallContext, u: MoodleUserRecord, opts: UserDetailOptions = {}): Record<string, unknown> | null {
  const self = u.id === ctx.user.id;
  if (!isAdmin(ctx) && !self && opts.courseId === undefined) return null;
  const fields = opts.userfields?.length ? new Set(opts.userfields) : null;
  const want = (f: string) => !fields || fields.has(f);
  const inCourse = opts.courseId !== undefined;
  const o: Record<string, unknown> = { id: u.id };
  if (want("username")) o.username = u.username;
  if (want("firstname")) o.firstname = u.firstname;
  if (want("lastname")) o.lastname = u.lastname;
  o.fullname = fullnameOf(u);
  if (want("email") && (isAdmin(ctx) || self)) o.email = u.email;
  if (want("address") && u.address) o.address = u.address;
  if (want("phone1") && u.phone1) o.phone1 = u.phone1;
  if (want("phone2") && u.phone2) o.phone2 = u.phone2;
  if (want("department")) o.department = u.department;
  if (want("institution") && u.institution) o.institution = u.institution;
  if (want("idnumber") && u.idnumber) o.idnumber = u.idnumber;
  if (want("firstaccess")) o.firstaccess = u.firstaccess;
  if (want("lastaccess")) o.lastaccess = u.lastaccess;
  if (inCourse && want("lastcourseaccess")) o.lastcourseaccess = 0;
  if (!inCourse) {
    if (want("auth")) o.auth = u.auth;
    if (want("suspended")) o.suspended = u.suspended;
    if (want("confirmed")) o.confirmed = u.confirmed;
    if (want("lang")) o.lang = u.lang;
    if (want("theme")) o.theme = u.theme;
    if (want("timezone")) o.timezone = u.timezone;
    if (want("mailformat")) o.mailformat = u.mailformat;
    if (want("trackforums")) o.trackforums = u.trackforums;
  }
  if (want("description") && u.description) {
    // user/lib.php user_get_user_details(): the description through util::format_text; every other user field as
    // stored (no escaping).
    [o.description, o.descriptionformat] = externalFormatText(ctx.settings, u.description, u.descriptionformat, { contextid: u.contextid, component: "user", filearea: "profile" });
  }
  if (want("city") && u.city) o.city = u.city;
  if (want("country") && u.country) o.country = u.country;
  if (want("profileimageurlsmall")) o.profileimageurlsmall = imageUrl(ctx, "f2");
  if (want("profileimageurl")) o.profileimageurl = imageUrl(ctx, "f1");
  if (inCourse && want("roles")) {
    const e = ctx.store.enrolment(opts.courseId!, u.id);
    o.roles = (e?.roles ?? []).map((roleid) => ({ roleid, name: "", shortname: roleById.get(roleid)?.shortname ?? "", sortorder: 0 }));
  }
  if (want("preferences") && self && u.preferences.length) o.preferences = u.preferences;
  if (inCourse && want("enrolledcourses")) {
    o.enrolledcourses = sortedCourses(ctx, ctx.store.coursesOfUser(u.id)).map((c) => ({
      id: c.id,
      // weblib format_string directly (not util::format_string): escaped even when the call asks for raw text.
      fullname: formatString(c.fullname),
      shortname: formatString(c.shortname),
    }));
  }
  return o;
}

/** Courses in Moodle's listing order (category sortorder, newest first within a category). */
function sortedCourses(ctx: CallContext, ids: number[]): MoodleCourseRecord[] {
  return ids
    .map((id) => ctx.store.courses.get(id))
    .filter((c): c is MoodleCourseRecord => !!c)
    .sort((a, b) => ctx.store.sortorderOf(a) - ctx.store.sortorderOf(b));
}

// ---- LIKE (sql_like, case-insensitive, backslash escapes) ------------------------------------------------------------

function likeToRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === "\\" && i + 1 < pattern.length) {
      re += pattern[++i]!.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    } else if (ch === "%") re += "[\\s\\S]*";
    else if (ch === "_") re += "[\\s\\S]";
    else re += ch.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`^${re}$`, "i");
}

// ---- password policy (4.5 defaults) ----------------------------------------------------------------------------------

function passwordPolicyErrors(password: string): string {
  let errors = "";
  if ([...password].length < 8) errors += "<div>Passwords must be at least 8 characters long.</div>";
  if ((password.match(/\d/g) ?? []).length < 1) errors += "<div>Passwords must have at least 1 digit(s).</div>";
  if ((password.match(/\p{Ll}/gu) ?? []).length < 1) errors += "<div>Passwords must have at least 1 lower case letter(s).</div>";
  if ((password.match(/\p{Lu}/gu) ?? []).length < 1) errors += "<div>Passwords must have at least 1 upper case letter(s).</div>";
  if ((password.match(/[^\p{L}\p{N}]/gu) ?? []).length < 1) {
    errors += "<div>The password must have at least 1 special character(s) such as *, -, or #.</div>";
  }
  return errors;
}

const fakeHash = (password: string) => `$sim$${Buffer.from(password).toString("base64")}`;

// ---- parameter descriptions ------------------------------------------------------------------------------------------

const courseFormatOptions = multiple(single({ name: value("alphanumext"), value: value("raw") }), VALUE_OPTIONAL);
const courseCustomFields = multiple(single({ shortname: value("alphanumext"), value: value("raw") }), VALUE_OPTIONAL);

const createCoursesParams = single({
  courses: multiple(
    single({
      fullname: value("text"),
      shortname: value("text"),
      categoryid: value("int"),
      idnumber: optional("raw"),
      summary: optional("raw"),
      summaryformat: withDefault("int", 1),
      format: withDefault("plugin", "topics"),
      showgrades: withDefault("int", 1),
      newsitems: withDefault("int", 5),
      startdate: optional("int"),
      enddate: optional("int"),
      numsections: optional("int"),
      maxbytes: withDefault("int", 0),
      showreports: withDefault("int", 0),
      visible: optional("int"),
      hiddensections: optional("int"),
      groupmode: withDefault("int", 0),
      groupmodeforce: withDefault("int", 0),
      defaultgroupingid: withDefault("int", 0),
      enablecompletion: optional("int"),
      completionnotify: optional("int"),
      lang: optional("safedir"),
      forcetheme: optional("plugin"),
      courseformatoptions: courseFormatOptions,
      customfields: courseCustomFields,
    }),
  ),
});

const updateCoursesParams = single({
  courses: multiple(
    single({
      id: value("int"),
      fullname: optional("text"),
      shortname: optional("text"),
      categoryid: optional("int"),
      idnumber: optional("raw"),
      summary: optional("raw"),
      summaryformat: optional("int"),
      format: optional("plugin"),
      showgrades: optional("int"),
      newsitems: optional("int"),
      startdate: optional("int"),
      enddate: optional("int"),
      numsections: optional("int"),
      maxbytes: optional("int"),
      showreports: optional("int"),
      visible: optional("int"),
      hiddensections: optional("int"),
      groupmode: optional("int"),
      groupmodeforce: optional("int"),
      defaultgroupingid: optional("int"),
      enablecompletion: optional("int"),
      completionnotify: optional("int"),
      lang: optional("safedir"),
      forcetheme: optional("plugin"),
      courseformatoptions: courseFormatOptions,
      customfields: courseCustomFields,
    }),
  ),
});

const userPreferences = multiple(single({ type: value("raw"), value: value("raw") }), VALUE_OPTIONAL);
const userCustomFields = multiple(single({ type: value("alphanumext"), value: value("raw") }), VALUE_OPTIONAL);

const createUsersParams = single({
  users: multiple(
    single({
      createpassword: optional("bool"),
      username: value("username"),
      auth: withDefault("plugin", "manual"),
      password: optional("raw"),
      firstname: value("notags"),
      lastname: value("notags"),
      email: value("email"),
      maildisplay: optional("int"),
      city: optional("notags"),
      country: optional("alpha"),
      timezone: optional("timezone"),
      description: optional("text"),
      firstnamephonetic: optional("notags"),
      lastnamephonetic: optional("notags"),
      middlename: optional("notags"),
      alternatename: optional("notags"),
      interests: optional("text"),
      idnumber: withDefault("raw", ""),
      institution: optional("text"),
      department: optional("text"),
      phone1: optional("notags"),
      phone2: optional("notags"),
      address: optional("text"),
      lang: withDefault("safedir", "en"),
      calendartype: withDefault("plugin", "gregorian"),
      theme: optional("plugin"),
      mailformat: optional("int"),
      customfields: userCustomFields,
      preferences: userPreferences,
    }),
  ),
});

const updateUsersParams = single({
  users: multiple(
    single({
      id: value("int"),
      username: optional("username"),
      auth: optional("plugin"),
      suspended: optional("bool"),
      password: optional("raw"),
      firstname: optional("notags"),
      lastname: optional("notags"),
      email: optional("email"),
      maildisplay: optional("int"),
      city: optional("notags"),
      country: optional("alpha"),
      timezone: optional("timezone"),
      description: optional("text"),
      userpicture: optional("int"),
      firstnamephonetic: optional("notags"),
      lastnamephonetic: optional("notags"),
      middlename: optional("notags"),
      alternatename: optional("notags"),
      interests: optional("text"),
      idnumber: optional("raw"),
      institution: optional("text"),
      department: optional("text"),
      phone1: optional("notags"),
      phone2: optional("notags"),
      address: optional("text"),
      lang: optional("safedir"),
      calendartype: optional("plugin"),
      theme: optional("plugin"),
      mailformat: optional("int"),
      customfields: userCustomFields,
      preferences: userPreferences,
    }),
  ),
});

// Stored user columns a create/update may set (the rest of the parameters are accepted and ignored).
const USER_COLUMNS = [
  "auth", "firstname", "lastname", "email", "city", "country", "timezone", "description", "idnumber",
  "institution", "department", "phone1", "phone2", "address", "lang", "theme", "mailformat",
] as const;

// ---- the functions ----------------------------------------------------------------------------------------------------

const functions: FunctionDef[] = [
  {
    name: "core_webservice_get_site_info",
    params: single({ serviceshortnames: multiple(value("alphanumext"), VALUE_DEFAULT, []) }),
    run(ctx) {
      const u = ctx.user;
      const admin = isAdmin(ctx);
      return {
        sitename: externalFormatString(ctx.settings, ctx.siteName),
        username: u.username,
        firstname: u.firstname,
        lastname: u.lastname,
        fullname: fullnameOf(u),
        lang: u.lang,
        userid: u.id,
        siteurl: ctx.wwwroot,
        userpictureurl: imageUrl(ctx, "f1"),
        functions: ctx.serviceFunctions.map((name) => ({ name, version: name.startsWith("enrol_manual_") ? ENROL_MANUAL_VERSION : MOODLE_VERSION })),
        downloadfiles: 0,
        uploadfiles: 0,
        release: MOODLE_RELEASE,
        version: MOODLE_VERSION,
        mobilecssurl: "",
        advancedfeatures: [
          ["usecomments", 1], ["usetags", 1], ["enablenotes", 1], ["messaging", 1], ["enableblogs", 1],
          ["enablecompletion", 1], ["enablebadges", 1], ["messagingallusers", 0], ["enablecustomreports", 1],
          ["enableglobalsearch", 0], ["mnet_dispatcher_mode", 0], ["enablecompetencies", 1],
        ].map(([name, v]) => ({ name, value: v })),
        usercanmanageownfiles: true,
        userquota: admin ? 0 : 104857600,
        usermaxuploadfilesize: admin ? -1 : 2097152,
        userhomepage: 1,
        userprivateaccesskey: privateKey(u),
        siteid: SITE_COURSE_ID,
        sitecalendartype: "gregorian",
        usercalendartype: "gregorian",
        userissiteadmin: admin,
        theme: "boost",
        limitconcurrentlogins: 0,
        policyagreed: 0,
      };
    },
  },
  {
    name: "core_course_get_categories",
    params: single({
      criteria: multiple(single({ key: value("alpha"), value: value("raw") }), VALUE_DEFAULT, []),
      addsubcategories: withDefault("bool", true),
    }),
    run(ctx, p) {
      const allowed = new Set(["id", "ids", "name", "parent", "idnumber", "visible", "theme"]);
      let cats = [...ctx.store.categories.values()];
      for (const { key, value: v } of p.criteria as { key: string; value: string }[]) {
        if (!allowed.has(key)) throw MoodleErrors.invalidParameter(`The key ${key} is not permitted`);
        if (key === "ids") {
          const ids = new Set(String(v).split(",").map((s) => Number(s)));
          cats = cats.filter((c) => ids.has(c.id));
        } else if (key === "id" || key === "parent" || key === "visible") {
          cats = cats.filter((c) => c[key] === Number(v));
        } else {
          cats = cats.filter((c) => (c[key as "name" | "idnumber" | "theme"] ?? "") === v);
        }
      }
      if (!isAdmin(ctx)) cats = cats.filter((c) => c.visible);
      return cats.map((c) => ({
        id: c.id,
        name: externalFormatString(ctx.settings, c.name),
        idnumber: c.idnumber,
        ...(([description, descriptionformat]) => ({ description, descriptionformat }))(externalFormatText(ctx.settings, c.description, c.descriptionformat)),
        parent: c.parent,
        sortorder: c.sortorder,
        coursecount: ctx.store.courseCount(c.id),
        visible: c.visible,
        visibleold: c.visibleold,
        timemodified: c.timemodified,
        depth: c.depth,
        path: c.path,
        theme: c.theme,
      }));
    },
  },
  {
    name: "core_course_get_courses",
    params: single({ options: single({ ids: multiple(value("int"), VALUE_OPTIONAL) }, VALUE_DEFAULT, {}) }),
    run(ctx, p) {
      const ids: number[] | undefined = p.options.ids;
      let courses: MoodleCourseRecord[];
      if (!ids || ids.length === 0) {
        courses = [...ctx.store.courses.values()];
      } else {
        // get_records_list has no ORDER BY either: rows come in table order.
        const wanted = new Set(ids);
        courses = [...ctx.store.courses.values()].filter((c) => wanted.has(c.id));
      }
      const out: Record<string, unknown>[] = [];
      for (const c of courses) {
        try {
          validateCourseContext(ctx, c);
        } catch (err) {
          throw MoodleErrors.courseContextNotValid(c.id, (err as MoodleException).messageFor(ctx.debug));
        }
        if (c.id !== SITE_COURSE_ID) requireCapability(ctx, "View courses without participation");
        if (isAdmin(ctx) || c.visible) out.push(courseListEntry(ctx, c));
      }
      return out;
    },
  },
  {
    name: "core_course_get_courses_by_field",
    params: single({ field: withDefault("alpha", ""), value: withDefault("raw", "") }),
    run(ctx, p) {
      const field: string = p.field;
      const store = ctx.store;
      let courses: MoodleCourseRecord[];
      const all = () => [...store.courses.values()].filter((c) => c.id !== SITE_COURSE_ID).sort((a, b) => a.id - b.id);
      switch (field) {
        case "":
          courses = all();
          break;
        case "id": {
          const c = store.courses.get(cleanParam(p.value, "int") as number);
          courses = c ? [c] : [];
          break;
        }
        case "ids": {
          const ids = new Set(String(cleanParam(p.value, "sequence")).split(",").filter(Boolean).map(Number));
          // course/externallib.php: util::validate_courses() on the list; an id with no course (unknown, deleted)
          // fails the whole call with a PHP Error — no warnings, no partial result (real-findings.md).
          if ([...ids].some((id) => !store.courses.has(id))) throw MoodleErrors.phpError('Attempt to assign property "contextvalidated" on null');
          courses = [...ids].map((id) => store.courses.get(id)!).sort((a, b) => a.id - b.id);
          break;
        }
        case "shortname": {
          const c = store.courseByShortname(String(cleanParam(p.value, "text")));
          courses = c ? [c] : [];
          break;
        }
        case "idnumber": {
          const c = p.value === "" ? undefined : store.courseByIdnumber(p.value);
          courses = c ? [c] : [];
          break;
        }
        case "category": {
          const cat = cleanParam(p.value, "int");
          courses = all().filter((c) => c.category === cat);
          break;
        }
        default:
          throw MoodleErrors.invalidParameter("Invalid field name");
      }
      courses = courses.filter((c) => c.id !== SITE_COURSE_ID);
      if (!isAdmin(ctx)) courses = courses.filter((c) => c.visible && ctx.store.enrolment(c.id, ctx.user.id)?.status === 0);
      return { courses: courses.map((c) => courseFieldEntry(ctx, c)), warnings: [] };
    },
    xml: coursesByFieldXml,
  },
  {
    name: "core_course_create_courses",
    params: createCoursesParams,
    run(ctx, p) {
      const store = ctx.store;
      const created: MoodleCourseRecord[] = [];
      try {
        for (const input of p.courses as Record<string, any>[]) {
          const category = store.categories.get(input.categoryid);
          if (!category) throw MoodleErrors.categoryContextNotValid(input.categoryid, contextMissing().messageFor(ctx.debug));
          requireCapability(ctx, "Create courses");
          if (String(input.fullname).trim() === "") throw MoodleErrors.invalidParam("fullname");
          if (String(input.shortname).trim() === "") throw MoodleErrors.invalidParam("shortname");
          if (input.lang !== undefined && !installed.langs.has(input.lang)) throw MoodleErrors.invalidParam("lang");
          if (input.forcetheme !== undefined && !installed.themes.has(input.forcetheme)) throw MoodleErrors.invalidParam("forcetheme");
          // create_course(): unique shortname and idnumber, coherent dates.
          if (store.courseByShortname(input.shortname)) throw MoodleErrors.shortnameTaken(input.shortname);
          if (input.idnumber && store.courseByIdnumber(input.idnumber)) throw MoodleErrors.idnumberTaken(input.idnumber);
          if (input.enddate && input.startdate !== undefined && input.enddate < input.startdate) throw MoodleErrors.endBeforeStart();
          const options = formatOptions(input.courseformatoptions);
          created.push(
            store.createCourse({
              fullname: input.fullname,
              shortname: input.shortname,
              category: input.categoryid,
              idnumber: input.idnumber,
              summary: input.summary,
              summaryformat: input.summaryformat,
              format: input.format,
              showgrades: input.showgrades,
              newsitems: input.newsitems,
              startdate: input.startdate,
              enddate: input.enddate,
              numsections: options.numsections ?? input.numsections,
              maxbytes: input.maxbytes,
              showreports: input.showreports,
              visible: input.visible ?? category.visible,
              hiddensections: options.hiddensections ?? input.hiddensections,
              coursedisplay: options.coursedisplay,
              groupmode: input.groupmode,
              groupmodeforce: input.groupmodeforce,
              defaultgroupingid: input.defaultgroupingid,
              enablecompletion: input.enablecompletion,
              completionnotify: input.completionnotify,
              lang: input.lang,
              theme: input.forcetheme,
            }),
          );
        }
      } catch (err) {
        // The delegated transaction rolls back; the id sequence does not.
        for (const c of created) store.deleteCourse(c.id);
        throw err;
      }
      return created.map((c) => ({ id: c.id, shortname: c.shortname }));
    },
  },
  {
    name: "core_course_update_courses",
    params: updateCoursesParams,
    run(ctx, p) {
      const store = ctx.store;
      const warnings: MoodleWarning[] = [];
      for (const input of p.courses as Record<string, any>[]) {
        try {
          const course = store.courses.get(input.id);
          if (!course) throw missingCourse(input.id);
          validateCourseContext(ctx, course);
          requireCapability(ctx, "Update course settings");
          if (input.categoryid !== undefined && input.categoryid !== course.category && !store.categories.get(input.categoryid)) {
            throw MoodleErrors.warning("unknowncategory", "Category not known!");
          }
          if (input.fullname !== undefined && String(input.fullname).trim() === "") throw MoodleErrors.invalidParam("fullname");
          if (input.shortname !== undefined && String(input.shortname).trim() === "") throw MoodleErrors.invalidParam("shortname");
          if (input.lang !== undefined && input.lang !== "" && !installed.langs.has(input.lang)) throw MoodleErrors.invalidParam("lang");
          if (input.shortname !== undefined && input.shortname !== course.shortname && store.courseByShortname(input.shortname)) {
            throw MoodleErrors.shortnameTaken(input.shortname);
          }
          if (input.idnumber && input.idnumber !== course.idnumber && store.courseByIdnumber(input.idnumber)) {
            throw MoodleErrors.idnumberTaken(input.idnumber);
          }
          const start = input.startdate ?? course.startdate;
          const end = input.enddate ?? course.enddate;
          if (end && end < start) throw MoodleErrors.endBeforeStart();
          const options = formatOptions(input.courseformatoptions);
          store.updateCourse(course.id, {
            fullname: input.fullname,
            shortname: input.shortname,
            category: input.categoryid,
            idnumber: input.idnumber,
            summary: input.summary,
            summaryformat: input.summaryformat,
            format: input.format,
            showgrades: input.showgrades,
            newsitems: input.newsitems,
            startdate: input.startdate,
            enddate: input.enddate,
            numsections: options.numsections ?? input.numsections,
            maxbytes: input.maxbytes,
            showreports: input.showreports,
            visible: input.visible,
            hiddensections: options.hiddensections ?? input.hiddensections,
            coursedisplay: options.coursedisplay,
            groupmode: input.groupmode,
            groupmodeforce: input.groupmodeforce,
            defaultgroupingid: input.defaultgroupingid,
            enablecompletion: input.enablecompletion,
            completionnotify: input.completionnotify,
            lang: input.lang,
            theme: input.forcetheme,
          });
        } catch (err) {
          if (!(err instanceof MoodleException)) throw err;
          warnings.push({ item: "course", itemid: input.id, warningcode: err.errorcode, message: err.messageFor(ctx.debug) });
        }
      }
      return { warnings };
    },
  },
  {
    name: "core_course_delete_courses",
    params: single({ courseids: multiple(value("int")) }),
    run(ctx, p) {
      const store = ctx.store;
      const warnings: MoodleWarning[] = [];
      // No transaction: courses deleted before an exception stay deleted.
      for (const id of p.courseids as number[]) {
        const course = store.courses.get(id);
        if (!course) {
          warnings.push({ item: "course", itemid: id, warningcode: "unknowncourseidnumber", message: `Unknown course ID ${id}` });
          continue;
        }
        validateCourseContext(ctx, course);
        if (!isAdmin(ctx)) {
          warnings.push({ item: "course", itemid: id, warningcode: "cannotdeletecourse", message: `You do not have the permission to delete this course${id}` });
          continue;
        }
        if (!store.deleteCourse(id)) {
          warnings.push({ item: "course", itemid: id, warningcode: "cannotdeletecategorycourse", message: `Course ${id} failed to be deleted` });
        }
      }
      return { warnings };
    },
  },
  {
    name: "core_course_get_updates_since",
    params: single({ courseid: value("int"), since: value("int"), filter: multiple(value("alphanumext"), VALUE_DEFAULT, []) }),
    run(ctx, p) {
      const course = ctx.store.courses.get(p.courseid);
      if (!course) throw missingCourse(p.courseid);
      try {
        validateCourseContext(ctx, course);
      } catch (err) {
        throw MoodleErrors.courseContextNotValid(course.id, (err as MoodleException).messageFor(ctx.debug));
      }
      // Simulated courses have no activities: nothing inside a course ever changes.
      return { instances: [], warnings: [] };
    },
  },
  {
    name: "core_user_create_users",
    params: createUsersParams,
    run(ctx, p) {
      requireCapability(ctx, "Create users");
      const store = ctx.store;
      const created: MoodleUserRecord[] = [];
      try {
        for (const u of p.users as Record<string, any>[]) {
          for (const f of ["username", "firstname", "lastname"]) {
            if (String(u[f]).trim() === "") throw MoodleErrors.invalidParameter(`The field ${f} cannot be blank`);
          }
          if (store.userByUsername(u.username)) throw MoodleErrors.invalidParameter(`Username already exists: ${u.username}`);
          if (!installed.auths.has(u.auth) || u.auth === "mnet" || u.auth === "webservice") {
            throw MoodleErrors.invalidParameter(`Invalid authentication type: ${u.auth}`);
          }
          if (!installed.langs.has(u.lang)) throw MoodleErrors.invalidParameter(`Invalid language code: ${u.lang}`);
          if (u.theme && !installed.themes.has(u.theme)) throw MoodleErrors.invalidParameter(`Invalid theme: ${u.theme}`);
          const internalAuth = u.auth === "manual" || u.auth === "nologin" || u.auth === "email";
          if (internalAuth && !u.password && !u.createpassword) {
            throw MoodleErrors.invalidParameter("Invalid password: you must provide a password, or set createpassword.");
          }
          if (!isValidEmail(u.email)) throw MoodleErrors.invalidParameter(`Email address is invalid: ${u.email}`);
          if (store.usersByEmail(u.email).length) throw MoodleErrors.invalidParameter(`Email address already exists: ${u.email}`);
          if (internalAuth && !u.createpassword) {
            const errors = passwordPolicyErrors(u.password);
            if (errors) throw MoodleErrors.passwordPolicy(errors);
          }
          const input: Record<string, unknown> = { username: u.username, passwordHash: u.createpassword ? "" : fakeHash(u.password ?? "") };
          for (const col of USER_COLUMNS) if (u[col] !== undefined) input[col] = u[col];
          if (u.preferences) input.preferences = (u.preferences as { type: string; value: string }[]).map((x) => ({ name: x.type, value: x.value }));
          created.push(store.createUser(input as { username: string }));
        }
      } catch (err) {
        for (const u of created) store.discardUser(u.id);
        throw err;
      }
      return created.map((u) => ({ id: u.id, username: u.username }));
    },
  },
  {
    name: "core_user_update_users",
    params: updateUsersParams,
    run(ctx, p) {
      requireCapability(ctx, "Update user profiles");
      const store = ctx.store;
      const warnings: MoodleWarning[] = [];
      for (const u of p.users as Record<string, any>[]) {
        try {
          const existing = store.users.get(u.id);
          if (!existing) throw MoodleErrors.warning("invaliduserid", "Invalid user ID");
          if (existing.id !== ctx.user.id && existing.siteadmin && !isAdmin(ctx)) {
            throw MoodleErrors.warning("usernotupdatedadmin", "Cannot update admin accounts");
          }
          if (existing.deleted) throw MoodleErrors.warning("usernotupdateddeleted", "User is a deleted user");
          if (existing.username === "guest") throw MoodleErrors.warning("usernotupdatedguest", "Cannot update guest account");
          if (u.email !== undefined && u.email !== existing.email) {
            if (!isValidEmail(u.email)) throw MoodleErrors.warning("useremailinvalid", "Invalid email address");
            if (store.usersByEmail(u.email).some((o) => o.id !== existing.id)) {
              throw MoodleErrors.warning("useremailduplicate", "Duplicate email address");
            }
          }
          if (u.username !== undefined && u.username !== existing.username && store.userByUsername(u.username)) {
            throw MoodleErrors.dmlWrite(`ERROR: duplicate key value violates unique constraint "mdl_user_mneuse_uix"`);
          }
          if (u.password) {
            const errors = passwordPolicyErrors(u.password);
            if (errors) throw MoodleErrors.passwordPolicy(errors);
          }
          const patch: Record<string, unknown> = {};
          for (const col of USER_COLUMNS) if (u[col] !== undefined) patch[col] = u[col];
          if (u.username !== undefined) patch.username = u.username;
          if (u.suspended !== undefined) patch.suspended = u.suspended;
          if (u.password) patch.passwordHash = fakeHash(u.password);
          store.updateUser(existing.id, patch);
        } catch (err) {
          if (!(err instanceof MoodleException)) throw err;
          warnings.push({ item: "user", itemid: u.id, warningcode: err.errorcode, message: err.messageFor(ctx.debug) });
        }
      }
      return { warnings };
    },
  },
  {
    name: "core_user_delete_users",
    params: single({ userids: multiple(value("int")) }),
    run(ctx, p) {
      requireCapability(ctx, "Delete users");
      const store = ctx.store;
      // One transaction: check every id first (in order, as the loop would meet them), then delete.
      const doomed = new Set<number>();
      for (const id of p.userids as number[]) {
        const user = store.users.get(id);
        if (!user || user.deleted || doomed.has(id)) {
          throw MoodleErrors.missingRecord("user", sqlDebug("SELECT * FROM {user} WHERE id = ? AND deleted = ?", [id, 0]));
        }
        if (user.siteadmin) throw MoodleErrors.adminNoDelete();
        if (user.id === ctx.user.id) throw MoodleErrors.selfNoDelete();
        doomed.add(id);
      }
      // user_delete_user() refuses the guest account silently.
      for (const id of doomed) if (store.users.get(id)?.username !== "guest") store.deleteUser(id);
      return null;
    },
  },
  {
    name: "core_user_get_users",
    params: single({ criteria: multiple(single({ key: value("alpha"), value: value("raw") })) }),
    run(ctx, p) {
      const warnings: MoodleWarning[] = [];
      const used = new Set<string>();
      const tests: ((u: MoodleUserRecord) => boolean)[] = [];
      const searched: string[] = [];
      for (const { key, value: raw } of p.criteria as { key: string; value: string }[]) {
        if (used.has(key)) throw MoodleErrors.keyAlreadySet(key);
        used.add(key);
        switch (key) {
          case "id": {
            const id = cleanParam(raw, "int");
            tests.push((u) => u.id === id);
            break;
          }
          case "idnumber":
            tests.push((u) => u.idnumber === raw);
            break;
          case "username": {
            const name = cleanParam(raw, "username");
            tests.push((u) => u.username === name);
            break;
          }
          case "auth": {
            const auth = cleanParam(raw, "auth");
            tests.push((u) => u.auth === auth);
            break;
          }
          case "email":
          case "firstname":
          case "lastname": {
            const re = likeToRegExp(key === "email" ? raw.trim() : String(cleanParam(raw, "notags")));
            tests.push((u) => re.test(u[key]));
            break;
          }
          default:
            warnings.push({
              item: key,
              warningcode: "invalidfieldparameter",
              message: `The search key '${key}' is not supported, look at the web service documentation`,
            });
            continue;
        }
        searched.push(key);
      }
      const users: Record<string, unknown>[] = [];
      for (const u of ctx.store.users.values()) {
        if (u.deleted || !tests.every((t) => t(u))) continue;
        const details = userDetails(ctx, u);
        // Only users whose searched fields the caller may see.
        if (details && searched.every((k) => details[k])) users.push(details);
      }
      users.sort((a, b) => (a.id as number) - (b.id as number));
      return { users, warnings };
    },
  },
  {
    name: "core_user_get_users_by_field",
    params: single({ field: value("alpha"), values: multiple(value("raw")) }),
    run(ctx, p) {
      const field: string = p.field;
      const types: Record<string, "int" | "raw" | "username" | "raw_trimmed"> = { id: "int", idnumber: "raw", username: "username", email: "raw_trimmed" };
      const type = types[field];
      if (!type) throw MoodleErrors.coding(`invalid field parameter`);
      const cleaned: (string | number)[] = [];
      for (const v of p.values as string[]) {
        const c = cleanParam(v, type) as string | number;
        const same = type === "int" ? /^\s*[+-]?\d+(\.0*)?\s*$/.test(v) && Number(v) === c : c === v;
        if (!same) throw MoodleErrors.invalidParameter(`The field '${field}' value is invalid: ${v}(cleaned value: ${c})`);
        cleaned.push(c);
      }
      const wanted = new Set(cleaned);
      const found = [...ctx.store.users.values()].filter((u) => wanted.has(u[field as "id" | "idnumber" | "username" | "email"]));
      found.sort((a, b) => a.id - b.id);
      const out: Record<string, unknown>[] = [];
      for (const u of found) {
        const details = userDetails(ctx, u);
        if (details && details[field]) out.push(details);
      }
      return out;
    },
  },
  {
    name: "enrol_manual_enrol_users",
    params: single({
      enrolments: multiple(
        single({
          roleid: value("int"),
          userid: value("int"),
          courseid: value("int"),
          timestart: optional("int"),
          timeend: optional("int"),
          suspend: optional("int"),
        }),
      ),
    }),
    run(ctx, p) {
      const store = ctx.store;
      const list = p.enrolments as { roleid: number; userid: number; courseid: number; timestart?: number; timeend?: number; suspend?: number }[];
      // One transaction: every check first, then the enrolments.
      for (const e of list) {
        const course = store.courses.get(e.courseid);
        if (!course) throw contextMissing();
        validateCourseContext(ctx, course);
        requireCapability(ctx, "Enrol users");
        if (!roleById.get(e.roleid)?.courseAssignable) throw MoodleErrors.cannotAssignRole(e.roleid, e.userid, e.courseid);
        if (course.id === SITE_COURSE_ID) {
          throw new MoodleException(
            "core\\exception\\moodle_exception",
            "wsnoinstance",
            `Manual enrolment plugin instance doesn't exist or is disabled for the course (id = ${course.id})`,
          );
        }
        const user = store.users.get(e.userid);
        if (!user || user.deleted) throw MoodleErrors.invalidUser();
      }
      for (const e of list) {
        store.enrol(e.courseid, e.userid, e.roleid, {
          timestart: e.timestart,
          timeend: e.timeend,
          status: e.suspend === undefined ? undefined : e.suspend ? 1 : 0,
        });
      }
      return null;
    },
  },
  {
    name: "enrol_manual_unenrol_users",
    params: single({ enrolments: multiple(single({ userid: value("int"), courseid: value("int"), roleid: optional("int") })) }),
    run(ctx, p) {
      const store = ctx.store;
      const list = p.enrolments as { userid: number; courseid: number; roleid?: number }[];
      for (const e of list) {
        const course = store.courses.get(e.courseid);
        if (!course) throw missingCourse(e.courseid);
        validateCourseContext(ctx, course);
        requireCapability(ctx, "Unenrol users from the course");
        if (course.id === SITE_COURSE_ID) {
          throw new MoodleException("core\\exception\\moodle_exception", "wsnoinstance", "Manual enrolment plugin instance doesn't exist or is disabled for the course");
        }
        if (!store.users.has(e.userid)) throw MoodleErrors.invalidParameter(`User id not exist: ${e.userid}`);
      }
      for (const e of list) store.unenrol(e.courseid, e.userid);
      return null;
    },
  },
  {
    name: "core_enrol_get_enrolled_users",
    params: single({
      courseid: value("int"),
      options: multiple(single({ name: value("alphanumext"), value: value("raw") }), VALUE_DEFAULT, []),
    }),
    run(ctx, p) {
      const store = ctx.store;
      let userfields: string[] = [];
      let limitfrom = 0;
      let limitnumber = 0;
      let onlyactive = false;
      let onlysuspended = false;
      let groupid = 0;
      let withcapability = "";
      let sortby: SortBy = "id";
      let direction = "ASC";
      for (const o of p.options as { name: string; value: string }[]) {
        switch (o.name) {
          case "withcapability":
            withcapability = o.value;
            break;
          case "groupid":
            groupid = cleanParam(o.value, "int") as number;
            break;
          case "onlyactive":
            onlyactive = o.value !== "" && o.value !== "0";
            break;
          case "onlysuspended":
            onlysuspended = o.value !== "" && o.value !== "0";
            break;
          case "userfields":
            userfields = o.value.split(",").map((f) => String(cleanParam(f, "alphanumext")));
            break;
          case "limitfrom":
            limitfrom = cleanParam(o.value, "int") as number;
            break;
          case "limitnumber":
            limitnumber = cleanParam(o.value, "int") as number;
            break;
          case "sortby":
            if (!["id", "firstname", "lastname", "siteorder"].includes(o.value)) {
              throw MoodleErrors.invalidParameter(`Invalid value for sortby parameter (value: ${o.value}),allowed values are: id,firstname,lastname,siteorder`);
            }
            sortby = o.value as SortBy;
            break;
          case "sortdirection":
            direction = o.value.toUpperCase();
            if (direction !== "ASC" && direction !== "DESC") {
              throw MoodleErrors.invalidParameter(`Invalid value for sortdirection parameter (value: ${direction}),allowed values are: ASC,DESC`);
            }
            break;
        }
      }
      const course = store.courses.get(p.courseid);
      if (!course) throw MoodleErrors.missingRecord("course", sqlDebug("SELECT * FROM {course} WHERE id = ?", [p.courseid]));
      try {
        validateCourseContext(ctx, course);
      } catch (err) {
        throw MoodleErrors.courseContextNotValid(course.id, (err as MoodleException).messageFor(ctx.debug));
      }
      if (withcapability) requireCapability(ctx, "Review permissions for others");
      if (onlyactive || onlysuspended) requireCapability(ctx, "Review course enrolments");
      const now = store.now();
      const active = (e: { status: number; timestart: number; timeend: number }) =>
        e.status === 0 && e.timestart <= now && (e.timeend === 0 || e.timeend > now);
      let rows = store.courseEnrolments(course.id).filter((e) => (onlyactive ? active(e) : onlysuspended ? !active(e) : true));
      if (groupid) rows = []; // simulated courses have no groups
      const users = rows.map((e) => store.users.get(e.userid)!).filter((u) => u && !u.deleted);
      const key = (u: MoodleUserRecord) => (sortby === "firstname" ? u.firstname : sortby === "lastname" ? u.lastname : sortby === "siteorder" ? `${u.lastname}\u0000${u.firstname}` : "");
      users.sort((a, b) => {
        const k = sortby === "id" ? a.id - b.id : key(a).localeCompare(key(b)) || a.id - b.id;
        return direction === "DESC" ? -k : k;
      });
      const page = limitnumber > 0 ? users.slice(limitfrom, limitfrom + limitnumber) : users.slice(Math.max(0, limitfrom));
      return page.map((u) => userDetails(ctx, u, { courseId: course.id, userfields })).filter(Boolean);
    },
  },
  {
    // enrol/externallib.php get_enrolled_users_with_capability (Moodle 2.4+): the enrolled users of several courses in
    // one call, per (course, capability). An empty capability means no capability filter (get_enrolled_sql with ''):
    // every enrolled user. A missing course fails the whole call (get_record MUST_EXIST); limitfrom/limitnumber apply
    // per course and capability; users ordered by id; default fields as get_enrolled_users.
    name: "core_enrol_get_enrolled_users_with_capability",
    params: single({
      coursecapabilities: multiple(single({ courseid: value("int"), capabilities: multiple(value("raw")) })),
      options: multiple(single({ name: value("alphanumext"), value: value("raw") }), VALUE_DEFAULT, []),
    }),
    run(ctx, p) {
      const store = ctx.store;
      const list = p.coursecapabilities as { courseid: number; capabilities: string[] }[];
      if (!list.length) throw MoodleErrors.invalidParameter("Parameter can not be empty");
      for (const c of list) {
        // PARAM_CAPABILITY: a capability name or empty (an unknown name cleans to '' and fails validation).
        for (const cap of c.capabilities) if (cap !== "" && !/^[a-z]+\/[a-z0-9_]+:[a-z0-9_]+$/.test(cap)) throw MoodleErrors.invalidParameter(`capabilities => Invalid parameter value detected`);
      }
      let userfields: string[] = [];
      let limitfrom = 0;
      let limitnumber = 0;
      let onlyactive = false;
      for (const o of p.options as { name: string; value: string }[]) {
        if (o.name === "userfields") userfields = o.value.split(",").map((f) => String(cleanParam(f, "alphanumext")));
        else if (o.name === "limitfrom") limitfrom = cleanParam(o.value, "int") as number;
        else if (o.name === "limitnumber") limitnumber = cleanParam(o.value, "int") as number;
        else if (o.name === "onlyactive") onlyactive = o.value !== "" && o.value !== "0";
      }
      const now = store.now();
      const out: { courseid: number; capability: string; users: unknown[] }[] = [];
      for (const { courseid, capabilities } of list) {
        const course = store.courses.get(courseid);
        if (!course) throw MoodleErrors.missingRecord("course", sqlDebug("SELECT * FROM {course} WHERE id = ?", [courseid]));
        try {
          validateCourseContext(ctx, course);
        } catch (err) {
          throw MoodleErrors.courseContextNotValid(course.id, (err as MoodleException).messageFor(ctx.debug));
        }
        requireCapability(ctx, "View participants");
        if (onlyactive) requireCapability(ctx, "Review course enrolments");
        requireCapability(ctx, "Review permissions for others");
        for (const capability of capabilities) {
          const rows = store
            .courseEnrolments(course.id)
            .filter((e) => !onlyactive || (e.status === 0 && e.timestart <= now && (e.timeend === 0 || e.timeend > now)));
          const users = rows
            .map((e) => store.users.get(e.userid))
            .filter((u): u is MoodleUserRecord => !!u && !u.deleted)
            .sort((a, b) => a.id - b.id);
          const page = limitnumber > 0 ? users.slice(limitfrom, limitfrom + limitnumber) : users.slice(Math.max(0, limitfrom));
          out.push({ courseid: course.id, capability, users: page.map((u) => userDetails(ctx, u, { courseId: course.id, userfields })).filter(Boolean) });
        }
      }
      return out;
    },
  },
  {
    name: "core_enrol_get_users_courses",
    params: single({ userid: value("int"), returnusercount: withDefault("bool", true) }),
    run(ctx, p) {
      const store = ctx.store;
      const user = store.users.get(p.userid);
      if (!user) throw MoodleErrors.missingRecord("user", sqlDebug("SELECT * FROM {user} WHERE id = ?", [p.userid]));
      if (user.id !== ctx.user.id) requireCapability(ctx, "View user profiles");
      const now = store.now();
      const ids = store.coursesOfUser(user.id).filter((id) => {
        const e = store.enrolment(id, user.id)!;
        return e.status === 0 && e.timestart <= now && (e.timeend === 0 || e.timeend > now);
      });
      return sortedCourses(ctx, ids).map((c) => {
        // enrol/externallib.php get_users_courses(): displayname, fullname, shortname through util::format_string,
        // summary through util::format_text.
        const o: Record<string, unknown> = {
          id: c.id,
          shortname: externalFormatString(ctx.settings, c.shortname),
          fullname: externalFormatString(ctx.settings, c.fullname),
          displayname: externalFormatString(ctx.settings, c.fullname),
        };
        const [summary, summaryformat] = externalFormatText(ctx.settings, c.summary, c.summaryformat, { contextid: c.contextid, component: "course", filearea: "summary" });
        if (p.returnusercount) o.enrolledusercount = store.enrolments.get(c.id)?.size ?? 0;
        Object.assign(o, {
          idnumber: c.idnumber,
          visible: c.visible,
          summary,
          summaryformat,
          format: c.format,
          courseimage: `${ctx.wwwroot}/pluginfile.php/${c.contextid}/course/generated/course.svg`,
          showgrades: c.showgrades === 1,
          lang: c.lang,
          enablecompletion: c.enablecompletion === 1,
          completionhascriteria: false,
          completionusertracked: c.enablecompletion === 1,
          category: c.category,
          progress: null,
          completed: false,
          startdate: c.startdate,
          enddate: c.enddate,
          marker: c.marker,
          lastaccess: null,
          isfavourite: false,
          hidden: false,
          overviewfiles: [],
          showactivitydates: c.showactivitydates,
          showcompletionconditions: c.showcompletionconditions,
          timemodified: c.timemodified,
        });
        return o;
      });
    },
  },
];

type SortBy = "id" | "firstname" | "lastname" | "siteorder";

function formatOptions(list: { name: string; value: string }[] | undefined): { numsections?: number; hiddensections?: number; coursedisplay?: number } {
  const out: { numsections?: number; hiddensections?: number; coursedisplay?: number } = {};
  for (const o of list ?? []) {
    if (o.name === "numsections" || o.name === "hiddensections" || o.name === "coursedisplay") out[o.name] = Number(o.value) || 0;
  }
  return out;
}

/** A stable per-user private access key (32 hex), like the real one. */
function privateKey(u: MoodleUserRecord): string {
  let h = 0x811c9dc5;
  const s = `${u.id}:${u.username}:${u.timecreated}`;
  let out = "";
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
    h = Math.imul(h ^ round, 0x01000193) >>> 0;
    out += h.toString(16).padStart(8, "0");
  }
  return out;
}

/** Every function the simulator implements, by name. */
export const FUNCTIONS: ReadonlyMap<string, FunctionDef> = new Map(functions.map((f) => [f.name, f]));

/** The recorded site's service: these functions, in this order (core_webservice_get_site_info lists them so). */
export const DEFAULT_SERVICE_FUNCTIONS: readonly string[] = [
  "core_webservice_get_site_info",
  "core_course_get_courses",
  "core_course_create_courses",
  "core_course_get_courses_by_field",
  "core_course_update_courses",
  "core_user_create_users",
  "core_user_get_users",
  "core_user_get_users_by_field",
  "core_user_update_users",
  "core_user_delete_users",
  "enrol_manual_enrol_users",
  "enrol_manual_unenrol_users",
  "core_enrol_get_enrolled_users",
  "core_course_delete_courses",
  "core_course_get_categories",
  "core_course_get_updates_since",
  "core_enrol_get_users_courses",
];

/** A read-only service (the same reads, no create/update/delete/enrol): calls to the rest are accessexception. */
export const READONLY_SERVICE_FUNCTIONS: readonly string[] = DEFAULT_SERVICE_FUNCTIONS.filter(
  (f) => !/_(create|update|delete)_|enrol_manual_/.test(f),
);

/**
 * Functions a real 4.5 site has but the simulator does not serve: calling one that is not in the token's service is
 * `accessexception` (as recorded for core_course_search_courses); a name in neither list is `invalidrecord`.
 */
export const KNOWN_UNSERVED_FUNCTIONS: ReadonlySet<string> = new Set([
  "core_course_search_courses",
  "core_course_get_contents",
  "core_course_duplicate_course",
  "core_course_get_recent_courses",
  "core_course_view_course",
  "core_course_create_categories",
  "core_course_update_categories",
  "core_course_delete_categories",
  "core_enrol_get_course_enrolment_methods",
  "core_enrol_get_enrolled_users_with_capability",
  "core_enrol_search_users",
  "core_group_get_groups",
  "core_group_get_course_groups",
  "core_group_create_groups",
  "core_role_assign_roles",
  "core_role_unassign_roles",
  "core_cohort_get_cohorts",
  "core_user_get_course_user_profiles",
  "core_user_search_identity",
  "core_user_view_user_profile",
  "core_calendar_get_calendar_events",
  "core_completion_get_course_completion_status",
  "core_message_send_instant_messages",
  "core_notes_create_notes",
  "core_files_upload",
  "core_badges_get_user_badges",
  "gradereport_user_get_grade_items",
  "mod_assign_get_assignments",
  "tool_mobile_get_config",
]);

/** Validates the call's parameters against the function's description, then runs it (webservice_base_server::execute). */
export function executeFunction(def: FunctionDef, ctx: CallContext, rawParams: Record<string, unknown>): unknown {
  const params = validateParameters(def.params, rawParams, ctx.debug) as Record<string, any>;
  return def.run(ctx, params);
}
