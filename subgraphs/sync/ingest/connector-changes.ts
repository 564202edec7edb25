// What the connectors service writes back to remote systems (issue 5, outbound): a collection's records changed after
// a position in the tenant's sequence, in seq order, each in its latest state (a record changed twice appears once,
// at its newest seq), with the connector of the run that last wrote it — so a connector can skip its own inbound
// writes instead of echoing them back. The position is the seq as a decimal string, opaque to the caller; reading
// in seq order never skips a change committed out of order (the tenant's sequence lock is held to commit).
import type { MikroORM } from "@mikro-orm/postgresql";
import { forkForTenant } from "../../../kernel/tenancy.js";
import { boundSql } from "../../../kernel/db.js";
import { parseJson, type Doc } from "../records/record-writer.js";
import type { RecordsService } from "../records/records.service.js";
import { IngestError } from "./connector-ingest.js";

/** Changes per call. */
export const MAX_CHANGES = 1_000;

export interface ChangesInput {
  tenantId: string;
  collection: string;
  /** The `next` of the previous call (null: from the start of the collection). */
  after: string | null;
  limit: number;
}

export interface ConnectorChange {
  /** The record id. */
  id: string;
  /** Where this change sits in the tenant's sequence (pass the last one back as `after`). */
  seq: string;
  /** The document as stored (for a deleted record: its last body). */
  data: Doc;
  deleted: boolean;
  /** The connector whose run wrote this version; null for client pushes and conflict resolutions. */
  originConnectorId: string | null;
}

export interface ChangesPage {
  changes: ConnectorChange[];
  /** Where the next call starts: the last change's seq, or `after` when there was none. */
  next: string | null;
  /** A full page: more may follow at once. */
  hasMore: boolean;
}

const SEQ = /^(0|[1-9]\d{0,18})$/;

export async function connectorChanges(orm: MikroORM, records: RecordsService, input: ChangesInput): Promise<ChangesPage> {
  if (input.after !== null && !SEQ.test(input.after)) throw new IngestError("BAD_USER_INPUT", "after is not a position returned by this API");
  const em = forkForTenant(orm, input.tenantId);
  await records.collection(em, input.collection).catch(() => {
    throw new IngestError("NOT_FOUND", `collection ${input.collection} not found`);
  });
  const rows = await boundSql(em)(
    `select r.id, r.seq::text as seq, r.data, r.deleted, s.connector_id::text as connector_id
       from sync.record r
       left join sync.sync_run s on s.id = r.origin_run_id
      where r.tenant_id = ? and r.collection = ? and r.seq > ?::bigint
      order by r.seq
      limit ?`,
    [input.tenantId, input.collection, input.after ?? "0", input.limit],
  );
  const changes: ConnectorChange[] = rows.map((r) => ({
    id: r.id as string,
    seq: String(r.seq),
    data: parseJson(r.data),
    deleted: Boolean(r.deleted),
    originConnectorId: (r.connector_id as string | null) ?? null,
  }));
  return { changes, next: changes.length ? changes[changes.length - 1]!.seq : input.after, hasMore: changes.length === input.limit };
}
