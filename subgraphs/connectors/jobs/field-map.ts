// Remote record → document fields, by a mapping's field map. Odoo's `false` means "empty" for every non-boolean
// field, many2one values are `[id, "name"]` pairs, datetimes are zone-less UTC strings; Moodle times are Unix seconds.
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
