// Export of the current filter as CSV: GET /audit/export.csv on the gateway (same origin as the dashboard, so the page's
// `connect-src 'self'` allows it) with the session's bearer token, refreshed first when it is about to expire and once
// more if the gateway answers 401. The body is read whole and saved through a temporary object URL; an error answer
// (JSON `{ errors: [{ message, extensions: { code } }] }`, as on /graphql) becomes the same readable message as any API
// error, with its request id.
import { useState } from "react";
import { CombinedError } from "urql";
import { sessionStore } from "../api/session.js";
import { ErrorMessage } from "./error-message.js";

export const AUDIT_EXPORT_URL = new URL("/audit/export.csv", window.location.origin).toString();

/** The export's URL for a filter given as the export's query parameters. */
export function auditExportUrl(query: Record<string, string>): string {
  const url = new URL(AUDIT_EXPORT_URL);
  for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
  return url.toString();
}

async function send(url: string, token: string): Promise<Response> {
  return fetch(url, { headers: { Authorization: `Bearer ${token}`, Accept: "text/csv" }, cache: "no-store", credentials: "omit" });
}

/** Fetches the export; resolves with the CSV, or rejects with a CombinedError the dashboard can describe. */
export async function fetchAuditExport(url: string): Promise<Blob> {
  let token = await sessionStore.accessToken();
  if (!token) throw new CombinedError({ graphQLErrors: [{ message: "Not signed in", extensions: { code: "UNAUTHENTICATED" } }] });
  let res: Response;
  try {
    res = await send(url, token);
    // Expired or revoked between the check and the call: one refresh (shared with every other caller), one retry.
    if (res.status === 401 && (await sessionStore.refresh(token)) && sessionStore.current) {
      token = sessionStore.current.accessToken;
      res = await send(url, token);
    }
  } catch (err) {
    throw new CombinedError({ networkError: err instanceof Error ? err : new Error(String(err)) });
  }
  if (!res.ok) {
    let body: unknown = null;
    try {
      body = await res.json();
    } catch {
      /* not JSON: described by its status */
    }
    const errors = (body as { errors?: { message?: unknown; extensions?: Record<string, unknown> }[] } | null)?.errors;
    if (Array.isArray(errors) && errors.length) {
      throw new CombinedError({
        graphQLErrors: errors.map((e) => ({ message: typeof e.message === "string" ? e.message : `HTTP ${res.status}`, extensions: e.extensions ?? {} })),
        response: res,
      });
    }
    throw new CombinedError({ networkError: new Error(`HTTP ${res.status}`), response: res });
  }
  try {
    return await res.blob();
  } catch (err) {
    // Headers were sent, then the stream broke (the server cut it): what arrived is incomplete, so nothing is saved.
    throw new CombinedError({ networkError: new Error(`The export was cut off before it ended (${err instanceof Error ? err.message : String(err)})`) });
  }
}

/** Saves a blob as a file through a temporary link (revoked once the browser has taken it). */
export function saveBlob(blob: Blob, fileName: string): void {
  const href = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = href;
  a.download = fileName;
  a.rel = "noopener";
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
}

const sizeFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const formatSize = (bytes: number): string =>
  bytes < 1024 ? `${bytes} B` : bytes < 1024 * 1024 ? `${sizeFormat.format(bytes / 1024)} KB` : `${sizeFormat.format(bytes / 1024 / 1024)} MB`;

export function AuditExportButton({ query, disabled }: { query: Record<string, string>; disabled?: boolean }) {
  const [state, setState] = useState<{ busy: boolean; error?: unknown; saved?: string }>({ busy: false });
  const filtered = Object.keys(query).length > 0;
  const run = async () => {
    setState({ busy: true });
    try {
      const blob = await fetchAuditExport(auditExportUrl(query));
      const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-");
      const fileName = `audit-events-${stamp}.csv`;
      saveBlob(blob, fileName);
      setState({ busy: false, saved: `Saved ${fileName} (${formatSize(blob.size)}).` });
    } catch (error) {
      setState({ busy: false, error });
    }
  };
  return (
    <div className="audit-export">
      <button type="button" onClick={() => void run()} disabled={disabled || state.busy} title={filtered ? "Every event matching the filters, oldest first" : "Every event, oldest first"}>
        {state.busy ? "Exporting…" : filtered ? "Export filtered CSV" : "Export CSV"}
      </button>
      {state.saved && (
        <span className="muted small" role="status">
          {state.saved}
        </span>
      )}
      {state.error != null && (
        <div className="audit-export-error">
          <ErrorMessage error={state.error} wording={{ FORBIDDEN: "You don't have permission to export the audit log (it needs audit:read)." }}>
            <p className="muted small">The export was not saved.</p>
          </ErrorMessage>
        </div>
      )}
    </div>
  );
}
