// A faithful Odoo 18 server for tests, the demo and benchmarks: POST /jsonrpc (plus the /web/session flavour and
// XML-RPC on /xmlrpc/2/*) over an in-memory store, answering with the exact shapes and error envelopes of the recorded
// transcript (test/simulators/fixtures/odoo-18.0-jsonrpc.transcript.json). Knobs: latency, a real Odoo's pace (server
// time per record, worker limit), faults (HTTP 5xx, hangs, resets, Odoo error envelopes; next N calls or calls matching
// a method/model), hooks that change data after K matching calls, and JSON control endpoints under /__sim/ for a
// simulator in another process. /__sim/ is a separate path: nothing in the RPC protocols reaches it.
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { parseTimestamp } from "./odoo.domain.js";
import { OdooException, traceback } from "./odoo.errors.js";
import { OdooRpc, RecordPage, type CallInfo, type Session } from "./odoo.rpc.js";
import type { SeedOptions } from "./odoo.seed.js";
import { OdooStore, OdooTransaction } from "./odoo.store.js";
import { faultResponse, methodResponse, parseMethodCall } from "./odoo.xmlrpc.js";

export type { SeedOptions } from "./odoo.seed.js";
export { OdooStore } from "./odoo.store.js";

/** What an injected fault does to a matching call. */
export type OdooFault =
  /** Answer with this HTTP status and an HTML page, like a proxy in front of a down Odoo (502, 503, 504, 429...). */
  | { kind: "http"; status: number; body?: string }
  /** Never answer: the request hangs until the client gives up (or the simulator closes). */
  | { kind: "hang" }
  /** Drop the connection without an answer. */
  | { kind: "reset" }
  /** Answer normally after `ms`. */
  | { kind: "delay"; ms: number }
  /** Answer with an Odoo error envelope (`odoo.exceptions.AccessDenied`, `psycopg2.errors.SerializationFailure`...). */
  | { kind: "error"; name: string; message?: string; code?: number };

/** Which calls a fault or hook applies to; every given member must match (`method` is execute_kw's method). */
export interface CallMatch {
  service?: string;
  method?: string;
  model?: string;
}

export interface FaultRule extends CallMatch {
  fault: OdooFault;
  /** How many matching calls fail (default 1; Infinity: until cleared). */
  times?: number;
  /** Let this many matching calls through first. */
  skip?: number;
  /** Run the call, then fail the answer (the change is applied but the client never learns it: an ambiguous failure). */
  afterServe?: boolean;
}

/** A change applied to the data, by a hook or through POST /__sim/ops. Datetimes as Odoo strings or ISO. */
export type SimOp =
  | { op: "create"; model: string; values: Record<string, unknown>[]; at?: string; tx?: string }
  | { op: "write"; model: string; ids: number[]; values: Record<string, unknown>; at?: string; tx?: string }
  | { op: "begin" | "commit" | "rollback"; tx: string }
  | { op: "unlink"; model: string; ids: number[] }
  | { op: "archive"; model: string; ids: number[]; at?: string }
  | ({ op: "seed" } & SeedOptions);

export interface HookRule extends CallMatch {
  /** Run after this many matching calls have been answered (counted from when the hook is added). */
  afterCalls: number;
  /** What to change (programmatic hooks may use `run` instead). */
  ops?: SimOp[];
  run?: (store: OdooStore) => void;
}

export interface OdooStats {
  /** HTTP requests on the protocol paths (not /__sim/). */
  requests: number;
  /** Calls by `service.method` (`object.search_read`, `common.authenticate`). */
  calls: Record<string, number>;
  /** Records returned by search_read and read. */
  recordsServed: number;
  faultsInjected: number;
  /** Time spent computing answers (dispatch + JSON encoding), excluding latency and faults (ms). */
  busyMs: number;
}

export interface OdooSimulatorOptions {
  /** 0 (default): a free port. */
  port?: number;
  host?: string;
  /** Database name (default `odoo`); any other name fails like a missing PostgreSQL database. */
  db?: string;
  adminPassword?: string;
  /** The admin's API key (40 hex); default derived from `seed`. */
  apiKey?: string;
  /** Bulk data to seed at start. */
  seed?: SeedOptions;
  /** Extra users: `groups: "user"` gives only Internal User (AccessError on most writes), `"admin"` everything. */
  users?: { login: string; password: string; name?: string; groups?: "admin" | "user"; apiKey?: string }[];
  /** Latency added to every protocol call (ms). */
  latencyMs?: number;
  /** Emulated server time per record returned (µs), e.g. 30 to serve at a real Odoo's pace (see OdooFaults). */
  perRecordUs?: number;
  /** Emulated server time of every call (ms), before its records (see OdooFaults, ODOO18_PACE). */
  perCallMs?: number;
  /** At most this many calls served at once, like Odoo's `workers` (default: no limit). */
  workers?: number;
  /** Epoch microseconds (default: the wall clock with microseconds). Tests pin time with it. */
  clock?: () => number;
  /** Serve /__sim/ control endpoints (default true). */
  control?: boolean;
  /** When set, /__sim/ requests must send it in `x-sim-control-token` (as the Moodle simulator). */
  controlToken?: string;
}

export interface OdooSimulator {
  readonly url: string;
  readonly db: string;
  readonly adminLogin: string;
  readonly adminPassword: string;
  readonly apiKey: string;
  readonly store: OdooStore;
  readonly faults: OdooFaults;
  readonly stats: OdooStats;
  resetStats(): void;
  /** Adds a hook that changes data after K matching calls; returns a remover. */
  after(rule: HookRule): () => void;
  /** Applies ops now (the same as POST /__sim/ops). */
  apply(ops: SimOp[]): unknown[];
  close(): Promise<void>;
}

/**
 * A real Odoo 18's serving pace on a 2-core machine (../shared/protocols: `search_read` of res.partner by one client
 * ≈ 3–4k records/s at 100 per page, 17–21k at 1,000 (45–60 ms a page), 26–29k at 5,000): about 22 ms per call plus
 * 30 µs per record, one call at a time (workers=0 serves requests in threads of one Python process).
 */
export const ODOO18_PACE = { perCallMs: 22, perRecordUs: 30, workers: 1 } as const;

/** Fault injection: latency for every call, server cost knobs, and rules consumed by matching calls. */
export class OdooFaults {
  latencyMs = 0;
  /**
   * Server time per record returned (µs), spent as a non-blocking wait: a real Odoo 18 spends about 30 µs of CPU per
   * record of search_read. 0 (default): the simulator's own speed.
   */
  perRecordUs = 0;
  /**
   * Server time of every call (ms) on top of its records: a call is answered no sooner than
   * `perCallMs + records × perRecordUs` after it started being served (the simulator's own work counts toward it).
   */
  perCallMs = 0;
  /** At most this many calls served at once (Odoo's `workers`); 0 (default): no limit. */
  workers = 0;
  private rules: (FaultRule & { remaining: number; skipped: number })[] = [];

  add(rule: FaultRule): () => void {
    const entry = { ...rule, remaining: rule.times ?? 1, skipped: 0 };
    this.rules.push(entry);
    return () => {
      this.rules = this.rules.filter((r) => r !== entry);
    };
  }

  /** The next `n` calls (matching `match`) fail with `fault`. */
  failNext(n: number, fault: OdooFault, match: CallMatch = {}): () => void {
    return this.add({ ...match, fault, times: n });
  }

  clear(): void {
    this.rules = [];
  }

  get pending(): number {
    return this.rules.reduce((n, r) => n + (Number.isFinite(r.remaining) ? r.remaining : 1), 0);
  }

  /** The rule a call triggers (consuming one use), if any. */
  take(call: CallInfo): FaultRule | undefined {
    for (const rule of this.rules) {
      if (!matches(rule, call)) continue;
      if (rule.skipped < (rule.skip ?? 0)) {
        rule.skipped++;
        continue;
      }
      rule.remaining--;
      if (rule.remaining <= 0) this.rules = this.rules.filter((r) => r !== rule);
      return rule;
    }
    return undefined;
  }
}

function matches(rule: CallMatch, call: CallInfo): boolean {
  return (
    (rule.service === undefined || rule.service === call.service) &&
    (rule.method === undefined || rule.method === call.method) &&
    (rule.model === undefined || rule.model === call.model)
  );
}

/** Epoch microseconds from the wall clock. */
export function wallClockMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const JSON_TYPE = "application/json; charset=utf-8";
const HTML_TYPE = "text/html; charset=utf-8";
const XML_TYPE = "text/xml; charset=utf-8";

/** Starts a simulator; resolves once it listens. */
export async function startOdooSimulator(options: OdooSimulatorOptions = {}): Promise<OdooSimulator> {
  const db = options.db ?? "odoo";
  const adminPassword = options.adminPassword ?? "admin";
  const apiKey = options.apiKey ?? deriveKey(options.seed?.seed ?? 1);
  if (!/^[0-9a-f]{40}$/.test(apiKey)) throw new Error("apiKey must be 40 lowercase hex characters");
  const clock = options.clock ?? wallClockMicros;
  let url = "";
  const store = new OdooStore(clock, { adminPassword, apiKey, baseUrl: () => url });
  const rpc = new OdooRpc(store, db, () => url);
  const faults = new OdooFaults();
  faults.latencyMs = options.latencyMs ?? 0;
  faults.perRecordUs = options.perRecordUs ?? 0;
  faults.perCallMs = options.perCallMs ?? 0;
  faults.workers = options.workers ?? 0;
  let busyWorkers = 0;
  const waiting: (() => void)[] = [];
  /** Odoo's worker limit: a call waits for a free worker. */
  const acquire = async () => {
    while (faults.workers > 0 && busyWorkers >= faults.workers) await new Promise<void>((resolve) => waiting.push(resolve));
    busyWorkers++;
  };
  const release = () => {
    busyWorkers--;
    waiting.shift()?.();
  };
  const stats: OdooStats = { requests: 0, calls: {}, recordsServed: 0, faultsInjected: 0, busyMs: 0 };
  let hooks: (HookRule & { seen: number })[] = [];
  const hung = new Set<ServerResponse>();
  const sockets = new Set<Socket>();

  const addUsers = () => {
    for (const user of options.users ?? []) {
      const now = clock();
      const groups = user.groups === "admin" ? [1, 2, 3, 4, 5] : [1];
      const [uid] = store.createRecords("res.users", [{ name: user.name ?? user.login, login: user.login, password: user.password, groups_id: [[6, 0, groups]] }], {
        uid: 1,
        now,
      });
      if (user.apiKey) store.credentials.get(uid)!.apiKeys.push(user.apiKey);
    }
  };
  addUsers();
  if (options.seed) store.seed(options.seed);

  const apply = (ops: SimOp[]): unknown[] => ops.map((op) => applyOp(store, op));

  const runHooks = (call: CallInfo) => {
    for (const hook of [...hooks]) {
      if (!matches(hook, call)) continue;
      hook.seen++;
      if (hook.seen < hook.afterCalls) continue;
      hooks = hooks.filter((h) => h !== hook);
      if (hook.run) hook.run(store);
      if (hook.ops) apply(hook.ops);
    }
  };

  const count = (call: CallInfo) => {
    const key = `${call.service}.${call.method}`;
    stats.calls[key] = (stats.calls[key] ?? 0) + 1;
  };

  /** Runs a JSON-RPC body through faults, latency and dispatch, then answers. */
  const serveRpc = async (
    res: ServerResponse,
    call: CallInfo,
    id: unknown,
    run: (now: number) => unknown,
    extraHeaders: () => Record<string, string> = () => ({}),
    xml = false,
  ) => {
    count(call);
    const rule = faults.take(call);
    if (faults.latencyMs > 0) await sleep(faults.latencyMs);
    await acquire();
    try {
      await serveCall(res, call, id, run, extraHeaders, xml, rule);
    } finally {
      release();
    }
  };

  const serveCall = async (
    res: ServerResponse,
    call: CallInfo,
    id: unknown,
    run: (now: number) => unknown,
    extraHeaders: () => Record<string, string>,
    xml: boolean,
    rule: FaultRule | undefined,
  ) => {
    if (rule && !rule.afterServe) {
      stats.faultsInjected++;
      if (rule.fault.kind === "delay") await sleep(rule.fault.ms);
      else return injectFault(res, rule.fault, id, call, hung);
    }
    const started = performance.now();
    let body: string;
    let served = 0;
    try {
      const result = run(clock());
      if (result instanceof RecordPage) {
        served = result.length;
        body = xml
          ? methodResponse(result.toValue())
          : `{"jsonrpc":"2.0","id":${JSON.stringify(id ?? null)},"result":${result.toJSONText()}}`;
      } else {
        body = xml ? methodResponse(result) : JSON.stringify({ jsonrpc: "2.0", id: id ?? null, result });
      }
      stats.recordsServed += served;
    } catch (err) {
      body = xml ? faultResponse(err) : JSON.stringify(errorEnvelope(err, id, call));
    }
    const busy = performance.now() - started;
    stats.busyMs += busy;
    // A real server's time for this call; what the simulator itself spent counts toward it.
    const serverMs = faults.perCallMs + (served * faults.perRecordUs) / 1000;
    if (serverMs > busy) await sleep(serverMs - busy);
    runHooks(call);
    if (rule?.afterServe) {
      stats.faultsInjected++;
      if (rule.fault.kind !== "delay") return injectFault(res, rule.fault, id, call, hung);
      await sleep(rule.fault.ms);
    }
    send(res, 200, xml ? XML_TYPE : JSON_TYPE, body, extraHeaders());
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path.startsWith("/__sim/") || path === "/__sim") {
      if (options.control === false) return notFound(res);
      return control(req, res, path);
    }
    const raw = await readBody(req);
    if (path === "/jsonrpc" || path.startsWith("/web/")) {
      stats.requests++;
      if (path.startsWith("/web/") && !WEB_ROUTES.some((r) => r.test(path))) return notFound(res);
      if (req.method !== "POST") return send(res, 405, HTML_TYPE, htmlPage(405, "Method Not Allowed", "The method is not allowed for the requested URL."));
      const type = (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
      if (type !== "application/json" && type !== "application/json-rpc") {
        return send(
          res,
          400,
          HTML_TYPE,
          htmlPage(400, "Bad Request", `Request inferred type is compatible with [&#39;http&#39;] but &#39;${path}&#39; is type=&#39;json&#39;.`),
        );
      }
      let body: unknown;
      try {
        body = JSON.parse(raw.toString("utf8"));
      } catch {
        return send(res, 400, HTML_TYPE, "Invalid JSON data");
      }
      if (!body || typeof body !== "object" || Array.isArray(body)) return send(res, 400, HTML_TYPE, "Invalid JSON-RPC data");
      const { id, params } = body as { id?: unknown; params?: unknown };
      if (path === "/jsonrpc") return serveRpc(res, rpc.describe(params), id, (now) => rpc.jsonrpc(params, now));
      return serveWeb(req, res, path, id, (params ?? {}) as Record<string, unknown>);
    }
    const xmlService = /^\/xmlrpc\/2\/(common|object|db)$/.exec(path)?.[1];
    if (xmlService) {
      stats.requests++;
      if (req.method !== "POST") return send(res, 405, HTML_TYPE, htmlPage(405, "Method Not Allowed", "The method is not allowed for the requested URL."));
      let call: { method: string; params: unknown[] };
      try {
        call = parseMethodCall(raw.toString("utf8"));
      } catch (err) {
        return send(res, 200, XML_TYPE, faultResponse(new OdooException("xml.parsers.expat.ExpatError", err instanceof Error ? err.message : String(err))));
      }
      const params = { service: xmlService, method: call.method, args: call.params };
      return serveRpc(res, rpc.describe(params), null, (now) => rpc.jsonrpc(params, now), undefined, true);
    }
    return notFound(res);
  };

  const sessionOf = (req: IncomingMessage): Session | undefined => {
    const cookie = req.headers.cookie ?? "";
    const sid = /(?:^|;\s*)session_id=([^;]+)/.exec(cookie)?.[1];
    return sid ? rpc.sessions.get(sid) : undefined;
  };

  const serveWeb = async (req: IncomingMessage, res: ServerResponse, path: string, id: unknown, params: Record<string, unknown>) => {
    const session = sessionOf(req);
    const cookieOf = (s: Session) => ({
      "Set-Cookie": `session_id=${s.sid}; Expires=${new Date(Date.now() + 604800_000).toUTCString()}; Max-Age=604800; HttpOnly; Path=/`,
    });
    if (path === "/web/session/authenticate") {
      let created: Session | undefined;
      return serveRpc(
        res,
        { service: "web", method: "session_authenticate" },
        id,
        () => {
          created = rpc.sessionAuthenticate(params);
          return rpc.sessionInfo(created);
        },
        () => (created ? cookieOf(created) : {}),
      );
    }
    if (!session) {
      count({ service: "web", method: path });
      return send(res, 200, JSON_TYPE, JSON.stringify(errorEnvelope(new OdooException("odoo.http.SessionExpiredException", "Session expired", 100), null, { service: "web", method: path })));
    }
    if (path === "/web/session/get_session_info") {
      return serveRpc(res, { service: "web", method: "get_session_info" }, id, () => rpc.sessionInfo(session), () => cookieOf(session));
    }
    if (path === "/web/session/destroy") {
      rpc.sessions.delete(session.sid);
      return serveRpc(res, { service: "web", method: "session_destroy" }, id, () => null);
    }
    // /web/dataset/call_kw[/<model>/<method>]
    const model = typeof params.model === "string" ? params.model : "";
    const method = typeof params.method === "string" ? params.method : "";
    const args = Array.isArray(params.args) ? params.args : [];
    const kwargs = params.kwargs && typeof params.kwargs === "object" ? { ...(params.kwargs as Record<string, unknown>) } : {};
    return serveRpc(
      res,
      { service: "web", method, model },
      id,
      (now) => {
        if (!store.hasModel(model)) throw new OdooException("builtins.KeyError", model);
        return rpc.callKw(session.uid, model, method, args, kwargs, now);
      },
      () => cookieOf(session),
    );
  };

  const control = async (req: IncomingMessage, res: ServerResponse, path: string) => {
    const json = (status: number, value: unknown) => send(res, status, JSON_TYPE, JSON.stringify(value));
    if (options.controlToken && req.headers["x-sim-control-token"] !== options.controlToken) {
      await readBody(req);
      return json(403, { error: "bad control token" });
    }
    let body: Record<string, unknown> = {};
    const raw = await readBody(req);
    if (raw.length) {
      try {
        body = JSON.parse(raw.toString("utf8")) as Record<string, unknown>;
      } catch {
        return json(400, { error: "body must be JSON" });
      }
    }
    const query = new URL(req.url ?? "/", "http://x").searchParams;
    try {
      const route = `${req.method} ${path}`;
      switch (route) {
        case "GET /__sim/info":
          return json(200, { url, db, adminLogin: "admin", adminPassword, apiKey, models: Object.fromEntries(store.modelNames().map((m) => [m, store.count(m)])) });
        case "GET /__sim/stats":
          return json(200, stats);
        case "POST /__sim/stats/reset":
          resetStats();
          return json(200, stats);
        case "POST /__sim/reset":
          store.reset();
          addUsers();
          hooks = [];
          faults.clear();
          rpc.sessions.clear();
          if (body.seed) store.seed(body.seed as SeedOptions);
          return json(200, { ok: true });
        case "POST /__sim/seed":
          return json(200, store.seed(body as SeedOptions));
        case "POST /__sim/ops":
          return json(200, { results: apply((body.ops ?? []) as SimOp[]) });
        case "GET /__sim/ids": {
          const model = query.get("model") ?? "res.partner";
          const active = query.get("active");
          return json(200, { ids: store.ids(model, { active: active === null ? undefined : active === "true" }) });
        }
        case "GET /__sim/records": {
          const model = query.get("model") ?? "res.partner";
          const ids = (query.get("ids") ?? "").split(",").filter(Boolean).map(Number);
          const fields = (query.get("fields") ?? "").split(",").filter(Boolean);
          const rows = store.readRows(model, ids);
          return json(200, { records: store.toWire(model, rows, fields.length ? store.checkFields(model, fields) : store.defaultReadFields(model).filter((f) => f !== "password")) });
        }
        case "POST /__sim/faults":
          for (const rule of (body.rules ?? [body]) as FaultRule[]) faults.add({ ...rule, times: rule.times === null ? Infinity : rule.times });
          return json(200, { pending: faults.pending });
        case "DELETE /__sim/faults":
          faults.clear();
          return json(200, { pending: 0 });
        case "POST /__sim/latency":
          if (body.ms !== undefined) faults.latencyMs = Number(body.ms);
          if (body.perRecordUs !== undefined) faults.perRecordUs = Number(body.perRecordUs);
          if (body.perCallMs !== undefined) faults.perCallMs = Number(body.perCallMs);
          if (body.workers !== undefined) faults.workers = Number(body.workers);
          return json(200, { latencyMs: faults.latencyMs, perRecordUs: faults.perRecordUs, perCallMs: faults.perCallMs, workers: faults.workers });
        case "POST /__sim/hooks":
          addHook(body as unknown as HookRule);
          return json(200, { hooks: hooks.length });
        case "DELETE /__sim/hooks":
          hooks = [];
          return json(200, { hooks: 0 });
        default:
          return json(404, { error: `no control route ${route}` });
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      return json(400, { error: message, name: err instanceof OdooException ? err.pyName : undefined });
    }
  };

  const addHook = (rule: HookRule): (() => void) => {
    const entry = { ...rule, seen: 0 };
    hooks.push(entry);
    return () => {
      hooks = hooks.filter((h) => h !== entry);
    };
  };

  const resetStats = () => {
    stats.requests = 0;
    stats.calls = {};
    stats.recordsServed = 0;
    stats.faultsInjected = 0;
    stats.busyMs = 0;
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, HTML_TYPE, htmlPage(500, "Internal Server Error", String(err)));
    });
  });
  server.keepAliveTimeout = 30_000;
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  url = `http://${host}:${address.port}`;
  const baseUrlParam = store.search("ir.config_parameter", [["key", "=", "web.base.url"]])[0];
  if (baseUrlParam) store.setFields("ir.config_parameter", [baseUrlParam.id], { value: url });

  return {
    url,
    db,
    adminLogin: "admin",
    adminPassword,
    apiKey,
    store,
    faults,
    stats,
    resetStats,
    after: addHook,
    apply,
    close: async () => {
      for (const res of hung) res.destroy();
      hung.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

const WEB_ROUTES = [/^\/web\/session\/(authenticate|get_session_info|destroy)$/, /^\/web\/dataset\/call_kw(\/[^/]+\/[^/]+)?$/];

/** Open transactions of the control API (`{op: "begin", tx: "t1"}`), by name, per store. */
const openTransactions = new WeakMap<OdooStore, Map<string, OdooTransaction>>();

function applyOp(store: OdooStore, op: SimOp): unknown {
  const at = "at" in op && op.at ? { at: parseAt(op.at) } : {};
  const txs = openTransactions.get(store) ?? new Map<string, OdooTransaction>();
  openTransactions.set(store, txs);
  const txOf = (name: string) => {
    const tx = txs.get(name);
    if (!tx) throw new Error(`no open transaction ${name}`);
    return tx;
  };
  switch (op.op) {
    case "begin":
      if (txs.has(op.tx)) throw new Error(`transaction ${op.tx} is already open`);
      txs.set(op.tx, store.begin());
      return { tx: op.tx, startedAt: txs.get(op.tx)!.startedAt };
    case "commit":
    case "rollback": {
      const tx = txOf(op.tx);
      txs.delete(op.tx);
      if (op.op === "commit") tx.commit();
      else tx.rollback();
      return true;
    }
    case "create":
      return op.tx ? txOf(op.tx).create(op.model, op.values) : store.create(op.model, op.values, at);
    case "write":
      if (op.tx) txOf(op.tx).write(op.model, op.ids, op.values);
      else store.write(op.model, op.ids, op.values, at);
      return true;
    case "unlink":
      store.unlink(op.model, op.ids);
      return true;
    case "archive":
      store.archive(op.model, op.ids, at);
      return true;
    case "seed": {
      const { op: _op, ...seed } = op;
      void _op;
      return store.seed(seed);
    }
    default:
      throw new Error(`unknown op ${(op as { op: string }).op}`);
  }
}

/** An op's `at`: an Odoo datetime (`2026-11-21 12:09:30.250000`) or ISO string, as epoch microseconds. */
function parseAt(at: string): number {
  const micros = parseTimestamp(at.replace(/Z$/, ""));
  if (micros === undefined) throw new Error(`bad datetime ${at}`);
  return micros;
}

/** Odoo's JSON-RPC error envelope for an exception (HTTP 200, `error.data.name` the Python class). */
export function errorEnvelope(err: unknown, id: unknown, call: CallInfo): Record<string, unknown> {
  const exc =
    err instanceof OdooException
      ? err
      : new OdooException("builtins.Exception", err instanceof Error ? err.message : String(err));
  return {
    jsonrpc: "2.0",
    id: exc.code === 100 ? null : (id ?? null),
    error: {
      code: exc.code,
      message: exc.code === 100 ? "Odoo Session Expired" : "Odoo Server Error",
      data: {
        name: exc.pyName,
        debug: traceback(exc, call.service === "object" ? "odoo/service/model.py" : "odoo/http.py"),
        message: exc.message,
        arguments: [exc.message],
        context: {},
      },
    },
  };
}

function injectFault(res: ServerResponse, fault: OdooFault, id: unknown, call: CallInfo, hung: Set<ServerResponse>): void {
  switch (fault.kind) {
    case "http":
      send(res, fault.status, HTML_TYPE, fault.body ?? htmlPage(fault.status, STATUS_TEXT[fault.status] ?? "Error", "The server is temporarily unable to service your request."));
      return;
    case "hang":
      hung.add(res);
      res.on("close", () => hung.delete(res));
      return;
    case "reset":
      res.socket?.destroy();
      return;
    case "error":
      send(res, 200, JSON_TYPE, JSON.stringify(errorEnvelope(new OdooException(fault.name, fault.message ?? fault.name.split(".").pop()!, fault.code ?? 200), id, call)));
      return;
    case "delay":
      return;
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** Werkzeug's error page. */
function htmlPage(status: number, title: string, text: string): string {
  return `<!doctype html>\n<html lang=en>\n<title>${status} ${title}</title>\n<h1>${title}</h1>\n<p>${text}</p>\n`;
}

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  if (res.writableEnded || res.destroyed) return;
  res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body), ...headers });
  res.end(body);
}

function notFound(res: ServerResponse): void {
  send(
    res,
    404,
    HTML_TYPE,
    htmlPage(404, "Not Found", "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again."),
  );
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** A deterministic 40-hex API key for a seed (tests and the demo can predict it; real keys are random). */
function deriveKey(seed: number): string {
  let out = "";
  let x = (seed * 2654435761) >>> 0 || 1;
  while (out.length < 40) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out += (x & 0xffff).toString(16).padStart(4, "0");
  }
  return out.slice(0, 40);
}

/** A random 40-hex API key. */
export function randomApiKey(): string {
  return randomBytes(20).toString("hex");
}
