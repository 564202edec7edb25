// A page of a collection's records as a table: the key, one column per field (from the collection's JSON Schema, or the
// fields the loaded records hold when it has none), and when each was last updated. Wide tables scroll sideways.
import type { RecordRowFragment } from "../__generated__/graphql.js";
import { formatDateTime } from "../lib/format.js";

/** Field columns shown at most; the rest are in each record's history and in the CSV export. */
export const MAX_COLUMNS = 12;
/** Characters of a value shown in a cell (the whole value is its tooltip). */
const CELL_CHARS = 120;

/**
 * The top-level fields a JSON Schema declares (`properties`); null without any. The server keeps schemas as jsonb,
 * which does not keep the order properties were written in, so the order is made here: the `required` fields in their
 * order (arrays keep theirs), then the others alphabetically.
 */
export function schemaFields(schema: unknown): string[] | null {
  if (!schema || typeof schema !== "object" || Array.isArray(schema)) return null;
  const { properties, required } = schema as { properties?: unknown; required?: unknown };
  if (!properties || typeof properties !== "object" || Array.isArray(properties)) return null;
  const keys = Object.keys(properties);
  if (!keys.length) return null;
  const first = Array.isArray(required) ? [...new Set(required.filter((k): k is string => typeof k === "string" && keys.includes(k)))] : [];
  return [...first, ...keys.filter((k) => !first.includes(k)).sort((a, b) => a.localeCompare(b))];
}

/** Every top-level field of `documents`, alphabetically (stored documents keep no field order: they are jsonb). */
export function fieldsIn(documents: readonly Record<string, unknown>[]): string[] {
  const seen = new Set<string>();
  for (const d of documents) for (const key of Object.keys(d)) seen.add(key);
  return [...seen].sort((a, b) => a.localeCompare(b));
}

/**
 * The field columns of a collection: its schema's properties, else the union of the documents' fields; never the key
 * (it has its own column) nor `_deleted`.
 */
export function fieldColumns(schema: unknown, primaryKey: string, documents: readonly Record<string, unknown>[]): { fields: string[]; fromSchema: boolean } {
  const declared = schemaFields(schema);
  const fields = (declared ?? fieldsIn(documents)).filter((f) => f !== primaryKey && f !== "_deleted");
  return { fields, fromSchema: declared !== null };
}

/** A value as text: strings as they are, numbers and booleans as written, objects and arrays as JSON; "" when absent. */
export function valueText(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

function Cell({ value, label }: { value: unknown; label: string }) {
  const text = valueText(value);
  if (value === undefined || value === null) {
    return (
      <td data-label={label} className="muted">
        —
      </td>
    );
  }
  const short = text.length > CELL_CHARS ? `${text.slice(0, CELL_CHARS)}…` : text;
  return (
    <td data-label={label} className={typeof value === "number" ? "num" : undefined} title={short !== text ? text : undefined}>
      {typeof value === "object" ? <code>{short}</code> : short}
    </td>
  );
}

export function RecordsTable({
  rows,
  fields,
  primaryKey,
  onOpen,
}: {
  rows: readonly RecordRowFragment[];
  fields: readonly string[];
  primaryKey: string;
  /** Opens a record's history. */
  onOpen: (row: RecordRowFragment) => void;
}) {
  return (
    <div className="table-wrap records-table-wrap">
      <table className="records-table" data-testid="records-table">
        <thead>
          <tr>
            <th scope="col">{primaryKey}</th>
            {fields.map((f) => (
              <th scope="col" key={f}>
                {f}
              </th>
            ))}
            <th scope="col">Updated</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.id} data-record-id={r.id} onClick={() => onOpen(r)}>
              <th scope="row" data-label={primaryKey}>
                <button type="button" className="link records-id" title={`History of ${r.id}`} onClick={(e) => (e.stopPropagation(), onOpen(r))}>
                  {r.id}
                </button>
              </th>
              {fields.map((f) => (
                <Cell key={f} value={r.document[f]} label={f} />
              ))}
              <td data-label="Updated" className="records-updated" title={`${r.updatedAt} · version ${r.version}`}>
                {formatDateTime(r.updatedAt)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
