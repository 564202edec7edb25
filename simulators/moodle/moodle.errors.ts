// The exceptions a Moodle 4.5 web service call ends with, as the REST server serialises them:
// `{exception: <PHP class>, errorcode, message}` plus `debuginfo` with site debugging (DEVELOPER) on. Class names are
// the ones 4.5 prints (namespaced `core\exception\...` for the core ones, bare for dml and webservice ones); messages
// are worded as in the recorded transcript.

/** One exception thrown while serving a call; the REST layer turns it into the error envelope (JSON or XML). */
export class MoodleException extends Error {
  constructor(
    /** PHP class as `get_class()` prints it (`core\exception\moodle_exception`, `dml_missing_record_exception`). */
    readonly exceptionClass: string,
    readonly errorcode: string,
    /** The message without debug info (what Moodle shows with debugging off). */
    readonly baseMessage: string,
    /** Developer detail: shown (and appended to the message) only with site debugging on. */
    readonly debuginfo?: string,
  ) {
    super(baseMessage);
    this.name = "MoodleException";
  }

  /** `moodle_exception::__construct` appends ` (debuginfo)` to the message when debugging is DEVELOPER. */
  messageFor(debug: boolean): string {
    return debug && this.debuginfo ? `${this.baseMessage} (${this.debuginfo})` : this.baseMessage;
  }
}

const MOODLE = "core\\exception\\moodle_exception";
const INVALID_PARAMETER = "core\\exception\\invalid_parameter_exception";
const REQUIRED_CAPABILITY = "core\\exception\\required_capability_exception";
const CODING = "core\\exception\\coding_exception";
const INVALID_PARAMETER_MESSAGE = "Invalid parameter value detected";

/** The exceptions the simulated functions throw (factories, like Moodle's `new moodle_exception(...)` calls). */
export const MoodleErrors = {
  /**
   * A PHP Error from inside Moodle (not a moodle_exception: no errorcode, no debuginfo). core_course_get_courses_by_field
   * with field=ids and an unknown or deleted id fails so (util::validate_courses on a missing course, real-findings.md).
   */
  phpError: (message: string) => new MoodleException("Error", "", message),
  invalidToken: () => new MoodleException(MOODLE, "invalidtoken", "Invalid token - token not found"),
  /** webservice_access_exception: no `webservice/rest:use`, or the function is not in the token's service. */
  accessException: (debuginfo: string) =>
    new MoodleException("webservice_access_exception", "accessexception", "Access control exception", debuginfo),
  /** invalid_parameter_exception: the message is fixed, the reason is debug info only. */
  invalidParameter: (debuginfo?: string) =>
    new MoodleException(INVALID_PARAMETER, "invalidparameter", INVALID_PARAMETER_MESSAGE, debuginfo),
  missingRecord: (table: string, debuginfo?: string) =>
    new MoodleException(
      "dml_missing_record_exception",
      "invalidrecord",
      `Can't find data record in database table ${table}.`,
      debuginfo,
    ),
  noPermissions: (capabilityName: string) =>
    new MoodleException(
      REQUIRED_CAPABILITY,
      "nopermissions",
      `Sorry, but you do not currently have permissions to do that (${capabilityName}).`,
    ),
  requireLogin: () =>
    new MoodleException("require_login_exception", "requireloginerror", "Course or activity not accessible."),
  courseContextNotValid: (courseId: number, inner: string) =>
    new MoodleException(
      MOODLE,
      "errorcoursecontextnotvalid",
      `You cannot execute functions in the course context (course id:${courseId}). The context error message was: ${inner}`,
    ),
  categoryContextNotValid: (categoryId: number, inner: string) =>
    new MoodleException(
      MOODLE,
      "errorcatcontextnotvalid",
      `You cannot execute functions in the category context (category id:${categoryId}). The context error message was: ${inner}`,
    ),
  shortnameTaken: (shortname: string) =>
    new MoodleException(MOODLE, "shortnametaken", `Short name is already used for another course (${shortname})`),
  idnumberTaken: (idnumber: string) =>
    new MoodleException(MOODLE, "courseidnumbertaken", `ID number is already used for another course (${idnumber})`),
  invalidParam: (param: string) =>
    new MoodleException(MOODLE, "errorinvalidparam", `The param "${param}" is invalid.`),
  endBeforeStart: () =>
    new MoodleException(MOODLE, "enddatebeforestartdate", "The course end date must be after the start date."),
  /** check_password_policy's HTML becomes the errorcode (no such string: the message is `error/<code>`). */
  passwordPolicy: (html: string) => new MoodleException(MOODLE, html, `error/${html}`),
  cannotAssignRole: (roleid: number, userid: number, courseid: number) =>
    new MoodleException(
      MOODLE,
      "wsusercannotassign",
      `You don't have the permission to assign this role (${roleid}) to this user (${userid}) in this course (${courseid}).`,
    ),
  invalidUser: () => new MoodleException("dml_missing_record_exception", "invaliduser", "Invalid user"),
  adminNoDelete: () => new MoodleException(MOODLE, "useradminodelete", "You can not delete an administrator account"),
  selfNoDelete: () => new MoodleException(MOODLE, "usernotdeletederror", "User not deleted - error"),
  keyAlreadySet: (key: string) =>
    new MoodleException(MOODLE, "keyalreadyset", "error/keyalreadyset", `The key ${key} can only be sent once`),
  coding: (debuginfo: string) =>
    new MoodleException(CODING, "codingerror", `Coding error detected, it must be fixed by a programmer: ${debuginfo}`),
  dmlWrite: (debuginfo: string) =>
    new MoodleException("dml_write_exception", "dmlwriteexception", "Error writing to database", debuginfo),
  /** A per-item failure that update functions report as a warning instead of throwing. */
  warning: (errorcode: string, message: string) => new MoodleException(MOODLE, errorcode, message),
};

/** Moodle's `{item, itemid, warningcode, message}` entry (external_warnings). */
export interface MoodleWarning {
  item?: string;
  itemid?: number;
  warningcode: string;
  message: string;
}
