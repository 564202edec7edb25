// Odoo 18's RPC dispatch without HTTP: the `common`, `object` and `db` services of /jsonrpc, `call_kw` with Python-style
// argument binding (positional or keyword, `context` popped), access rights per group, and the web-session flavour
// used by /web/dataset/call_kw. Order of checks follows the server: database, uid, credentials, private method name,
// model, method, arguments, access rights, then the method itself.
import { randomBytes } from "node:crypto";
import { OdooErrors, OdooException, pyRepr } from "./odoo.errors.js";
import { GROUP_NAMES, type Acl, type ModelDef } from "./odoo.models.js";
import type { CallEnv, OdooStore, Row } from "./odoo.store.js";

export const SERVER_VERSION = {
  server_version: "18.0",
  server_version_info: [18, 0, 0, "final", 0, ""],
  server_serie: "18.0",
  protocol_version: 1,
};

/** What a call is about, for fault rules, hooks and stats (`object.search_read` on `res.partner`). */
export interface CallInfo {
  service: string;
  method: string;
  model?: string;
}

interface Param {
  name: string;
  required?: boolean;
  default?: unknown;
}

interface MethodSpec {
  /** `@api.model` methods take no ids; record methods take ids as the first positional argument. */
  kind: "model" | "records";
  params: Param[];
  /** Accepts extra keyword arguments (`search_read(..., **read_kwargs)`). */
  varKw?: string[];
  access: keyof Acl | null;
}

const METHODS: Record<string, MethodSpec> = {
  search: { kind: "model", params: [{ name: "domain", required: true }, { name: "offset", default: 0 }, { name: "limit", default: null }, { name: "order", default: null }], access: "read" },
  search_read: {
    kind: "model",
    params: [{ name: "domain", default: null }, { name: "fields", default: null }, { name: "offset", default: 0 }, { name: "limit", default: null }, { name: "order", default: null }],
    varKw: ["load"],
    access: "read",
  },
  search_count: { kind: "model", params: [{ name: "domain", required: true }, { name: "limit", default: null }], access: "read" },
  read: { kind: "records", params: [{ name: "fields", default: null }, { name: "load", default: "_classic_read" }], access: "read" },
  create: { kind: "model", params: [{ name: "vals_list", required: true }], access: "create" },
  write: { kind: "records", params: [{ name: "vals", required: true }], access: "write" },
  unlink: { kind: "records", params: [], access: "unlink" },
  fields_get: { kind: "model", params: [{ name: "allfields", default: null }, { name: "attributes", default: null }], access: null },
  name_search: { kind: "model", params: [{ name: "name", default: "" }, { name: "args", default: null }, { name: "operator", default: "ilike" }, { name: "limit", default: 100 }], access: "read" },
  default_get: { kind: "model", params: [{ name: "fields_list", required: true }], access: null },
};

const VERBS: Record<keyof Acl, string> = { read: "access", write: "modify", create: "create", unlink: "delete" };

export interface Session {
  sid: string;
  uid: number;
  db: string;
  login: string;
}

export class OdooRpc {
  readonly sessions = new Map<string, Session>();

  constructor(
    readonly store: OdooStore,
    readonly db: string,
    private readonly baseUrl: () => string,
  ) {}

  /** Describes a /jsonrpc call before running it (for faults and stats); never throws. */
  describe(params: unknown): CallInfo {
    const p = (params ?? {}) as { service?: unknown; method?: unknown; args?: unknown };
    const service = typeof p.service === "string" ? p.service : "";
    const method = typeof p.method === "string" ? p.method : "";
    if (service === "object" && (method === "execute_kw" || method === "execute") && Array.isArray(p.args)) {
      const [, , , model, inner] = p.args as unknown[];
      return { service, method: typeof inner === "string" ? inner : method, model: typeof model === "string" ? model : undefined };
    }
    return { service, method };
  }

  /** `RPC.jsonrpc(service, method, args)` of a /jsonrpc body's params. */
  jsonrpc(params: unknown, now: number): unknown {
    const p = params && typeof params === "object" && !Array.isArray(params) ? (params as Record<string, unknown>) : {};
    const expected = ["service", "method", "args"];
    for (const key of Object.keys(p)) {
      if (!expected.includes(key)) throw OdooErrors.typeError(`RPC.jsonrpc() got an unexpected keyword argument '${key}'`);
    }
    const missing = expected.filter((k) => !(k in p));
    if (missing.length) throw OdooErrors.typeError(`RPC.jsonrpc() ${missingMessage(missing)}`);
    const { service, method, args } = p as { service: unknown; method: unknown; args: unknown };
    const argList = Array.isArray(args) ? args : args === null || args === undefined ? [] : [args];
    switch (service) {
      case "common":
        return this.common(String(method), argList);
      case "object":
        return this.object(String(method), argList, now);
      case "db":
        return this.dbService(String(method), argList);
      default:
        throw OdooErrors.keyError(typeof service === "string" ? service : pyRepr(service));
    }
  }

  private common(method: string, args: unknown[]): unknown {
    switch (method) {
      case "version":
        return SERVER_VERSION;
      case "about":
        return args[0] ? ["See http://openerp.com", SERVER_VERSION.server_version] : "See http://openerp.com";
      case "login": {
        checkArity("exp_login", ["db", "login", "password"], args);
        const [db, login, password] = args;
        return this.authenticate(db, login, password, false) ?? false;
      }
      case "authenticate": {
        checkArity("exp_authenticate", ["db", "login", "password", "user_agent_env"], args);
        const [db, login, password] = args;
        return this.authenticate(db, login, password, false) ?? false;
      }
      default:
        throw OdooErrors.methodNotFound(method);
    }
  }

  private dbService(method: string, args: unknown[]): unknown {
    switch (method) {
      case "list":
        return [this.db];
      case "server_version":
        return SERVER_VERSION.server_version;
      case "db_exist":
        return args[0] === this.db;
      default:
        throw OdooErrors.methodNotFound(method);
    }
  }

  private checkDb(db: unknown): void {
    if (db !== this.db) throw OdooErrors.unknownDatabase(String(db));
  }

  /** uid on success, undefined on bad credentials; API keys only for non-interactive (RPC) logins. */
  authenticate(db: unknown, login: unknown, password: unknown, interactive: boolean): number | undefined {
    this.checkDb(db);
    if (typeof login !== "string" || typeof password !== "string" || !password) return undefined;
    const user = this.store.search("res.users", [["login", "=", login]], { limit: 1 })[0];
    if (!user) return undefined;
    return this.credentialsMatch(user.id, password, interactive) ? user.id : undefined;
  }

  private credentialsMatch(uid: number, password: string, interactive: boolean): boolean {
    const creds = this.store.credentials.get(uid);
    if (!creds) return false;
    if (creds.password !== false && creds.password === password) return true;
    return !interactive && creds.apiKeys.includes(password);
  }

  private object(method: string, args: unknown[], now: number): unknown {
    if (method !== "execute_kw" && method !== "execute") throw OdooErrors.methodNotFound(method);
    if (args.length < 3) throw new OdooException("builtins.IndexError", "list index out of range");
    const [db, rawUid, password] = args;
    this.checkDb(db);
    const uid = pyInt(rawUid);
    // res.users.check: the user must exist (MissingError otherwise) and be active, then the credentials.
    const user = this.store.row("res.users", uid);
    if (!user) throw OdooErrors.missing("res.users", [uid], uid);
    if (user.active !== true || typeof password !== "string" || !this.credentialsMatch(uid, password, false)) throw OdooErrors.accessDenied();
    let model: unknown;
    let name: unknown;
    let callArgs: unknown[];
    let kwargs: Record<string, unknown>;
    if (method === "execute_kw") {
      if (args.length < 6) throw OdooErrors.typeError(`execute_kw() ${missingMessage(["obj", "method", "args"].slice(args.length - 3))}`);
      [, , , model, name] = args;
      callArgs = args[5] === undefined || args[5] === null ? [] : Array.isArray(args[5]) ? (args[5] as unknown[]) : [args[5]];
      const kw = args[6];
      kwargs = kw && typeof kw === "object" && !Array.isArray(kw) ? { ...(kw as Record<string, unknown>) } : {};
    } else {
      [, , , model, name] = args;
      callArgs = args.slice(5);
      kwargs = {};
    }
    if (typeof name !== "string") throw OdooErrors.typeError(`method name must be a string, not ${pyRepr(name)}`);
    if (name.startsWith("_")) throw OdooErrors.privateMethod(name);
    if (typeof model !== "string" || !this.store.hasModel(model)) throw OdooErrors.unknownModel(String(model));
    return this.callKw(uid, model, name, callArgs, kwargs, now);
  }

  /** `odoo.api.call_kw(model, name, args, kwargs)` as the given user. */
  callKw(uid: number, model: string, name: string, args: unknown[], kwargs: Record<string, unknown>, now: number): unknown {
    if (name.startsWith("_")) throw OdooErrors.privateMethod(name);
    const def = this.store.modelDef(model);
    const context = (kwargs.context && typeof kwargs.context === "object" ? kwargs.context : {}) as Record<string, unknown>;
    delete kwargs.context;
    const env: CallEnv = { uid, now, context };
    const spec: MethodSpec | undefined = METHODS[name] ?? (def.methods?.[name] ? { kind: "records", params: [], access: "write" } : undefined);
    if (!spec) throw OdooErrors.attributeError(name, model);

    let ids: unknown;
    let rest = args;
    if (spec.kind === "records") {
      if (args.length === 0) throw new OdooException("builtins.IndexError", "list index out of range");
      [ids, ...rest] = args;
    }
    const bound = bind(name, spec, rest, kwargs);
    if (spec.access) this.checkAccess(uid, def, spec.access);
    const activeTest = context.active_test !== false;
    const store = this.store;

    switch (name) {
      case "search": {
        const rows = store.search(model, bound.domain ?? [], { offset: intArg(bound.offset), limit: limitArg(bound.limit), order: orderArg(bound.order), activeTest });
        return rows.map((r) => r.id);
      }
      case "search_read": {
        const fields = this.fieldsArg(model, bound.fields);
        const rows = store.search(model, bound.domain ?? [], { offset: intArg(bound.offset), limit: limitArg(bound.limit), order: orderArg(bound.order), activeTest });
        return new RecordPage(store, model, rows, fields, loadArg(bound.load));
      }
      case "search_count":
        return store.searchCount(model, bound.domain ?? [], { activeTest, limit: limitArg(bound.limit) });
      case "read": {
        const fields = this.fieldsArg(model, bound.fields);
        const rows = store.readRows(model, ids);
        return new RecordPage(store, model, rows, fields, loadArg(bound.load));
      }
      case "create": {
        const single = !Array.isArray(bound.vals_list);
        const created = store.createRecords(model, single ? [bound.vals_list] : (bound.vals_list as unknown[]), env);
        return single ? created[0] : created;
      }
      case "write":
        store.writeRecords(model, ids, bound.vals, env);
        return true;
      case "unlink":
        store.unlinkRecords(model, ids, env);
        return true;
      case "fields_get":
        return this.fieldsGet(def, bound.allfields, bound.attributes);
      case "name_search":
        return this.nameSearch(def, bound, activeTest);
      case "default_get":
        return this.defaultGet(def, bound.fields_list, env);
      default: {
        const idList = store.browse(model, ids);
        const missing = idList.filter((id) => !store.row(model, id));
        if (missing.length) throw OdooErrors.missing(model, missing, uid);
        return def.methods![name](idList, { ...hostOf(store), setFields: (rowIds, vals) => store.setFields(model, rowIds, vals, env) });
      }
    }
  }

  private fieldsArg(model: string, fields: unknown): string[] {
    if (fields === null || fields === undefined || fields === false || (Array.isArray(fields) && fields.length === 0)) {
      return this.store.defaultReadFields(model).filter((f) => f !== "password" || model !== "res.users");
    }
    const list = Array.isArray(fields) ? fields : [fields];
    const checked = this.store.checkFields(model, list);
    return [...new Set(checked)];
  }

  /** ir.model.access: the user's groups must include one allowed for the operation (the superuser passes). */
  checkAccess(uid: number, def: ModelDef, op: keyof Acl): void {
    if (uid === 1) return;
    const user = this.store.row("res.users", uid);
    const groups = new Set((user?.groups_id as number[] | undefined) ?? []);
    const allowed = def.acl[op];
    if (allowed.some((g) => groups.has(g))) return;
    throw OdooErrors.accessError(
      `You are not allowed to ${VERBS[op]} '${def.description}' (${def.name}) records.\n\n` +
        "This operation is allowed for the following groups:\n" +
        allowed.map((g) => `\t- ${GROUP_NAMES[g]}`).join("\n") +
        "\n\nContact your administrator to request access if necessary.",
    );
  }

  private fieldsGet(def: ModelDef, allfields: unknown, attributes: unknown): Record<string, Record<string, unknown>> {
    const names = Array.isArray(allfields) && allfields.length ? allfields.filter((f): f is string => typeof f === "string" && !!def.fields[f]) : Object.keys(def.fields);
    const wanted = Array.isArray(attributes) && attributes.length ? new Set(attributes.map(String)) : undefined;
    const out: Record<string, Record<string, unknown>> = {};
    for (const name of names) {
      const field = def.fields[name];
      const description: Record<string, unknown> = {
        name,
        type: field.type,
        string: field.string,
        required: Boolean(field.required),
        readonly: Boolean(field.readonly),
        store: name !== "display_name",
        searchable: true,
        sortable: field.type !== "one2many" && field.type !== "many2many" && name !== "display_name",
      };
      if (field.relation) description.relation = field.relation;
      if (field.type === "one2many") description.relation_field = field.inverse;
      if (field.selection) description.selection = field.selection;
      if (wanted) for (const key of Object.keys(description)) if (!wanted.has(key)) delete description[key];
      out[name] = description;
    }
    return out;
  }

  private nameSearch(def: ModelDef, bound: Record<string, unknown>, activeTest: boolean): [number, string][] {
    const name = typeof bound.name === "string" ? bound.name : "";
    const operator = typeof bound.operator === "string" ? bound.operator : "ilike";
    const extra = Array.isArray(bound.args) ? bound.args : [];
    let domain: unknown[] = [...extra];
    if (name || !["ilike", "like", "=like", "=ilike"].includes(operator)) {
      const fields = def.nameSearchFields ?? [def.recName];
      const leaves = fields.map((f) => [f, operator, name]);
      const negative = operator.startsWith("not") || operator === "!=";
      const ors: unknown[] = [];
      for (let i = 0; i < leaves.length - 1; i++) ors.push(negative ? "&" : "|");
      domain = ["&", ...(domain.length ? normalizeTop(domain) : [[1, "=", 1]]), ...ors, ...leaves];
    }
    const limit = limitArg(bound.limit);
    const rows = this.store.search(def.name, domain, { limit, activeTest });
    return rows.map((row) => [row.id, this.store.displayName(def.name, row.id)]);
  }

  private defaultGet(def: ModelDef, fields: unknown, env: CallEnv): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const list = Array.isArray(fields) ? fields : [];
    for (const name of list) {
      const field = typeof name === "string" ? def.fields[name] : undefined;
      if (!field?.default) continue;
      // sale.order's name is 'New' until create() takes the next number of the sequence.
      if (def.name === "sale.order" && name === "name") {
        out[name] = "New";
        continue;
      }
      const value = field.default({ uid: env.uid, now: env.now, nextSequence: () => 0 });
      out[name] = field.type === "datetime" && typeof value === "number" ? formatMicros(value) : value;
    }
    return out;
  }

  // ---- web sessions (/web/session/*, /web/dataset/call_kw) ------------------------------------------------------

  /** /web/session/authenticate: interactive login (API keys refused), a new session. */
  sessionAuthenticate(params: Record<string, unknown>): Session {
    const uid = this.authenticate(params.db, params.login, params.password, true);
    if (uid === undefined) throw OdooErrors.accessDenied();
    const sid = randomBytes(53).toString("base64url").slice(0, 70);
    const session: Session = { sid, uid, db: String(params.db), login: String(params.login) };
    this.sessions.set(sid, session);
    return session;
  }

  /** The session_info object the web client receives (same keys as Odoo 18's). */
  sessionInfo(session: Session): Record<string, unknown> {
    const user = this.store.row("res.users", session.uid)!;
    const partnerId = user.partner_id as number;
    const partner = this.store.row("res.partner", partnerId);
    const groups = new Set(user.groups_id as number[]);
    const isAdmin = groups.has(2) || groups.has(3);
    const settings = {
      id: session.uid - 1 || 1,
      user_id: { id: session.uid },
      is_discuss_sidebar_category_channel_open: true,
      is_discuss_sidebar_category_chat_open: true,
      push_to_talk_key: false,
      use_push_to_talk: false,
      voice_active_duration: 200,
      channel_notifications: false,
      mute_until_dt: false,
      volumes: [["ADD", []]],
    };
    const writeDate = partner ? formatMicros(partner.write_date as number) : false;
    const bot = this.store.row("res.partner", 2);
    return {
      uid: session.uid,
      is_system: groups.has(3),
      is_admin: isAdmin,
      is_public: groups.has(7),
      is_internal_user: groups.has(1),
      user_context: { lang: "en_US", tz: false, uid: session.uid },
      db: session.db,
      user_settings: settings,
      server_version: SERVER_VERSION.server_version,
      server_version_info: SERVER_VERSION.server_version_info,
      support_url: "https://www.odoo.com/buy",
      name: user.name,
      username: user.login,
      partner_write_date: writeDate,
      partner_display_name: this.store.displayName("res.partner", partnerId),
      partner_id: partnerId,
      "web.base.url": this.baseUrl(),
      active_ids_limit: 20000,
      profile_session: null,
      profile_collectors: null,
      profile_params: null,
      max_file_upload_size: 134217728,
      home_action_id: false,
      cache_hashes: { translations: "15c3faef47839ca3f95df6b060951ec115b5f512", load_menus: "d2293e6c745d98484459216f4e177ec7c6e80a81ce18eab0b74c74db00f8d344" },
      currencies: { "1": { symbol: "$", position: "before", digits: [69, 2] } },
      bundle_params: { lang: "en_US" },
      test_mode: false,
      view_info: Object.fromEntries(
        [
          ["list", "List", "oi oi-view-list", true],
          ["form", "Form", "fa fa-address-card", false],
          ["graph", "Graph", "fa fa-area-chart", true],
          ["pivot", "Pivot", "oi oi-view-pivot", true],
          ["calendar", "Calendar", "fa fa-calendar", true],
          ["kanban", "Kanban", "oi oi-view-kanban", true],
          ["search", "Search", "oi oi-search", true],
          ["activity", "Activity", "fa fa-clock-o", true],
        ].map(([key, display_name, icon, multi_record]) => [key, { display_name, icon, multi_record }]),
      ),
      user_companies: {
        current_company: 1,
        allowed_companies: { "1": { id: 1, name: this.store.displayName("res.company", 1), sequence: 0, child_ids: [], parent_id: false } },
        disallowed_ancestor_companies: {},
      },
      show_effect: true,
      display_switch_company_menu: false,
      websocket_worker_version: "18.0-2",
      tour_enabled: true,
      current_tour: {
        url: "/odoo",
        name: "sale_tour",
        custom: false,
        steps: [],
        rainbowManMessage:
          "<span><b>Congratulations</b>, your first quotation is sent!<br>Check your email to validate the quote.\n        </span>",
      },
      storeData: {
        Store: {
          action_discuss_id: 125,
          channel_types_with_seen_infos: ["chat", "group"],
          hasGifPickerFeature: false,
          hasLinkPreviewFeature: true,
          hasMessageTranslationFeature: false,
          internalUserGroupId: 1,
          mt_comment_id: 1,
          odoobot: { id: 2, type: "partner" },
          self: { id: partnerId, type: "partner" },
          settings,
        },
        "res.partner": [
          {
            active: bot?.active === true,
            email: (bot?.email as string) || false,
            id: 2,
            im_status: "bot",
            isInternalUser: true,
            is_company: false,
            name: "OdooBot",
            userId: 1,
            write_date: bot ? formatMicros(bot.write_date as number) : false,
          },
          {
            active: partner?.active === true,
            id: partnerId,
            isAdmin,
            isInternalUser: groups.has(1),
            name: partner?.name ?? user.name,
            notification_preference: "email",
            userId: session.uid,
            write_date: writeDate,
          },
        ],
      },
      odoobot_initialized: false,
      iap_company_enrich: true,
      can_insert_in_spreadsheet: false,
    };
  }
}

/** Records a call returns, encoded lazily: straight to JSON text for /jsonrpc, as values for XML-RPC. */
export class RecordPage {
  constructor(
    private readonly store: OdooStore,
    private readonly model: string,
    private readonly rows: Row[],
    private readonly fields: string[],
    private readonly load: boolean,
  ) {}

  get length(): number {
    return this.rows.length;
  }

  toJSONText(): string {
    return this.store.encodeWire(this.model, this.rows, this.fields, this.load);
  }

  toValue(): Record<string, unknown>[] {
    return this.store.toWire(this.model, this.rows, this.fields, this.load);
  }
}

function hostOf(store: OdooStore) {
  return {
    row: store.row.bind(store),
    referrers: store.referrers.bind(store),
    displayName: store.displayName.bind(store),
  };
}

function formatMicros(micros: number): string {
  const iso = new Date(Math.floor(micros / 1_000_000) * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

/** Python's "missing N required positional argument(s): 'a', 'b', and 'c'". */
function missingMessage(names: string[]): string {
  const quoted = names.map((n) => `'${n}'`);
  const list = quoted.length === 1 ? quoted[0] : quoted.length === 2 ? `${quoted[0]} and ${quoted[1]}` : `${quoted.slice(0, -1).join(", ")}, and ${quoted[quoted.length - 1]}`;
  return `missing ${names.length} required positional argument${names.length === 1 ? "" : "s"}: ${list}`;
}

function checkArity(fn: string, names: string[], args: unknown[]): void {
  if (args.length < names.length) throw OdooErrors.typeError(`${fn}() ${missingMessage(names.slice(args.length))}`);
  if (args.length > names.length) {
    throw OdooErrors.typeError(`${fn}() takes ${names.length} positional arguments but ${args.length} were given`);
  }
}

/** Binds positional and keyword arguments to a method's parameters, with Python's TypeErrors. */
function bind(name: string, spec: MethodSpec, args: unknown[], kwargs: Record<string, unknown>): Record<string, unknown> {
  const qualified = `BaseModel.${name}()`;
  const { params } = spec;
  if (args.length > params.length) {
    const min = params.filter((p) => p.required).length + 1 + (spec.kind === "records" ? 0 : 0);
    const max = params.length + 1;
    throw OdooErrors.typeError(
      `${qualified} takes ${min === max ? max : `from ${min} to ${max}`} positional arguments but ${args.length + 1} were given`,
    );
  }
  const bound: Record<string, unknown> = {};
  params.forEach((p, i) => {
    if (i < args.length) bound[p.name] = args[i];
  });
  for (const [key, value] of Object.entries(kwargs)) {
    const param = params.find((p) => p.name === key);
    if (!param && !spec.varKw?.includes(key)) throw OdooErrors.typeError(`${qualified} got an unexpected keyword argument '${key}'`);
    if (key in bound) throw OdooErrors.typeError(`${qualified} got multiple values for argument '${key}'`);
    bound[key] = value;
  }
  const missing = params.filter((p) => p.required && !(p.name in bound)).map((p) => p.name);
  if (missing.length) throw OdooErrors.typeError(`${qualified} ${missingMessage(missing)}`);
  for (const p of params) if (!(p.name in bound)) bound[p.name] = p.default;
  return bound;
}

function pyInt(value: unknown): number {
  if (typeof value === "number") return Math.trunc(value);
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "string" && /^\s*-?\d+\s*$/.test(value)) return Number(value);
  if (typeof value === "string") throw OdooErrors.valueError(`invalid literal for int() with base 10: ${pyRepr(value)}`);
  throw OdooErrors.typeError(`int() argument must be a string, a bytes-like object or a real number, not '${value === null ? "NoneType" : typeof value}'`);
}

function intArg(value: unknown): number {
  if (value === null || value === undefined || value === false) return 0;
  if (typeof value === "number" && Number.isInteger(value)) return value;
  throw OdooErrors.typeError(`'<' not supported between instances of '${typeof value === "string" ? "str" : typeof value}' and 'int'`);
}

function limitArg(value: unknown): number | null {
  if (value === null || value === undefined || value === false) return null;
  if (typeof value === "number" && Number.isInteger(value)) return value;
  throw OdooErrors.typeError(`'<' not supported between instances of '${typeof value === "string" ? "str" : typeof value}' and 'int'`);
}

function orderArg(value: unknown): string | null {
  if (value === null || value === undefined || value === false || value === "") return null;
  if (typeof value === "string") return value;
  throw OdooErrors.valueError(`Invalid "order" specified (${pyRepr(value)}). A valid "order" specification is a comma-separated list of valid field names (optionally followed by asc/desc for the direction)`);
}

function loadArg(value: unknown): boolean {
  return !(value === null || value === false || value === "");
}

/** A user domain wrapped so it combines as one operand of '&'. */
function normalizeTop(domain: unknown[]): unknown[] {
  const leaves = domain.filter((t) => Array.isArray(t)).length;
  const ops = domain.filter((t) => t === "&" || t === "|").length;
  const implicit = leaves - 1 - ops;
  return [...Array.from({ length: Math.max(0, implicit) }, () => "&"), ...domain];
}
