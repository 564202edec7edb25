// The connectors service's client of the sync service's internal API (subgraphs/sync/ingest/internal-routes.ts):
// open a connector run in the sync log, report progress, write records, and read a collection's changes (outbound).
// Service secret on every call; transient failures retried with backoff (the calls are idempotent: a repeated page
// writes nothing twice, counts are absolute).
import pRetry, { AbortError } from "p-retry";
import { internalHeaders } from "../../../kernel/internal-auth.js";

export interface RunView {
  id: string;
  status: string;
  processed: number;
  created: number;
  updated: number;
  deleted: number;
  failed: number;
  errorCount: number;
}

export interface IngestResult {
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
  failed: { id: string; code: string; message: string }[];
}

export interface RunError {
  recordId?: string | null;
  collection?: string | null;
  code: string;
  message: string;
}

/** One changed record of a collection, as outbound write-back reads it (sync's connector-changes.ts). */
export interface RecordChange {
  id: string;
  /** Its position in the tenant's sequence (opaque; pass the page's `next` back as `after`). */
  seq: string;
  data: Record<string, unknown>;
  deleted: boolean;
  /** The connector whose run wrote this version (null: a client push or a conflict resolution). */
  originConnectorId: string | null;
}

export interface ChangesPage {
  changes: RecordChange[];
  next: string | null;
  hasMore: boolean;
}

/** A refusal of the sync service that retrying cannot fix (400, 404, 409). */
export class SyncApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Where sync is: a URL (its GraphQL URL or base) or a getter (the one-process stack learns it after start). */
export type SyncUrl = string | (() => string | undefined);

export class SyncApi {
  constructor(
    private readonly syncUrl: SyncUrl,
    private readonly secret: string,
  ) {}

  startRun(body: {
    id: string;
    tenantId: string;
    connectorId: string;
    actorType: "USER" | "API_KEY" | "CONNECTOR";
    actorId: string | null;
    collections: string[];
    parameters: Record<string, unknown>;
  }): Promise<RunView> {
    return this.post<RunView>("", body);
  }

  progress(
    runId: string,
    body: {
      tenantId: string;
      status?: string;
      processed?: number;
      created?: number;
      updated?: number;
      deleted?: number;
      failed?: number;
      currentModel?: string | null;
      errors?: RunError[];
      error?: string | null;
    },
  ): Promise<RunView> {
    return this.post<RunView>(`/${runId}/progress`, body);
  }

  ingest(
    runId: string,
    body: { tenantId: string; collection: string; upserts: { id: string; data: Record<string, unknown>; isNew?: boolean }[]; deletes: string[]; dryRun?: boolean; force?: boolean },
  ): Promise<IngestResult> {
    return this.post<IngestResult>(`/${runId}/records`, body);
  }

  /** Outbound: the collection's records changed after `after` (a page's `next`), latest state each, in seq order. */
  changes(body: { tenantId: string; collection: string; after: string | null; limit: number }): Promise<ChangesPage> {
    return this.post<ChangesPage>("/changes", body);
  }

  private post<T>(path: string, body: unknown): Promise<T> {
    return pRetry(
      async () => {
        const base = typeof this.syncUrl === "string" ? this.syncUrl : this.syncUrl();
        if (!base) throw new Error("sync service not started yet");
        const res = await fetch(new URL(`/internal/connector-runs${path}`, base), {
          method: "POST",
          headers: { "content-type": "application/json", ...internalHeaders(this.secret) },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(60_000),
        });
        const answer = (await res.json().catch(() => null)) as { code?: string; error?: string } | null;
        if (res.ok) return answer as T;
        if (res.status >= 500) throw new Error(`sync answered ${res.status}`);
        throw new AbortError(new SyncApiError(res.status, answer?.code ?? "UPSTREAM_ERROR", answer?.error ?? `sync answered ${res.status}`));
      },
      { retries: 5, minTimeout: 200, maxTimeout: 5_000, factor: 2, randomize: true },
    );
  }
}
