// The Audit page (issue 7, item 8): the tenant's audit events newest first, filtered by the fields of AuditEventFilter
// (kept in the address), paged by keyset cursors (a stack, as on the Runs page), exported as CSV with the same filter,
// and the hash chain verified over the filter's time range or the whole trail. Needs audit:read; without it the page
// says so instead of showing empty lists.
import { useMemo, useRef, useState } from "react";
import { useSearchParams } from "react-router";
import { useQuery } from "urql";
import { AuditLogDocument, type AuditLogQuery } from "../__generated__/graphql.js";
import { AuditChainPanel } from "../components/audit-chain-panel.js";
import { AuditEventsTable } from "../components/audit-events-table.js";
import { AuditExportButton } from "../components/audit-export-button.js";
import { AuditFilterForm, FILTER_PARAMS, parseFilter, readFilterValues, type FilterParam } from "../components/audit-filters.js";
import { ErrorMessage } from "../components/error-message.js";
import { Loading } from "../components/loading.js";
import { CursorPager } from "../components/pager.js";

const PAGE_SIZES = [25, 50, 100] as const;
const DEFAULT_PAGE_SIZE = 25;

const NO_PERMISSION = "You don't have permission to read the audit log.";

export function AuditPage() {
  const [params, setParams] = useSearchParams();
  const values = readFilterValues(params);
  const valuesKey = FILTER_PARAMS.map((k) => values[k]).join("\u0000");
  const parsed = useMemo(() => parseFilter(values), [valuesKey]);
  const sizeParam = Number(params.get("size"));
  const size = (PAGE_SIZES as readonly number[]).includes(sizeParam) ? sizeParam : DEFAULT_PAGE_SIZE;

  // The page position is a stack of keyset cursors; any change of the address (filters, size) starts again at page 1.
  const [cursors, setCursors] = useState<string[]>([]);
  const filterKey = params.toString();
  const [pageFor, setPageFor] = useState(filterKey);
  if (pageFor !== filterKey) {
    setPageFor(filterKey);
    setCursors([]);
  }
  const after = cursors.at(-1) ?? null;
  const invalid = Object.keys(parsed.errors).length > 0;

  const [page, refetch] = useQuery({ query: AuditLogDocument, variables: { filter: parsed.filter, first: size, after }, pause: invalid });
  // While the next page or filter loads, the previous rows stay (dimmed) instead of the table jumping away.
  const last = useRef<AuditLogQuery | undefined>(undefined);
  if (page.data) last.current = page.data;
  const data = page.data ?? (page.fetching ? last.current : undefined);
  const ready = !!page.data && !page.fetching;

  const [brokenId, setBrokenId] = useState<string | null>(null);
  const [focus, setFocus] = useState<{ id: string } | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const patch = (changes: Partial<Record<FilterParam | "size", string>>) => {
    setNotice(null);
    // From the address as it is now, not as this render saw it (react-router hands its updater the rendered
    // parameters): a change made while the previous one is still rendering (Clear, then a date) must not undo it.
    const next = new URLSearchParams(window.location.search);
    for (const [key, value] of Object.entries(changes)) {
      if (value) next.set(key, value);
      else next.delete(key);
    }
    setParams(next, { replace: true });
  };

  const events = data?.auditEvents.nodes ?? [];
  const seen = useMemo(
    () => ({
      actions: [...new Set(events.map((e) => e.action))],
      targetTypes: [...new Set(events.map((e) => e.targetType).filter((t): t is string => !!t))].sort(),
    }),
    [data],
  );

  const forbidden = !page.data && page.error?.graphQLErrors.some((e) => e.extensions?.code === "FORBIDDEN");
  if (forbidden) {
    return (
      <main className="page">
        <div className="page-header">
          <h1>Audit</h1>
        </div>
        <div className="audit-denied" data-testid="audit-denied">
          <ErrorMessage error={page.error} wording={{ FORBIDDEN: NO_PERMISSION }}>
            <p>
              The audit log needs the <code>audit:read</code> permission (the Admin and Manager roles have it). Ask an administrator of your organisation
              for a role that includes it.
            </p>
          </ErrorMessage>
        </div>
      </main>
    );
  }

  const showEvent = (id: string) => {
    if (events.some((e) => e.id === id)) {
      setNotice(null);
      setFocus({ id });
    } else setNotice("That event is not on this page of the list: narrow the time range around the broken link, or page through.");
  };

  const filtered = FILTER_PARAMS.some((k) => values[k]);
  const pageNumber = cursors.length + 1;

  return (
    <main className="page audit-page">
      <div className="page-header">
        <h1>Audit</h1>
        <div className="actions audit-header-actions">
          <button type="button" className="ghost" onClick={() => refetch({ requestPolicy: "network-only" })} disabled={invalid || page.fetching}>
            Refresh
          </button>
          <AuditExportButton query={parsed.exportQuery} disabled={invalid} />
        </div>
      </div>
      <AuditFilterForm
        values={values}
        errors={parsed.errors}
        set={(key, value) => patch({ [key]: value })}
        clear={() => patch(Object.fromEntries(FILTER_PARAMS.map((k) => [k, ""])))}
        seen={seen}
      />
      {page.error && <ErrorMessage error={page.error} wording={{ FORBIDDEN: NO_PERMISSION }} />}
      {notice && <p className="notice">{notice}</p>}
      <section className="audit-list" aria-label="Audit events" data-testid="audit-list" data-state={ready ? "ready" : "loading"} data-page={pageNumber} aria-busy={!ready && !invalid && !page.error}>
        {!data && !page.error && !invalid && <Loading what="Loading audit events" />}
        {data && (
          <p className="muted small audit-summary">
            {events.length === 0
              ? null
              : `${events.length} ${events.length === 1 ? "event" : "events"} on this page, newest first${filtered ? ", matching the filters" : ""}.`}
          </p>
        )}
        {data && events.length === 0 && <p className="empty">{filtered ? "No audit events match these filters." : "No audit events yet."}</p>}
        <div className={page.fetching && data ? "audit-stale" : undefined}>
          <AuditEventsTable events={events} brokenId={brokenId} onFilter={(changes) => patch(changes)} focus={focus} />
        </div>
      </section>
      <CursorPager
        cursors={cursors}
        setCursors={setCursors}
        hasNextPage={!!page.data?.auditEvents.hasNextPage}
        endCursor={page.data?.auditEvents.endCursor}
        busy={page.fetching}
        labels={{ back: "← Newer", forward: "Older →" }}
        testId="audit-page-number"
      >
        <label className="inline audit-page-size">
          Per page
          <select name="size" value={size} onChange={(e) => patch({ size: Number(e.target.value) === DEFAULT_PAGE_SIZE ? "" : e.target.value })}>
            {PAGE_SIZES.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
      </CursorPager>
      <AuditChainPanel
        from={parsed.errors.from ? undefined : parsed.filter.from ?? undefined}
        to={parsed.errors.to ? undefined : parsed.filter.to ?? undefined}
        onResult={(report) => setBrokenId(report && !report.ok ? report.firstBrokenEventId ?? null : null)}
        onShowEvent={showEvent}
      />
    </main>
  );
}
