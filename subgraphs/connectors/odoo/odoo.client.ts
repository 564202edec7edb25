// A typed client for Odoo's External API over JSON-RPC (POST /jsonrpc: common.version/authenticate,
// object.execute_kw). Every HTTP exchange goes through the connector's RemoteCaller (per-attempt timeout, retries with
// backoff on transient failures, rate limit), and every failure leaves as a RemoteError whose kind is decided here,
// at the edge, from Odoo's error envelope (`error.data.name` is the Python exception class; it is kept in
// `detail.remoteCode`). The password or API key is sent in the request body only: it never appears in an error message.
import { kindOfHttpStatus, RemoteCaller, type RemoteCallOptions } from "../remote/remote-call.js";
import { RemoteError, RemoteErrorKind } from "../remote/remote.errors.js";

export type DomainOperator = "&" | "|" | "!";
export type DomainComparator =
  | "="
  | "!="
  | "<"
  | "<="
  | ">"
  | ">="
  | "=?"
  | "in"
  | "not in"
  | "like"
  | "not like"
  | "ilike"
  | "not ilike"
  | "=like"
  | "=ilike"
  | "child_of"
  | "parent_of"
  | "any"
  | "not any";
export type DomainLeaf = [field: string, operator: DomainComparator, value: unknown];
/** An Odoo domain in prefix notation (consecutive leaves are ANDed). */
export type Domain = (DomainOperator | DomainLeaf)[];

/** Odoo's `context` (e.g. `{ active_test: false }` to see archived records). */
export type OdooContext = { active_test?: boolean; lang?: string; tz?: string } & Record<string, unknown>;

/** A many2one value as read: `[id, display_name]`, or `false` when empty. */
export type Many2one = [id: number, name: string] | false;

/** A record as read: `id` plus the requested fields (`false` for empty values, never null). */
export type OdooRecord = { id: number } & Record<string, unknown>;

export interface OdooVersion {
  server_version: string;
  server_version_info: (number | string)[];
  server_serie: string;
  protocol_version: number;
}

export interface OdooFieldInfo {
  type: string;
  string?: string;
  required?: boolean;
  readonly?: boolean;
  store?: boolean;
  relation?: string;
  selection?: [string, string][];
  [attribute: string]: unknown;
}

export interface OdooCredentials {
  /** Base URL of the Odoo server (`https://erp.example.com`); `/jsonrpc` is appended. */
  url: string;
  db: string;
  login: string;
  /** Password or a 40-hex API key (both work in the password slot of the External API). */
  password: string;
}

export interface OdooClientOptions extends OdooCredentials, RemoteCallOptions {
  /** A shared transport (its rate limit then spans every client using it); default: one built from these options. */
  caller?: RemoteCaller;
}

export interface OdooCallOptions {
  signal?: AbortSignal;
  context?: OdooContext;
}

export interface SearchOptions extends OdooCallOptions {
  offset?: number;
  limit?: number;
  order?: string;
}

/** Methods whose repetition does no harm: retried on transient failures. Anything else is sent at most once. */
const IDEMPOTENT = new Set(["search", "search_read", "search_count", "read", "fields_get", "name_search", "default_get", "write", "unlink", "has_access", "check_access_rights", "read_group"]);

/**
 * A non-idempotent call (create, a button method) that failed after it may have reached Odoo (timeout, dropped
 * connection, 502/504): it is not retried, since Odoo may have applied it. `kind` says what happened; `transient` is
 * false so nothing above retries it blindly either.
 */
export class UnconfirmedRemoteError extends RemoteError {
  readonly unconfirmed = true;
  override get transient(): boolean {
    return false;
  }
}

/** Maps an Odoo error envelope (`data.name`, `code`) to a RemoteError kind. */
export function kindOfOdooError(name: string, message: string, code: number | undefined, uid?: number): RemoteErrorKind {
  if (code === 100 || name === "odoo.http.SessionExpiredException") return RemoteErrorKind.AUTH;
  switch (name) {
    case "odoo.exceptions.AccessDenied":
      return RemoteErrorKind.AUTH;
    case "odoo.exceptions.AccessError":
      return RemoteErrorKind.PERMISSION;
    case "odoo.exceptions.MissingError":
      // res.users.check raises MissingError when the uid itself is gone: the login no longer works.
      if (uid !== undefined && message.includes(`res.users(${uid},)`) && message.includes(`User: ${uid})`)) return RemoteErrorKind.AUTH;
      return RemoteErrorKind.NOT_FOUND;
    case "odoo.exceptions.UserError":
      return /^Object \S+ doesn't exist/.test(message) ? RemoteErrorKind.NOT_FOUND : RemoteErrorKind.VALIDATION;
    case "builtins.AttributeError":
    case "builtins.KeyError":
      return RemoteErrorKind.NOT_FOUND;
    case "builtins.Exception":
      return message.startsWith("Method not found") ? RemoteErrorKind.NOT_FOUND : RemoteErrorKind.VALIDATION;
    case "psycopg2.OperationalError":
      // A wrong database name is part of the login; anything else is the database being unreachable.
      return /database ".*" does not exist/.test(message) ? RemoteErrorKind.AUTH : RemoteErrorKind.UNAVAILABLE;
    case "psycopg2.errors.SerializationFailure":
    case "psycopg2.errors.LockNotAvailable":
    case "psycopg2.errors.DeadlockDetected":
    case "psycopg2.errors.AdminShutdown":
      return RemoteErrorKind.UNAVAILABLE;
    case "psycopg2.errors.QueryCanceled":
      return RemoteErrorKind.TIMEOUT;
    default:
      // ValidationError, ValueError, TypeError, psycopg2 data errors, and anything unknown: the input was refused.
      return RemoteErrorKind.VALIDATION;
  }
}

interface RpcEnvelope {
  jsonrpc?: string;
  id?: unknown;
  result?: unknown;
  error?: { code?: number; message?: string; data?: { name?: string; message?: string } };
}

export class OdooClient {
  readonly url: string;
  readonly db: string;
  readonly login: string;
  private readonly password: string;
  private readonly endpoint: string;
  private readonly caller: RemoteCaller;
  private uidPromise: Promise<number> | undefined;
  private seq = 0;

  constructor(options: OdooClientOptions) {
    this.url = options.url.replace(/\/+$/, "");
    this.endpoint = `${this.url}/jsonrpc`;
    this.db = options.db;
    this.login = options.login;
    this.password = options.password;
    this.caller = options.caller ?? new RemoteCaller(options);
  }

  /** `common.version`: no authentication needed. */
  version(opts: { signal?: AbortSignal } = {}): Promise<OdooVersion> {
    return this.rpc<OdooVersion>("common", "version", [], { signal: opts.signal, idempotent: true });
  }

  /** `common.authenticate`: the uid, or AUTH when Odoo answers `false`. Caches the uid for execute_kw. */
  async authenticate(opts: { signal?: AbortSignal } = {}): Promise<number> {
    const result = await this.rpc<number | false>("common", "authenticate", [this.db, this.login, this.password, {}], {
      signal: opts.signal,
      idempotent: true,
    });
    if (typeof result !== "number") {
      this.uidPromise = undefined;
      throw new RemoteError(RemoteErrorKind.AUTH, `Odoo rejected the login ${JSON.stringify(this.login)} on database ${JSON.stringify(this.db)}`);
    }
    this.uidPromise = Promise.resolve(result);
    return result;
  }

  /** The authenticated uid (authenticates once, lazily). */
  uid(opts: { signal?: AbortSignal } = {}): Promise<number> {
    if (!this.uidPromise) {
      const pending = this.authenticate(opts);
      this.uidPromise = pending;
      pending.catch(() => {
        if (this.uidPromise === pending) this.uidPromise = undefined;
      });
    }
    return this.uidPromise;
  }

  /** `object.execute_kw(db, uid, password, model, method, args, kwargs)`; `context` merges into kwargs. */
  async executeKw<T = unknown>(
    model: string,
    method: string,
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
    opts: OdooCallOptions = {},
  ): Promise<T> {
    const uid = await this.uid({ signal: opts.signal });
    const kw = opts.context ? { ...kwargs, context: { ...(kwargs.context as object | undefined), ...opts.context } } : kwargs;
    try {
      return await this.rpc<T>("object", "execute_kw", [this.db, uid, this.password, model, method, args, kw], {
        signal: opts.signal,
        idempotent: IDEMPOTENT.has(method),
        uid,
      });
    } catch (err) {
      // The password changed or the user went away: authenticate again next time.
      if (err instanceof RemoteError && err.kind === RemoteErrorKind.AUTH) this.uidPromise = undefined;
      throw err;
    }
  }

  search(model: string, domain: Domain, opts: SearchOptions = {}): Promise<number[]> {
    return this.executeKw<number[]>(model, "search", [domain], pageKwargs(opts), opts);
  }

  /** `search_read`: records with `id` plus `fields` (all fields when omitted — name them for speed). */
  searchRead<T extends OdooRecord = OdooRecord>(model: string, domain: Domain, opts: SearchOptions & { fields?: string[] } = {}): Promise<T[]> {
    const kwargs = pageKwargs(opts);
    if (opts.fields) kwargs.fields = opts.fields;
    return this.executeKw<T[]>(model, "search_read", [domain], kwargs, opts);
  }

  searchCount(model: string, domain: Domain, opts: OdooCallOptions & { limit?: number } = {}): Promise<number> {
    return this.executeKw<number>(model, "search_count", [domain], opts.limit === undefined ? {} : { limit: opts.limit }, opts);
  }

  /** `read`: existing records only (a deleted id is silently missing from the answer). */
  read<T extends OdooRecord = OdooRecord>(model: string, ids: number[], fields?: string[], opts: OdooCallOptions = {}): Promise<T[]> {
    return this.executeKw<T[]>(model, "read", [ids], fields ? { fields } : {}, opts);
  }

  /** `create(dict)`: the new id. Sent at most once (see UnconfirmedRemoteError). */
  create(model: string, values: Record<string, unknown>, opts: OdooCallOptions = {}): Promise<number> {
    return this.executeKw<number>(model, "create", [values], {}, opts);
  }

  /** `create([dicts])`: the new ids, in order. */
  createMany(model: string, values: Record<string, unknown>[], opts: OdooCallOptions = {}): Promise<number[]> {
    return this.executeKw<number[]>(model, "create", [values], {}, opts);
  }

  /** `write(ids, values)`; NOT_FOUND (MissingError) when any id no longer exists. */
  async write(model: string, ids: number[], values: Record<string, unknown>, opts: OdooCallOptions = {}): Promise<true> {
    await this.executeKw<boolean>(model, "write", [ids, values], {}, opts);
    return true;
  }

  /** `unlink(ids)`: a hard delete; NOT_FOUND (MissingError) when any id no longer exists. */
  async unlink(model: string, ids: number[], opts: OdooCallOptions = {}): Promise<true> {
    await this.executeKw<boolean>(model, "unlink", [ids], {}, opts);
    return true;
  }

  fieldsGet(model: string, opts: OdooCallOptions & { allfields?: string[]; attributes?: string[] } = {}): Promise<Record<string, OdooFieldInfo>> {
    const kwargs: Record<string, unknown> = {};
    if (opts.allfields) kwargs.allfields = opts.allfields;
    if (opts.attributes) kwargs.attributes = opts.attributes;
    return this.executeKw(model, "fields_get", [], kwargs, opts);
  }

  /** `name_search`: `[id, display_name]` pairs. */
  nameSearch(
    model: string,
    name: string,
    opts: OdooCallOptions & { domain?: Domain; operator?: DomainComparator; limit?: number } = {},
  ): Promise<[number, string][]> {
    const kwargs: Record<string, unknown> = { name };
    if (opts.domain) kwargs.args = opts.domain;
    if (opts.operator) kwargs.operator = opts.operator;
    if (opts.limit !== undefined) kwargs.limit = opts.limit;
    return this.executeKw(model, "name_search", [], kwargs, opts);
  }

  /** One JSON-RPC exchange through the caller, decoded, every failure a RemoteError. */
  private rpc<T>(service: string, method: string, args: unknown[], opts: { signal?: AbortSignal; idempotent: boolean; uid?: number }): Promise<T> {
    const id = ++this.seq;
    const body = JSON.stringify({ jsonrpc: "2.0", method: "call", id, params: { service, method, args } });
    const what = service === "object" ? `${String(args[3])}.${String(args[4])}` : `${service}.${method}`;
    return this.caller.send(
      async (fetchFn, signal) => {
        let response: Response;
        let text: string;
        try {
          response = await fetchFn(this.endpoint, {
            method: "POST",
            headers: { "Content-Type": "application/json", Accept: "application/json" },
            body,
            signal,
          });
          text = await response.text();
        } catch (err) {
          if (!opts.idempotent && !opts.signal?.aborted && !neverSent(err)) {
            const timedOut = signal.aborted;
            throw new UnconfirmedRemoteError(
              timedOut ? RemoteErrorKind.TIMEOUT : RemoteErrorKind.UNAVAILABLE,
              `Odoo ${what}: ${timedOut ? "no answer in time" : "connection lost"}; it may or may not have been applied, so it was not retried`,
              { cause: err },
            );
          }
          throw err;
        }
        if (response.status !== 200) {
          const kind = kindOfHttpStatus(response.status);
          const message = `Odoo ${what}: HTTP ${response.status}${summary(text)}`;
          // 503/429 mean the request was turned away; other 5xx may come after Odoo applied it.
          if (!opts.idempotent && kind === RemoteErrorKind.UNAVAILABLE && response.status !== 503) {
            throw new UnconfirmedRemoteError(kind, `${message}; it may or may not have been applied, so it was not retried`, { status: response.status });
          }
          throw new RemoteError(kind, message, { status: response.status });
        }
        let envelope: RpcEnvelope;
        try {
          envelope = JSON.parse(text) as RpcEnvelope;
        } catch {
          throw new RemoteError(RemoteErrorKind.UNAVAILABLE, `Odoo ${what}: the answer is not JSON-RPC${summary(text)}`, { status: 200 });
        }
        if (envelope && typeof envelope === "object" && envelope.error) {
          const name = envelope.error.data?.name ?? `code ${envelope.error.code ?? "?"}`;
          const detail = envelope.error.data?.message ?? envelope.error.message ?? "";
          const kind = kindOfOdooError(name, detail, envelope.error.code, opts.uid);
          throw new RemoteError(kind, this.scrub(`Odoo ${what}: ${tenantDetail(name, detail)}`), { remoteCode: name, status: 200 });
        }
        if (!envelope || typeof envelope !== "object" || !("result" in envelope)) {
          throw new RemoteError(RemoteErrorKind.UNAVAILABLE, `Odoo ${what}: the answer is not JSON-RPC${summary(text)}`, { status: 200 });
        }
        return envelope.result as T;
      },
      { signal: opts.signal },
    );
  }

  /** Never echo the secret, even if a server put it in a message. */
  private scrub(message: string): string {
    return this.password.length >= 3 ? message.split(this.password).join("***") : message;
  }
}

function pageKwargs(opts: SearchOptions): Record<string, unknown> {
  const kwargs: Record<string, unknown> = {};
  if (opts.offset !== undefined) kwargs.offset = opts.offset;
  if (opts.limit !== undefined) kwargs.limit = opts.limit;
  if (opts.order !== undefined) kwargs.order = opts.order;
  return kwargs;
}

/** Failures before the request could leave (refused connection, unknown host): safe to retry anything. */
function neverSent(err: unknown): boolean {
  const code = (err as { cause?: { code?: string } })?.cause?.code;
  return code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EAI_AGAIN";
}

/**
 * What the tenant needs of an Odoo error text: database driver errors name Odoo's own database server (host, port,
 * `FATAL:`), which is Odoo's internal setup — reduced to what happened (`database "x" does not exist`, `Odoo cannot
 * reach its database`).
 */
export function tenantDetail(name: string, detail: string): string {
  if (!name.startsWith("psycopg2")) return `${name.replace(/^builtins\./, "")}: ${detail}`;
  const missing = /database "((?:[^"\\]|\\.)*)" does not exist/.exec(detail);
  if (missing) return `database "${missing[1]}" does not exist on this Odoo server`;
  if (/connection to server|could not connect|server closed the connection|Connection refused|could not translate host/i.test(detail)) {
    return "Odoo cannot reach its database";
  }
  return detail
    .replace(/connection to server at "[^"]*"(?: \([^)]*\))?, port \d+ failed:\s*/g, "")
    .replace(/\bFATAL:\s+/g, "")
    .replace(/\b(?:host|hostaddr|port)=\S+/g, "")
    .trim();
}

/** A short, tag-free excerpt of a non-JSON answer for the error message. */
function summary(text: string): string {
  const plain = text.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim();
  return plain ? ` (${plain.slice(0, 160)})` : "";
}
