import { useMemo, useState } from "react";
import { Link } from "react-router";
import { useQuery } from "urql";
import { ConnectorLastRunDocument, OverviewDocument, type ConnectorCardFragment, type RunSummaryFragment, type SyncRunKind } from "../__generated__/graphql.js";
import { freshest, useLiveRuns, useRefetchOnReconnect } from "../api/provider.js";
import { useRefetchAfterRuns, useThrottledRefetchOnRunsEnded } from "../api/use-refetch-after-runs.js";
import { ErrorMessage } from "../components/error-message.js";
import { Loading } from "../components/loading.js";
import { RunsChart } from "../components/runs-chart.js";
import { HealthBadge, StatusBadge } from "../components/status-badge.js";
import { formatAgo, formatCount, formatDuration, formatRate } from "../lib/format.js";
import { isActive } from "../lib/status.js";

const DAYS = 14;
/** The least time between two re-reads of the chart for pushes and pulls. */
const CHART_REFRESH_MS = 5_000;

/** [from, to) covering the last DAYS UTC days, today included. */
function statsRange(now = new Date()): { from: string; to: string } {
  const tomorrow = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return { from: new Date(tomorrow - DAYS * 86_400_000).toISOString(), to: new Date(tomorrow).toISOString() };
}

export function OverviewPage() {
  const [kind, setKind] = useState<SyncRunKind | "">("CONNECTOR");
  const range = useMemo(() => statsRange(), []);
  const [overview, refetch] = useQuery({ query: OverviewDocument, variables: { ...range, kind: kind || null } });
  const live = useLiveRuns();
  const refetchNow = () => refetch({ requestPolicy: "network-only" });
  useRefetchOnReconnect(refetchNow);
  // A connector run that ends changes record counts and the chart: read them again once its mappings show it.
  useRefetchAfterRuns({
    relevant: (run) => run.kind === "CONNECTOR",
    settled: (runId) => !!overview.data?.connectors.some((c) => c.mappings.some((m) => m.lastRunId === runId)),
    refetch: refetchNow,
    data: overview.data,
  });
  // Pushes and pulls, many and small, reach the chart too: read again at most every few seconds while they come.
  useThrottledRefetchOnRunsEnded({ relevant: (run) => run.kind !== "CONNECTOR" && (kind === "" || run.kind === kind), refetch: refetchNow, intervalMs: CHART_REFRESH_MS });

  const connectors = overview.data?.connectors ?? [];
  const stats = overview.data?.syncStats ?? [];
  const activeNow = [...live.runs.values()].filter((r) => isActive(r.status)).length;
  const totals = {
    records: connectors.reduce((sum, c) => sum + c.mappings.reduce((s, m) => s + m.recordCount, 0), 0),
    runs: stats.reduce((s, b) => s + b.runs, 0),
    failed: stats.reduce((s, b) => s + b.failed, 0),
    partial: stats.reduce((s, b) => s + b.partial, 0),
    processed: stats.reduce((s, b) => s + b.processed, 0),
  };

  return (
    <main className="page">
      <div className="page-header">
        <h1>Overview</h1>
      </div>
      {overview.error && <ErrorMessage error={overview.error} />}
      {!overview.data && !overview.error && <Loading what="Loading connectors" />}
      {overview.data && (
        <>
          <section className="totals" aria-label="Tenant totals">
            <Total label="Connectors" value={formatCount(connectors.length)} />
            <Total label="Records synced" value={formatCount(totals.records)} testId="total-records" />
            <Total label={`Runs, last ${DAYS} days`} value={formatCount(totals.runs)} testId="total-runs" />
            <Total label={`Failed / partial, ${DAYS} days`} value={`${formatCount(totals.failed)} / ${formatCount(totals.partial)}`} />
            <Total label="Running now" value={formatCount(activeNow)} testId="total-active" />
          </section>

          <section aria-labelledby="connectors-title">
            <h2 id="connectors-title">Connectors</h2>
            {connectors.length === 0 ? (
              <p className="empty">No connectors yet. Create one with the createConnector mutation (see the README), then it appears here.</p>
            ) : (
              <div className="cards">
                {connectors.map((c) => (
                  <ConnectorCard key={c.id} connector={c} liveRuns={live.runs} />
                ))}
              </div>
            )}
          </section>

          <section aria-labelledby="activity-title" className="card chart-card" aria-busy={overview.fetching || overview.stale} data-kind={kind || "ALL"}>
            <div className="section-header">
              <h2 id="activity-title">Activity, last {DAYS} days</h2>
              <label className="inline">
                Kind
                <select value={kind} onChange={(e) => setKind(e.target.value as SyncRunKind | "")}>
                  <option value="CONNECTOR">Connector runs</option>
                  <option value="PUSH">Pushes</option>
                  <option value="PULL">Pulls</option>
                  <option value="">All runs</option>
                </select>
              </label>
            </div>
            <p className="muted">
              {formatCount(totals.runs)} {totals.runs === 1 ? "run" : "runs"}, {formatCount(totals.processed)} records processed.
            </p>
            <RunsChart buckets={stats} />
          </section>
        </>
      )}
    </main>
  );
}

function Total({ label, value, testId }: { label: string; value: string; testId?: string }) {
  return (
    <div className="total card" data-testid={testId}>
      <span className="total-value">{value}</span>
      <span className="total-label">{label}</span>
    </div>
  );
}

function ConnectorCard({ connector, liveRuns }: { connector: ConnectorCardFragment; liveRuns: ReadonlyMap<string, RunSummaryFragment> }) {
  const [lastRun, refetch] = useQuery({ query: ConnectorLastRunDocument, variables: { connectorId: connector.id } });
  useRefetchOnReconnect(() => refetch({ requestPolicy: "network-only" }));
  // The newest run: what the query found, or a newer one from the live feed (which also carries its end).
  let run: RunSummaryFragment | null | undefined = lastRun.data?.syncRuns.nodes[0];
  for (const r of liveRuns.values()) {
    if (r.connector?.id !== connector.id || r.kind !== "CONNECTOR") continue;
    if (!run || r.id === run.id) run = freshest(run, r);
    else if (Date.parse(r.createdAt) > Date.parse(run.createdAt)) run = r;
  }
  const records = connector.mappings.reduce((s, m) => s + m.recordCount, 0);
  return (
    <article className="card connector-card" data-testid="connector-card" data-connector-id={connector.id} aria-labelledby={`connector-${connector.id}`}>
      <header className="connector-card-header">
        <h3 id={`connector-${connector.id}`}>
          <Link to={`/connectors/${connector.id}`}>{connector.name}</Link>
        </h3>
        <span className={`kind kind-${connector.kind.toLowerCase()}`}>{connector.kind === "ODOO" ? "Odoo" : "Moodle"}</span>
      </header>
      <dl className="facts">
        <div>
          <dt>Health</dt>
          <dd>
            <HealthBadge health={connector.health} />
          </dd>
        </div>
        <div>
          <dt>Last run</dt>
          <dd data-testid="last-run">
            <StatusBadge status={run?.status ?? null} />{" "}
            {run && (
              <Link to={`/runs/${run.id}`} className="muted">
                {isActive(run.status) ? `started ${formatAgo(run.startedAt ?? run.createdAt)}` : formatAgo(run.finishedAt ?? run.createdAt)}
              </Link>
            )}
          </dd>
        </div>
        {run && isActive(run.status) ? (
          <div>
            <dt>Progress</dt>
            <dd>
              {formatCount(run.processed)} records{run.currentModel ? ` · ${run.currentModel}` : ""} · {formatRate(run.recordsPerSecond)}
            </dd>
          </div>
        ) : run ? (
          <div>
            <dt>Last run did</dt>
            <dd>
              {formatCount(run.processed)} processed · {formatDuration(run.durationMs)}
              {run.failed ? ` · ${formatCount(run.failed)} failed` : ""}
            </dd>
          </div>
        ) : null}
        <div>
          <dt>Records</dt>
          <dd data-testid="records">
            {formatCount(records)} in {connector.mappings.length} {connector.mappings.length === 1 ? "mapping" : "mappings"}
          </dd>
        </div>
      </dl>
      {connector.lastError && <p className="error-inline">{connector.lastError}</p>}
      {lastRun.error && <ErrorMessage error={lastRun.error} />}
    </article>
  );
}
