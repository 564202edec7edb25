import { useEffect, useState } from "react";
import { Link, useParams } from "react-router";
import { useMutation, useQuery, useSubscription } from "urql";
import { CancelSyncDocument, RunDocument, RunUpdatedDocument, type RunDetailFragment, type RunQuery, type RunUpdatedSubscription } from "../__generated__/graphql.js";
import { freshest, useLive, useRefetchOnReconnect } from "../api/provider.js";
import { ErrorMessage } from "../components/error-message.js";
import { Loading } from "../components/loading.js";
import { ProgressBar } from "../components/progress-bar.js";
import { actorLabel } from "../components/runs-table.js";
import { StatusBadge } from "../components/status-badge.js";
import { formatCount, formatDateTime, formatDuration, formatRate, shortId } from "../lib/format.js";
import { isActive } from "../lib/status.js";

export function RunPage() {
  const { id = "" } = useParams();
  // The stored state over HTTP (after a reload, or when the socket is down), then live states over the socket: the
  // subscription sends the current state first, so a reconnect (or a run that ended meanwhile) is never missed.
  const [query, refetch] = useQuery({ query: RunDocument, variables: { id } });
  const [sub] = useSubscription<RunUpdatedSubscription, RunDetailFragment | undefined>(
    { query: RunUpdatedDocument, variables: { id }, pause: !query.data },
    (prev, data) => freshest(prev, data.syncRunUpdated) ?? undefined,
  );
  useRefetchOnReconnect(() => refetch({ requestPolicy: "network-only" }));
  const [cancel, cancelSync] = useMutation(CancelSyncDocument);
  const live = useLive();

  const stored = query.data?.syncRun;
  const run = freshest<RunDetailFragment>(stored, sub.data);
  if (query.error && !stored) {
    return (
      <main className="page">
        <p className="breadcrumbs">
          <Link to="/runs">Runs</Link> /
        </p>
        <ErrorMessage error={query.error} wording={{ NOT_FOUND: "There is no such run in your organisation." }} />
      </main>
    );
  }
  if (!run || !stored) return <main className="page"><Loading what="Loading the run" /></main>;

  const active = isActive(run.status);
  const total = expectedTotal(run, stored.connector?.mappings ?? []);
  const parameters = Object.entries(run.parameters ?? {});
  return (
    <main className="page" data-testid="run-page" data-status={run.status}>
      <p className="breadcrumbs">
        <Link to="/runs">Runs</Link> / <code>{shortId(run.id)}</code>
      </p>
      <div className="page-header">
        <h1>
          {run.connector ? `${run.connector.name} sync` : `${run.kind.charAt(0)}${run.kind.slice(1).toLowerCase()} run`} <StatusBadge status={run.status} />
        </h1>
        <div className="actions">
          {active && run.kind === "CONNECTOR" && (
            <button type="button" className="danger" disabled={cancel.fetching || !!cancel.data} onClick={() => void cancelSync({ runId: run.id })}>
              {cancel.fetching ? "Cancelling…" : cancel.data ? "Cancel requested" : "Cancel run"}
            </button>
          )}
        </div>
      </div>
      {cancel.error && <ErrorMessage error={cancel.error} wording={{ CONFLICT: "The run already ended." }} />}
      {sub.error && active && <ErrorMessage error={sub.error} />}

      <section className="card" aria-label="Progress">
        <ProgressBar status={run.status} processed={run.processed} total={total} />
        <p className="progress-caption" data-testid="progress-caption">
          <strong data-testid="processed">{formatCount(run.processed)}</strong> records processed
          {active && total ? ` of about ${formatCount(total)}` : ""}
          {run.currentModel && active ? (
            <>
              {" "}
              · now <code data-testid="current-model">{run.currentModel}</code>
            </>
          ) : null}
          {" · "}
          <span data-testid="rate">{formatRate(run.recordsPerSecond)}</span>
          {active && (
            <span className={`live-note live-${live.status}`}> · {live.status === "connected" ? "live" : "reconnecting…"}</span>
          )}
        </p>
        <dl className="counts">
          <Count label="Created" value={run.created} />
          <Count label="Updated" value={run.updated} />
          <Count label="Deleted" value={run.deleted} />
          <Count label="Failed" value={run.failed} bad />
          <Count label="Conflicts" value={run.conflicts} />
          <Count label="Rejected" value={run.rejected} bad />
        </dl>
        {run.error && (
          <p className="error-inline" role="alert">
            {run.error}
          </p>
        )}
      </section>

      <section className="card" aria-labelledby="timing-title">
        <h2 id="timing-title">Timing</h2>
        <dl className="facts facts-grid">
          <div>
            <dt>Queued</dt>
            <dd>{formatDateTime(run.createdAt)}</dd>
          </div>
          <div>
            <dt>Started</dt>
            <dd>{formatDateTime(run.startedAt)}</dd>
          </div>
          <div>
            <dt>Finished</dt>
            <dd>{formatDateTime(run.finishedAt)}</dd>
          </div>
          <div>
            <dt>Duration</dt>
            <dd data-testid="duration">{run.durationMs !== null ? formatDuration(run.durationMs) : <Elapsed since={run.startedAt} running={active} />}</dd>
          </div>
          <div>
            <dt>By</dt>
            <dd>{run.triggeredBy?.email ?? actorLabel(run.actorType)}</dd>
          </div>
          <div>
            <dt>Source</dt>
            <dd>
              {run.connector ? <Link to={`/connectors/${run.connector.id}`}>{run.connector.name}</Link> : run.clientId ? `device ${run.clientId}` : run.kind.toLowerCase()}
              {run.collections.length > 0 && <span className="muted"> → {run.collections.join(", ")}</span>}
            </dd>
          </div>
        </dl>
      </section>

      <section className="card" aria-labelledby="parameters-title">
        <h2 id="parameters-title">Parameters</h2>
        {parameters.length === 0 ? (
          <p className="muted">None.</p>
        ) : (
          <dl className="facts facts-grid" data-testid="parameters">
            {parameters.map(([key, value]) => (
              <div key={key}>
                <dt>{key}</dt>
                <dd>
                  <code>{value === null ? "—" : typeof value === "string" ? value : JSON.stringify(value)}</code>
                </dd>
              </div>
            ))}
          </dl>
        )}
      </section>

      <section aria-labelledby="errors-title">
        <h2 id="errors-title">Record errors {run.errorCount > 0 && <span className="count-pill">{formatCount(run.errorCount)}</span>}</h2>
        {run.errors.length === 0 ? (
          <p className="muted">No record failed.</p>
        ) : (
          <>
            {run.errorCount > run.errors.length && (
              <p className="muted">
                The first {formatCount(run.errors.length)} of {formatCount(run.errorCount)} errors.
              </p>
            )}
            <div className="table-wrap">
              <table className="responsive" data-testid="record-errors">
                <thead>
                  <tr>
                    <th scope="col">Record</th>
                    <th scope="col">Collection</th>
                    <th scope="col">Code</th>
                    <th scope="col">Message</th>
                  </tr>
                </thead>
                <tbody>
                  {run.errors.map((e, i) => (
                    <tr key={`${e.recordId ?? ""}-${i}`}>
                      <td data-label="Record">
                        <code>{e.recordId ?? "—"}</code>
                      </td>
                      <td data-label="Collection">{e.collection ?? "—"}</td>
                      <td data-label="Code">
                        <code>{e.code}</code>
                      </td>
                      <td data-label="Message" className="break">
                        {e.message}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        )}
      </section>
    </main>
  );
}

function Count({ label, value, bad }: { label: string; value: number; bad?: boolean }) {
  return (
    <div className={bad && value > 0 ? "bad" : undefined}>
      <dt>{label}</dt>
      <dd data-testid={`count-${label.toLowerCase()}`}>{formatCount(value)}</dd>
    </div>
  );
}

/** Time since `since`, ticking every second while the run is active. */
function Elapsed({ since, running }: { since: string | null; running: boolean }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(() => setNow(Date.now()), 1_000);
    return () => clearInterval(timer);
  }, [running]);
  if (!since) return <>—</>;
  return <>{formatDuration(Math.max(0, now - Date.parse(since)))} so far</>;
}

type MappingCount = NonNullable<RunQuery["syncRun"]["connector"]>["mappings"][number];

/**
 * How many records the run should process, when that can be told: at most maxRecords; a full or forced run reads every
 * record of its models, about as many as their last runs left (the mappings' record counts). Otherwise unknown.
 */
function expectedTotal(run: RunDetailFragment, mappings: readonly MappingCount[]): number | null {
  const p = (run.parameters ?? {}) as { maxRecords?: number | null; full?: boolean; force?: boolean; models?: string[] };
  let total: number | null = null;
  if (p.full || p.force) {
    const models = p.models?.length ? p.models : mappings.map((m) => m.remoteModel);
    const known = mappings.filter((m) => models.includes(m.remoteModel)).reduce((s, m) => s + m.recordCount, 0);
    if (known > 0) total = known;
  }
  if (typeof p.maxRecords === "number") total = total === null ? p.maxRecords : Math.min(total, p.maxRecords);
  return total;
}
