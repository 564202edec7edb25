// Audit events as a table (one card per event on a phone), newest first as the API returns them. Each row opens to the
// event's details: exact time, ids, the client it came from, its field-level changes as before/after and its other
// metadata as indented JSON, with buttons that narrow the list to the same action, actor or target.
import { Fragment, useEffect, useState } from "react";
import type { AuditEventRowFragment } from "../__generated__/graphql.js";
import { shortId } from "../lib/format.js";
import { ACTOR_TYPES, type FilterParam } from "./audit-filters.js";

// Seconds matter in an audit trail (the list's other pages show minutes).
const timeWithSeconds = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

/** Metadata keys the recorder adds about the client (shown as facts, not in the JSON). */
const CLIENT_KEYS = ["ip", "userAgent", "browser", "os"];

/** Actions that record a refusal or a failure: shown in red. */
const FAILURE = /\.(failed|reused|refused|denied|rejected)$/;

export function actorTypeLabel(type: string): string {
  return ACTOR_TYPES.find((t) => t.value === type)?.label ?? type;
}

/** Who acted, as a person reads it: the user's email, else the kind of actor. */
export function actorText(e: AuditEventRowFragment): string {
  if (e.actor) return e.actor.email;
  return e.actorType === "USER" ? "User (no longer exists)" : actorTypeLabel(e.actorType);
}

const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);

export function AuditEventsTable(props: {
  events: readonly AuditEventRowFragment[];
  /** The event the chain check found broken (highlighted). */
  brokenId?: string | null;
  /** Narrows the list to one value of a filter. */
  onFilter: (patch: Partial<Record<FilterParam, string>>) => void;
  /** An event to open and scroll to (a new object each time it is asked for). */
  focus?: { id: string } | null;
}) {
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  useEffect(() => {
    const id = props.focus?.id;
    if (!id) return;
    setOpen((s) => new Set(s).add(id));
    const frame = requestAnimationFrame(() => document.querySelector(`tr[data-event-id="${CSS.escape(id)}"]`)?.scrollIntoView({ block: "center" }));
    return () => cancelAnimationFrame(frame);
  }, [props.focus]);
  const toggle = (id: string) =>
    setOpen((s) => {
      const next = new Set(s);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  if (!props.events.length) return null;
  return (
    <div className="table-wrap">
      <table className="responsive audit-table" data-testid="audit-table">
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Actor</th>
            <th scope="col">Action</th>
            <th scope="col">Target</th>
            <th scope="col">IP</th>
            <th scope="col">
              <span className="audit-sr-only">Details</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {props.events.map((e) => {
            const expanded = open.has(e.id);
            const broken = props.brokenId === e.id;
            const ip = str(e.metadata?.ip);
            return (
              <Fragment key={e.id}>
                <tr
                  className={`audit-row${broken ? " audit-row-broken" : ""}${expanded ? " audit-row-open" : ""}`}
                  data-event-id={e.id}
                  data-action={e.action}
                  data-broken={broken ? "true" : undefined}
                >
                  <td data-label="Time">
                    <time dateTime={e.occurredAt} title={e.occurredAt}>
                      {timeWithSeconds.format(new Date(e.occurredAt))}
                    </time>
                  </td>
                  <td data-label="Actor" data-testid="audit-actor" className="break">
                    {e.actor ? (
                      <span title={e.actor.displayName}>{e.actor.email}</span>
                    ) : (
                      <span className="muted">{actorText(e)}</span>
                    )}
                  </td>
                  <td data-label="Action">
                    <code className={FAILURE.test(e.action) ? "bad" : undefined}>{e.action}</code>
                  </td>
                  <td data-label="Target" className="break">
                    {e.targetType || e.targetId ? (
                      <span>
                        {e.targetType ?? <span className="muted">—</span>}
                        {e.targetId && (
                          <>
                            {" "}
                            <code title={e.targetId}>{e.targetId.length > 12 ? shortId(e.targetId) : e.targetId}</code>
                          </>
                        )}
                      </span>
                    ) : (
                      <span className="muted">—</span>
                    )}
                  </td>
                  <td data-label="IP">{ip ? <code>{ip}</code> : <span className="muted">—</span>}</td>
                  <td data-label="" className="audit-toggle-cell">
                    <button
                      type="button"
                      className="link"
                      aria-expanded={expanded}
                      aria-controls={`audit-detail-${e.id}`}
                      aria-label={`${expanded ? "Hide" : "Show"} details of ${e.action} at ${e.occurredAt}`}
                      onClick={() => toggle(e.id)}
                    >
                      {expanded ? "Hide" : "Details"}
                    </button>
                  </td>
                </tr>
                {expanded && (
                  <tr className="audit-detail-row" id={`audit-detail-${e.id}`} data-detail-for={e.id}>
                    <td colSpan={6}>
                      <AuditEventDetail event={e} onFilter={props.onFilter} />
                    </td>
                  </tr>
                )}
              </Fragment>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function AuditEventDetail({ event: e, onFilter }: { event: AuditEventRowFragment; onFilter: (patch: Partial<Record<FilterParam, string>>) => void }) {
  const metadata = e.metadata ?? {};
  const rest = Object.fromEntries(Object.entries(metadata).filter(([k]) => !CLIENT_KEYS.includes(k)));
  const client = [str(metadata.browser), str(metadata.os)].filter(Boolean).join(" on ");
  return (
    <div className="audit-detail" data-testid="audit-detail">
      <dl className="facts facts-grid audit-facts">
        <div>
          <dt>Event</dt>
          <dd>
            <code className="break">{e.id}</code>
          </dd>
        </div>
        <div>
          <dt>Occurred at (UTC)</dt>
          <dd>
            <code>{e.occurredAt}</code>
          </dd>
        </div>
        <div>
          <dt>Actor</dt>
          <dd className="break">
            {actorText(e)}
            {e.actor && (
              <>
                {e.actor.displayName && e.actor.displayName !== e.actor.email && <> ({e.actor.displayName})</>}
                <br />
                <code className="small">{e.actor.id}</code>
              </>
            )}
            {e.actor && <span className="muted small"> · {actorTypeLabel(e.actorType)}</span>}
          </dd>
        </div>
        <div>
          <dt>Target</dt>
          <dd className="break">
            {e.targetType ?? "—"}
            {e.targetId && (
              <>
                <br />
                <code className="small">{e.targetId}</code>
              </>
            )}
          </dd>
        </div>
        <div>
          <dt>Request</dt>
          <dd>{e.requestId ? <code className="small break">{e.requestId}</code> : "—"}</dd>
        </div>
        <div>
          <dt>Client</dt>
          <dd className="break">
            {str(metadata.ip) ?? "—"}
            {client && <> · {client}</>}
            {str(metadata.userAgent) && (
              <>
                <br />
                <span className="muted small">{str(metadata.userAgent)}</span>
              </>
            )}
          </dd>
        </div>
      </dl>
      <h3>Changes</h3>
      <Changes changes={e.changes} />
      {Object.keys(rest).length > 0 && (
        <>
          <h3>Details</h3>
          <pre className="audit-json" data-testid="audit-metadata">
            {JSON.stringify(rest, null, 2)}
          </pre>
        </>
      )}
      <div className="actions audit-detail-actions">
        <button type="button" onClick={() => onFilter({ action: e.action })}>
          Only this action
        </button>
        {e.actor && (
          <button type="button" onClick={() => onFilter({ actorId: e.actor!.id })}>
            Only this actor
          </button>
        )}
        {e.targetId && (
          <button
            type="button"
            onClick={() => onFilter({ targetType: e.targetType ?? "", targetId: e.targetId! })}
          >
            Only this target
          </button>
        )}
      </div>
    </div>
  );
}

const isChange = (v: unknown): v is { before?: unknown; after?: unknown } =>
  !!v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length > 0 && Object.keys(v).every((k) => k === "before" || k === "after");

/** Field-level changes as Field / Before / After; anything of another shape as indented JSON. */
function Changes({ changes }: { changes: Record<string, unknown> | null }) {
  if (!changes || !Object.keys(changes).length) return <p className="muted">None recorded.</p>;
  const entries = Object.entries(changes);
  if (!entries.every(([, v]) => isChange(v))) {
    return (
      <pre className="audit-json" data-testid="audit-changes">
        {JSON.stringify(changes, null, 2)}
      </pre>
    );
  }
  return (
    <table className="audit-changes" data-testid="audit-changes">
      <thead>
        <tr>
          <th scope="col">Field</th>
          <th scope="col">Before</th>
          <th scope="col">After</th>
        </tr>
      </thead>
      <tbody>
        {entries.map(([field, v]) => {
          const change = v as { before?: unknown; after?: unknown };
          return (
            <tr key={field} data-field={field}>
              <th scope="row">
                <code>{field}</code>
              </th>
              <td data-label="Before">
                <JsonValue value={change.before} has={"before" in change} />
              </td>
              <td data-label="After">
                <JsonValue value={change.after} has={"after" in change} />
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function JsonValue({ value, has }: { value: unknown; has: boolean }) {
  if (!has) return <span className="muted">—</span>;
  if (value === null) return <span className="muted">null</span>;
  if (typeof value === "object") return <pre className="audit-json">{JSON.stringify(value, null, 2)}</pre>;
  return <code className="break">{JSON.stringify(value)}</code>;
}
