// The Audit page's filters: the fields of the API's AuditEventFilter, kept in the page address (shareable, kept on
// reload) under the names the CSV export takes (GET /audit/export.csv?action=&actorId=...), so one set of parameters
// drives the list, the export and the chain check. Text fields apply after a short pause in typing (or at Enter).
import { useEffect, useRef, useState } from "react";
import type { ActorType, AuditEventFilter } from "../__generated__/graphql.js";

export const ACTOR_TYPES: { value: ActorType; label: string }[] = [
  { value: "USER", label: "User" },
  { value: "API_KEY", label: "API key" },
  { value: "PLATFORM_USER", label: "Platform operator" },
  { value: "SERVICE", label: "Service" },
  { value: "ANONYMOUS", label: "Anonymous" },
];

/** The address parameters, as typed (dates are the `datetime-local` inputs' local values). */
export const FILTER_PARAMS = ["action", "actorType", "actorId", "targetType", "targetId", "from", "to", "text"] as const;
export type FilterParam = (typeof FILTER_PARAMS)[number];
export type FilterValues = Record<FilterParam, string>;

/** Action prefixes offered in the Action field (any prefix works: `connector.mapping.`, `auth.login.failed`). */
const ACTION_PREFIXES = ["auth.", "user.", "role.", "api_key.", "collection.", "connector.", "sync.", "conflict.", "tenant.", "audit."];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const LOCAL_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;

export function readFilterValues(params: URLSearchParams): FilterValues {
  return Object.fromEntries(FILTER_PARAMS.map((k) => [k, params.get(k) ?? ""])) as FilterValues;
}

/**
 * A `datetime-local` value as an instant. `end`: the last millisecond of the minute (or second) it names, so "to
 * 14:05" includes an event at 14:05:30, as a person reading the field expects.
 */
export function localDateTime(value: string, end: boolean): string | null {
  const m = LOCAL_DATE_TIME.exec(value);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => (x === undefined ? undefined : Number(x)));
  const date = new Date(y!, mo! - 1, d!, h!, mi!, s ?? 0, 0);
  if (Number.isNaN(date.getTime())) return null;
  if (end) date.setTime(date.getTime() + (s === undefined ? 59_999 : 999));
  return date.toISOString();
}

export interface ParsedFilter {
  /** The API's filter (only the given fields). */
  filter: AuditEventFilter;
  /** The same filter as the CSV export's query parameters. */
  exportQuery: Record<string, string>;
  /** Field → message, for values the API would refuse; nothing is sent while there are any. */
  errors: Partial<Record<FilterParam, string>>;
}

export function parseFilter(v: FilterValues): ParsedFilter {
  const filter: AuditEventFilter = {};
  const errors: ParsedFilter["errors"] = {};
  if (v.action) filter.action = v.action;
  if (v.actorType) {
    if (ACTOR_TYPES.some((t) => t.value === v.actorType)) filter.actorType = v.actorType as ActorType;
    else errors.actorType = "Unknown kind of actor.";
  }
  if (v.actorId) {
    if (UUID.test(v.actorId)) filter.actorId = v.actorId.toLowerCase();
    else errors.actorId = "An actor is given by their user id (a UUID).";
  }
  if (v.targetType) filter.targetType = v.targetType;
  if (v.targetId) filter.targetId = v.targetId;
  if (v.text) filter.text = v.text;
  if (v.from) {
    const from = localDateTime(v.from, false);
    if (from) filter.from = from;
    else errors.from = "Not a date and time.";
  }
  if (v.to) {
    const to = localDateTime(v.to, true);
    if (to) filter.to = to;
    else errors.to = "Not a date and time.";
  }
  if (filter.from && filter.to && filter.from > filter.to) errors.to = "“To” is before “from”.";
  const exportQuery = Object.fromEntries(Object.entries(filter).filter(([, value]) => typeof value === "string" && value !== "")) as Record<string, string>;
  return { filter, exportQuery, errors };
}

/** A text field that edits a draft and applies it after a pause in typing, at Enter, or when it loses focus. */
function TextFilter(props: {
  name: FilterParam;
  label: string;
  value: string;
  onApply: (value: string) => void;
  error?: string;
  placeholder?: string;
  list?: string;
}) {
  const [draft, setDraft] = useState(props.value);
  const applied = useRef(props.value);
  const latest = useRef(props.onApply);
  latest.current = props.onApply;
  // One pending "apply after the pause" at most; Enter, blur and a change from outside cancel it.
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  // Changed from outside (Clear, back/forward, a "only this ..." button): show it, and drop what was pending.
  useEffect(() => {
    if (props.value !== applied.current) {
      clearTimeout(timer.current);
      applied.current = props.value;
      setDraft(props.value);
    }
  }, [props.value]);
  const apply = (value: string) => {
    clearTimeout(timer.current);
    if (value === applied.current) return;
    applied.current = value;
    latest.current(value.trim());
  };
  const edit = (value: string) => {
    setDraft(value);
    clearTimeout(timer.current);
    timer.current = setTimeout(() => apply(value), 450);
  };
  const errorId = `audit-filter-${props.name}-error`;
  return (
    <label>
      {props.label}
      <input
        type="search"
        name={props.name}
        value={draft}
        placeholder={props.placeholder}
        list={props.list}
        autoComplete="off"
        spellCheck={false}
        onChange={(e) => edit(e.target.value)}
        onBlur={() => apply(draft)}
        onKeyDown={(e) => {
          if (e.key === "Enter") {
            e.preventDefault();
            apply(draft);
          }
        }}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={props.error ? errorId : undefined}
      />
      {props.error && (
        <span className="field-error" id={errorId}>
          {props.error}
        </span>
      )}
    </label>
  );
}

/** The filter form. `set` changes one address parameter (empty removes it); `seen`: values on screen, offered as suggestions. */
export function AuditFilterForm(props: {
  values: FilterValues;
  errors: ParsedFilter["errors"];
  set: (key: FilterParam, value: string) => void;
  clear: () => void;
  seen: { actions: string[]; targetTypes: string[] };
}) {
  const { values, errors, set } = props;
  const actions = [...new Set([...ACTION_PREFIXES, ...props.seen.actions])].sort();
  const active = FILTER_PARAMS.some((k) => values[k]);
  return (
    <form className="filters audit-filters card" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
      <TextFilter name="action" label="Action starts with" value={values.action} onApply={(v) => set("action", v)} placeholder="e.g. role. or auth.login" list="audit-actions" />
      <label>
        Actor kind
        <select name="actorType" value={values.actorType} onChange={(e) => set("actorType", e.target.value)} aria-invalid={errors.actorType ? true : undefined}>
          <option value="">Any</option>
          {ACTOR_TYPES.map((t) => (
            <option key={t.value} value={t.value}>
              {t.label}
            </option>
          ))}
        </select>
        {errors.actorType && <span className="field-error">{errors.actorType}</span>}
      </label>
      <TextFilter name="actorId" label="Actor id" value={values.actorId} onApply={(v) => set("actorId", v)} error={errors.actorId} placeholder="user id" />
      <TextFilter name="targetType" label="Target type" value={values.targetType} onApply={(v) => set("targetType", v)} placeholder="e.g. Connector" list="audit-target-types" />
      <TextFilter name="targetId" label="Target id" value={values.targetId} onApply={(v) => set("targetId", v)} />
      <label>
        From
        <input
          type="datetime-local"
          name="from"
          value={values.from}
          onChange={(e) => set("from", e.target.value)}
          aria-invalid={errors.from ? true : undefined}
        />
        {errors.from && <span className="field-error">{errors.from}</span>}
      </label>
      <label>
        To
        <input type="datetime-local" name="to" value={values.to} onChange={(e) => set("to", e.target.value)} aria-invalid={errors.to ? true : undefined} />
        {errors.to && (
          <span className="field-error" role="alert">
            {errors.to}
          </span>
        )}
      </label>
      <TextFilter name="text" label="Text" value={values.text} onApply={(v) => set("text", v)} placeholder="in target, request, changes…" />
      <div className="audit-filters-end">
        {active && (
          <button type="button" className="ghost" onClick={props.clear}>
            Clear filters
          </button>
        )}
      </div>
      <datalist id="audit-actions">
        {actions.map((a) => (
          <option key={a} value={a} />
        ))}
      </datalist>
      <datalist id="audit-target-types">
        {props.seen.targetTypes.map((t) => (
          <option key={t} value={t} />
        ))}
      </datalist>
    </form>
  );
}
