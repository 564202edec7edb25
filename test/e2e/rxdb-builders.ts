// How an RxDB client replicates one Tributary collection with `replicateGraphQL` and hand-written query builders.
// The README ("Replicating with RxDB") shows this file verbatim; test/e2e/rxdb.e2e.test.ts runs it against the stack.
import type { RxCollection, RxReplicationWriteToMasterRow, WithDeleted } from "rxdb";
import { replicateGraphQL } from "rxdb/plugins/replication-graphql";

/** RxDB merges checkpoints with Object.assign, so Tributary's opaque string checkpoint travels inside an object. */
export type TributaryCheckpoint = { checkpoint: string };
type Page<T> = { documents: WithDeleted<T>[]; checkpoint: string | null };
export type RejectedRow = { index: number; id: string | null; code: string; message: string };
type Row = RxReplicationWriteToMasterRow<Record<string, unknown>>;
type PushAnswer = { conflicts: Record<string, unknown>[]; rejected: RejectedRow[] };

/** A push request's JSON body stays under this (the server reads up to 64 MiB): bigger batches go as several pushes. */
export const MAX_PUSH_REQUEST_BYTES = 4 * 1024 * 1024;

/** What the builders share per replication: the device's id, and whether the next pull starts over. */
interface ReplicationState {
  clientId: () => Promise<string>;
  pullFromStart: boolean;
}

export const pullQueryBuilder = (collection: string, state: ReplicationState) => async (last: TributaryCheckpoint | undefined, limit: number) => {
  // After CHECKPOINT_EXPIRED (tombstones purged, or the device was reset by an admin) pull again from the start.
  const checkpoint = state.pullFromStart ? null : (last?.checkpoint ?? null);
  state.pullFromStart = false;
  return {
    query: `query RxPull($collections: [String!]!, $checkpoint: String, $limit: Int!, $clientId: String) {
    pullChanges(collections: $collections, checkpoint: $checkpoint, limit: $limit, clientId: $clientId) { documents checkpoint }
  }`,
    operationName: "RxPull",
    variables: { collections: [collection], checkpoint, limit, clientId: await state.clientId() },
  };
};

// One mutationId per batch: RxDB retries a failed batch with the same rows array, which then carries the same id (the
// server answers the retry from its receipt, nothing applied twice); every new batch gets a new id.
const batchIds = new WeakMap<object, string>();

// Rows are RxDB's own { assumedMasterState, newDocumentState } (documents with `_deleted`): sent as they are.
// rejectedAsConflicts: a rejected row's server state comes back in `conflicts`, so RxDB replaces the refused version.
export const pushQueryBuilder = (collection: string, state: ReplicationState) => async (rows: RxReplicationWriteToMasterRow<unknown>[]) => {
  let mutationId = batchIds.get(rows);
  if (!mutationId) batchIds.set(rows, (mutationId = crypto.randomUUID()));
  return {
    query: `mutation RxPush($input: PushChangesInput!) {
    pushChanges(input: $input) { conflicts rejected { index id code message } }
  }`,
    operationName: "RxPush",
    variables: { input: { collection, rows, clientId: await state.clientId(), mutationId, rejectedAsConflicts: true } },
  };
};

// Built once per start; RxDB pulls from its own checkpoint whenever the socket (re)connects, and the stream's
// batches carry their own checkpoints.
export const streamQueryBuilder = (collection: string) => () => ({
  query: `subscription RxStream($collections: [String!]!) {
    recordsChanged(collections: $collections, checkpoint: null, fromNow: true) { documents checkpoint }
  }`,
  operationName: "RxStream",
  variables: { collections: [collection] },
});

/** pullChanges pages and recordsChanged batches -> RxDB's { documents, checkpoint }. */
export const pullResponseModifier = <T>(page: Page<T>) => ({
  documents: page.documents,
  checkpoint: page.checkpoint === null ? undefined : { checkpoint: page.checkpoint },
});

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
const bytesOf = (text: string) => new TextEncoder().encode(text).length;

/**
 * The replication's fetch. A push over MAX_PUSH_REQUEST_BYTES goes as several pushes of consecutive rows (part k has
 * mutationId `<batch's>.k`, so a retried batch replays its parts), answered to RxDB as one. A row too big to be sent
 * at all (HTTP 413, PAYLOAD_TOO_LARGE) is reported rejected and answered with its last server state. A pull refused
 * with CHECKPOINT_EXPIRED makes the next pull start over.
 */
export function tributaryFetch(inner: typeof fetch, state: ReplicationState, primaryKey: string): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const text = await request.clone().text();
    if (bytesOf(text) <= MAX_PUSH_REQUEST_BYTES || !text.includes('"RxPush"')) {
      const res = await inner(request);
      if (text.includes('"RxPull"')) {
        const body = (await res.clone().json().catch(() => null)) as { errors?: { extensions?: { code?: string } }[] } | null;
        if (body?.errors?.some((e) => e.extensions?.code === "CHECKPOINT_EXPIRED")) state.pullFromStart = true;
      }
      return res;
    }
    const sent = JSON.parse(text) as { variables: { input: { rows: Row[]; mutationId: string } } };
    const { rows, mutationId } = sent.variables.input;
    const parts: { start: number; rows: Row[]; bytes: number }[] = [];
    rows.forEach((row, index) => {
      const bytes = bytesOf(JSON.stringify(row)) + 1;
      const last = parts.at(-1);
      if (last && last.bytes + bytes <= MAX_PUSH_REQUEST_BYTES - 1024) {
        last.rows.push(row);
        last.bytes += bytes;
      } else parts.push({ start: index, rows: [row], bytes });
    });
    const answer: PushAnswer = { conflicts: [], rejected: [] };
    for (const [k, part] of parts.entries()) {
      const body = JSON.stringify({ ...sent, variables: { input: { ...sent.variables.input, rows: part.rows, mutationId: `${mutationId}.${k}` } } });
      const res = await inner(new Request(request, { body }));
      if (res.status === 413 && part.rows.length === 1) {
        const row = part.rows[0];
        const id = row.newDocumentState[primaryKey] as string;
        answer.rejected.push({ index: part.start, id, code: "PAYLOAD_TOO_LARGE", message: "the document is too large to be sent" });
        answer.conflicts.push(row.assumedMasterState ?? { [primaryKey]: id, _deleted: true });
        continue;
      }
      const result = (await res.json()) as { data?: { pushChanges?: PushAnswer } };
      // Anything else goes to RxDB as it came: it retries the batch (parts already applied answer from their receipts).
      if (!result.data?.pushChanges) return json(result, res.status);
      answer.conflicts.push(...result.data.pushChanges.conflicts);
      answer.rejected.push(...result.data.pushChanges.rejected.map((r) => ({ ...r, index: r.index + part.start })));
    }
    return json({ data: { pushChanges: answer } });
  };
}

export interface TributaryReplicationOptions<T> {
  collection: RxCollection<T>;
  /** The Tributary collection name (createCollection) */
  remoteCollection: string;
  /** e.g. https://api.example.com/graphql and wss://api.example.com/graphql */
  url: { http: string; ws: string };
  /** An access token (login) or API key */
  token: string;
  /**
   * Whose view this replication holds: the tenant and the user (or API key) id. Part of the replication identifier,
   * so another account on the same device never continues this one's checkpoint (row filters differ per user).
   */
  account: { tenant: string; user: string };
  /** This device's id (`syncClients`, `resetClient`); default: the RxDB storage's own token */
  clientId?: string;
  /** false: pull and push once, no live stream */
  live?: boolean;
  /** Rows the server refused (SCHEMA_VIOLATION, ROW_FILTER, ...): RxDB has replaced them with the server's state */
  onRejected?: (rows: RejectedRow[]) => void;
  fetch?: typeof fetch;
}

export function replicateTributary<T>(o: TributaryReplicationOptions<T>) {
  const state: ReplicationState = { clientId: async () => o.clientId ?? (await o.collection.database.storageToken), pullFromStart: false };
  return replicateGraphQL<T, TributaryCheckpoint>({
    collection: o.collection,
    replicationIdentifier: `tributary:${o.url.http}:${o.account.tenant}:${o.account.user}:${o.remoteCollection}`,
    url: o.url,
    headers: { Authorization: `Bearer ${o.token}` },
    live: o.live ?? true,
    fetch: tributaryFetch(o.fetch ?? fetch, state, o.collection.schema.primaryPath as string),
    pull: {
      // Always set: without it RxDB asks the builder for 20 rows but stops at any page below 100.
      batchSize: 100,
      queryBuilder: pullQueryBuilder(o.remoteCollection, state),
      streamQueryBuilder: streamQueryBuilder(o.remoteCollection),
      dataPath: "data.pullChanges",
      responseModifier: (data) => pullResponseModifier<T>(data),
      // The gateway reads the token from connectionParams.authorization.
      wsOptions: { connectionParams: { authorization: `Bearer ${o.token}` } },
    },
    push: {
      batchSize: 100,
      queryBuilder: pushQueryBuilder(o.remoteCollection, state),
      dataPath: "data.pushChanges",
      // RxDB expects the conflicting rows' server states: Tributary's `conflicts` (rejected rows' states included).
      responseModifier: (data: { conflicts: WithDeleted<T>[]; rejected: RejectedRow[] }) => {
        if (data.rejected.length) o.onRejected?.(data.rejected);
        return data.conflicts;
      },
    },
  });
}
