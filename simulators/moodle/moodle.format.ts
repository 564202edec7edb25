// How Moodle's REST server writes a result or an exception: JSON as PHP's json_encode does it (slashes escaped as
// `\/`, non-ASCII as `\uXXXX`), or the REST XML (`<RESPONSE><SINGLE><KEY name=...><VALUE>...`) when the client did
// not ask for `moodlewsrestformat=json`. Headers as webservice_rest_server::send_headers sends them.
import type { MoodleException } from "./moodle.errors.js";

export type RestFormat = "json" | "xml";

export const JSON_HEADERS: Record<string, string> = {
  "Content-type": "application/json",
  "Cache-Control": "private, must-revalidate, pre-check=0, post-check=0, max-age=0",
  Expires: "Thu, 01 Jan 1970 00:00:00 GMT",
  Pragma: "no-cache",
  "Accept-Ranges": "none",
  "Access-Control-Allow-Origin": "*",
};

export const XML_HEADERS: Record<string, string> = {
  ...Object.fromEntries(Object.entries(JSON_HEADERS).filter(([k]) => k !== "Content-type")),
  "Content-Type": "application/xml; charset=utf-8",
  "Content-Disposition": 'inline; filename="response.xml"',
};

const NON_ASCII = /[\u0080-\uffff]/g;
const HAS_NON_ASCII = /[\u0080-\uffff]/;

/** `json_encode($value)` with PHP's default flags. */
export function phpJsonEncode(value: unknown): string {
  let s = JSON.stringify(value === undefined ? null : value);
  if (s.includes("/")) s = s.replaceAll("/", "\\/");
  if (HAS_NON_ASCII.test(s)) s = s.replace(NON_ASCII, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return s;
}

/** htmlspecialchars(ENT_COMPAT). */
const xmlEscape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

function xmlize(value: unknown): string {
  if (value === null || value === undefined) return '<VALUE null="null"/>\n';
  if (Array.isArray(value)) return `<MULTIPLE>\n${value.map(xmlize).join("")}</MULTIPLE>\n`;
  if (typeof value === "object") {
    let out = "<SINGLE>\n";
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out += `<KEY name="${k}">${xmlize(v)}</KEY>\n`;
    return `${out}</SINGLE>\n`;
  }
  if (typeof value === "boolean") return `<VALUE>${value ? 1 : 0}</VALUE>\n`;
  return `<VALUE>${xmlEscape(String(value))}</VALUE>\n`;
}

/** A successful result (`null` for functions that return nothing). */
export function encodeResult(format: RestFormat, result: unknown): string {
  if (format === "json") return phpJsonEncode(result);
  return `<?xml version="1.0" encoding="UTF-8" ?>\n<RESPONSE>\n${result === null || result === undefined ? "" : xmlize(result)}</RESPONSE>\n`;
}

/** The error envelope: `{exception, errorcode, message}` (+ `debuginfo` with site debugging on). */
export function encodeError(format: RestFormat, err: MoodleException, debug: boolean): string {
  const message = err.messageFor(debug);
  if (format === "json") {
    // A PHP Error (not a moodle_exception) has no errorcode: the key is left out (webservice_rest_server::generate_error).
    const body: Record<string, string> = err.errorcode ? { exception: err.exceptionClass, errorcode: err.errorcode, message } : { exception: err.exceptionClass, message };
    if (debug && err.debuginfo) body.debuginfo = err.debuginfo;
    return phpJsonEncode(body);
  }
  let xml = `<?xml version="1.0" encoding="UTF-8" ?>\n<EXCEPTION class="${err.exceptionClass}">\n`;
  if (err.errorcode) xml += `<ERRORCODE>${xmlEscape(err.errorcode)}</ERRORCODE>\n`;
  xml += `<MESSAGE>${xmlEscape(message)}</MESSAGE>\n`;
  if (debug && err.debuginfo) xml += `<DEBUGINFO>${xmlEscape(err.debuginfo)}</DEBUGINFO>\n`;
  return `${xml}</EXCEPTION>\n`;
}
