// How an RxDB client replicates one Tributary collection with `replicateGraphQL` and hand-written query builders.
// The README ("Replicating with RxDB") shows this file verbatim; test/e2e/rxdb.e2e.test.ts runs it against the stack.
import type { RxCollection, RxReplicationWriteToMasterRow, WithDeleted } from "rxdb";
import { replicateGraphQL } from "rxdb/plugins/replication-graphql";

/** RxDB merges checkpoints with Object.assign, so Tributary's opaque string checkpoint travels inside an object. */
export type TributaryCheckpoint = { checkpoint: string };
type Page<T> = { documents: WithDeleted<T>[]; checkpoint: string | null };
export type RejectedRow = { index: number; id: string | null; code: string; message: string };

export const pullQueryBuilder = (collection: string) => (last: TributaryCheckpoint | undefined, limit: number) => ({
  query: `query RxPull($collections: [String!]!, $checkpoint: String, $limit: Int!) {
    pullChanges(collections: $collections, checkpoint: $checkpoint, limit: $limit) { documents checkpoint }
  }`,
  operationName: "RxPull",
  variables: { collections: [collection], checkpoint: last?.checkpoint ?? null, limit },
});

// Rows are RxDB's own { assumedMasterState, newDocumentState } (documents with `_deleted`): sent as they are.
export const pushQueryBuilder = (collection: string) => (rows: RxReplicationWriteToMasterRow<unknown>[]) => ({
  query: `mutation RxPush($input: PushChangesInput!) {
    pushChanges(input: $input) { conflicts rejected { index id code message } }
  }`,
  operationName: "RxPush",
  variables: { input: { collection, rows } },
});

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

export interface TributaryReplicationOptions<T> {
  collection: RxCollection<T>;
  /** The Tributary collection name (createCollection) */
  remoteCollection: string;
  /** e.g. https://api.example.com/graphql and wss://api.example.com/graphql */
  url: { http: string; ws: string };
  /** An access token (login) or API key */
  token: string;
  /** false: pull and push once, no live stream */
  live?: boolean;
  /** Rows the server refused (SCHEMA_VIOLATION, ROW_FILTER, ...); RxDB itself has no such outcome */
  onRejected?: (rows: RejectedRow[]) => void;
  fetch?: typeof fetch;
}

export function replicateTributary<T>(o: TributaryReplicationOptions<T>) {
  return replicateGraphQL<T, TributaryCheckpoint>({
    collection: o.collection,
    replicationIdentifier: `tributary:${o.url.http}:${o.remoteCollection}`,
    url: o.url,
    headers: { Authorization: `Bearer ${o.token}` },
    live: o.live ?? true,
    fetch: o.fetch,
    pull: {
      // Always set: without it RxDB asks the builder for 20 rows but stops at any page below 100.
      batchSize: 100,
      queryBuilder: pullQueryBuilder(o.remoteCollection),
      streamQueryBuilder: streamQueryBuilder(o.remoteCollection),
      dataPath: "data.pullChanges",
      responseModifier: (data) => pullResponseModifier<T>(data),
      // The gateway reads the token from connectionParams.authorization.
      wsOptions: { connectionParams: { authorization: `Bearer ${o.token}` } },
    },
    push: {
      batchSize: 100,
      queryBuilder: pushQueryBuilder(o.remoteCollection),
      dataPath: "data.pushChanges",
      // RxDB expects the conflicting rows' server states: Tributary's `conflicts`.
      responseModifier: (data: { conflicts: WithDeleted<T>[]; rejected: RejectedRow[] }) => {
        if (data.rejected.length) o.onRejected?.(data.rejected);
        return data.conflicts;
      },
    },
  });
}
