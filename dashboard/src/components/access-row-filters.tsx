// Row filters of one collection grant (subgraphs/tenants/role/row-filter.ts): shown compactly in a matrix cell, edited
// in a dialog. The form checks what it can read off the input (a field path, a value of the right shape for the
// operator) before sending; everything else, such as unknown `$` references, is the API's to refuse, and its
// BAD_USER_INPUT (naming the filter, e.g. rowFilters[1].value) is shown in the dialog while nothing is saved.
import { useState, type FormEvent } from "react";
import type { RowFilterOp } from "../__generated__/graphql.js";
import { ErrorMessage } from "./error-message.js";

export interface RowFilterValue {
  field: string;
  op: RowFilterOp;
  value: unknown;
}

export const ROW_FILTER_OPS: { op: RowFilterOp; label: string; title: string }[] = [
  { op: "EQ", label: "=", title: "equals (a missing field equals null)" },
  { op: "NE", label: "≠", title: "does not equal" },
  { op: "IN", label: "in", title: "equals one of a list" },
  { op: "NIN", label: "not in", title: "equals none of a list" },
  { op: "GT", label: ">", title: "greater than (numbers with numbers, text with text)" },
  { op: "GTE", label: "≥", title: "greater than or equal" },
  { op: "LT", label: "<", title: "less than" },
  { op: "LTE", label: "≤", title: "less than or equal" },
  { op: "CONTAINS", label: "contains", title: "a list field holding the value, or a text field containing it" },
];

/** The same limits as the API's (row-filter.ts), checked before sending. */
const MAX_FILTERS = 20;
const MAX_IN_VALUES = 100;
const PATH = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){0,9}$/;

const opLabel = (op: RowFilterOp) => ROW_FILTER_OPS.find((o) => o.op === op)?.label ?? op;

/** One scalar as typed: plain text stays text; a number, true/false, null or a quoted "…" is read as JSON. */
function scalarText(value: unknown): string {
  if (typeof value !== "string") return JSON.stringify(value ?? null);
  // Text that would read back as something else (10, true, null, "…", [..]) is shown quoted.
  let reads: unknown = value;
  try {
    reads = JSON.parse(value);
  } catch {
    /* plain text */
  }
  return reads === value && !/^\s|\s$|,/.test(value) ? value : JSON.stringify(value);
}

/** A filter's value as the editor shows it: lists comma-separated. */
export function valueText(value: unknown): string {
  return Array.isArray(value) ? value.map(scalarText).join(", ") : scalarText(value);
}

/** "department = SALES", for the matrix cell. */
export function describeFilter(f: RowFilterValue): string {
  return `${f.field} ${opLabel(f.op)} ${valueText(f.value)}`;
}

type Parsed = { ok: true; value: unknown } | { ok: false; error: string };

function parseScalar(raw: string): Parsed {
  const text = raw.trim();
  if (!text) return { ok: false, error: "Enter a value (null for none)" };
  try {
    const value: unknown = JSON.parse(text);
    if (value !== null && typeof value === "object") return { ok: false, error: "A value is text, a number, true, false or null" };
    return { ok: true, value };
  } catch {
    return { ok: true, value: text };
  }
}

/** Splits "a, b, \"c, d\"" into items, keeping quoted commas. */
function splitList(raw: string): string[] {
  const text = raw.trim();
  if (text.startsWith("[")) {
    try {
      const list: unknown = JSON.parse(text);
      if (Array.isArray(list)) return list.map((v) => JSON.stringify(v));
    } catch {
      /* fall through to commas */
    }
  }
  return text.match(/"(?:[^"\\]|\\.)*"|[^,]+/g)?.map((s) => s.trim()).filter(Boolean) ?? [];
}

/** The value typed for `op`, or why it cannot be sent. */
export function parseFilterValue(op: RowFilterOp, raw: string): Parsed {
  if (op === "IN" || op === "NIN") {
    const items = splitList(raw);
    if (items.length < 1 || items.length > MAX_IN_VALUES) return { ok: false, error: `List 1 to ${MAX_IN_VALUES} values, separated by commas` };
    const values: unknown[] = [];
    for (const item of items) {
      const v = parseScalar(item);
      if (!v.ok) return v;
      values.push(v.value);
    }
    return { ok: true, value: values };
  }
  const v = parseScalar(raw);
  if (!v.ok) return v;
  if ((op === "GT" || op === "GTE" || op === "LT" || op === "LTE") && typeof v.value !== "number" && typeof v.value !== "string") {
    return { ok: false, error: "Compare with a number or text" };
  }
  if (op === "CONTAINS" && v.value === null) return { ok: false, error: "CONTAINS needs a value other than null" };
  return v;
}

interface Draft {
  key: number;
  field: string;
  op: RowFilterOp;
  value: string;
}
type DraftErrors = Record<number, { field?: string; value?: string }>;

let nextKey = 1;
const draftOf = (f: RowFilterValue): Draft => ({ key: nextKey++, field: f.field, op: f.op, value: valueText(f.value) });

/**
 * The editor inside the row-filter dialog. `save` sends the whole grant and resolves to the API's error (or null once
 * saved); `remove` (own grants only) deletes the grant so the role's "*" grant applies again.
 */
export function AccessRowFilterForm({
  title,
  filters,
  readOnly,
  save,
  remove,
  removeLabel = "Use the * grant",
  onClose,
}: {
  title: string;
  filters: readonly RowFilterValue[];
  readOnly: boolean;
  save: (filters: RowFilterValue[]) => Promise<unknown>;
  remove?: () => Promise<unknown>;
  removeLabel?: string;
  onClose: () => void;
}) {
  const [drafts, setDrafts] = useState<Draft[]>(() => filters.map(draftOf));
  const [errors, setErrors] = useState<DraftErrors>({});
  const [serverError, setServerError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const update = (key: number, patch: Partial<Draft>) => {
    setDrafts((list) => list.map((d) => (d.key === key ? { ...d, ...patch } : d)));
    setErrors((e) => ({ ...e, [key]: {} }));
  };

  async function submit(e: FormEvent) {
    e.preventDefault();
    const found: DraftErrors = {};
    const out: RowFilterValue[] = [];
    for (const d of drafts) {
      const field = d.field.trim();
      const value = parseFilterValue(d.op, d.value);
      const err: { field?: string; value?: string } = {};
      if (!PATH.test(field) || field.length > 200) err.field = 'A field name or dot path, e.g. department or owner.id (letters, digits, "_", "-")';
      if (!value.ok) err.value = value.error;
      if (err.field || err.value) found[d.key] = err;
      else if (value.ok) out.push({ field, op: d.op, value: value.value });
    }
    setErrors(found);
    if (Object.keys(found).length) return;
    setBusy(true);
    const error = await save(out);
    setBusy(false);
    setServerError(error ?? null);
    if (!error) onClose();
  }

  async function removeGrant() {
    if (!remove) return;
    setBusy(true);
    const error = await remove();
    setBusy(false);
    setServerError(error ?? null);
    if (!error) onClose();
  }

  if (readOnly) {
    return (
      <div className="form">
        <p className="muted">{title}</p>
        {filters.length === 0 ? <p>No row filter: every record.</p> : <ul className="access-filter-list">{filters.map((f, i) => <li key={i}><code>{describeFilter(f)}</code></li>)}</ul>}
        <div className="actions">
          <button type="button" className="ghost" onClick={onClose}>
            Close
          </button>
        </div>
      </div>
    );
  }

  return (
    <form className="form access-filter-form" onSubmit={submit} noValidate aria-label="Row filters">
      <p className="muted">
        {title}. A record is pushed or pulled only when it satisfies <strong>all</strong> of these filters; with none, every record.
      </p>
      {drafts.length === 0 && <p className="empty">No row filter: every record.</p>}
      {drafts.map((d, i) => {
        const err = errors[d.key] ?? {};
        const id = `rf-${d.key}`;
        return (
          <fieldset key={d.key} className="access-filter-row" data-testid="row-filter">
            <legend>Filter {i + 1}</legend>
            <div className="field">
              <label htmlFor={`${id}-field`}>Field</label>
              <input
                id={`${id}-field`}
                value={d.field}
                placeholder="department"
                onChange={(e) => update(d.key, { field: e.target.value })}
                aria-invalid={err.field ? true : undefined}
                aria-describedby={err.field ? `${id}-field-error` : undefined}
              />
              {err.field && (
                <span className="field-error" id={`${id}-field-error`}>
                  {err.field}
                </span>
              )}
            </div>
            <div className="field">
              <label htmlFor={`${id}-op`}>Operator</label>
              <select id={`${id}-op`} value={d.op} onChange={(e) => update(d.key, { op: e.target.value as RowFilterOp })}>
                {ROW_FILTER_OPS.map((o) => (
                  <option key={o.op} value={o.op} title={o.title}>
                    {o.label} ({o.op})
                  </option>
                ))}
              </select>
            </div>
            <div className="field">
              <label htmlFor={`${id}-value`}>Value</label>
              <input
                id={`${id}-value`}
                value={d.value}
                placeholder={d.op === "IN" || d.op === "NIN" ? "SALES, SUPPORT" : "SALES"}
                onChange={(e) => update(d.key, { value: e.target.value })}
                aria-invalid={err.value ? true : undefined}
                aria-describedby={err.value ? `${id}-value-error` : `${id}-value-hint`}
              />
              {err.value ? (
                <span className="field-error" id={`${id}-value-error`}>
                  {err.value}
                </span>
              ) : (
                <small className="hint" id={`${id}-value-hint`}>
                  {d.op === "IN" || d.op === "NIN" ? "Values separated by commas" : 'Text, a number, true/false or null ("10" for the text 10)'}
                </small>
              )}
            </div>
            <button type="button" className="ghost access-filter-remove" aria-label={`Remove filter ${i + 1}`} onClick={() => setDrafts((list) => list.filter((x) => x.key !== d.key))}>
              Remove
            </button>
          </fieldset>
        );
      })}
      <div>
        <button type="button" onClick={() => setDrafts((list) => [...list, { key: nextKey++, field: "", op: "EQ", value: "" }])} disabled={drafts.length >= MAX_FILTERS}>
          Add filter
        </button>
      </div>
      <p className="hint">
        <code>$user.id</code>, <code>$user.email</code> and <code>$claims.&lt;name&gt;</code> stand for the signed-in user&apos;s own values; write <code>$$</code> for a literal <code>$</code>.
      </p>
      {serverError !== null && <ErrorMessage error={serverError} wording={{ BAD_USER_INPUT: "The server did not accept these filters. Nothing was saved." }} />}
      <div className="actions">
        {remove && (
          <button type="button" className="danger" onClick={() => void removeGrant()} disabled={busy} title="Delete this grant">
            {removeLabel}
          </button>
        )}
        <button type="button" className="ghost" onClick={onClose}>
          Cancel
        </button>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Saving…" : "Save filters"}
        </button>
      </div>
    </form>
  );
}
