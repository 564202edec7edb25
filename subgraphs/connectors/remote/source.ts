// The one interface sync jobs see of a remote system. Odoo and Moodle each implement it (`odoo/odoo.source.ts`,
// `moodle/moodle.source.ts`) over their typed clients; one contract suite (test/contracts/connector-source.contract.ts)
// runs over both against the simulators. Jobs know nothing of domains, PHP arrays or many2one pairs beyond this.

/** A JSON-serialisable position in a model's change stream, opaque to the job (stored between batches, resumed from). */
export type SourceCursor = Record<string, string | number | boolean | null>;

/** One remote record: its id as a string and its fields as the remote returned them (Odoo `false`, many2one pairs...). */
export interface RemoteRecord {
  remoteId: string;
  fields: Record<string, unknown>;
  /**
   * The record's change stamp where the remote has one (Odoo `write_date`), stored with its link: reconciliation
   * compares it with the remote's current stamp to find records incremental runs missed.
   */
  version?: string;
}

/** One page of reconciliation summaries: live records' ids and change stamps, by ascending id. */
export interface VersionPage {
  entries: { remoteId: string; version: string }[];
  /** The page's last id (the next page starts after it); null when empty. */
  last: string | null;
  /** Nothing after this page: the page covers every id above `after`. */
  done: boolean;
}

export interface SourcePage {
  records: RemoteRecord[];
  /** Where the next page starts (pass it back as `cursor`). Persisted by the job after the page is stored. */
  cursor: SourceCursor;
  /** No more records after this page (for now). */
  done: boolean;
}

export interface ReadPageOptions {
  /** Records per page (the remote's page size). */
  pageSize: number;
  /**
   * Full run: every live record, ordered by id (Odoo `id > last`), for reconciliation. Incremental runs read what
   * changed since the cursor (Odoo `(write_date, id)` with an overlap window; Moodle courses by `timemodified`;
   * Moodle users and enrolments have no change tracking: every record, compared by content downstream).
   */
  full: boolean;
  /** Incremental runs with no cursor yet start here (null: from the beginning). */
  since?: Date | null;
  /** Fields to read (the mapping's remote fields); undefined: the model's defaults. */
  fields?: string[];
  signal?: AbortSignal;
}

export interface ConnectionInfo {
  /** The remote's version string (`18.0`, `4.5.5+ (Build: ...)`). */
  version: string;
  /** Round-trip time of the check (ms). */
  latencyMs: number;
  /** Who the credentials authenticate as (login, username). */
  remoteUser: string;
}

export interface ConnectorSource {
  readonly kind: "ODOO" | "MOODLE";
  /** Authenticates and reads the version. Throws RemoteError (AUTH on bad credentials, UNAVAILABLE, TIMEOUT). */
  testConnection(signal?: AbortSignal): Promise<ConnectionInfo>;
  /** The remote models (Odoo) or record kinds (Moodle: `course`, `user`, `enrolment`) this source can read. */
  models(): readonly string[];
  /** One page of a model, from `cursor` (null: the start of a full or incremental run). */
  readPage(model: string, cursor: SourceCursor | null, options: ReadPageOptions): Promise<SourcePage>;
  /**
   * Every live id of a model (for the reconciliation of full runs: ids the collection has and the remote lacks were
   * hard-deleted or archived there). Yields in pages so 100,000 ids never sit in one response.
   */
  liveIds(model: string, options: { pageSize: number; signal?: AbortSignal }): AsyncIterable<string[]>;
  /**
   * Reconciliation (optional; Odoo): `(id, change stamp)` of live records with ids above `after` (numeric remote ids;
   * null: from the start), in ascending id order — a cheap summary (two columns) compared with what is stored.
   */
  versions?(model: string, after: string | null, options: { pageSize: number; signal?: AbortSignal }): Promise<VersionPage>;
  /** Reconciliation: the records with these ids, archived ones included (missing ids were deleted remotely). */
  readByIds?(model: string, remoteIds: string[], options: { fields?: string[]; signal?: AbortSignal }): Promise<RemoteRecord[]>;
  /** Outbound: creates a record and returns its remote id. */
  create(model: string, fields: Record<string, unknown>, signal?: AbortSignal): Promise<string>;
  /** Outbound: updates a record (NOT_FOUND if it no longer exists). */
  update(model: string, remoteId: string, fields: Record<string, unknown>, signal?: AbortSignal): Promise<void>;
  /** Outbound: deletes (Odoo unlink, Moodle delete) a record; a record already gone is not an error. */
  remove(model: string, remoteId: string, signal?: AbortSignal): Promise<void>;
  /**
   * Outbound, after the remote refused a write: the records' current state, shaped as `readPage` gives them (archived
   * ones included, with `active: false`); ids the remote has no record of are left out.
   */
  read(model: string, remoteIds: string[], options: { fields?: string[]; signal?: AbortSignal }): Promise<RemoteRecord[]>;
}
