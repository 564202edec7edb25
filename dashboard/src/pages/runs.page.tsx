import { useMemo, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { useQuery } from "urql";
import { ConnectorNamesDocument, RunsDocument, type SyncRunFilter, type SyncRunKind, type SyncRunStatus } from "../__generated__/graphql.js";
import { freshest, useLiveRuns, useRefetchOnReconnect } from "../api/provider.js";
import { ErrorMessage } from "../components/error-message.js";
import { Loading } from "../components/loading.js";
import { RunsTable } from "../components/runs-table.js";
import { CursorPager } from "../components/pager.js";

const PAGE_SIZE = 25;
const KINDS: SyncRunKind[] = ["CONNECTOR", "PUSH", "PULL"];
const STATUSES: SyncRunStatus[] = ["QUEUED", "RUNNING", "SUCCEEDED", "PARTIAL", "FAILED", "CANCELLED"];

/** A `date` input's value (local day) as the start of that day, or of the next one (`end`). */
function dayBoundary(value: string, end: boolean): string | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return null;
  const [y, m, d] = value.split("-").map(Number) as [number, number, number];
  return new Date(y, m - 1, d + (end ? 1 : 0)).toISOString();
}

export function RunsPage() {
  // Filters live in the address (shareable, kept on reload); the page position is a stack of keyset cursors.
  const [params, setParams] = useSearchParams();
  const connector = params.get("connector") ?? "";
  const kind = (params.get("kind") ?? "") as SyncRunKind | "";
  const status = (params.get("status") ?? "") as SyncRunStatus | "";
  const from = params.get("from") ?? "";
  const to = params.get("to") ?? "";
  const [cursors, setCursors] = useState<string[]>([]);
  const filterKey = params.toString();
  const [pageFor, setPageFor] = useState(filterKey);
  if (pageFor !== filterKey) {
    // New filters: back to the first page.
    setPageFor(filterKey);
    setCursors([]);
  }
  const after = cursors.at(-1) ?? null;

  const rangeError = from && to && from > to ? "“From” is after “to”." : null;
  const filter = useMemo<SyncRunFilter>(() => {
    const f: SyncRunFilter = {};
    if (connector) f.connectorId = connector;
    if (kind) f.kind = kind;
    if (status) f.status = status;
    const fromIso = dayBoundary(from, false);
    const toIso = dayBoundary(to, true);
    if (fromIso) f.from = fromIso;
    if (toIso) f.to = toIso;
    return f;
  }, [connector, kind, status, from, to]);

  const [names] = useQuery({ query: ConnectorNamesDocument, requestPolicy: "cache-first" });
  const [page, refetch] = useQuery({ query: RunsDocument, variables: { filter, first: PAGE_SIZE, after }, pause: !!rangeError });
  useRefetchOnReconnect(() => refetch({ requestPolicy: "network-only" }));
  const live = useLiveRuns();

  const set = (key: string, value: string) =>
    setParams(
      (p) => {
        const next = new URLSearchParams(p);
        if (value) next.set(key, value);
        else next.delete(key);
        return next;
      },
      { replace: true },
    );

  const nodes = page.data?.syncRuns.nodes ?? [];
  // Rows on screen follow their runs live; runs created since the page was read are offered, not pushed in.
  const rows = nodes.map((r) => freshest(r, live.runs.get(r.id))!);
  const shown = new Set(nodes.map((r) => r.id));
  const newest = nodes[0] ? Date.parse(nodes[0].createdAt) : 0;
  const newer = !after
    ? [...live.runs.values()].filter(
        (r) =>
          !shown.has(r.id) &&
          Date.parse(r.createdAt) > newest &&
          (!connector || r.connector?.id === connector) &&
          (!kind || r.kind === kind) &&
          (!status || r.status === status),
      ).length
    : 0;

  return (
    <main className="page">
      <div className="page-header">
        <h1>Runs</h1>
      </div>
      <form className="filters card" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Connector
          <select name="connector" value={connector} onChange={(e) => set("connector", e.target.value)}>
            <option value="">Any</option>
            {names.data?.connectors.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Kind
          <select name="kind" value={kind} onChange={(e) => set("kind", e.target.value)}>
            <option value="">Any</option>
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {k.toLowerCase()}
              </option>
            ))}
          </select>
        </label>
        <label>
          Status
          <select name="status" value={status} onChange={(e) => set("status", e.target.value)}>
            <option value="">Any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s.toLowerCase()}
              </option>
            ))}
          </select>
        </label>
        <label>
          From
          <input type="date" name="from" value={from} onChange={(e) => set("from", e.target.value)} aria-invalid={rangeError ? true : undefined} />
        </label>
        <label>
          To
          <input type="date" name="to" value={to} onChange={(e) => set("to", e.target.value)} aria-invalid={rangeError ? true : undefined} />
        </label>
        {filterKey && (
          <button type="button" className="ghost" onClick={() => setParams(new URLSearchParams(), { replace: true })}>
            Clear filters
          </button>
        )}
      </form>
      {rangeError && (
        <p className="field-error" role="alert">
          {rangeError}
        </p>
      )}
      {names.error && <ErrorMessage error={names.error} />}
      {page.error && <ErrorMessage error={page.error} />}
      {newer > 0 && (
        <p className="notice">
          {newer} new {newer === 1 ? "run" : "runs"} since this page was loaded.{" "}
          <button type="button" className="link" onClick={() => refetch({ requestPolicy: "network-only" })}>
            Show
          </button>
        </p>
      )}
      {!page.data && !page.error && !rangeError && <Loading what="Loading runs" />}
      {page.data && <RunsTable runs={rows} />}
      <CursorPager
        cursors={cursors}
        setCursors={setCursors}
        hasNextPage={!!page.data?.syncRuns.hasNextPage}
        endCursor={page.data?.syncRuns.endCursor}
        busy={page.fetching}
        labels={{ back: "← Newer", forward: "Older →" }}
      />
      {connector && (
        <p>
          <Link to={`/connectors/${connector}`}>Back to the connector</Link>
        </p>
      )}
    </main>
  );
}
