// CSV export of a collection (or of the records matching the current search): read page by page over the API, with
// progress and a way to stop, then downloaded as one file. Every cell is CSV-escaped (RFC 4180) and text that a
// spreadsheet would run as a formula is neutralised.
import { useEffect, useRef, useState } from "react";
import { useClient, type CombinedError } from "urql";
import { RecordsExportDocument, type RecordsExportQuery } from "../__generated__/graphql.js";
import { formatCount } from "../lib/format.js";
import { ErrorMessage } from "./error-message.js";
import { fieldsIn, schemaFields, valueText } from "./records-table.js";

/** Records per request: the API's largest page. */
const EXPORT_PAGE = 500;

/** Text cells starting with these are formulas to Excel, LibreOffice and Google Sheets (OWASP "CSV injection"). */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV cell: text that would start a formula gets a leading `'` (numbers are written as numbers and never do), and
 * a cell holding a comma, quote or line break is quoted with its quotes doubled.
 */
export function csvCell(value: unknown): string {
  let text = valueText(value);
  if (typeof value === "string" && FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** A CSV document: a header line, then one line per row (CRLF line ends). */
export function toCsv(header: readonly string[], rows: readonly (readonly unknown[])[]): string {
  return [header, ...rows].map((cells) => cells.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

interface ExportedRecord {
  id: string;
  document: Record<string, unknown>;
  version: number;
  updatedAt: string;
}

/**
 * The export's columns and rows: the key, the schema's fields then any other field a record holds (nothing is left
 * out), and the record's version and last update (`_version`, `_updatedAt`).
 */
export function csvOf(records: readonly ExportedRecord[], schema: unknown, primaryKey: string): string {
  const declared = schemaFields(schema) ?? [];
  const fields = [...new Set([...declared, ...fieldsIn(records.map((r) => r.document))])].filter((f) => f !== primaryKey && f !== "_deleted");
  const meta = ["_version", "_updatedAt"].filter((m) => !fields.includes(m));
  const header = [primaryKey, ...fields, ...meta];
  const rows = records.map((r) => [r.id, ...fields.map((f) => r.document[f]), ...(meta.includes("_version") ? [r.version] : []), ...(meta.includes("_updatedAt") ? [r.updatedAt] : [])]);
  return toCsv(header, rows);
}

/** Offers `text` as a download named `filename`. */
function download(text: string, filename: string): void {
  // The byte order mark makes spreadsheet programs read the file as UTF-8.
  const url = URL.createObjectURL(new Blob(["\uFEFF", text], { type: "text/csv;charset=utf-8" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

const stamp = (d: Date) => d.toISOString().slice(0, 16).replace(/[-:]/g, "").replace("T", "-");

type ExportState =
  | { status: "idle" }
  | { status: "running"; done: number; total: number | null }
  | { status: "done"; count: number; filename: string }
  | { status: "failed"; done: number; error: CombinedError | Error }
  | { status: "cancelled"; done: number };

export function RecordsExport({ collection, search, schema, primaryKey }: { collection: string; search: string; schema: unknown; primaryKey: string }) {
  const client = useClient();
  const [state, setState] = useState<ExportState>({ status: "idle" });
  // The export being run; replaced (so the old one stops) by a new export, a new collection or search, or unmounting.
  const run = useRef<{ cancelled: boolean } | null>(null);
  useEffect(() => {
    setState({ status: "idle" });
    return () => {
      if (run.current) run.current.cancelled = true;
    };
  }, [collection, search]);

  async function start(): Promise<void> {
    if (run.current) run.current.cancelled = true;
    const me = { cancelled: false };
    run.current = me;
    const records: ExportedRecord[] = [];
    let total: number | null = null;
    setState({ status: "running", done: 0, total: null });
    try {
      let after: string | null = null;
      for (;;) {
        const res: { data?: RecordsExportQuery; error?: CombinedError } = await client
          .query(RecordsExportDocument, { collection, search: search || null, first: EXPORT_PAGE, after, withCount: after === null }, { requestPolicy: "network-only" })
          .toPromise();
        if (me.cancelled) return;
        if (res.error || !res.data) throw res.error ?? new Error("The server sent no data.");
        const page: RecordsExportQuery["records"] = res.data.records;
        if (after === null) total = page.totalCount ?? null;
        records.push(...page.nodes);
        setState({ status: "running", done: records.length, total });
        if (!page.hasNextPage || !page.endCursor) break;
        after = page.endCursor;
      }
      const filename = `${collection}${search ? "-search" : ""}-${stamp(new Date())}.csv`;
      download(csvOf(records, schema, primaryKey), filename);
      setState({ status: "done", count: records.length, filename });
    } catch (error) {
      if (!me.cancelled) setState({ status: "failed", done: records.length, error: error as CombinedError | Error });
    } finally {
      if (run.current === me) run.current = null;
    }
  }

  function cancel(): void {
    if (run.current) run.current.cancelled = true;
    run.current = null;
    setState((s) => ({ status: "cancelled", done: s.status === "running" ? s.done : 0 }));
  }

  const what = search ? "the matching records" : "all records";
  return (
    <section className="records-export" aria-label="CSV export">
      {state.status === "running" ? (
        <div className="records-export-progress" data-testid="export-progress">
          <div
            className={`progress tone-running${state.total ? "" : " indeterminate"}`}
            role="progressbar"
            aria-label="Export progress"
            aria-valuemin={0}
            aria-valuemax={state.total ?? undefined}
            aria-valuenow={state.total ? state.done : undefined}
          >
            <div className="progress-fill" style={{ width: state.total ? `${Math.min(100, Math.round((state.done / state.total) * 1000) / 10)}%` : "100%" }} />
          </div>
          <span className="muted small" role="status">
            Exporting… {formatCount(state.done)}
            {state.total !== null ? ` of ${formatCount(state.total)}` : ""} records
          </span>
          <button type="button" className="ghost" onClick={cancel}>
            Cancel
          </button>
        </div>
      ) : (
        <button type="button" onClick={() => void start()} title={`Download ${what} of ${collection} as a CSV file`}>
          Export CSV
        </button>
      )}
      {state.status === "done" && (
        <p className="notice notice-ok records-export-note" role="status">
          Exported {formatCount(state.count)} {state.count === 1 ? "record" : "records"} to <code>{state.filename}</code>.
        </p>
      )}
      {state.status === "cancelled" && (
        <p className="notice records-export-note" role="status">
          Export cancelled after {formatCount(state.done)} records; nothing was downloaded.
        </p>
      )}
      {state.status === "failed" && (
        <ErrorMessage error={state.error}>
          <p>
            The export stopped after {formatCount(state.done)} records; nothing was downloaded.{" "}
            <button type="button" className="link" onClick={() => void start()}>
              Try again
            </button>
          </p>
        </ErrorMessage>
      )}
    </section>
  );
}
