// The Records page (issue 7, item 6): a collection's current records as a table (columns from its JSON Schema, or from
// the fields of the records on screen), a search kept in the address, keyset pages, CSV export of the collection or of
// the search, and one record's history. What the signed-in user sees is what pullChanges would give them: the API
// applies their collection grants and row filters, and its refusals are shown as messages.
import { useEffect, useRef, useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { useQuery } from "urql";
import { RecordsCollectionsDocument, RecordsPageDocument, type RecordRowFragment } from "../__generated__/graphql.js";
import { useRefetchOnReconnect } from "../api/provider.js";
import { ErrorMessage } from "../components/error-message.js";
import { Loading } from "../components/loading.js";
import { RecordsExport } from "../components/records-export.js";
import { RecordHistoryDialog } from "../components/records-history.js";
import { fieldColumns, MAX_COLUMNS, RecordsTable } from "../components/records-table.js";
import { formatCount } from "../lib/format.js";
import { CursorPager } from "../components/pager.js";

const PAGE_SIZE = 25;
/** The API's longest search. */
const MAX_SEARCH = 200;
/** Typing pauses this long before the search runs (and the address changes). */
const SEARCH_DELAY_MS = 300;

export function RecordsPage() {
  const { collection = "" } = useParams();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const search = (params.get("q") ?? "").trim();
  const [collections] = useQuery({ query: RecordsCollectionsDocument, requestPolicy: "cache-and-network" });
  const list = collections.data?.collections;
  const current = list?.find((c) => c.name === collection) ?? null;

  return (
    <main className="page records-page">
      <div className="page-header">
        <h1>Records</h1>
      </div>
      {collections.error && !list && <ErrorMessage error={collections.error} />}
      {!list && !collections.error && <Loading what="Loading collections" />}
      {list && list.length === 0 && (
        <p className="empty">No collections yet: they are created through the API (createCollection) or by a connector's mappings.</p>
      )}
      {list && list.length > 0 && (
        <form className="records-filters card" role="search" aria-label="Records" onSubmit={(e) => e.preventDefault()}>
          <label>
            Collection
            <select
              name="collection"
              value={current ? collection : ""}
              onChange={(e) => navigate(e.target.value ? `/records/${encodeURIComponent(e.target.value)}` : "/records")}
            >
              <option value="">Choose a collection…</option>
              {list.map((c) => (
                <option key={c.id} value={c.name}>
                  {c.name}
                </option>
              ))}
            </select>
          </label>
          {current && <SearchBox value={search} onChange={(q) => setParams(q ? { q } : {}, { replace: true })} />}
        </form>
      )}
      {list && collection && !current && (
        <div className="error-box" role="alert">
          <strong className="error-title">There is no collection named “{collection}”.</strong>
          <p>
            <Link to="/records">Choose a collection</Link>
          </p>
        </div>
      )}
      {list && !collection && list.length > 0 && (
        <ul className="records-collections">
          {list.map((c) => (
            <li key={c.id}>
              <Link to={`/records/${encodeURIComponent(c.name)}`}>{c.name}</Link>
              <span className="muted small"> · key {c.primaryKey}{c.jsonSchema ? " · JSON Schema" : ""}</span>
            </li>
          ))}
        </ul>
      )}
      {current && <CollectionRecords key={current.name} collection={current.name} primaryKey={current.primaryKey} schema={current.jsonSchema ?? null} search={search} />}
    </main>
  );
}

/** The search field: typed text is applied after a short pause; a new address (back, a link) replaces it. */
function SearchBox({ value, onChange }: { value: string; onChange: (q: string) => void }) {
  const [text, setText] = useState(value);
  const applied = useRef(value);
  const latest = useRef(onChange);
  latest.current = onChange;
  useEffect(() => {
    if (value !== applied.current) {
      applied.current = value;
      setText(value);
    }
  }, [value]);
  useEffect(() => {
    const q = text.trim();
    if (q === applied.current) return;
    const timer = setTimeout(() => {
      applied.current = q;
      latest.current(q);
    }, SEARCH_DELAY_MS);
    return () => clearTimeout(timer);
  }, [text]);
  return (
    <label className="records-search">
      Search
      <input
        type="search"
        name="q"
        value={text}
        maxLength={MAX_SEARCH}
        placeholder="Key or any text or number field"
        autoComplete="off"
        onChange={(e) => setText(e.target.value)}
      />
    </label>
  );
}

function CollectionRecords({ collection, primaryKey, schema, search }: { collection: string; primaryKey: string; schema: unknown; search: string }) {
  // The page position is a stack of keyset cursors, back to the first page when the search changes.
  const [cursors, setCursors] = useState<string[]>([]);
  const [pageFor, setPageFor] = useState(search);
  if (pageFor !== search) {
    setPageFor(search);
    setCursors([]);
  }
  const after = cursors.at(-1) ?? null;
  const [page, refetch] = useQuery({ query: RecordsPageDocument, variables: { collection, search: search || null, first: PAGE_SIZE, after } });
  useRefetchOnReconnect(() => refetch({ requestPolicy: "network-only" }));
  const [open, setOpen] = useState<RecordRowFragment | null>(null);

  const data = page.data?.records;
  const rows = data?.nodes ?? [];
  const { fields, fromSchema } = fieldColumns(schema, primaryKey, rows.map((r) => r.document));
  const shown = fields.slice(0, MAX_COLUMNS);
  const total = data?.totalCount;

  return (
    <section className="records-section" aria-label={`Records of ${collection}`} aria-busy={page.fetching} data-collection={collection}>
      <div className="records-toolbar">
        <p className="muted records-count" data-testid="records-count">
          {total != null ? `${formatCount(total)} ${search ? "matching " : ""}${total === 1 ? "record" : "records"}` : data ? (search ? "Matching records" : "Records") : ""}
          {data && !fromSchema && fields.length > 0 && " · columns from the fields on this page"}
        </p>
        {!page.error && <RecordsExport collection={collection} search={search} schema={schema} primaryKey={primaryKey} />}
      </div>
      {page.error && <ErrorMessage error={page.error} wording={{ FORBIDDEN: "You may not read the records of this collection." }} />}
      {!data && !page.error && <Loading what="Loading records" />}
      {data && rows.length === 0 && <p className="empty">{search ? "No record matches this search." : "This collection has no records."}</p>}
      {data && rows.length > 0 && (
        <>
          <RecordsTable rows={rows} fields={shown} primaryKey={primaryKey} onOpen={setOpen} />
          {fields.length > shown.length && (
            <p className="muted small">
              Showing {shown.length} of {fields.length} fields; a record's history and the CSV export have all of them.
            </p>
          )}
        </>
      )}
      {(cursors.length > 0 || data?.hasNextPage) && (
        <CursorPager
          cursors={cursors}
          setCursors={setCursors}
          hasNextPage={!!data?.hasNextPage}
          endCursor={data?.endCursor}
          busy={page.fetching}
          labels={{ back: "← Previous", forward: "Next →" }}
          testId="records-page-number"
        />
      )}
      <RecordHistoryDialog collection={collection} record={open} onClose={() => setOpen(null)} />
    </section>
  );
}
