import { Link } from "react-router";
import type { RunSummaryFragment } from "../__generated__/graphql.js";
import { formatCount, formatDateTime, formatDuration, shortId } from "../lib/format.js";
import { StatusBadge } from "./status-badge.js";

/** Runs as a table (cards on a phone). */
export function RunsTable({ runs, showConnector = true }: { runs: readonly RunSummaryFragment[]; showConnector?: boolean }) {
  if (!runs.length) return <p className="empty">No runs.</p>;
  return (
    <div className="table-wrap">
      <table className="responsive runs-table" data-testid="runs-table">
        <thead>
          <tr>
            <th scope="col">Status</th>
            <th scope="col">Run</th>
            {showConnector && <th scope="col">Source</th>}
            <th scope="col">Created</th>
            <th scope="col">Processed</th>
            <th scope="col">Created / updated / deleted</th>
            <th scope="col">Failed</th>
            <th scope="col">Duration</th>
            <th scope="col">By</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.id} data-run-id={r.id} data-status={r.status}>
              <td data-label="Status">
                <StatusBadge status={r.status} />
              </td>
              <td data-label="Run">
                <Link to={`/runs/${r.id}`}>
                  <code>{shortId(r.id)}</code>
                </Link>
              </td>
              {showConnector && (
                <td data-label="Source">
                  {r.connector ? <Link to={`/connectors/${r.connector.id}`}>{r.connector.name}</Link> : <span className="muted">{r.kind.toLowerCase()}</span>}
                  {r.collections.length > 0 && <span className="muted small"> · {r.collections.join(", ")}</span>}
                </td>
              )}
              <td data-label="Created">{formatDateTime(r.createdAt)}</td>
              <td data-label="Processed" className="num">
                {formatCount(r.processed)}
              </td>
              <td data-label="Created / updated / deleted" className="num">
                {formatCount(r.created)} / {formatCount(r.updated)} / {formatCount(r.deleted)}
              </td>
              <td data-label="Failed" className={`num${r.failed || r.errorCount ? " bad" : ""}`}>
                {formatCount(Math.max(r.failed, r.errorCount))}
              </td>
              <td data-label="Duration">{formatDuration(r.durationMs)}</td>
              <td data-label="By" className="small">
                {r.triggeredBy?.email ?? <span className="muted">{actorLabel(r.actorType)}</span>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Who a run acted for, when it was not a user. */
export function actorLabel(actorType: string): string {
  return actorType === "API_KEY" ? "API key" : actorType === "CONNECTOR" ? "schedule or webhook" : actorType === "SERVICE" ? "service" : "user";
}
