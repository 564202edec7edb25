// Remote record → document fields, by a mapping's field map. Odoo's `false` means "empty" for every non-boolean
// field, many2one values are `[id, "name"]` pairs, datetimes are zone-less UTC strings; Moodle times are Unix seconds.
import { hash } from "node:crypto";
import { FieldConversion, type FieldMapping } from "../mapping/mapping.entity.js";

export type Doc = Record<string, unknown>;

export function mapRecord(fields: Record<string, unknown>, fieldMap: readonly FieldMapping[]): Doc {
  const doc: Doc = {};
  for (const m of fieldMap) doc[m.field] = convert(fields[m.remote], m.convert);
  return doc;
}

function convert(value: unknown, how: FieldConversion): unknown {
  if (value === undefined) return null;
  switch (how) {
    case FieldConversion.BOOLEAN:
      return value === true || value === 1 || value === "1" || value === "true";
    case FieldConversion.MANY2ONE_ID:
      return Array.isArray(value) ? (value[0] ?? null) : value === false ? null : value;
    case FieldConversion.MANY2ONE_NAME:
      return Array.isArray(value) ? (value[1] ?? null) : value === false ? null : value;
    case FieldConversion.DATETIME: {
      if (typeof value !== "string" || !value) return null;
      const iso = value.includes("T") ? value : `${value.replace(" ", "T")}Z`;
      const d = new Date(iso);
      return Number.isNaN(d.getTime()) ? null : d.toISOString();
    }
    case FieldConversion.DATE:
      return typeof value === "string" && value ? value.slice(0, 10) : null;
    case FieldConversion.UNIX_TIME: {
      const n = typeof value === "string" ? Number(value) : value;
      return typeof n === "number" && Number.isFinite(n) && n > 0 ? new Date(n * 1000).toISOString() : null;
    }
    case FieldConversion.NONE:
    default:
      // Odoo writes `false` for empty values of every type; a boolean field's `false` is the one we cannot tell apart
      // without the field's type, so NONE keeps booleans as they are only when the mapping asks for BOOLEAN.
      return value === false ? null : value;
  }
}

/** The Odoo/Moodle field names a field map reads (what the source is asked to return). */
export const remoteFieldsOf = (fieldMap: readonly FieldMapping[]): string[] => [...new Set(fieldMap.map((m) => m.remote))];

// ---- outbound: document → remote fields ------------------------------------------------------------------------------

/** A document value that cannot become its remote field's value (a DATETIME field holding "soon", ...). */
export class FieldValueError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Document → remote fields by a mapping's field map, the inverse of {@link mapRecord}: NONE as is, BOOLEAN as a
 * boolean, DATE as `YYYY-MM-DD`, DATETIME back to Odoo's zone-less UTC `YYYY-MM-DD HH:MM:SS`, UNIX_TIME back to Unix
 * seconds, MANY2ONE_ID as the integer id. Empty values go back as the remote writes them (Odoo `false` for
 * many2one/date/datetime, 0 for Moodle times, null as is for NONE). MANY2ONE_NAME fields are never written (a display
 * name is not a reference), and fields the document does not carry are left out, so a partial document leaves the
 * remote's other values alone. Throws FieldValueError for a value that cannot be converted.
 */
export function toRemoteFields(doc: Doc, fieldMap: readonly FieldMapping[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const m of fieldMap) {
    if (m.convert === FieldConversion.MANY2ONE_NAME) continue;
    if (!Object.prototype.hasOwnProperty.call(doc, m.field) || doc[m.field] === undefined) continue;
    out[m.remote] = unconvert(doc[m.field], m.convert, m.field);
  }
  return out;
}

function unconvert(value: unknown, how: FieldConversion, field: string): unknown {
  const bad = (what: string) => new FieldValueError(field, `${field}: ${JSON.stringify(value)?.slice(0, 100)} is not ${what}`);
  switch (how) {
    case FieldConversion.BOOLEAN:
      return value === true || value === 1 || value === "1" || value === "true";
    case FieldConversion.MANY2ONE_ID: {
      if (value === null || value === false || value === "") return false;
      const n = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
      if (typeof n !== "number" || !Number.isSafeInteger(n) || n <= 0) throw bad("a record id (a positive integer)");
      return n;
    }
    case FieldConversion.DATETIME: {
      if (value === null || value === false || value === "") return false;
      const ms = typeof value === "string" ? parseIsoTime(value) : NaN;
      if (Number.isNaN(ms)) throw bad("a date and time (ISO 8601)");
      const iso = new Date(ms).toISOString();
      return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
    }
    case FieldConversion.DATE: {
      if (value === null || value === false || value === "") return false;
      const text = typeof value === "string" ? value.slice(0, 10) : "";
      if (!isCalendarDate(text)) throw bad("a date (YYYY-MM-DD)");
      return text;
    }
    case FieldConversion.UNIX_TIME: {
      if (value === null || value === false || value === "") return 0;
      if (typeof value === "number") {
        if (!Number.isFinite(value) || value < 0) throw bad("a time");
        return Math.floor(value);
      }
      const ms = typeof value === "string" ? (/^\d+$/.test(value) ? Number(value) * 1000 : parseIsoTime(value)) : NaN;
      if (Number.isNaN(ms)) throw bad("a time (ISO 8601 or Unix seconds)");
      return Math.floor(ms / 1000);
    }
    case FieldConversion.NONE:
    default:
      return value;
  }
}

/**
 * A remote record's state as outbound compares it: per remote field, a short hash of the value as
 * {@link toRemoteFields} gives it. Inbound runs store it from `toRemoteFields(mapRecord(remote))`, outbound after each
 * write, so a field a client did not touch hashes the same and is not sent again.
 */
export function remoteStateOf(fields: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = hash("sha1", JSON.stringify(v) ?? "undefined", "base64").slice(0, 12);
  return out;
}

/** The fields whose value differs from `state` (all of them when the state is unknown). */
export function changedFields(fields: Record<string, unknown>, state: Record<string, string> | null | undefined): Record<string, unknown> {
  if (!state) return fields;
  const now = remoteStateOf(fields);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) if (state[k] !== now[k]) out[k] = v;
  return out;
}

const ISO_TIME = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?))?(Z|z|[+-]\d{2}:?\d{2})?$/;

/** ISO 8601 (or Odoo's `YYYY-MM-DD HH:MM:SS`) as epoch ms; no zone means UTC; NaN when it is not one. */
function parseIsoTime(value: string): number {
  const m = ISO_TIME.exec(value.trim());
  if (!m || !isCalendarDate(m[1]!)) return NaN;
  const zone = m[3] ? (m[3].toUpperCase() === "Z" ? "Z" : m[3].length === 5 ? `${m[3].slice(0, 3)}:${m[3].slice(3)}` : m[3]) : "Z";
  return Date.parse(`${m[1]}T${m[2] ?? "00:00:00"}${zone}`);
}

/** `YYYY-MM-DD` naming a day that exists (not 2025-02-30). */
function isCalendarDate(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const d = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === text;
}
