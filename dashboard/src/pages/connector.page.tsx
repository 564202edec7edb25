import { useState } from "react";
import { Link, useParams } from "react-router";
import { useMutation, useQuery } from "urql";
import { ConnectorDetailDocument, TestConnectionDocument } from "../__generated__/graphql.js";
import { freshest, useLiveRuns, useRefetchOnReconnect } from "../api/provider.js";
import { useRefetchAfterRuns } from "../api/use-refetch-after-runs.js";
import { ErrorMessage } from "../components/error-message.js";
import { Loading } from "../components/loading.js";
import { RunsTable } from "../components/runs-table.js";
import { StartSyncDialog } from "../components/start-sync-dialog.js";
import { HealthBadge, StatusBadge } from "../components/status-badge.js";
import { formatAgo, formatCount, formatDateTime, formatRate } from "../lib/format.js";
import { isActive } from "../lib/status.js";

export function ConnectorPage() {
  const { id = "" } = useParams();
  const [detail, refetch] = useQuery({ query: ConnectorDetailDocument, variables: { id } });
  const [test, testConnection] = useMutation(TestConnectionDocument);
  const [dialogOpen, setDialogOpen] = useState(false);
  const live = useLiveRuns();
  const refetchNow = () => refetch({ requestPolicy: "network-only" });
  useRefetchOnReconnect(refetchNow);

  // When one of this connector's runs ends, its mappings' last runs and record counts change: read them again.
  useRefetchAfterRuns({
    relevant: (run) => run.connector?.id === id,
    settled: (runId) => !!detail.data?.connector.mappings.some((m) => m.lastRunId === runId),
    refetch: refetchNow,
    data: detail.data,
  });

  const connector = detail.data?.connector;
  if (detail.error && !connector) {
    return (
      <main className="page">
        <p className="breadcrumbs">
          <Link to="/">Overview</Link> /
        </p>
        <ErrorMessage error={detail.error} wording={{ NOT_FOUND: "There is no such connector in your organisation." }} />
      </main>
    );
  }
  if (!connector) return <main className="page"><Loading what="Loading the connector" /></main>;

  // Recent runs: the query's, with live states merged in and runs started since then on top.
  const recent = new Map((detail.data?.syncRuns.nodes ?? []).map((r) => [r.id, r]));
  for (const r of live.runs.values()) {
    if (r.connector?.id !== id || r.kind !== "CONNECTOR") continue;
    recent.set(r.id, freshest(recent.get(r.id), r)!);
  }
  const runs = [...recent.values()].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt)).slice(0, 10);
  const active = runs.filter((r) => isActive(r.status));
  const runnable = connector.mappings.filter((m) => m.enabled && (m.direction === "INBOUND" || m.direction === "BOTH")).map((m) => m.remoteModel);
  const result = test.data?.testConnection;

  return (
    <main className="page">
      <p className="breadcrumbs">
        <Link to="/">Overview</Link> / {connector.name}
      </p>
      <div className="page-header">
        <h1>
          {connector.name} <span className={`kind kind-${connector.kind.toLowerCase()}`}>{connector.kind === "ODOO" ? "Odoo" : "Moodle"}</span>
        </h1>
        <div className="actions">
          <button
            type="button"
            onClick={async () => {
              await testConnection({ id });
              refetchNow();
            }}
            disabled={test.fetching}
          >
            {test.fetching ? "Testing…" : "Test connection"}
          </button>
          <button type="button" className="primary" onClick={() => setDialogOpen(true)}>
            Start sync
          </button>
        </div>
      </div>

      {test.error && <ErrorMessage error={test.error} />}
      {result && (
        <div className={`notice ${result.ok ? "notice-ok" : "notice-bad"}`} role="status" data-testid="connection-test">
          {result.ok ? (
            <>
              Connected in {result.latencyMs} ms{result.version ? ` · version ${result.version}` : ""}
              {result.remoteUser ? ` · as ${result.remoteUser}` : ""}
            </>
          ) : (
            <>
              Connection failed: {result.message ?? "no reason given"} <code>{result.errorCode}</code>
            </>
          )}
        </div>
      )}

      {active.map((r) => (
        <div className="notice notice-running" key={r.id} role="status">
          <StatusBadge status={r.status} /> {formatCount(r.processed)} records{r.currentModel ? ` · ${r.currentModel}` : ""} · {formatRate(r.recordsPerSecond)}{" "}
          <Link to={`/runs/${r.id}`}>Watch the run</Link>
        </div>
      ))}

      <section className="card" aria-label="Connection">
        <dl className="facts facts-grid">
          <div>
            <dt>Health</dt>
            <dd>
              <HealthBadge health={connector.health} />
            </dd>
          </div>
          <div>
            <dt>Remote</dt>
            <dd className="break">{connector.baseUrl}</dd>
          </div>
          <div>
            <dt>Version</dt>
            <dd>{connector.remoteVersion ?? "—"}</dd>
          </div>
          <div>
            <dt>Signed in as</dt>
            <dd>{connector.remoteUser ?? "—"}</dd>
          </div>
          <div>
            <dt>Last tested</dt>
            <dd title={formatDateTime(connector.lastTestedAt)}>
              {formatAgo(connector.lastTestedAt)}
              {connector.latencyMs !== null && connector.latencyMs !== undefined ? ` · ${connector.latencyMs} ms` : ""}
            </dd>
          </div>
          <div>
            <dt>Credentials</dt>
            <dd>{connector.hasCredentials ? "Set" : "Missing"}</dd>
          </div>
        </dl>
        {connector.lastError && <p className="error-inline">Last error: {connector.lastError}</p>}
      </section>

      <section aria-labelledby="mappings-title">
        <h2 id="mappings-title">Mappings</h2>
        {connector.mappings.length === 0 ? (
          <p className="empty">No mappings: nothing to sync yet (createConnectorMapping).</p>
        ) : (
          <div className="table-wrap">
            <table className="responsive" data-testid="mappings">
              <thead>
                <tr>
                  <th scope="col">Remote model</th>
                  <th scope="col">Collection</th>
                  <th scope="col">Direction</th>
                  <th scope="col">Last run</th>
                  <th scope="col">Records</th>
                  <th scope="col">Schedule</th>
                </tr>
              </thead>
              <tbody>
                {connector.mappings.map((m) => (
                  <tr key={m.id} data-model={m.remoteModel}>
                    <td data-label="Remote model">
                      <code>{m.remoteModel}</code>
                      {!m.enabled && <span className="muted"> (disabled)</span>}
                    </td>
                    <td data-label="Collection">{m.collection}</td>
                    <td data-label="Direction">{m.direction.toLowerCase()}</td>
                    <td data-label="Last run">
                      <StatusBadge status={m.lastRunStatus} />{" "}
                      {m.lastRunId && (
                        <Link to={`/runs/${m.lastRunId}`} className="muted" title={formatDateTime(m.lastRunAt)}>
                          {formatAgo(m.lastRunAt)}
                        </Link>
                      )}
                    </td>
                    <td data-label="Records" className="num">
                      {formatCount(m.recordCount)}
                    </td>
                    <td data-label="Schedule">{m.schedule ? <code>{m.schedule}</code> : <span className="muted">on demand</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section aria-labelledby="recent-title">
        <div className="section-header">
          <h2 id="recent-title">Recent runs</h2>
          <Link to={`/runs?connector=${id}`}>All runs of this connector</Link>
        </div>
        <RunsTable runs={runs} showConnector={false} />
      </section>

      <StartSyncDialog connectorId={id} models={runnable} open={dialogOpen} onClose={() => setDialogOpen(false)} />
    </main>
  );
}
