// A typed client for Moodle's REST web services (4.x): every call is one form-urlencoded POST to
// `/webservice/rest/server.php` with `wstoken`, `wsfunction`, `moodlewsrestformat=json` and the function's parameters
// in PHP array notation (`courses[0][fullname]=...`, encoded with `qs`), sent through the shared RemoteCaller
// (timeout, retries with backoff on transient failures, rate limit). Moodle answers HTTP 200 even for errors; the
// `{exception, errorcode, message}` envelope, HTTP failures and anything that is not JSON become RemoteErrors here,
// with Moodle's errorcode in `detail.remoteCode`. Per-item failures of update/delete functions come back as typed
// warnings. The token travels in the request body only and never appears in an error message.
import { createHash } from "node:crypto";
import qs from "qs";
import { kindOfHttpStatus, RemoteCaller, type RemoteCallOptions } from "../remote/remote-call.js";
import { RemoteError, RemoteErrorKind } from "../remote/remote.errors.js";

export const MOODLE_REST_PATH = "/webservice/rest/server.php";

export interface MoodleClientOptions extends RemoteCallOptions {
  /** The site's wwwroot (`https://lms.example.org`) or the full REST endpoint URL. */
  url: string;
  /** The web service token (32 hex). */
  token: string;
  /**
   * Retry `create_*` calls on transient failures too. Off by default: a create that timed out may have happened, and
   * retrying it fails with shortnametaken/username taken (or creates a twin when nothing unique is set).
   */
  retryCreates?: boolean;
  /** Use this transport (shared rate limit) instead of building one from the options. */
  caller?: RemoteCaller;
}

/** Moodle's external_warnings entry. */
export interface MoodleWarning {
  item?: string;
  itemid?: number;
  warningcode: string;
  message: string;
}

export interface MoodleSiteInfo {
  sitename: string;
  username: string;
  firstname: string;
  lastname: string;
  fullname: string;
  lang: string;
  userid: number;
  siteurl: string;
  functions: { name: string; version: string }[];
  release: string;
  version: string;
  userissiteadmin: boolean;
  siteid: number;
  [key: string]: unknown;
}

export interface MoodleCategory {
  id: number;
  name: string;
  idnumber: string | null;
  description: string;
  parent: number;
  sortorder: number;
  coursecount: number;
  visible: number;
  timemodified: number;
  depth: number;
  path: string;
  [key: string]: unknown;
}

/** A course as core_course_get_courses returns it (fields past `enddate` only for managers). */
export interface MoodleCourse {
  id: number;
  shortname: string;
  categoryid: number;
  fullname: string;
  displayname: string;
  summary: string;
  summaryformat: number;
  format: string;
  startdate: number;
  enddate: number;
  idnumber?: string;
  visible?: number;
  timecreated?: number;
  timemodified?: number;
  [key: string]: unknown;
}

/** A course as core_course_get_courses_by_field returns it. */
export interface MoodleCourseDetail extends MoodleCourse {
  categoryname: string;
  sortorder: number;
  courseimage: string;
  contacts: { id: number; fullname: string }[];
  enrollmentmethods: string[];
}

export interface MoodleUser {
  id: number;
  fullname: string;
  username?: string;
  firstname?: string;
  lastname?: string;
  email?: string;
  idnumber?: string;
  department?: string;
  auth?: string;
  suspended?: boolean;
  confirmed?: boolean;
  city?: string;
  country?: string;
  [key: string]: unknown;
}

export interface MoodleRoleAssignment {
  roleid: number;
  name: string;
  shortname: string;
  sortorder: number;
}

export interface MoodleEnrolledUser extends MoodleUser {
  lastcourseaccess?: number;
  roles?: MoodleRoleAssignment[];
  enrolledcourses?: { id: number; fullname: string; shortname: string }[];
}

export interface MoodleUserCourse {
  id: number;
  shortname: string;
  fullname: string;
  enrolledusercount?: number;
  idnumber: string;
  visible: number;
  category: number;
  timemodified: number;
  [key: string]: unknown;
}

/** core_course_create_courses input (fullname, shortname and categoryid are required by Moodle). */
export interface MoodleCourseInput {
  fullname: string;
  shortname: string;
  categoryid: number;
  idnumber?: string;
  summary?: string;
  summaryformat?: number;
  format?: string;
  showgrades?: number;
  newsitems?: number;
  startdate?: number;
  enddate?: number;
  numsections?: number;
  maxbytes?: number;
  showreports?: number;
  visible?: number;
  groupmode?: number;
  groupmodeforce?: number;
  defaultgroupingid?: number;
  enablecompletion?: number;
  completionnotify?: number;
  lang?: string;
  forcetheme?: string;
  courseformatoptions?: { name: string; value: string | number }[];
  customfields?: { shortname: string; value: string }[];
}

export type MoodleCourseUpdate = Partial<MoodleCourseInput> & { id: number };

/** core_user_create_users input: a password or `createpassword` is required for internal auth methods. */
export interface MoodleUserInput {
  username: string;
  firstname: string;
  lastname: string;
  email: string;
  password?: string;
  createpassword?: boolean;
  auth?: string;
  idnumber?: string;
  city?: string;
  country?: string;
  timezone?: string;
  description?: string;
  institution?: string;
  department?: string;
  phone1?: string;
  phone2?: string;
  address?: string;
  lang?: string;
  theme?: string;
  mailformat?: number;
  maildisplay?: number;
  middlename?: string;
  alternatename?: string;
  firstnamephonetic?: string;
  lastnamephonetic?: string;
  interests?: string;
  calendartype?: string;
  customfields?: { type: string; value: string }[];
  preferences?: { type: string; value: string }[];
}

export type MoodleUserUpdate = Partial<Omit<MoodleUserInput, "createpassword">> & { id: number; suspended?: boolean };

export interface MoodleEnrolmentInput {
  roleid: number;
  userid: number;
  courseid: number;
  timestart?: number;
  timeend?: number;
  suspend?: 0 | 1;
}

export interface EnrolledUsersOptions {
  limitfrom?: number;
  limitnumber?: number;
  /** Only these user fields (id and fullname always come back). */
  userfields?: string[];
  onlyactive?: boolean;
  onlysuspended?: boolean;
  withcapability?: string;
  groupid?: number;
  sortby?: "id" | "firstname" | "lastname" | "siteorder";
  sortdirection?: "ASC" | "DESC";
}

/** Moodle's error envelope. */
interface MoodleErrorBody {
  exception: string;
  errorcode?: string;
  message: string;
  debuginfo?: string;
}

function isMoodleError(body: unknown): body is MoodleErrorBody {
  return (
    typeof body === "object" &&
    body !== null &&
    !Array.isArray(body) &&
    typeof (body as Record<string, unknown>).exception === "string" &&
    typeof (body as Record<string, unknown>).message === "string"
  );
}

const AUTH_CODES = new Set(["invalidtoken", "invalidtimedtoken", "invalidtokensession", "invalidlogin", "usernamenotfound", "forcepasswordchangenotice"]);
const PERMISSION_CODES = new Set([
  "accessexception",
  "nopermissions",
  "requireloginerror",
  "errorcoursecontextnotvalid",
  "wsusercannotassign",
  "wsaccessusersuspended",
  "wsaccessuserdeleted",
  "wsaccessusernologin",
  "wsaccessuserunconfirmed",
  "wsaccessuserexpired",
  "useradminodelete",
  "usernotdeletederror",
  "usernotupdatedadmin",
  "usernotupdatedguest",
  "cannotdeletecourse",
  "nopermissiontoupdatecalendar",
  "noaccess",
]);
const NOT_FOUND_CODES = new Set([
  "invalidrecord",
  "invalidrecordunknown",
  "invaliduser",
  "invaliduserid",
  "invalidcourseid",
  "unknowncourseidnumber",
  "coursenotexist",
  "usernotupdateddeleted",
  "invalidcategoryid",
]);
const UNAVAILABLE_CODES = new Set(["sitemaintenance", "dbconnectionfailed", "dmlreadexception", "generalexceptionmessage"]);

/**
 * The kind of a Moodle errorcode (or warningcode). Context errors say whether the context exists: a missing category
 * or course is the input's fault (VALIDATION / NOT_FOUND), an inaccessible one a PERMISSION. Anything unknown is
 * VALIDATION: Moodle refused this request, retrying it the same way will not help.
 */
export function kindOfMoodleCode(code: string, message = "", exceptionClass = ""): RemoteErrorKind {
  if (AUTH_CODES.has(code)) return RemoteErrorKind.AUTH;
  // A PHP Error (no errorcode): get_courses_by_field(ids) with a missing course says so (real-findings.md).
  if (exceptionClass === "Error" && /"contextvalidated" on null/.test(message)) return RemoteErrorKind.NOT_FOUND;
  if (code === "errorcatcontextnotvalid") {
    return /Invalid parameter value detected|Context does not exist/.test(message) ? RemoteErrorKind.VALIDATION : RemoteErrorKind.PERMISSION;
  }
  if (code === "errorcoursecontextnotvalid" && /Invalid parameter value detected|Context does not exist/.test(message)) {
    return RemoteErrorKind.NOT_FOUND;
  }
  if (PERMISSION_CODES.has(code)) return RemoteErrorKind.PERMISSION;
  if (NOT_FOUND_CODES.has(code)) return RemoteErrorKind.NOT_FOUND;
  if (UNAVAILABLE_CODES.has(code)) return RemoteErrorKind.UNAVAILABLE;
  if (/required_capability_exception|webservice_access_exception|require_login_exception/.test(exceptionClass)) return RemoteErrorKind.PERMISSION;
  if (/dml_missing_record_exception/.test(exceptionClass)) return RemoteErrorKind.NOT_FOUND;
  if (/dml_(read|connection)_exception|dml_sessionwait_exception/.test(exceptionClass)) return RemoteErrorKind.UNAVAILABLE;
  return RemoteErrorKind.VALIDATION;
}

/** debuginfo that shows Moodle's internals: SQL (`{table}`, `[array (`), file paths, stack traces. */
const INTERNAL_DEBUGINFO = /\{[a-z_]+\}|\[array \(|\bSELECT\b|\bINSERT\b|\/[\w.-]+\/[\w.-]+\.php|#\d+ \//;

const stripTags = (s: string) => s.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim();

/** Functions that change nothing, or change it the same way twice (safe to retry after a timeout). */
const NON_IDEMPOTENT = new Set(["core_course_create_courses", "core_user_create_users"]);

type Params = Record<string, unknown>;

/** PHP has no booleans on the wire: true/false become 1/0; Dates become Unix seconds; null/undefined are left out. */
function toPhpValues(value: unknown): unknown {
  if (value === true) return 1;
  if (value === false) return 0;
  if (value instanceof Date) return Math.floor(value.getTime() / 1000);
  if (Array.isArray(value)) return value.map(toPhpValues);
  if (value && typeof value === "object") {
    const out: Params = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined && v !== null) out[k] = toPhpValues(v);
    return out;
  }
  return value;
}

/** Encodes parameters as PHP reads them: `courses[0][fullname]=A+B` (http_build_query style). */
export function encodeMoodleParams(params: Params): string {
  return qs.stringify(toPhpValues(params), { arrayFormat: "indices", format: "RFC1738", skipNulls: true });
}

export class MoodleClient {
  /** The REST endpoint (no credentials in it). */
  readonly endpoint: string;
  /** A stable, non-reversible name of this site+token (cache keys); never the token itself. */
  readonly identity: string;
  readonly #token: string;
  readonly #caller: RemoteCaller;
  readonly #createCaller: RemoteCaller;

  constructor(options: MoodleClientOptions) {
    if (!options.token) throw new RemoteError(RemoteErrorKind.AUTH, "No Moodle web service token configured");
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new RemoteError(RemoteErrorKind.VALIDATION, "The Moodle URL is not a valid URL");
    }
    const base = url.href.replace(/[?#].*$/, "").replace(/\/+$/, "");
    this.endpoint = base.endsWith(MOODLE_REST_PATH) ? base : `${base}${MOODLE_REST_PATH}`;
    this.#token = options.token;
    this.identity = createHash("sha256").update(`${this.endpoint}\n${options.token}`).digest("hex").slice(0, 32);
    this.#caller = options.caller ?? new RemoteCaller(options);
    this.#createCaller = options.retryCreates || options.caller ? this.#caller : new RemoteCaller({ ...options, retries: 0 });
  }

  /** Keeps the token out of logs (`console.log(client)`, JSON). */
  toJSON(): Record<string, string> {
    return { endpoint: this.endpoint };
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `MoodleClient { endpoint: '${this.endpoint}' }`;
  }

  /**
   * Calls any web service function and returns its decoded JSON result. Throws RemoteError: AUTH (invalidtoken),
   * PERMISSION (accessexception, nopermissions...), NOT_FOUND (invalidrecord...), VALIDATION (invalidparameter,
   * shortnametaken...), UNAVAILABLE (HTTP 5xx, network, not JSON), TIMEOUT.
   */
  async call<T = unknown>(wsfunction: string, params: Params = {}, opts: { signal?: AbortSignal; raw?: boolean } = {}): Promise<T> {
    // `moodlewssettingraw=1` (webservice/lib.php set_web_service_call_settings): text fields come back as stored
    // instead of through format_string/format_text (escaped, summaries re-formatted as HTML); `moodlewssettingfileurl=0`
    // keeps `@@PLUGINFILE@@/` in summaries instead of a web service file URL (rewritten even in raw mode, and stored
    // as that URL if pushed back) — see simulators/moodle/README.md.
    const raw = opts.raw ? { moodlewssettingraw: 1, moodlewssettingfileurl: 0 } : {};
    const body = encodeMoodleParams({ wstoken: this.#token, wsfunction, moodlewsrestformat: "json", ...raw, ...params });
    const caller = NON_IDEMPOTENT.has(wsfunction) ? this.#createCaller : this.#caller;
    return caller.send(async (fetchFn, signal) => {
      let res: Response;
      try {
        res = await fetchFn(this.endpoint, {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
          body,
          signal,
        });
      } catch (err) {
        if (signal.aborted) throw err; // the caller turns its own abort into TIMEOUT
        throw new RemoteError(RemoteErrorKind.UNAVAILABLE, `Moodle unreachable (${wsfunction}): ${this.redact(describeNetworkError(err))}`, {
          cause: err,
        });
      }
      const text = await res.text();
      if (res.status !== 200) {
        throw new RemoteError(kindOfHttpStatus(res.status), `Moodle answered HTTP ${res.status} to ${wsfunction}`, { status: res.status });
      }
      let decoded: unknown;
      try {
        decoded = JSON.parse(text);
      } catch {
        const type = res.headers.get("content-type") ?? "no content type";
        throw new RemoteError(RemoteErrorKind.UNAVAILABLE, `Moodle answered ${wsfunction} with something that is not JSON (${type})`, {
          status: res.status,
        });
      }
      if (isMoodleError(decoded)) throw this.toRemoteError(wsfunction, decoded, res.status);
      return decoded as T;
    }, opts);
  }

  private toRemoteError(wsfunction: string, body: MoodleErrorBody, status: number): RemoteError {
    const code = body.errorcode ?? body.exception;
    const kind = kindOfMoodleCode(code, body.message, body.exception);
    // Site debugging adds debuginfo: the reason of an invalidparameter is only there, but so are SQL statements and
    // server paths (Moodle's internals, not what the tenant needs): those are left out.
    const internal = !!body.debuginfo && INTERNAL_DEBUGINFO.test(body.debuginfo);
    const debuginfo = body.debuginfo && !internal ? body.debuginfo : "";
    // (Some exceptions repeat their debuginfo in the message: taken out there too.)
    const text = internal ? body.message.split(body.debuginfo!).join("").replace(/\s*\(\s*\)\s*$/, "") : body.message;
    const detail = debuginfo && !text.includes(debuginfo) ? ` (${debuginfo})` : "";
    const message = this.redact(`Moodle ${wsfunction}: ${stripTags(text)}${detail}`).slice(0, 2_000);
    return new RemoteError(kind, message, { remoteCode: code, status });
  }

  /** Never let the token out, whatever Moodle echoes. */
  private redact(text: string): string {
    return text.split(this.#token).join("<token>");
  }

  // ---- typed functions ---------------------------------------------------------------------------------------------

  getSiteInfo(signal?: AbortSignal): Promise<MoodleSiteInfo> {
    return this.call("core_webservice_get_site_info", {}, { signal, raw: true });
  }

  getCategories(criteria: { key: string; value: string | number }[] = [], signal?: AbortSignal): Promise<MoodleCategory[]> {
    return this.call("core_course_get_categories", criteria.length ? { criteria } : {}, { signal, raw: true });
  }

  /** Every course (the site course id 1 included) or the given ids, in the server's (unspecified) order. */
  getCourses(ids?: number[], signal?: AbortSignal): Promise<MoodleCourse[]> {
    return this.call("core_course_get_courses", ids?.length ? { options: { ids } } : {}, { signal, raw: true });
  }

  async getCoursesByField(
    field: "" | "id" | "ids" | "shortname" | "idnumber" | "category",
    value: string | number | number[] = "",
    signal?: AbortSignal,
  ): Promise<{ courses: MoodleCourseDetail[]; warnings: MoodleWarning[] }> {
    const v = Array.isArray(value) ? value.join(",") : value;
    return this.call("core_course_get_courses_by_field", { field, value: v }, { signal, raw: true });
  }

  createCourses(courses: MoodleCourseInput[], signal?: AbortSignal): Promise<{ id: number; shortname: string }[]> {
    return this.call("core_course_create_courses", { courses }, { signal, raw: true });
  }

  /** Per-course failures (missing id, shortname taken, no permission) come back as warnings, not errors. */
  async updateCourses(courses: MoodleCourseUpdate[], signal?: AbortSignal): Promise<MoodleWarning[]> {
    const r = await this.call<{ warnings?: MoodleWarning[] }>("core_course_update_courses", { courses }, { signal, raw: true });
    return r?.warnings ?? [];
  }

  /** Missing ids are warnings (`unknowncourseidnumber`); courses are hard-deleted. */
  async deleteCourses(courseids: number[], signal?: AbortSignal): Promise<MoodleWarning[]> {
    const r = await this.call<{ warnings?: MoodleWarning[] }>("core_course_delete_courses", { courseids }, { signal, raw: true });
    return r?.warnings ?? [];
  }

  createUsers(users: MoodleUserInput[], signal?: AbortSignal): Promise<{ id: number; username: string }[]> {
    return this.call("core_user_create_users", { users }, { signal, raw: true });
  }

  async updateUsers(users: MoodleUserUpdate[], signal?: AbortSignal): Promise<MoodleWarning[]> {
    const r = await this.call<{ warnings?: MoodleWarning[] } | null>("core_user_update_users", { users }, { signal, raw: true });
    return r?.warnings ?? [];
  }

  /** Soft-deletes users (one transaction: a missing or already deleted id fails the whole call with NOT_FOUND). */
  async deleteUsers(userids: number[], signal?: AbortSignal): Promise<void> {
    await this.call("core_user_delete_users", { userids }, { signal, raw: true });
  }

  /**
   * Users matching every criterion (`email`/`firstname`/`lastname` take `%` wildcards; `id`, `idnumber`, `username`,
   * `auth` are exact). Deleted users never match. An unsupported key is a warning and is ignored — so it returns
   * every user.
   */
  getUsers(criteria: { key: string; value: string | number }[], signal?: AbortSignal): Promise<{ users: MoodleUser[]; warnings: MoodleWarning[] }> {
    return this.call("core_user_get_users", { criteria }, { signal, raw: true });
  }

  /** Users by id/idnumber/username/email — soft-deleted users included (by id), with no deleted flag. */
  getUsersByField(field: "id" | "idnumber" | "username" | "email", values: (string | number)[], signal?: AbortSignal): Promise<MoodleUser[]> {
    return this.call("core_user_get_users_by_field", { field, values }, { signal, raw: true });
  }

  /** Manual enrolments; idempotent (enrolling again adds the role, keeps the enrolment). */
  async enrolUsers(enrolments: MoodleEnrolmentInput[], signal?: AbortSignal): Promise<void> {
    await this.call("enrol_manual_enrol_users", { enrolments }, { signal, raw: true });
  }

  async unenrolUsers(enrolments: { userid: number; courseid: number; roleid?: number }[], signal?: AbortSignal): Promise<void> {
    await this.call("enrol_manual_unenrol_users", { enrolments }, { signal, raw: true });
  }

  getEnrolledUsers(courseid: number, options: EnrolledUsersOptions = {}, signal?: AbortSignal): Promise<MoodleEnrolledUser[]> {
    const opts: { name: string; value: string | number }[] = [];
    for (const [name, v] of Object.entries(options)) {
      if (v === undefined) continue;
      opts.push({ name, value: Array.isArray(v) ? v.join(",") : typeof v === "boolean" ? (v ? 1 : 0) : v });
    }
    return this.call("core_enrol_get_enrolled_users", opts.length ? { courseid, options: opts } : { courseid }, { signal, raw: true });
  }

  /**
   * Enrolled users of several courses in one call (core_enrol_get_enrolled_users_with_capability with an empty
   * capability: no capability filter, every enrolled user; enrol/externallib.php). limitfrom/limitnumber apply per
   * course; users by id. A missing course fails the whole call (NOT_FOUND, invalidrecord on table course). Sites must
   * add the function to the token's service (else PERMISSION, accessexception).
   */
  async getEnrolledUsersOfCourses(
    courseids: number[],
    options: { limitfrom?: number; limitnumber?: number; userfields?: string[] } = {},
    signal?: AbortSignal,
  ): Promise<Map<number, MoodleEnrolledUser[]>> {
    const opts: { name: string; value: string | number }[] = [];
    if (options.userfields?.length) opts.push({ name: "userfields", value: options.userfields.join(",") });
    if (options.limitfrom) opts.push({ name: "limitfrom", value: options.limitfrom });
    if (options.limitnumber) opts.push({ name: "limitnumber", value: options.limitnumber });
    const result = await this.call<{ courseid: number; capability: string; users: MoodleEnrolledUser[] }[]>(
      "core_enrol_get_enrolled_users_with_capability",
      // An empty capability is sent as `capabilities[0]=` (PHP reads it as ''); qs drops empty arrays, not empty strings.
      { coursecapabilities: courseids.map((courseid) => ({ courseid, capabilities: [""] })), ...(opts.length ? { options: opts } : {}) },
      { signal, raw: true },
    );
    const out = new Map<number, MoodleEnrolledUser[]>(courseids.map((id) => [id, []]));
    for (const r of result) out.set(r.courseid, r.users);
    return out;
  }

  /** The user's active enrolments' courses. */
  getUsersCourses(userid: number, signal?: AbortSignal): Promise<MoodleUserCourse[]> {
    return this.call("core_enrol_get_users_courses", { userid }, { signal, raw: true });
  }
}

/** Warnings as RemoteErrors (kind from the warningcode), for callers that treat a warning as a failure. */
export function warningError(wsfunction: string, w: MoodleWarning): RemoteError {
  return new RemoteError(kindOfMoodleCode(w.warningcode, w.message), `Moodle ${wsfunction}: ${stripTags(w.message)}`, { remoteCode: w.warningcode });
}

function describeNetworkError(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    const code = cause && typeof cause === "object" && "code" in cause ? String((cause as { code: unknown }).code) : "";
    return code ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}
