// One record's history in a dialog: its versions newest first (what changed, field by field, when, by whom, from which
// device or run), older versions loaded on demand, and the record as it is now.
import { useState } from "react";
import { Link } from "react-router";
import { useQuery } from "urql";
import { RecordsHistoryDocument, type RecordRowFragment } from "../__generated__/graphql.js";
import { formatDateTime, shortId } from "../lib/format.js";
import { Dialog } from "./dialog.js";
import { ErrorMessage } from "./error-message.js";
import { Loading } from "./loading.js";
import { valueText } from "./records-table.js";
import { actorLabel } from "./runs-table.js";

const HISTORY_PAGE = 20;
const OPERATION: Record<string, string> = { CREATE: "Created", UPDATE: "Updated", DELETE: "Deleted" };

export function RecordHistoryDialog({ collection, record, onClose }: { collection: string; record: RecordRowFragment | null; onClose: () => void }) {
  return (
    <Dialog open={record !== null} title={record ? `History of ${record.id}` : "History"} onClose={onClose}>
      {record && <RecordHistory key={`${collection}/${record.id}`} collection={collection} record={record} />}
    </Dialog>
  );
}

function RecordHistory({ collection, record }: { collection: string; record: RecordRowFragment }) {
  // Each page is read by its own query; "older versions" adds the next cursor.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  return (
    <div className="records-history" data-testid="record-history">
      <details className="records-current">
        <summary>
          Current document · version {record.version} · updated {formatDateTime(record.updatedAt)}
        </summary>
        <pre>{JSON.stringify(record.document, null, 2)}</pre>
      </details>
      {cursors.map((after, i) => (
        <HistoryPage
          key={after ?? "first"}
          collection={collection}
          id={record.id}
          after={after}
          last={i === cursors.length - 1}
          onOlder={(cursor) => setCursors((c) => [...c, cursor])}
        />
      ))}
    </div>
  );
}

function HistoryPage({ collection, id, after, last, onOlder }: { collection: string; id: string; after: string | null; last: boolean; onOlder: (cursor: string) => void }) {
  const [res] = useQuery({ query: RecordsHistoryDocument, variables: { collection, id, first: HISTORY_PAGE, after }, requestPolicy: "network-only" });
  if (res.error) return <ErrorMessage error={res.error} wording={{ NOT_FOUND: "This record no longer exists, or is no longer yours to see." }} />;
  if (!res.data) return <Loading what="Loading the history" />;
  const page = res.data.recordHistory;
  return (
    <>
      <ol className="records-versions">
        {page.nodes.map((v) => (
          <li key={v.version} className="records-version" data-version={v.version}>
            <header className="records-version-header">
              <strong>Version {v.version}</strong>
              <span className={`records-op records-op-${v.operation.toLowerCase()}`}>{OPERATION[v.operation] ?? v.operation}</span>
              <time dateTime={v.at}>{formatDateTime(v.at)}</time>
              <span className="records-actor" data-testid="version-actor">
                by {v.user?.email ?? (v.actorType === "USER" ? "a user" : actorLabel(v.actorType))}
              </span>
              {v.clientId && (
                <span className="muted small">
                  device <code>{v.clientId}</code>
                </span>
              )}
              {v.syncRunId && (
                <span className="small">
                  run{" "}
                  <Link to={`/runs/${v.syncRunId}`}>
                    <code>{shortId(v.syncRunId)}</code>
                  </Link>
                </span>
              )}
            </header>
            {v.changes.length ? (
              <div className="records-changes-wrap">
                <table className="records-changes">
                  <thead>
                    <tr>
                      <th scope="col">Field</th>
                      <th scope="col">Before</th>
                      <th scope="col">After</th>
                    </tr>
                  </thead>
                  <tbody>
                    {v.changes.map((c) => (
                      <tr key={c.field} data-field={c.field}>
                        <th scope="row">{c.field}</th>
                        <ChangeValue value={c.before} />
                        <ChangeValue value={c.after} />
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : (
              <p className="muted small">No field changed.</p>
            )}
          </li>
        ))}
      </ol>
      {last && page.hasNextPage && page.endCursor && (
        <p>
          <button type="button" onClick={() => onOlder(page.endCursor!)}>
            Older versions
          </button>
        </p>
      )}
    </>
  );
}

function ChangeValue({ value }: { value: unknown }) {
  if (value === null || value === undefined) return <td className="muted">—</td>;
  const text = valueText(value);
  return <td className="records-change-value">{typeof value === "object" ? <code>{text}</code> : text}</td>;
}
