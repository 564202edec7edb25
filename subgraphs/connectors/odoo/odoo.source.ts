// Odoo as a ConnectorSource: pages of a model for full runs (by id) and incremental runs (by write_date), the live id
// set for reconciliation, and outbound create/write/unlink.
//
// Incremental cursor. Odoo's write_date is the transaction's start time, stored with microseconds but returned (and
// only comparable) at whole seconds; every record of one call shares it; a long transaction can commit after newer
// ones. A `(write_date, id) > (last)` cursor therefore loops or skips. This one works by whole seconds:
//   - scan: `write_date >= F` ordered by `write_date, id`. A short page is everything there is: done. A full page
//     keeps only its complete seconds (those before the page's last second L) and continues with `write_date >= L`;
//   - tail: when one second holds a full page or more, that second is paged by id —
//     `write_date >= S and write_date < S+1s and id > lastId` ordered by id — then the scan resumes at S+1s
//     (within a second, write_date order is not id order, so the scan's order cannot be resumed inside a second).
//   - overlap: a run begins by reading the newest write_date visible at that moment (`mark`, one `limit 1` query).
//     When the run is done, the next run starts `overlapSeconds` before `mark` (never before this run's start). Any
//     transaction that started before `mark - overlap` had committed when this run began (if no transaction lasts
//     longer than the overlap, the connector's `overlapSeconds`: Odoo's limit_time_real bounds HTTP requests to 120 s
//     by default, but not shell scripts, imports or cron jobs — `versions` lets reconciliation find what a longer
//     transaction committed behind the window), so this run saw it; any later
//     one is re-read by the next run, even if it commits while this run is under way. (Measuring the overlap from
//     the newest record the run *returned* instead would miss a late commit landing mid-run behind the scan when the
//     run then goes on to newer records: the randomized test in test/contracts/odoo-source.contract.test.ts finds it.)
//     Records of the window are returned again: a record may be returned more than once, never skipped (the job
//     stores by remote id, so a repeat is an unchanged upsert).
// Both full and incremental runs read with `active_test: false` and always return `active` (when the model has it) and
// `write_date`, so the job sees archives as changes and can treat archived records as removed.
import type { ConnectionInfo, ConnectorSource, ReadPageOptions, RemoteRecord, SourceCursor, SourcePage, VersionPage } from "../remote/source.js";
import { RemoteError, RemoteErrorKind } from "../remote/remote.errors.js";
import type { RemoteCallOptions } from "../remote/remote-call.js";
import { OdooClient, type Domain, type OdooCredentials, type OdooFieldInfo, type OdooRecord } from "./odoo.client.js";

/** Models a connector reads unless configured otherwise. */
export const ODOO_DEFAULT_MODELS = ["res.partner", "product.product", "sale.order", "res.country"] as const;

/** Fields read per model when the mapping names none (all fields would be slow: computed fields, x2many...). */
export const ODOO_DEFAULT_FIELDS: Record<string, string[]> = {
  "res.partner": ["name", "email", "phone", "is_company", "parent_id", "country_id", "city", "street", "zip", "vat", "ref", "active", "write_date", "create_date"],
  "product.product": ["name", "default_code", "barcode", "list_price", "standard_price", "type", "active", "write_date", "create_date"],
  "sale.order": ["name", "partner_id", "state", "date_order", "amount_total", "currency_id", "user_id", "write_date", "create_date"],
  "res.country": ["name", "code", "phone_code", "write_date"],
};

/** Default re-read window of incremental runs (s): Odoo's default `limit_time_real` bounds a request's transaction to 120 s. */
export const ODOO_DEFAULT_OVERLAP_SECONDS = 120;

export interface OdooSourceOptions {
  client: OdooClient;
  models?: readonly string[];
  /** Seconds before the newest write_date seen that the next incremental run re-reads (late commits). */
  overlapSeconds?: number;
  /** Fields per model when `readPage` gets none. */
  defaultFields?: Record<string, string[]>;
}

/** Cursor of a full run. */
type FullCursor = { v: 1; mode: "full"; afterId: number };
/**
 * Cursor of an incremental run: scanning from `from` (tail null) or paging second `tail` by id after `afterId`;
 * `start` is where the run began; `mark` the newest write_date visible when it began (`probed` once read).
 */
type IncCursor = {
  v: 1;
  mode: "inc";
  start: string | null;
  from: string | null;
  tail: string | null;
  afterId: number;
  probed: boolean;
  mark: string | null;
};

const SECOND = 1000;

export class OdooSource implements ConnectorSource {
  readonly kind = "ODOO" as const;
  readonly client: OdooClient;
  private readonly modelList: readonly string[];
  private readonly overlapSeconds: number;
  private readonly defaultFields: Record<string, string[]>;
  private readonly fieldInfo = new Map<string, Promise<Record<string, OdooFieldInfo>>>();

  constructor(options: OdooSourceOptions) {
    this.client = options.client;
    this.modelList = options.models ?? ODOO_DEFAULT_MODELS;
    this.overlapSeconds = options.overlapSeconds ?? ODOO_DEFAULT_OVERLAP_SECONDS;
    this.defaultFields = { ...ODOO_DEFAULT_FIELDS, ...options.defaultFields };
  }

  async testConnection(signal?: AbortSignal): Promise<ConnectionInfo> {
    const started = performance.now();
    const version = await this.client.version({ signal });
    await this.client.authenticate({ signal });
    return { version: version.server_version, latencyMs: Math.round(performance.now() - started), remoteUser: this.client.login };
  }

  models(): readonly string[] {
    return this.modelList;
  }

  async readPage(model: string, cursor: SourceCursor | null, options: ReadPageOptions): Promise<SourcePage> {
    const pageSize = Math.max(1, Math.floor(options.pageSize));
    const fields = await this.fieldsFor(model, options.fields, options.signal);
    const read = (domain: Domain, order: string) =>
      this.client.searchRead(model, domain, { fields, limit: pageSize, order, context: { active_test: false }, signal: options.signal });

    if (options.full) {
      const state = parseCursor(cursor, "full") ?? { v: 1, mode: "full", afterId: 0 };
      const rows = await read([["id", ">", state.afterId]], "id asc");
      const last = rows[rows.length - 1];
      return {
        records: rows.map(toRemote),
        cursor: { ...state, afterId: last ? last.id : state.afterId },
        done: rows.length < pageSize,
      };
    }

    const since = options.since ? formatSecond(options.since.getTime()) : null;
    let state: IncCursor = parseCursor(cursor, "inc") ?? { v: 1, mode: "inc", start: since, from: since, tail: null, afterId: 0, probed: false, mark: null };
    if (!state.probed) {
      // A new run: the newest write_date visible now bounds what may still commit behind it (see the overlap above).
      const [newest] = await this.client.searchRead(model, [], {
        fields: ["write_date"],
        order: "write_date desc, id desc",
        limit: 1,
        context: { active_test: false },
        signal: options.signal,
      });
      state = { ...state, probed: true, mark: secondOf(newest) };
    }

    if (state.tail !== null) return this.readTail(state.tail, state.afterId, state, read, pageSize);

    const rows = await read(state.from ? [["write_date", ">=", state.from]] : [], "write_date asc, id asc");
    if (rows.length < pageSize) {
      // Done: the next run starts `overlapSeconds` before this run's mark, never before this run's start.
      const overlapStart = state.mark ? formatSecond(parseSecond(state.mark) - this.overlapSeconds * SECOND) : null;
      const next = maxSecond(state.start, overlapStart);
      return {
        records: rows.map(toRemote),
        cursor: { v: 1, mode: "inc", start: next, from: next, tail: null, afterId: 0, probed: false, mark: null },
        done: true,
      };
    }
    const lastSecond = secondOf(rows[rows.length - 1])!;
    if (secondOf(rows[0]) === lastSecond) {
      // One second holds a whole page or more: page it by id.
      return this.readTail(lastSecond, 0, state, read, pageSize);
    }
    const complete = rows.filter((r) => (secondOf(r) ?? "") < lastSecond);
    return {
      records: complete.map(toRemote),
      cursor: { ...state, from: lastSecond, tail: null, afterId: 0 },
      done: false,
    };
  }

  /** Pages second `second` by id after `afterId`; when it runs short the scan resumes at the next second. */
  private async readTail(
    second: string,
    afterId: number,
    state: IncCursor,
    read: (domain: Domain, order: string) => Promise<OdooRecord[]>,
    pageSize: number,
  ): Promise<SourcePage> {
    const next = formatSecond(parseSecond(second) + SECOND);
    const rows = await read(
      [
        ["write_date", ">=", second],
        ["write_date", "<", next],
        ["id", ">", afterId],
      ],
      "id asc",
    );
    if (rows.length === pageSize) {
      return { records: rows.map(toRemote), cursor: { ...state, tail: second, afterId: rows[rows.length - 1].id }, done: false };
    }
    return { records: rows.map(toRemote), cursor: { ...state, from: next, tail: null, afterId: 0 }, done: false };
  }

  async versions(model: string, after: string | null, options: { pageSize: number; signal?: AbortSignal }): Promise<VersionPage> {
    const pageSize = Math.max(1, Math.floor(options.pageSize));
    const afterId = after === null ? 0 : toId(after);
    // Live records only (Odoo's default active_test): archived ones count as gone, as in the collection.
    const rows = await this.client.searchRead(model, [["id", ">", afterId]], { fields: ["write_date"], order: "id asc", limit: pageSize, signal: options.signal });
    const entries = rows.map((r) => ({ remoteId: String(r.id), version: secondOf(r) ?? "" }));
    return { entries, last: entries.length ? entries[entries.length - 1]!.remoteId : null, done: rows.length < pageSize };
  }

  async readByIds(model: string, remoteIds: string[], options: { fields?: string[]; signal?: AbortSignal }): Promise<RemoteRecord[]> {
    if (!remoteIds.length) return [];
    const fields = await this.fieldsFor(model, options.fields, options.signal);
    const rows = await this.client.searchRead(model, [["id", "in", remoteIds.map(toId)]], { fields, order: "id asc", context: { active_test: false }, signal: options.signal });
    return rows.map(toRemote);
  }

  async *liveIds(model: string, options: { pageSize: number; signal?: AbortSignal }): AsyncIterable<string[]> {
    const pageSize = Math.max(1, Math.floor(options.pageSize));
    let afterId = 0;
    for (;;) {
      const ids = await this.client.search(model, [["id", ">", afterId]], { order: "id asc", limit: pageSize, signal: options.signal });
      if (ids.length) yield ids.map(String);
      if (ids.length < pageSize) return;
      afterId = ids[ids.length - 1];
    }
  }

  async create(model: string, fields: Record<string, unknown>, signal?: AbortSignal): Promise<string> {
    return String(await this.client.create(model, fields, { signal }));
  }

  async update(model: string, remoteId: string, fields: Record<string, unknown>, signal?: AbortSignal): Promise<void> {
    await this.client.write(model, [toId(remoteId)], fields, { signal });
  }

  async remove(model: string, remoteId: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.client.unlink(model, [toId(remoteId)], { signal });
    } catch (err) {
      // Already gone (deleted there, or an earlier attempt whose answer was lost): the goal is reached.
      if (err instanceof RemoteError && err.detail.remoteCode === "odoo.exceptions.MissingError") return;
      throw err;
    }
  }

  async read(model: string, remoteIds: string[], options: { fields?: string[]; signal?: AbortSignal }): Promise<RemoteRecord[]> {
    if (!remoteIds.length) return [];
    const fields = await this.fieldsFor(model, options.fields, options.signal);
    const rows = await this.client.searchRead(model, [["id", "in", remoteIds.map(toId)]], { fields, context: { active_test: false }, signal: options.signal });
    return rows.map(toRemote);
  }

  /** The fields to read: the mapping's (or the model's defaults) plus write_date and active, which cursors need. */
  private async fieldsFor(model: string, wanted: string[] | undefined, signal?: AbortSignal): Promise<string[]> {
    let info = this.fieldInfo.get(model);
    if (!info) {
      info = this.client.fieldsGet(model, { attributes: ["type", "store"], signal });
      this.fieldInfo.set(model, info);
      info.catch(() => this.fieldInfo.delete(model));
    }
    const fields = await info;
    const base =
      wanted ??
      this.defaultFields[model]?.filter((f) => f in fields) ??
      Object.entries(fields)
        .filter(([, f]) => f.store !== false && f.type !== "binary" && f.type !== "one2many")
        .map(([name]) => name);
    const out = new Set(base.filter((f) => f !== "id"));
    out.add("write_date");
    if ("active" in fields) out.add("active");
    return [...out];
  }
}

/** Builds an OdooSource with its own client from connector settings. */
export function createOdooSource(
  settings: OdooCredentials & RemoteCallOptions & { models?: readonly string[]; overlapSeconds?: number; defaultFields?: Record<string, string[]> },
): OdooSource {
  const { models, overlapSeconds, defaultFields, ...clientOptions } = settings;
  return new OdooSource({ client: new OdooClient(clientOptions), models, overlapSeconds, defaultFields });
}

function toRemote(row: OdooRecord): RemoteRecord {
  const { id, ...fields } = row;
  const version = secondOf(row);
  return version === null ? { remoteId: String(id), fields } : { remoteId: String(id), fields, version };
}

function toId(remoteId: string): number {
  if (!/^\d+$/.test(remoteId)) throw new RemoteError(RemoteErrorKind.VALIDATION, `Not an Odoo record id: ${JSON.stringify(remoteId)}`);
  return Number(remoteId);
}

function parseCursor(cursor: SourceCursor | null, mode: "full"): FullCursor | null;
function parseCursor(cursor: SourceCursor | null, mode: "inc"): IncCursor | null;
function parseCursor(cursor: SourceCursor | null, mode: "full" | "inc"): FullCursor | IncCursor | null {
  if (cursor === null || cursor === undefined) return null;
  const c = cursor as Record<string, unknown>;
  const second = (v: unknown) => v === null || (typeof v === "string" && /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(v));
  const ok =
    c.v === 1 &&
    c.mode === mode &&
    typeof c.afterId === "number" &&
    Number.isInteger(c.afterId) &&
    (mode === "full" || (second(c.start) && second(c.from) && second(c.tail) && second(c.mark) && typeof c.probed === "boolean"));
  if (!ok) {
    throw new RemoteError(RemoteErrorKind.VALIDATION, `Not an Odoo ${mode === "full" ? "full-run" : "incremental"} cursor: ${JSON.stringify(cursor)}`);
  }
  return c as unknown as FullCursor | IncCursor;
}

/** The second of a record's write_date as returned (`YYYY-MM-DD HH:MM:SS`), or null. */
function secondOf(row: OdooRecord | undefined): string | null {
  const v = row?.write_date;
  return typeof v === "string" ? v.slice(0, 19) : null;
}

function parseSecond(text: string): number {
  return Date.parse(`${text.replace(" ", "T")}Z`);
}

function formatSecond(ms: number): string {
  const iso = new Date(Math.floor(ms / SECOND) * SECOND).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

function maxSecond(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return a > b ? a : b;
}
