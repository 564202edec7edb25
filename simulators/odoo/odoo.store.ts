// The simulator's database: one table per model, kept in memory with the indexes a sync client leans on (rows in id
// order and in (write_date, id) order, reverse indexes of many2one fields built on first use), so a page of
// `search_read` on 100,000 rows costs a binary search plus the page, not a sort of every row.
//
// write_date semantics are Odoo's: a call's transaction start time (epoch microseconds) is written on every record it
// creates or writes; reads return it truncated to seconds. Callers may pass an earlier `at` to play a transaction that
// started before others but commits after them (a late commit).
import { compileDomain, formatDatetime, parseTimestamp, type DomainHost } from "./odoo.domain.js";
import { OdooErrors, OdooException, pyRepr } from "./odoo.errors.js";
import { createModelRegistry, GROUP, ondeleteOf, type FieldDef, type ModelDef, type ModelHost, type Row } from "./odoo.models.js";
import { seedBase, seedOrders, seedPartners, seedProducts, type SeedOptions } from "./odoo.seed.js";

export type { Row } from "./odoo.models.js";

/** When and as whom a change happens. `now` is the transaction start (epoch microseconds). */
export interface CallEnv {
  uid: number;
  now: number;
  context?: Record<string, unknown>;
}

export interface SearchOptions {
  offset?: number;
  limit?: number | null;
  order?: string | null;
  /** Hide archived records (Odoo's `active_test`, default true). */
  activeTest?: boolean;
}

/** Options of the programmatic API (tests, control endpoints): run as the superuser unless `uid` says otherwise. */
export interface ChangeOptions {
  uid?: number;
  /** The transaction's start time (Date or epoch microseconds); default: now. Earlier values play late commits. */
  at?: Date | number;
}

interface OrderKey {
  field: string;
  desc: boolean;
  nullsFirst: boolean;
}

/** Columns of a model's rows: id, stored fields, then the log-access columns. */
function columnsOf(def: ModelDef): string[] {
  const stored = Object.entries(def.fields)
    .filter(([name, field]) => !MAGIC.has(name) && !field.compute && field.type !== "one2many")
    .map(([name]) => name);
  return ["id", ...stored, "create_date", "create_uid", "write_date", "write_uid"];
}

/**
 * A row constructor per model: one object literal with every column in a fixed order, so all rows of a model share
 * one hidden class (rows built by keyed assignment or spreads fall into slow dictionary mode past a dozen fields).
 * Column names come from the model definitions, never from input.
 */
function rowFactory(def: ModelDef): (values: Record<string, unknown>, defaults?: Record<string, unknown>) => Row {
  const body = columnsOf(def)
    .map((c) => {
      const k = JSON.stringify(c);
      return `${k}: v[${k}] !== undefined ? v[${k}] : d !== undefined && d[${k}] !== undefined ? d[${k}] : false`;
    })
    .join(",\n");
  return new Function("v", "d", `return {\n${body}\n};`) as (values: Record<string, unknown>, defaults?: Record<string, unknown>) => Row;
}

class Table {
  readonly byId = new Map<number, Row>();
  readonly make: (values: Record<string, unknown>, defaults?: Record<string, unknown>) => Row;
  /** Live rows by ascending id. */
  idOrder: Row[] = [];
  /** Live rows by ascending (write_date, id). */
  wdOrder: Row[] = [];
  nextId = 1;
  sequence = 0;
  /** many2one field -> target id -> ids pointing at it (built on first use, then maintained). */
  readonly reverse = new Map<string, Map<number, Set<number>>>();
  constructor(readonly def: ModelDef) {
    this.make = rowFactory(def);
  }
}

const SUPERUSER = 1;
const MAGIC = new Set(["id", "create_date", "create_uid", "write_date", "write_uid", "display_name"]);

const wdCompare = (a: Row, b: Row) => (a.write_date as number) - (b.write_date as number) || a.id - b.id;

/** First index in `rows` (sorted by `cmp`) whose element is not before `probe`. */
function lowerBound(rows: Row[], before: (row: Row) => boolean): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(rows[mid])) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class OdooStore implements DomainHost, ModelHost {
  private readonly models = createModelRegistry();
  private tables = new Map<string, Table>();
  /** Per-user credentials: password and API keys (40 hex). */
  readonly credentials = new Map<number, { password: string | false; apiKeys: string[] }>();

  constructor(
    readonly clock: () => number,
    private readonly base: { adminPassword: string; apiKey: string; baseUrl: () => string },
  ) {
    this.reset();
  }

  /** Back to a fresh database (base data only). */
  reset(): void {
    this.tables = new Map([...this.models.values()].map((def) => [def.name, new Table(def)]));
    this.credentials.clear();
    seedBase(this, { now: this.clock(), adminPassword: this.base.adminPassword, apiKey: this.base.apiKey, baseUrl: this.base.baseUrl() });
  }

  /** Deterministic bulk data (partners, products, orders) appended to the current data. */
  seed(options: SeedOptions): { partners: number; products: number; orders: number } {
    const now = this.clock();
    const partners = options.partners ? seedPartners(this, options, now) : 0;
    const products = options.products ? seedProducts(this, options, now) : 0;
    const orders = options.orders ? seedOrders(this, options, now) : 0;
    return { partners, products, orders };
  }

  // ---- model access -------------------------------------------------------------------------------------------

  hasModel(name: string): boolean {
    return this.models.has(name);
  }

  modelNames(): string[] {
    return [...this.models.keys()];
  }

  modelDef(name: string): ModelDef {
    const def = this.models.get(name);
    if (!def) throw OdooErrors.unknownModel(name);
    return def;
  }

  private table(name: string): Table {
    const table = this.tables.get(name);
    if (!table) throw OdooErrors.unknownModel(name);
    return table;
  }

  row(model: string, id: number): Row | undefined {
    return this.tables.get(model)?.byId.get(id);
  }

  rows(model: string): Iterable<Row> {
    return this.table(model).idOrder;
  }

  count(model: string, options: { active?: boolean } = {}): number {
    const table = this.table(model);
    if (options.active === undefined || !table.def.fields.active) return table.idOrder.length;
    let n = 0;
    for (const row of table.idOrder) if (Boolean(row.active) === options.active) n++;
    return n;
  }

  /** Every id (ascending); `active: true` only live records, `false` only archived, undefined all. */
  ids(model: string, options: { active?: boolean } = {}): number[] {
    const table = this.table(model);
    const out: number[] = [];
    const hasActive = Boolean(table.def.fields.active);
    for (const row of table.idOrder) {
      if (options.active === undefined || !hasActive || Boolean(row.active) === options.active) out.push(row.id);
    }
    return out;
  }

  /** The newest stored write_date of a model (epoch microseconds), or undefined when empty. */
  latestWriteDate(model: string): number | undefined {
    const rows = this.table(model).wdOrder;
    return rows.length ? (rows[rows.length - 1].write_date as number) : undefined;
  }

  value(model: string, row: Row, field: string): unknown {
    if (field === "display_name") return this.displayName(model, row.id);
    const def = this.modelDef(model).fields[field];
    if (def?.compute) return def.compute(row, this);
    return row[field];
  }

  displayName(model: string, id: number): string {
    const table = this.tables.get(model);
    const row = table?.byId.get(id);
    if (!table || !row) return "";
    if (table.def.displayName) return table.def.displayName(row, this);
    const recName = table.def.fields[table.def.recName];
    const value = recName?.compute ? recName.compute(row, this) : row[table.def.recName];
    return typeof value === "string" ? value : `${table.def.description},${id}`;
  }

  referrers(model: string, field: string, id: number): readonly number[] {
    const index = this.reverseIndex(model, field);
    const set = index.get(id);
    return set ? [...set] : [];
  }

  private reverseIndex(model: string, field: string): Map<number, Set<number>> {
    const table = this.table(model);
    let index = table.reverse.get(field);
    if (!index) {
      index = new Map();
      for (const row of table.idOrder) {
        const target = row[field];
        if (typeof target === "number") addRef(index, target, row.id);
      }
      table.reverse.set(field, index);
    }
    return index;
  }

  // ---- search ---------------------------------------------------------------------------------------------------

  /** Odoo's `_search`: rows matching `domain`, ordered, offset and limit applied. */
  search(model: string, domain: unknown, options: SearchOptions = {}): Row[] {
    const table = this.table(model);
    const compiled = compileDomain(this, model, domain);
    let predicate = compiled.predicate;
    if (table.def.fields.active && options.activeTest !== false && !compiled.mentions("active")) {
      const inner = predicate;
      predicate = (row) => row.active === true && inner(row);
    }
    const keys = this.parseOrder(table.def, options.order || table.def.order);
    const offset = Math.max(0, options.offset ?? 0);
    // As in Odoo, a falsy limit (None, False, 0) means no limit.
    const limit = !options.limit || options.limit < 0 ? Infinity : options.limit;
    const want = offset + limit;

    // Candidates come from the narrowest index range the domain's top-level `id` / `write_date` leaves allow.
    // When that range is on the index that also holds the requested order, it is walked in order and the walk stops
    // at the page's end; otherwise the range is filtered and sorted (a one-second write_date range ordered by id).
    const idRange = this.range(table.idOrder, "id", compiled.conjuncts);
    const wdRange = this.range(table.wdOrder, "write_date", compiled.conjuncts);
    const ordered = this.orderIndex(keys);
    const size = (r: [number, number]) => r[1] - r[0];
    const idLeaf = compiled.conjuncts.find((c) => c.field === "id" && (c.operator === "=" || c.operator === "in"));
    if (ordered && !idLeaf) {
      const [rows, range, other] = ordered === "id" ? [table.idOrder, idRange, wdRange] : [table.wdOrder, wdRange, idRange];
      if (size(other) * 4 >= size(range) || size(range) <= want) {
        const out: Row[] = [];
        const [lo, hi] = range;
        const desc = keys[0].desc;
        for (let i = desc ? hi - 1 : lo; desc ? i >= lo : i < hi; i += desc ? -1 : 1) {
          const row = rows[i];
          if (predicate(row) && out.push(row) >= want) break;
        }
        return out.slice(offset);
      }
    }

    let candidates: Iterable<Row>;
    if (idLeaf) {
      const ids = Array.isArray(idLeaf.value) ? idLeaf.value : [idLeaf.value];
      candidates = ids.map((id) => (typeof id === "number" ? table.byId.get(id) : undefined)).filter((r): r is Row => !!r);
    } else if (size(wdRange) < size(idRange)) {
      candidates = table.wdOrder.slice(wdRange[0], wdRange[1]);
    } else {
      candidates = table.idOrder.slice(idRange[0], idRange[1]);
    }
    const matched: Row[] = [];
    for (const row of candidates) if (predicate(row)) matched.push(row);
    if (idLeaf) dedupeRows(matched);
    this.sortRows(model, matched, keys);
    return limit === Infinity ? matched.slice(offset) : matched.slice(offset, want);
  }

  /** Odoo's `search_count`. */
  searchCount(model: string, domain: unknown, options: { activeTest?: boolean; limit?: number | null } = {}): number {
    const table = this.table(model);
    const compiled = compileDomain(this, model, domain);
    const activeFilter = table.def.fields.active && options.activeTest !== false && !compiled.mentions("active");
    const limit = options.limit ?? Infinity;
    let n = 0;
    for (const row of table.idOrder) {
      if ((!activeFilter || row.active === true) && compiled.predicate(row)) {
        n++;
        if (n >= limit) break;
      }
    }
    return n;
  }

  /** Which index holds `keys` as its order (write_date ties broken by id, as the index is), if any. */
  private orderIndex(keys: OrderKey[]): "id" | "write_date" | undefined {
    const [first, second] = keys;
    if (keys.length === 1 && first.field === "id") return "id";
    if (first.field === "write_date" && (keys.length === 1 || (keys.length === 2 && second.field === "id" && second.desc === first.desc))) {
      return "write_date";
    }
    return undefined;
  }

  /** The slice [lo, hi) of an index that the domain's top-level bounds on its field leave open. */
  private range(rows: Row[], field: "id" | "write_date", conjuncts: { field: string; operator: string; value: unknown }[]): [number, number] {
    const key = field === "id" ? (row: Row) => row.id : (row: Row) => row.write_date as number;
    let lo = 0;
    let hi = rows.length;
    for (const c of conjuncts) {
      if (c.field !== field || typeof c.value !== "number") continue;
      const v = c.value;
      if (c.operator === ">") lo = Math.max(lo, lowerBound(rows, (r) => key(r) <= v));
      else if (c.operator === ">=") lo = Math.max(lo, lowerBound(rows, (r) => key(r) < v));
      else if (c.operator === "<") hi = Math.min(hi, lowerBound(rows, (r) => key(r) < v));
      else if (c.operator === "<=") hi = Math.min(hi, lowerBound(rows, (r) => key(r) <= v));
      else if (c.operator === "=") {
        lo = Math.max(lo, lowerBound(rows, (r) => key(r) < v));
        hi = Math.min(hi, lowerBound(rows, (r) => key(r) <= v));
      }
    }
    return [lo, Math.max(lo, hi)];
  }

  /** Parses an `order` spec with Odoo 18's syntax and errors. */
  parseOrder(def: ModelDef, order: string): OrderKey[] {
    const keys: OrderKey[] = [];
    const valid = /^\s*"?([a-z0-9_]+)"?(\.[a-z0-9_]+)?(:[a-z_]+)?(\s+(desc|asc))?(\s+nulls\s+(first|last))?\s*$/i;
    for (const part of order.split(",")) {
      const m = valid.exec(part);
      if (!m) {
        throw OdooErrors.valueError(
          `Invalid "order" specified (${order}). A valid "order" specification is a comma-separated list of valid field names (optionally followed by asc/desc for the direction)`,
        );
      }
      const field = m[1];
      if (!def.fields[field]) throw OdooErrors.invalidField(field, def.name);
      const desc = (m[5] ?? "asc").toLowerCase() === "desc";
      const nulls = m[7]?.toLowerCase();
      keys.push({ field, desc, nullsFirst: nulls ? nulls === "first" : desc });
    }
    return keys;
  }

  private sortRows(model: string, rows: Row[], keys: OrderKey[]): void {
    if (rows.length < 2) return;
    const def = this.modelDef(model);
    const allKeys = keys.some((k) => k.field === "id") ? keys : [...keys, { field: "id", desc: false, nullsFirst: false }];
    const extract = allKeys.map((k) => this.sortKey(model, def.fields[k.field], k.field));
    const decorated = rows.map((row) => ({ row, k: extract.map((f) => f(row)) }));
    decorated.sort((a, b) => {
      for (let i = 0; i < allKeys.length; i++) {
        const x = a.k[i];
        const y = b.k[i];
        if (x === y) continue;
        const { desc, nullsFirst } = allKeys[i];
        if (x === null) return nullsFirst ? -1 : 1;
        if (y === null) return nullsFirst ? 1 : -1;
        const c = x < y ? -1 : 1;
        return desc ? -c : c;
      }
      return 0;
    });
    for (let i = 0; i < rows.length; i++) rows[i] = decorated[i].row;
  }

  /** The value a column sorts by (many2one: the target's display name, as its `_order` would); null sorts as NULL. */
  private sortKey(model: string, field: FieldDef, name: string): (row: Row) => string | number | null {
    if (field.type === "many2one") {
      const relation = field.relation!;
      return (row) => (typeof row[name] === "number" ? this.displayName(relation, row[name] as number) : null);
    }
    if (field.type === "boolean") return (row) => (this.value(model, row, name) ? 1 : 0);
    return (row) => {
      const v = name === "id" ? row.id : this.value(model, row, name);
      if (v === false || v === undefined || v === null) return null;
      if (typeof v === "number" || typeof v === "string") return v;
      return null;
    };
  }

  // ---- reading --------------------------------------------------------------------------------------------------

  /** Records in wire format (`id` first, then `fields` in order; many2one `[id, name]` unless `load` is falsy). */
  toWire(model: string, rows: readonly Row[], fields: readonly string[], load: boolean = true): Record<string, unknown>[] {
    const def = this.modelDef(model);
    const writers = fields.filter((f) => f !== "id").map((f) => this.wireWriter(model, def, f, load));
    const out: Record<string, unknown>[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      const rec: Record<string, unknown> = { id: row.id };
      for (const [name, write] of writers) rec[name] = write(row);
      out[i] = rec;
    }
    return out;
  }

  /**
   * The same records as `toWire`, encoded straight to JSON text (no intermediate objects): what /jsonrpc sends for
   * search_read and read, several times faster than toWire + JSON.stringify on large pages.
   */
  encodeWire(model: string, rows: readonly Row[], fields: readonly string[], load: boolean = true): string {
    const def = this.modelDef(model);
    const encoders = fields.filter((f) => f !== "id").map((f) => this.jsonEncoder(model, def, f, load));
    const parts: string[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      let text = `{"id":${row.id}`;
      for (const encode of encoders) text += encode(row);
      parts[i] = `${text}}`;
    }
    return `[${parts.join(",")}]`;
  }

  /** `,"field":<json>` for one field of a row, consistent with wireWriter. */
  private jsonEncoder(model: string, def: ModelDef, name: string, load: boolean): (row: Row) => string {
    const key = `,${JSON.stringify(name)}:`;
    const field = def.fields[name];
    if (field.compute || field.writeOnly || name === "display_name" || field.type === "one2many") {
      const [, write] = this.wireWriter(model, def, name, load);
      return (row) => key + JSON.stringify(write(row));
    }
    switch (field.type) {
      case "datetime":
        return (row) => {
          const v = row[name];
          return typeof v === "number" ? `${key}"${formatDatetime(v)}"` : `${key}false`;
        };
      case "many2one": {
        const relation = field.relation!;
        if (!load) return (row) => key + (typeof row[name] === "number" ? String(row[name]) : "false");
        // Names repeat across a page (countries, companies): encode each once per page encoder.
        const names = new Map<number, string>();
        return (row) => {
          const v = row[name];
          if (typeof v !== "number") return `${key}false`;
          let encoded = names.get(v);
          if (encoded === undefined) {
            encoded = `[${v},${JSON.stringify(this.displayName(relation, v))}]`;
            names.set(v, encoded);
          }
          return key + encoded;
        };
      }
      case "many2many":
        return (row) => key + (Array.isArray(row[name]) ? JSON.stringify(row[name]) : "[]");
      case "boolean":
        return (row) => (row[name] ? `${key}true` : `${key}false`);
      case "integer":
      case "float":
      case "monetary":
        return (row) => {
          const v = row[name];
          return typeof v === "number" && Number.isFinite(v) ? key + String(v) : `${key}0`;
        };
      default:
        return (row) => {
          const v = row[name];
          return v === undefined || v === null || v === false || (v === "" && field.type === "html") ? `${key}false` : key + JSON.stringify(v);
        };
    }
  }

  /** Fields Odoo returns when a read names none: every field the caller may read. */
  defaultReadFields(model: string): string[] {
    return Object.keys(this.modelDef(model).fields);
  }

  checkFields(model: string, fields: readonly unknown[]): string[] {
    const def = this.modelDef(model);
    return fields.map((f) => {
      if (typeof f !== "string" || !def.fields[f]) throw OdooErrors.invalidField(String(f), model);
      return f;
    });
  }

  private wireWriter(model: string, def: ModelDef, name: string, load: boolean): [string, (row: Row) => unknown] {
    const field = def.fields[name];
    if (name === "display_name") return [name, (row) => this.displayName(model, row.id)];
    if (field.writeOnly) return [name, () => ""];
    const get = field.compute ? (row: Row) => field.compute!(row, this) : (row: Row) => row[name];
    switch (field.type) {
      case "datetime":
        return [name, (row) => {
          const v = get(row);
          return typeof v === "number" ? formatDatetime(v) : false;
        }];
      case "many2one": {
        const relation = field.relation!;
        if (!load) return [name, (row) => (typeof get(row) === "number" ? get(row) : false)];
        return [name, (row) => {
          const v = get(row);
          return typeof v === "number" ? [v, this.displayName(relation, v)] : false;
        }];
      }
      case "one2many": {
        const relation = field.relation!;
        const inverse = field.inverse!;
        const hasActive = Boolean(this.modelDef(relation).fields.active);
        return [name, (row) => {
          const ids = this.referrers(relation, inverse, row.id).slice().sort((a, b) => a - b);
          return hasActive ? ids.filter((id) => this.row(relation, id)?.active === true) : ids;
        }];
      }
      case "many2many":
        return [name, (row) => (Array.isArray(row[name]) ? [...(row[name] as number[])] : [])];
      case "boolean":
        return [name, (row) => Boolean(get(row))];
      case "integer":
      case "float":
      case "monetary":
        return [name, (row) => {
          const v = get(row);
          return typeof v === "number" ? v : 0;
        }];
      default:
        return [name, (row) => {
          const v = get(row);
          return v === undefined || v === null || v === "" && field.type === "html" ? false : v;
        }];
    }
  }

  // ---- writing --------------------------------------------------------------------------------------------------

  private envOf(options: ChangeOptions = {}): CallEnv {
    const at = options.at;
    const now = at === undefined ? this.clock() : typeof at === "number" ? at : at.getTime() * 1000;
    return { uid: options.uid ?? SUPERUSER, now };
  }

  /** Programmatic create (superuser): the same write_date semantics as an RPC create. */
  create(model: string, vals: Record<string, unknown> | Record<string, unknown>[], options?: ChangeOptions): number[] {
    return this.createRecords(model, Array.isArray(vals) ? vals : [vals], this.envOf(options));
  }

  /** Programmatic write (superuser). */
  write(model: string, ids: number[], vals: Record<string, unknown>, options?: ChangeOptions): void {
    this.writeRecords(model, ids, vals, this.envOf(options));
  }

  /** Programmatic unlink (superuser): a hard delete. */
  unlink(model: string, ids: number[], options?: ChangeOptions): void {
    this.unlinkRecords(model, ids, this.envOf(options));
  }

  /** Programmatic archive: `write({active: false})`. */
  archive(model: string, ids: number[], options?: ChangeOptions): void {
    this.writeRecords(model, ids, { active: false }, this.envOf(options));
  }

  /**
   * Bulk insert of prepared rows with ascending new ids (seeding 100,000 records): stored values as given, missing
   * columns from `defaults` (see blankRow), one sort of the write_date index at the end. No validation.
   */
  insertRawBulk(model: string, rows: Record<string, unknown>[], defaults?: Record<string, unknown>): number[] {
    const table = this.table(model);
    const ids: number[] = [];
    for (const values of rows) {
      values.id = table.nextId++;
      const row = table.make(values, defaults);
      table.byId.set(row.id, row);
      table.idOrder.push(row);
      table.wdOrder.push(row);
      ids.push(row.id);
    }
    table.wdOrder.sort(wdCompare);
    table.reverse.clear();
    return ids;
  }

  /** A row of defaults for every stored field (seeding builds rows from it). */
  blankRow(model: string, env: CallEnv): Record<string, unknown> {
    const def = this.modelDef(model);
    const row: Record<string, unknown> = {};
    const ctx = { uid: env.uid, now: env.now, nextSequence: () => 0 };
    for (const [name, field] of Object.entries(def.fields)) {
      if (MAGIC.has(name) || field.compute || field.type === "one2many") continue;
      row[name] = field.default ? field.default(ctx) : emptyValue(field);
    }
    return row;
  }

  /** The id the next created record of `model` gets. */
  peekNextId(model: string): number {
    return this.table(model).nextId;
  }

  nextSequence(model: string): number {
    return ++this.table(model).sequence;
  }

  /**
   * Takes `n` ids of `model` now (PostgreSQL sequences are not transactional: a transaction's records get their ids
   * when it inserts them, and keep them when it commits later, behind ids of records committed meanwhile).
   */
  reserveIds(model: string, n: number): number[] {
    const table = this.table(model);
    return Array.from({ length: n }, () => table.nextId++);
  }

  /**
   * Opens a transaction that starts now: its changes get this moment as write_date/create_date (Odoo stamps a whole
   * transaction with its start, `now()`), stay invisible until `commit()`, and then appear with that old stamp — a long
   * transaction committing after newer ones (shell scripts, imports, cron jobs are not bound by Odoo's request time
   * limit). Created records take their ids at once (see reserveIds). Values are checked at commit.
   */
  begin(options: { uid?: number } = {}): OdooTransaction {
    return new OdooTransaction(this, this.envOf(options));
  }

  createRecords(model: string, valsList: unknown[], env: CallEnv, reservedIds?: readonly number[]): number[] {
    const table = this.table(model);
    const prepared = valsList.map((vals) => this.prepareCreate(table, vals, env));
    const ids: number[] = [];
    for (const [i, { row, post }] of prepared.entries()) {
      row.id = reservedIds?.[i] ?? table.nextId++;
      this.insertRow(table, row);
      ids.push(row.id);
      for (const fn of post) fn(row.id);
    }
    return ids;
  }

  private prepareCreate(table: Table, vals: unknown, env: CallEnv): { row: Row; post: ((id: number) => void)[] } {
    const def = table.def;
    if (vals === null || typeof vals !== "object" || Array.isArray(vals)) {
      throw OdooErrors.valueError(`Invalid values for create: ${pyRepr(vals)}`);
    }
    const input = vals as Record<string, unknown>;
    for (const name of Object.keys(input)) if (!def.fields[name]) throw OdooErrors.invalidField(name, def.name);
    const values: Record<string, unknown> = { id: 0 };
    const post: ((id: number) => void)[] = [];
    const ctx = { uid: env.uid, now: env.now, nextSequence: () => this.nextSequence(def.name) };
    for (const [name, field] of Object.entries(def.fields)) {
      if (MAGIC.has(name) || field.compute || field.type === "one2many") continue;
      if (name in input) values[name] = this.convert(def, name, field, input[name], undefined, post);
      else values[name] = field.default ? field.default(ctx) : emptyValue(field);
    }
    values.create_date = env.now;
    values.write_date = env.now;
    values.create_uid = env.uid;
    values.write_uid = env.uid;
    const row = table.make(values);
    for (const [name, field] of Object.entries(def.fields)) {
      if (field.type === "one2many" && name in input) {
        const commands = input[name];
        post.push((id) => this.applyOne2many(def, field, id, commands, env));
      }
    }
    if (def.name === "res.users") this.prepareUser(row, input, env, post);
    if (def.name === "res.company" && row.partner_id === false) {
      row.partner_id = this.createRecords("res.partner", [{ name: row.name, is_company: true }], env)[0];
    }
    this.checkRequired(def, row);
    return { row, post };
  }

  /** res.users.create: a partner for the user, the password kept apart from the row. */
  private prepareUser(row: Row, input: Record<string, unknown>, env: CallEnv, post: ((id: number) => void)[]): void {
    if (typeof row.login === "string" && this.table("res.users").idOrder.some((u) => u.login === row.login)) {
      throw OdooErrors.validation("You can not have two users with the same login!");
    }
    if (row.partner_id === false) {
      row.partner_id = this.createRecords("res.partner", [{ name: row.name || row.login, email: row.email || false }], env)[0];
    }
    const password = typeof input.password === "string" ? input.password : false;
    row.password = false;
    if (!Array.isArray(row.groups_id) || row.groups_id.length === 0) row.groups_id = [GROUP.USER];
    post.push((id) => this.credentials.set(id, { password, apiKeys: [] }));
  }

  private checkRequired(def: ModelDef, row: Row): void {
    for (const [name, field] of Object.entries(def.fields)) {
      if (!field.required || field.compute || MAGIC.has(name)) continue;
      const v = row[name];
      if (v === false || v === undefined || v === null || v === "") {
        throw OdooErrors.mandatoryField(def.description, def.name, field.string, name);
      }
    }
  }

  writeRecords(model: string, ids: unknown, vals: unknown, env: CallEnv): void {
    const table = this.table(model);
    const def = table.def;
    const idList = this.browse(model, ids);
    if (vals === null || typeof vals !== "object" || Array.isArray(vals)) {
      throw OdooErrors.valueError(`Invalid values for write: ${pyRepr(vals)}`);
    }
    const input = vals as Record<string, unknown>;
    for (const name of Object.keys(input)) if (!def.fields[name]) throw OdooErrors.invalidField(name, def.name);
    const rows = this.existing(table, idList, env.uid);
    if (Object.keys(input).length === 0 || rows.length === 0) return;
    // Convert once (validates every value before anything changes).
    const post: ((id: number) => void)[] = [];
    const changes: [string, FieldDef, unknown][] = [];
    const o2m: [FieldDef, unknown][] = [];
    for (const [name, value] of Object.entries(input)) {
      const field = def.fields[name];
      if (MAGIC.has(name) || field.compute) continue;
      if (field.type === "one2many") {
        o2m.push([field, value]);
        continue;
      }
      if (field.type === "many2many") {
        changes.push([name, field, value]);
        continue;
      }
      if (name === "password" && def.name === "res.users") {
        for (const row of rows) this.credentials.set(row.id, { password: typeof value === "string" ? value : false, apiKeys: this.credentials.get(row.id)?.apiKeys ?? [] });
        continue;
      }
      const converted = this.convert(def, name, field, value, undefined, post);
      if (field.required && (converted === false || converted === "")) {
        throw OdooErrors.mandatoryField(def.description, def.name, field.string, name);
      }
      changes.push([name, field, converted]);
    }
    for (const row of rows) {
      for (const [name, field, value] of changes) {
        const next = field.type === "many2many" ? this.convert(def, name, field, value, row[name] as number[], post) : value;
        this.setField(table, row, name, next);
      }
    }
    for (const [field, value] of o2m) for (const row of rows) this.applyOne2many(def, field, row.id, value, env);
    this.touch(table, rows, env);
    for (const fn of post) fn(0);
  }

  /** Sets fields without touching write_date (record methods, ON DELETE SET NULL). */
  setFields(model: string, ids: number[], vals: Record<string, unknown>, env?: CallEnv): void {
    const table = this.table(model);
    const rows = ids.map((id) => table.byId.get(id)).filter((r): r is Row => !!r);
    for (const row of rows) for (const [name, value] of Object.entries(vals)) this.setField(table, row, name, value);
    if (env) this.touch(table, rows, env);
  }

  private setField(table: Table, row: Row, name: string, value: unknown): void {
    const index = table.reverse.get(name);
    if (index) {
      const before = row[name];
      if (typeof before === "number") index.get(before)?.delete(row.id);
      if (typeof value === "number") addRef(index, value, row.id);
    }
    row[name] = value;
  }

  /** Stamps write_date/write_uid and moves the rows in the (write_date, id) index. */
  private touch(table: Table, rows: Row[], env: CallEnv): void {
    if (rows.length === 0) return;
    if (rows.length > 64) {
      const moved = new Set(rows);
      table.wdOrder = table.wdOrder.filter((r) => !moved.has(r));
      for (const row of rows) {
        row.write_date = env.now;
        row.write_uid = env.uid;
      }
      const sorted = [...moved].sort(wdCompare);
      table.wdOrder = mergeSorted(table.wdOrder, sorted);
      return;
    }
    for (const row of rows) {
      removeFromWd(table, row);
      row.write_date = env.now;
      row.write_uid = env.uid;
      insertIntoWd(table, row);
    }
  }

  unlinkRecords(model: string, ids: unknown, env: CallEnv): void {
    const table = this.table(model);
    const idList = this.browse(model, ids);
    const rows = this.existing(table, idList, env.uid);
    if (rows.length === 0) return;
    table.def.checkUnlink?.(rows, this);
    // Plan everything the deletion takes with it (model overrides, ON DELETE CASCADE) and check every ON DELETE
    // RESTRICT before removing anything: like the real transaction, a refused unlink changes nothing.
    const doomed = new Map<string, Set<number>>([[model, new Set(rows.map((r) => r.id))]]);
    const queue: [string, number][] = rows.map((r) => [model, r.id]);
    for (const extra of table.def.cascadeBeforeUnlink?.(rows.map((r) => r.id), this) ?? []) {
      const extraRows = this.existing(this.table(extra.model), extra.ids, env.uid);
      this.table(extra.model).def.checkUnlink?.(extraRows, this);
      if (!doomed.has(extra.model)) doomed.set(extra.model, new Set());
      for (const id of extra.ids) {
        doomed.get(extra.model)!.add(id);
        queue.push([extra.model, id]);
      }
    }
    const nullify: { model: string; field: string; id: number }[] = [];
    while (queue.length) {
      const [target, id] = queue.shift()!;
      for (const [otherName, otherTable] of this.tables) {
        for (const [fname, field] of Object.entries(otherTable.def.fields)) {
          if (field.type !== "many2one" || field.relation !== target || MAGIC.has(fname)) continue;
          for (const refId of this.referrers(otherName, fname, id)) {
            if (doomed.get(otherName)?.has(refId)) continue;
            const policy = ondeleteOf(field);
            if (policy === "restrict") {
              throw OdooErrors.foreignKey(otherTable.def.description, otherName, `${otherName.replace(/\./g, "_")}_${fname}_fkey`);
            }
            if (policy === "cascade") {
              if (!doomed.has(otherName)) doomed.set(otherName, new Set());
              doomed.get(otherName)!.add(refId);
              queue.push([otherName, refId]);
            } else {
              nullify.push({ model: otherName, field: fname, id: refId });
            }
          }
        }
      }
    }
    for (const n of nullify) {
      if (doomed.get(n.model)?.has(n.id)) continue;
      const t = this.table(n.model);
      const row = t.byId.get(n.id);
      if (row) this.setField(t, row, n.field, false);
    }
    for (const [name, set] of doomed) this.removeRows(this.table(name), set);
    // many2many links to removed records go with them (relation tables cascade).
    for (const [name, set] of doomed) {
      for (const other of this.tables.values()) {
        for (const [fname, field] of Object.entries(other.def.fields)) {
          if (field.type !== "many2many" || field.relation !== name) continue;
          for (const row of other.idOrder) {
            const list = row[fname];
            if (Array.isArray(list) && list.some((id) => set.has(id))) row[fname] = list.filter((id) => !set.has(id));
          }
        }
      }
      if (name === "res.users") for (const id of set) this.credentials.delete(id);
    }
  }

  private removeRows(table: Table, ids: Set<number>): void {
    const rows = [...ids].map((id) => table.byId.get(id)).filter((r): r is Row => !!r);
    for (const row of rows) {
      table.byId.delete(row.id);
      for (const [field, index] of table.reverse) {
        const target = row[field];
        if (typeof target === "number") index.get(target)?.delete(row.id);
      }
    }
    if (rows.length > 64) {
      const gone = new Set(rows);
      table.idOrder = table.idOrder.filter((r) => !gone.has(r));
      table.wdOrder = table.wdOrder.filter((r) => !gone.has(r));
      return;
    }
    for (const row of rows) {
      const i = lowerBound(table.idOrder, (r) => r.id < row.id);
      if (table.idOrder[i] === row) table.idOrder.splice(i, 1);
      removeFromWd(table, row);
    }
  }

  private insertRow(table: Table, row: Row): void {
    table.byId.set(row.id, row);
    const last = table.idOrder[table.idOrder.length - 1];
    if (!last || last.id < row.id) table.idOrder.push(row);
    else table.idOrder.splice(lowerBound(table.idOrder, (r) => r.id < row.id), 0, row);
    insertIntoWd(table, row);
    for (const [field, index] of table.reverse) {
      const target = row[field];
      if (typeof target === "number") addRef(index, target, row.id);
    }
  }

  /** Odoo's `browse(ids)`: an int or a list of ints; a non-integer fails as PostgreSQL would. */
  browse(model: string, ids: unknown): number[] {
    const list = Array.isArray(ids) ? ids : ids === false || ids === null || ids === undefined ? [] : [ids];
    return list.map((id) => {
      if (typeof id === "number" && Number.isInteger(id)) return id;
      if (typeof id === "string" && /^\s*-?\d+\s*$/.test(id)) return Number(id);
      throw OdooErrors.invalidInput("integer", String(id), `FROM "${model.replace(/\./g, "_")}" WHERE ("${model.replace(/\./g, "_")}"."id" IN ('${String(id)}')) AN`);
    });
  }

  /** Rows for ids; MissingError (as write/unlink raise it) when any is gone. */
  private existing(table: Table, ids: number[], uid: number): Row[] {
    const rows: Row[] = [];
    const missing: number[] = [];
    const seen = new Set<number>();
    for (const id of ids) {
      if (seen.has(id)) continue;
      seen.add(id);
      const row = table.byId.get(id);
      if (row) rows.push(row);
      else missing.push(id);
    }
    if (missing.length) throw OdooErrors.missing(table.def.name, missing, uid);
    return rows;
  }

  /** Odoo's `read`: existing records only (a deleted id is silently left out), in the order asked. */
  readRows(model: string, ids: unknown): Row[] {
    const table = this.table(model);
    const rows: Row[] = [];
    for (const id of this.browse(model, ids)) {
      const row = table.byId.get(id);
      if (row) rows.push(row);
    }
    return rows;
  }

  // ---- values ---------------------------------------------------------------------------------------------------

  /** Converts an RPC value to the stored representation, raising what Odoo raises on bad values. */
  private convert(def: ModelDef, name: string, field: FieldDef, value: unknown, current: number[] | undefined, post: ((id: number) => void)[]): unknown {
    void post;
    switch (field.type) {
      case "boolean":
        return Boolean(value);
      case "integer":
      case "many2one_reference":
        if (value === false || value === null) return field.type === "integer" ? 0 : false;
        if (typeof value === "number") return Math.trunc(value);
        if (typeof value === "string" && /^\s*-?\d+\s*$/.test(value)) return Number(value);
        throw OdooErrors.valueError(`invalid literal for int() with base 10: ${pyRepr(value)}`);
      case "float":
      case "monetary":
        if (value === false || value === null) return 0;
        if (typeof value === "number") return value;
        if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
        throw OdooErrors.valueError(`could not convert string to float: ${pyRepr(value)}`);
      case "char":
      case "text":
      case "html":
      case "binary":
        if (value === false || value === null || value === undefined) return false;
        return typeof value === "string" ? value : String(value);
      case "selection":
        if (value === false || value === null || value === "") return false;
        if (!field.selection!.some(([key]) => key === value)) {
          throw OdooErrors.valueError(`Wrong value for ${def.name}.${name}: ${pyRepr(value)}`);
        }
        return value;
      case "date": {
        if (value === false || value === null) return false;
        const text = String(value).slice(0, 10);
        if (!/^\d{4}-\d{2}-\d{2}$/.test(text) || parseTimestamp(text) === undefined) {
          throw OdooErrors.valueError(`time data ${pyRepr(value)} does not match format '%Y-%m-%d'`);
        }
        return text;
      }
      case "datetime": {
        if (value === false || value === null) return false;
        const micros = typeof value === "string" ? parseTimestamp(value.length === 10 ? `${value} 00:00:00` : value) : undefined;
        if (micros === undefined) throw OdooErrors.valueError(`time data ${pyRepr(value)} does not match format '%Y-%m-%d %H:%M:%S'`);
        // Stored at second precision like any value written through the ORM.
        return Math.floor(micros / 1_000_000) * 1_000_000;
      }
      case "many2one": {
        if (value === false || value === null || value === 0) return false;
        let id: number;
        if (typeof value === "number" && Number.isInteger(value)) id = value;
        else if (Array.isArray(value) && typeof value[0] === "number") id = value[0];
        else if (typeof value === "string" && /^\d+$/.test(value)) id = Number(value);
        else throw OdooErrors.valueError(`Wrong value for ${def.name}.${name}: ${pyRepr(value)}`);
        if (!this.row(field.relation!, id)) {
          throw OdooErrors.foreignKey(def.description, def.name, `${def.name.replace(/\./g, "_")}_${name}_fkey`);
        }
        return id;
      }
      case "many2many":
        return this.applyMany2many(def, name, field, value, current ?? []);
      default:
        return value;
    }
  }

  /** x2many commands on a many2many: (6,0,ids) (4,id) (3,id) (5,) (0,0,vals), or a bare list of ids. */
  private applyMany2many(def: ModelDef, name: string, field: FieldDef, value: unknown, current: number[]): number[] {
    if (value === false || value === null) return [];
    if (!Array.isArray(value)) throw OdooErrors.valueError(`Wrong value for ${def.name}.${name}: ${pyRepr(value)}`);
    const relation = field.relation!;
    const check = (id: unknown): number => {
      if (typeof id !== "number" || !this.row(relation, id)) {
        throw OdooErrors.foreignKey(def.description, def.name, `${def.name.replace(/\./g, "_")}_${name}_fkey`);
      }
      return id;
    };
    if (value.every((v) => typeof v === "number")) return [...new Set(value.map(check))];
    let ids = [...current];
    for (const command of value) {
      if (!Array.isArray(command)) throw OdooErrors.valueError(`Wrong value for ${def.name}.${name}: ${pyRepr(value)}`);
      const [code, id, arg] = command;
      switch (code) {
        case 6:
          ids = [...new Set((Array.isArray(arg) ? arg : []).map(check))];
          break;
        case 4:
          if (!ids.includes(check(id))) ids.push(id as number);
          break;
        case 3:
          ids = ids.filter((x) => x !== id);
          break;
        case 5:
          ids = [];
          break;
        case 0:
          ids.push(this.createRecords(relation, [arg], { uid: SUPERUSER, now: this.clock() })[0]);
          break;
        default:
          throw OdooErrors.valueError(`Wrong value for ${def.name}.${name}: ${pyRepr(value)}`);
      }
    }
    return ids;
  }

  /** x2many commands on a one2many: create (0), update (1), delete (2), unlink (3), link (4), clear (5), set (6). */
  private applyOne2many(def: ModelDef, field: FieldDef, parentId: number, value: unknown, env: CallEnv): void {
    if (value === false || value === null) return;
    if (!Array.isArray(value)) throw OdooErrors.valueError(`Wrong value for ${def.name}: ${pyRepr(value)}`);
    const relation = field.relation!;
    const inverse = field.inverse!;
    const commands = value.every((v) => typeof v === "number") ? [[6, 0, value]] : value;
    for (const command of commands) {
      if (!Array.isArray(command)) throw OdooErrors.valueError(`Wrong value for ${def.name}: ${pyRepr(value)}`);
      const [code, id, arg] = command;
      switch (code) {
        case 0:
          this.createRecords(relation, [{ ...(arg as Record<string, unknown>), [inverse]: parentId }], env);
          break;
        case 1:
          this.writeRecords(relation, [id], arg, env);
          break;
        case 2:
          this.unlinkRecords(relation, [id], env);
          break;
        case 3:
          this.writeRecords(relation, [id], { [inverse]: false }, env);
          break;
        case 4:
          this.writeRecords(relation, [id], { [inverse]: parentId }, env);
          break;
        case 5:
        case 6: {
          const keep = new Set(code === 6 && Array.isArray(arg) ? (arg as number[]) : []);
          const current = this.referrers(relation, inverse, parentId);
          const drop = current.filter((x) => !keep.has(x));
          if (drop.length) this.writeRecords(relation, drop, { [inverse]: false }, env);
          const add = [...keep].filter((x) => !current.includes(x));
          if (add.length) this.writeRecords(relation, add, { [inverse]: parentId }, env);
          break;
        }
        default:
          throw OdooErrors.valueError(`Wrong value for ${def.name}: ${pyRepr(value)}`);
      }
    }
  }
}

function emptyValue(field: FieldDef): unknown {
  switch (field.type) {
    case "boolean":
      return false;
    case "integer":
    case "float":
    case "monetary":
      return 0;
    case "many2many":
      return [];
    default:
      return false;
  }
}

function addRef(index: Map<number, Set<number>>, target: number, id: number): void {
  let set = index.get(target);
  if (!set) index.set(target, (set = new Set()));
  set.add(id);
}

function dedupeRows(rows: Row[]): void {
  const seen = new Set<number>();
  let w = 0;
  for (const row of rows) {
    if (seen.has(row.id)) continue;
    seen.add(row.id);
    rows[w++] = row;
  }
  rows.length = w;
}

function removeFromWd(table: Table, row: Row): void {
  const rows = table.wdOrder;
  const i = lowerBound(rows, (r) => wdCompare(r, row) < 0);
  if (rows[i] === row) rows.splice(i, 1);
  else {
    const j = rows.indexOf(row);
    if (j >= 0) rows.splice(j, 1);
  }
}

function insertIntoWd(table: Table, row: Row): void {
  const rows = table.wdOrder;
  const last = rows[rows.length - 1];
  if (!last || wdCompare(last, row) < 0) rows.push(row);
  else rows.splice(lowerBound(rows, (r) => wdCompare(r, row) < 0), 0, row);
}

function mergeSorted(a: Row[], b: Row[]): Row[] {
  if (b.length === 0) return a;
  if (a.length === 0 || wdCompare(a[a.length - 1], b[0]) < 0) return a.concat(b);
  const out: Row[] = new Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = wdCompare(a[i], b[j]) <= 0 ? a[i++] : b[j++];
  while (i < a.length) out[k++] = a[i++];
  while (j < b.length) out[k++] = b[j++];
  return out;
}

export { OdooException, formatDatetime };

/** A transaction of the simulated Odoo (OdooStore.begin): staged changes, all stamped with its start, applied at commit. */
export class OdooTransaction {
  private staged: (() => void)[] = [];
  private open = true;

  constructor(
    private readonly store: OdooStore,
    private readonly env: CallEnv,
  ) {}

  /** The transaction's start (epoch microseconds): the write_date its records get. */
  get startedAt(): number {
    return this.env.now;
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** Stages creates; returns their ids (taken now). */
  create(model: string, vals: Record<string, unknown> | Record<string, unknown>[]): number[] {
    this.check();
    const list = Array.isArray(vals) ? vals : [vals];
    const ids = this.store.reserveIds(model, list.length);
    this.staged.push(() => void this.store.createRecords(model, list, this.env, ids));
    return ids;
  }

  write(model: string, ids: number[], vals: Record<string, unknown>): void {
    this.check();
    this.staged.push(() => this.store.writeRecords(model, ids, vals, this.env));
  }

  /** Makes the staged changes visible, stamped with the transaction's start. */
  commit(): void {
    this.check();
    this.open = false;
    for (const apply of this.staged) apply();
    this.staged = [];
  }

  rollback(): void {
    this.open = false;
    this.staged = [];
  }

  private check(): void {
    if (!this.open) throw new Error("the transaction is closed");
  }
}
