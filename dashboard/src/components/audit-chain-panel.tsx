// The audit hash chain's check (verifyAuditChain): over the filter's time range or the whole trail. It runs when asked,
// not at every visit: the server recomputes every link of the range, which on a long trail is real work. The result
// says which range it covers and when it was taken; a broken link is shown in red with its position, event and reason.
import { useState } from "react";
import { useClient } from "urql";
import { AuditChainCheckDocument, type AuditChainCheckQuery } from "../__generated__/graphql.js";
import { formatCount } from "../lib/format.js";
import { ErrorMessage } from "./error-message.js";

type Report = AuditChainCheckQuery["verifyAuditChain"];

const timeWithSeconds = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

function rangeText(from?: string, to?: string): string {
  if (from && to) return `events from ${dateTime.format(new Date(from))} to ${dateTime.format(new Date(to))}`;
  if (from) return `events since ${dateTime.format(new Date(from))}`;
  if (to) return `events until ${dateTime.format(new Date(to))}`;
  return "the whole trail";
}

export function AuditChainPanel(props: {
  /** The filter's time range (ISO), if any. */
  from?: string;
  to?: string;
  /** Told of every result: the page highlights the broken event when it is on screen. */
  onResult?: (report: Report | null) => void;
  /** Shows the broken event in the list (when the page can). */
  onShowEvent?: (id: string) => void;
}) {
  const client = useClient();
  const hasRange = !!(props.from || props.to);
  const [useRange, setUseRange] = useState(true);
  const [state, setState] = useState<{ checking: boolean; report?: Report; error?: unknown; scope?: string; at?: Date }>({ checking: false });
  const ranged = hasRange && useRange;

  const check = async () => {
    const vars = ranged ? { from: props.from ?? null, to: props.to ?? null } : {};
    const scope = ranged ? rangeText(props.from, props.to) : rangeText();
    setState((s) => ({ ...s, checking: true }));
    const res = await client.query(AuditChainCheckDocument, vars, { requestPolicy: "network-only" }).toPromise();
    if (res.data) {
      setState({ checking: false, report: res.data.verifyAuditChain, scope, at: new Date() });
      props.onResult?.(res.data.verifyAuditChain);
    } else {
      setState({ checking: false, error: res.error ?? new Error("Empty answer from the server"), scope, at: new Date() });
      props.onResult?.(null);
    }
  };

  const report = state.report;
  return (
    <section className="card audit-chain" aria-labelledby="audit-chain-title" data-testid="audit-chain">
      <div className="section-header">
        <h2 id="audit-chain-title">Chain verification</h2>
        <button type="button" onClick={() => void check()} disabled={state.checking}>
          {state.checking ? "Verifying…" : report || state.error ? "Verify again" : "Verify chain"}
        </button>
      </div>
      <p className="muted small audit-chain-about">
        Every event is linked to the one before it by a hash: a changed, removed or inserted event breaks the link. Other
        filters do not apply here, only the time range.
      </p>
      {hasRange && (
        <label className="check">
          <input type="checkbox" name="chainRange" checked={useRange} onChange={(e) => setUseRange(e.target.checked)} />
          Only the filtered time range
        </label>
      )}
      {state.error != null && <ErrorMessage error={state.error} wording={{ FORBIDDEN: "You don't have permission to verify the audit chain (it needs audit:read)." }} />}
      {report?.ok && (
        <p className="audit-chain-result audit-chain-ok" data-chain="ok" role="status">
          <span className="audit-chain-mark" aria-hidden="true">
            ✓
          </span>{" "}
          {report.checked === 0 ? (
            <>No events to check in {state.scope}.</>
          ) : (
            <>
              Verified: <strong data-testid="audit-chain-checked">{formatCount(report.checked)}</strong> {report.checked === 1 ? "event" : "events"} in{" "}
              {state.scope}, every link holds.
            </>
          )}
        </p>
      )}
      {report && !report.ok && (
        <div className="audit-chain-result audit-chain-broken" data-chain="broken" role="alert">
          <p>
            <span className="audit-chain-mark" aria-hidden="true">
              ✗
            </span>{" "}
            <strong>Broken link{report.firstBrokenSeq != null && <> at position {formatCount(report.firstBrokenSeq)}</>}</strong> in {state.scope}.
          </p>
          {report.reason && <p data-testid="audit-chain-reason">{report.reason}</p>}
          {report.firstBrokenEventId && (
            <p>
              Event <code data-testid="audit-chain-event">{report.firstBrokenEventId}</code>
              {props.onShowEvent && (
                <>
                  {" "}
                  <button type="button" className="link" onClick={() => props.onShowEvent!(report.firstBrokenEventId!)}>
                    Show it
                  </button>
                </>
              )}
            </p>
          )}
          <p className="small">
            {formatCount(report.checked)} {report.checked === 1 ? "link" : "links"} before it hold.
          </p>
        </div>
      )}
      {!report && state.error == null && !state.checking && <p className="muted">Not verified yet.</p>}
      {state.at && <p className="muted small">Checked at {timeWithSeconds.format(state.at)}.</p>}
    </section>
  );
}
