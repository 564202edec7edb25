// A Moodle 4.5 site as its REST web service protocol shows it, for tests, the demo and benchmarks.
// `/webservice/rest/server.php` takes form-urlencoded POST (or GET) parameters decoded like PHP does (`qs`:
// `courses[0][fullname]=...`), authenticates `wstoken`, checks `webservice/rest:use` and the token's service, validates
// the parameters and runs the function; it always answers HTTP 200, with JSON when `moodlewsrestformat=json` and XML
// otherwise, errors as `{exception, errorcode, message}`. Knobs for tests: latency, injected faults (HTTP 5xx, a hang
// past the client's timeout, a dropped connection, a PHP error page, any Moodle exception), mid-run changes (hooks
// and counters) and call statistics — programmatically, or as JSON under `/__sim/` for a simulator in another
// process (never reachable through server.php).
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import qs from "qs";
import { MoodleErrors, MoodleException } from "./moodle.errors.js";
import { encodeError, encodeResult, JSON_HEADERS, XML_HEADERS, type RestFormat } from "./moodle.format.js";
import {
  DEFAULT_SERVICE_FUNCTIONS,
  executeFunction,
  FUNCTIONS,
  KNOWN_UNSERVED_FUNCTIONS,
  READONLY_SERVICE_FUNCTIONS,
  type CallContext,
} from "./moodle.functions.js";
import { MoodleStore, SimClock, type CourseInput, type SeedOptions, type UserInput } from "./moodle.store.js";
import { cleanParam } from "./moodle.params.js";
import type { ExternalSettings } from "./moodle.text.js";

export const REST_PATH = "/webservice/rest/server.php";
const CONTROL_PREFIX = "/__sim/";
const MAX_BODY = 64 * 1024 * 1024;

/**
 * The tokens of the recorded site: `admin` (site admin, the full service), `limited` (an ordinary user on the same
 * service: capability errors), `norest` (a user without webservice/rest:use), plus `readonly` (admin on a service
 * without the create/update/delete/enrol functions: accessexception for those).
 */
export type TokenRole = "admin" | "limited" | "norest" | "readonly";
const TOKEN_USERS: Record<TokenRole, string> = { admin: "admin", limited: "wslimited", norest: "wsnorest", readonly: "admin" };

export interface MoodleSimulatorOptions {
  port?: number;
  host?: string;
  /** The site's wwwroot in site info and URLs (default: the listening URL). */
  wwwroot?: string;
  siteName?: string;
  /** Override the (deterministic) 32-hex tokens. */
  tokens?: Partial<Record<TokenRole, string>>;
  /** Data to add to the fresh site. */
  seed?: SeedOptions;
  /** Site debugging DEVELOPER: errors carry `debuginfo`. */
  debug?: boolean;
  /** Added to every call (ms). */
  latencyMs?: number;
  clock?: SimClock;
  /** When the site was installed (Unix seconds): the base records' times. */
  installTime?: number;
  /** Disable the /__sim/ control endpoints (default: enabled). */
  control?: boolean;
  /** When set, /__sim/ requests must send it in `x-sim-control-token`. */
  controlToken?: string;
  /** PHP's max_input_vars (parameters past it are dropped silently, as PHP does). Default 5000, Moodle's minimum. */
  maxInputVars?: number;
  /**
   * Functions added to every token's service (a site whose administrator added them to the external service), e.g.
   * `core_enrol_get_enrolled_users_with_capability`. Default: none (the recorded service).
   */
  extraServiceFunctions?: readonly string[];
}

/** What an injected fault does to one call. */
export type FaultSpec =
  | { type: "http"; status: number; body?: string }
  /** No answer for `ms` (then the call runs normally), or until the client gives up when `ms` is absent. */
  | { type: "hang"; ms?: number }
  /** The connection is dropped without an answer. */
  | { type: "reset" }
  /** HTTP 200 with a PHP fatal error page instead of the protocol. */
  | { type: "html" }
  /** A Moodle exception envelope (HTTP 200), e.g. `{errorcode: "sitemaintenance"}`. */
  | { type: "exception"; exception?: string; errorcode: string; message?: string; debuginfo?: string };

export type FaultRule = FaultSpec & {
  /** How many calls it hits (default 1; Infinity or a negative number: every call until cleared). */
  times?: number;
  /** Only calls of this function. */
  function?: string;
  /** Let this many matching calls through first. */
  afterCalls?: number;
};

interface ActiveFault {
  rule: FaultRule;
  skip: number;
  left: number;
}

export class FaultController {
  private rules: ActiveFault[] = [];
  /** Fails the next matching call(s). */
  add(rule: FaultRule): void {
    if (rule.type === "http" && (rule.status < 100 || rule.status > 599)) throw new Error(`bad HTTP status ${rule.status}`);
    const times = rule.times ?? 1;
    this.rules.push({ rule, skip: rule.afterCalls ?? 0, left: times < 0 ? Infinity : times });
  }
  clear(): void {
    this.rules = [];
  }
  /** Faults still waiting to hit. */
  pending(): FaultRule[] {
    return this.rules.map((r) => ({ ...r.rule, times: r.left, afterCalls: r.skip }));
  }
  /** The fault for this call, if any (consumes one hit). */
  take(wsfunction: string): FaultSpec | null {
    for (const r of this.rules) {
      if (r.rule.function && r.rule.function !== wsfunction) continue;
      if (r.skip > 0) {
        r.skip--;
        continue;
      }
      r.left--;
      if (r.left <= 0) this.rules.splice(this.rules.indexOf(r), 1);
      return r.rule;
    }
    return null;
  }
}

export interface SimStatsSnapshot {
  /** server.php requests. */
  calls: number;
  byFunction: Record<string, number>;
  /** Answers that were Moodle exceptions. */
  errors: number;
  /** Calls a fault hit. */
  faults: number;
  /** Response bytes written by server.php. */
  bytesOut: number;
}

export class SimStats implements SimStatsSnapshot {
  calls = 0;
  byFunction: Record<string, number> = {};
  errors = 0;
  faults = 0;
  bytesOut = 0;
  reset(): void {
    this.calls = 0;
    this.byFunction = {};
    this.errors = 0;
    this.faults = 0;
    this.bytesOut = 0;
  }
  snapshot(): SimStatsSnapshot {
    return { calls: this.calls, byFunction: { ...this.byFunction }, errors: this.errors, faults: this.faults, bytesOut: this.bytesOut };
  }
}

export interface SimConfig {
  debug: boolean;
  latencyMs: number;
  /** Extra latency per function (ms). */
  functionLatencyMs: Record<string, number>;
}

/** One server.php call as hooks see it (before it runs). */
export interface CallInfo {
  wsfunction: string;
  /** Which of the simulator's tokens was used (undefined: unknown token). */
  role?: TokenRole;
  /** 1-based count of server.php calls so far, this one included. */
  n: number;
  /** 1-based count of calls of this function. */
  functionN: number;
  /** The function's parameters as decoded (PHP arrays as objects), before validation; no token, format or settings. */
  params: Readonly<Record<string, unknown>>;
}

/** A change to the site made between calls (mid-run changes), after `afterCalls` matching calls were answered. */
export interface ScheduledChange {
  afterCalls: number;
  function?: string;
  run: (store: MoodleStore) => void;
}

/** A data change expressed as JSON (the /__sim/ops and /__sim/changes endpoints). */
export type StoreOp =
  | { op: "createCourse"; fields: CourseInput }
  | { op: "updateCourse"; id: number; fields: Record<string, unknown> }
  | { op: "deleteCourse"; id: number }
  | { op: "createUser"; fields: UserInput }
  | { op: "updateUser"; id: number; fields: Record<string, unknown> }
  | { op: "deleteUser"; id: number }
  | { op: "enrol"; courseid: number; userid: number; roleid?: number }
  | { op: "unenrol"; courseid: number; userid: number }
  | ({ op: "seed" } & SeedOptions)
  | { op: "advanceClock"; seconds: number };

export interface MoodleSimulator {
  /** Where the simulator listens (the site's base URL unless `wwwroot` was given). */
  url: string;
  /** `${url}/webservice/rest/server.php`. */
  endpoint: string;
  tokens: Record<TokenRole, string>;
  store: MoodleStore;
  clock: SimClock;
  faults: FaultController;
  stats: SimStats;
  config: SimConfig;
  /** Runs before every server.php call (after it was decoded, before latency and faults); may change the store. */
  onCall(listener: (call: CallInfo, store: MoodleStore) => void): () => void;
  /** Changes the store once `afterCalls` matching calls have been answered. */
  schedule(change: ScheduledChange): void;
  /** Back to a fresh site (optionally seeded); faults, schedules and stats are cleared. */
  reset(seed?: SeedOptions): void;
  close(): Promise<void>;
}

const defaultToken = (role: TokenRole) => createHash("md5").update(`tributary-moodle-simulator:${role}`).digest("hex");

/** Applies one JSON store operation (used by the control endpoints). */
export function applyStoreOp(store: MoodleStore, op: StoreOp): unknown {
  switch (op.op) {
    case "createCourse":
      return store.createCourse(op.fields);
    case "updateCourse":
      return store.updateCourse(op.id, op.fields);
    case "deleteCourse":
      return store.deleteCourse(op.id);
    case "createUser":
      return store.createUser(op.fields);
    case "updateUser":
      return store.updateUser(op.id, op.fields);
    case "deleteUser":
      return store.deleteUser(op.id);
    case "enrol":
      return store.enrol(op.courseid, op.userid, op.roleid ?? 5);
    case "unenrol":
      return store.unenrol(op.courseid, op.userid);
    case "seed": {
      const { op: _op, ...seed } = op;
      const r = store.seed(seed);
      return { courses: r.courses.length, users: r.users.length, enrolments: r.enrolments };
    }
    case "advanceClock":
      store.clock.advance(op.seconds);
      return store.now();
    default:
      throw new Error(`unknown op ${(op as { op: string }).op}`);
  }
}

const PHP_FATAL_PAGE =
  "<br />\n<b>Fatal error</b>:  Allowed memory size of 134217728 bytes exhausted (tried to allocate 20480 bytes) in <b>/var/www/moodle/lib/dml/moodle_database.php</b> on line <b>1203</b><br />\n";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Starts a simulated Moodle site on `host:port` (port 0: a free one). */
export async function startMoodleSimulator(options: MoodleSimulatorOptions = {}): Promise<MoodleSimulator> {
  const clock = options.clock ?? new SimClock();
  const store = new MoodleStore({ clock, installTime: options.installTime });
  if (options.seed) store.seed(options.seed);
  const tokens = Object.fromEntries(
    (Object.keys(TOKEN_USERS) as TokenRole[]).map((role) => [role, options.tokens?.[role] ?? defaultToken(role)]),
  ) as Record<TokenRole, string>;
  const tokenRoles = new Map<string, TokenRole>((Object.entries(tokens) as [TokenRole, string][]).map(([role, t]) => [t, role]));
  const faults = new FaultController();
  const stats = new SimStats();
  const config: SimConfig = { debug: options.debug ?? false, latencyMs: options.latencyMs ?? 0, functionLatencyMs: {} };
  const listeners = new Set<(call: CallInfo, store: MoodleStore) => void>();
  let schedules: { change: ScheduledChange; seen: number }[] = [];
  const maxInputVars = options.maxInputVars ?? 5000;
  const siteName = options.siteName ?? "Realsys Moodle";
  const hanging = new Set<ServerResponse>();
  const timers = new Set<NodeJS.Timeout>();
  let wwwroot = options.wwwroot?.replace(/\/+$/, "") ?? "";

  const parse = (s: string) =>
    qs.parse(s, { arrayLimit: maxInputVars, parameterLimit: maxInputVars, depth: 10, duplicates: "last", plainObjects: true }) as Record<string, unknown>;

  const extra = options.extraServiceFunctions ?? [];
  const servicesOf: Record<TokenRole, readonly string[]> = {
    admin: [...DEFAULT_SERVICE_FUNCTIONS, ...extra],
    limited: [...DEFAULT_SERVICE_FUNCTIONS, ...extra],
    norest: [...DEFAULT_SERVICE_FUNCTIONS, ...extra],
    readonly: [...READONLY_SERVICE_FUNCTIONS, ...extra],
  };

  function send(res: ServerResponse, format: RestFormat, body: string): void {
    stats.bytesOut += Buffer.byteLength(body);
    res.writeHead(200, format === "json" ? JSON_HEADERS : XML_HEADERS);
    res.end(body);
  }

  async function serveRest(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const body = req.method === "POST" || req.method === "PUT" ? await readBody(req) : "";
    const contentType = String(req.headers["content-type"] ?? "");
    // PHP fills $_POST only from form bodies; array_merge($_GET, $_POST) lets the body win.
    const params: Record<string, unknown> = {
      ...parse(url.search.replace(/^\?/, "")),
      ...(contentType.toLowerCase().startsWith("application/x-www-form-urlencoded") ? parse(body) : {}),
    };
    const rawFormat = params.moodlewsrestformat;
    const format: RestFormat = typeof rawFormat === "string" && rawFormat.replace(/[^a-zA-Z]/g, "") === "json" ? "json" : "xml";
    const token = typeof params.wstoken === "string" ? params.wstoken : "";
    const wsfunction = typeof params.wsfunction === "string" ? params.wsfunction : "";
    delete params.moodlewsrestformat;
    delete params.wstoken;
    delete params.wsfunction;
    // webservice/lib.php set_web_service_call_settings(): moodlewssetting{raw,fileurl,filter,lang,timezone} are read
    // (optional_param, PARAM_BOOL for raw) and removed before the function's parameters are validated.
    const rawSetting = params.moodlewssettingraw;
    const fileurlSetting = params.moodlewssettingfileurl;
    const settings: ExternalSettings = {
      raw: typeof rawSetting === "string" && cleanParam(rawSetting, "bool") === 1,
      fileurl: typeof fileurlSetting === "string" ? cleanParam(fileurlSetting, "bool") === 1 : true,
      wwwroot: "",
    };
    for (const name of ["raw", "fileurl", "filter", "lang", "timezone"]) delete params[`moodlewssetting${name}`];

    stats.calls++;
    stats.byFunction[wsfunction] = (stats.byFunction[wsfunction] ?? 0) + 1;
    const role = tokenRoles.get(token);
    const info: CallInfo = { wsfunction, role, n: stats.calls, functionN: stats.byFunction[wsfunction]!, params };
    for (const l of listeners) l(info, store);

    const latency = config.latencyMs + (config.functionLatencyMs[wsfunction] ?? 0);
    if (latency > 0) await sleep(latency);

    const fault = faults.take(wsfunction);
    if (fault) {
      stats.faults++;
      switch (fault.type) {
        case "http":
          res.writeHead(fault.status, { "Content-Type": "text/html; charset=utf-8" });
          res.end(fault.body ?? `<html><head><title>${fault.status}</title></head><body><h1>${fault.status}</h1><hr><center>nginx</center></body></html>\n`);
          return;
        case "reset":
          req.socket.destroy();
          return;
        case "html":
          res.writeHead(200, { "Content-Type": "text/html; charset=UTF-8" });
          res.end(PHP_FATAL_PAGE);
          return;
        case "exception": {
          stats.errors++;
          const ex = new MoodleException(
            fault.exception ?? "core\\exception\\moodle_exception",
            fault.errorcode,
            fault.message ?? `error/${fault.errorcode}`,
            fault.debuginfo,
          );
          send(res, format, encodeError(format, ex, config.debug));
          afterCall(wsfunction);
          return;
        }
        case "hang":
          if (fault.ms === undefined) {
            hanging.add(res);
            res.on("close", () => hanging.delete(res));
            return;
          }
          await new Promise<void>((resolve) => {
            const t = setTimeout(() => {
              timers.delete(t);
              resolve();
            }, fault.ms);
            timers.add(t);
          });
          if (res.destroyed) return;
          break;
      }
    }

    let out: string;
    try {
      if (!role) throw MoodleErrors.invalidToken();
      const user = store.userByUsername(TOKEN_USERS[role!]);
      if (!user || user.deleted) throw MoodleErrors.invalidToken();
      if (!user.restUse) {
        throw MoodleErrors.accessException("You are not allowed to use the rest protocol (missing capability: webservice/rest:use)");
      }
      if (!wsfunction) throw MoodleErrors.invalidParameter("Missing required key in single structure: wsfunction");
      const def = FUNCTIONS.get(wsfunction);
      if (!def && !KNOWN_UNSERVED_FUNCTIONS.has(wsfunction)) {
        throw MoodleErrors.missingRecord(
          "external_functions",
          `SELECT * FROM {external_functions} WHERE name = ?\n[array (\n  0 => '${wsfunction}',\n)]`,
        );
      }
      const service = servicesOf[role!];
      if (!def || !service.includes(wsfunction)) {
        throw MoodleErrors.accessException(
          `Access to the function ${wsfunction}() is not allowed. There could be multiple reasons for this: 1. The service linked to the user token does not contain the function. 2. The service is user-restricted and the user is not listed. 3. The service is IP-restricted and the user IP is not listed. 4. The service is time-restricted and the time has expired. 5. The token is time-restricted and the time has expired. 6. The service requires a specific capability which the user does not have. 7. The function is called with username/password (no user token is sent) and none of the services has the function to allow the user. These settings can be found in Administration > Site administration > Server > Web services > External services and Manage tokens.`,
        );
      }
      const ctx: CallContext = { store, user, serviceFunctions: service, debug: config.debug, wwwroot, siteName, settings: { ...settings, wwwroot } };
      const result = executeFunction(def, ctx, params);
      out = encodeResult(format, format === "xml" && def.xml ? def.xml(result) : result);
    } catch (err) {
      stats.errors++;
      const ex =
        err instanceof MoodleException
          ? err
          : new MoodleException(
              "core\\exception\\moodle_exception",
              "generalexceptionmessage",
              `Error code: generalexceptionmessage`,
              err instanceof Error ? (err.stack ?? err.message) : String(err),
            );
      out = encodeError(format, ex, config.debug);
    }
    send(res, format, out);
    afterCall(wsfunction);
  }

  function afterCall(wsfunction: string): void {
    if (!schedules.length) return;
    const due: ScheduledChange[] = [];
    schedules = schedules.filter((s) => {
      if (s.change.function && s.change.function !== wsfunction) return true;
      s.seen++;
      if (s.seen >= s.change.afterCalls) {
        due.push(s.change);
        return false;
      }
      return true;
    });
    for (const c of due) c.run(store);
  }

  // ---- control endpoints -----------------------------------------------------------------------------------------

  async function serveControl(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (options.controlToken && req.headers["x-sim-control-token"] !== options.controlToken) return json(403, { error: "bad control token" });
    const raw = await readBody(req);
    let body: any = {};
    try {
      body = raw ? JSON.parse(raw) : {};
    } catch {
      return json(400, { error: "the body must be JSON" });
    }
    const path = url.pathname.slice(CONTROL_PREFIX.length).replace(/\/+$/, "");
    const [resource, id] = path.split("/");
    const method = req.method ?? "GET";
    try {
      switch (`${method} ${resource}`) {
        case "GET health":
          return json(200, { ok: true });
        case "GET state":
          return json(200, {
            url: wwwroot,
            tokens,
            now: store.now(),
            config,
            counts: {
              categories: store.categories.size,
              courses: store.courses.size,
              users: store.users.size,
              deletedUsers: [...store.users.values()].filter((u) => u.deleted).length,
              enrolments: store.enrolmentCount(),
            },
            faults: faults.pending(),
            scheduled: schedules.length,
            stats: stats.snapshot(),
          });
        case "POST reset":
          sim.reset(body.seed);
          return json(200, { ok: true });
        case "POST seed": {
          const r = store.seed(body as SeedOptions);
          return json(200, { courses: r.courses.length, users: r.users.length, enrolments: r.enrolments, firstCourseId: r.courses[0] ?? null, firstUserId: r.users[0] ?? null });
        }
        case "POST ops":
          return json(200, { results: (body.ops as StoreOp[]).map((op) => applyStoreOp(store, op)) });
        case "POST changes": {
          const ops = body.ops as StoreOp[];
          if (!Array.isArray(ops) || typeof body.afterCalls !== "number") return json(400, { error: "need {afterCalls, ops}" });
          sim.schedule({ afterCalls: body.afterCalls, function: body.function, run: (s) => ops.forEach((op) => applyStoreOp(s, op)) });
          return json(200, { ok: true });
        }
        case "GET courses":
          if (id) return store.courses.has(Number(id)) ? json(200, store.courses.get(Number(id))) : json(404, { error: "no such course" });
          return json(200, [...store.courses.values()]);
        case "GET users":
          if (id) return store.users.has(Number(id)) ? json(200, store.users.get(Number(id))) : json(404, { error: "no such user" });
          return json(200, [...store.users.values()]);
        case "GET enrolments": {
          const courseid = url.searchParams.get("courseid");
          const all = courseid ? store.courseEnrolments(Number(courseid)) : [...store.enrolments.values()].flatMap((m) => [...m.values()]);
          return json(200, all);
        }
        case "POST faults":
          faults.add(body as FaultRule);
          return json(200, { pending: faults.pending() });
        case "DELETE faults":
          faults.clear();
          return json(200, { ok: true });
        case "PATCH config":
          if (typeof body.debug === "boolean") config.debug = body.debug;
          if (typeof body.latencyMs === "number") config.latencyMs = body.latencyMs;
          if (body.functionLatencyMs && typeof body.functionLatencyMs === "object") config.functionLatencyMs = body.functionLatencyMs;
          return json(200, config);
        case "POST clock":
          if (typeof body.set === "number") clock.set(body.set);
          if (typeof body.advance === "number") clock.advance(body.advance);
          if (body.real === true) clock.real();
          return json(200, { now: store.now() });
        case "GET stats":
          return json(200, stats.snapshot());
        case "DELETE stats":
          stats.reset();
          return json(200, { ok: true });
        default:
          return json(404, { error: `no control endpoint ${method} ${url.pathname}` });
      }
    } catch (err) {
      return json(400, { error: err instanceof Error ? err.message : String(err) });
    }
  }

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const handler =
      url.pathname === REST_PATH
        ? serveRest(req, res, url)
        : options.control !== false && url.pathname.startsWith(CONTROL_PREFIX)
          ? serveControl(req, res, url)
          : Promise.resolve(notFound(res));
    handler.catch((err) => {
      if (err instanceof BodyTooLarge) {
        res.writeHead(413, { "Content-Type": "text/plain" }).end("Request Entity Too Large");
        return;
      }
      if (!res.headersSent) res.writeHead(500, { "Content-Type": "text/plain" });
      res.end(err instanceof Error ? err.message : String(err));
    });
  });
  // Long keep-alive: a client still reading a 70 MB answer must not find its socket closed on the next call.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const listening = `http://${host}:${address.port}`;
  if (!wwwroot) wwwroot = listening;

  const sim: MoodleSimulator = {
    url: listening,
    endpoint: `${listening}${REST_PATH}`,
    tokens,
    store,
    clock,
    faults,
    stats,
    config,
    onCall(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    schedule(change) {
      schedules.push({ change, seen: 0 });
    },
    reset(seed) {
      store.reset();
      if (seed) store.seed(seed);
      faults.clear();
      schedules = [];
      stats.reset();
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const res of hanging) res.destroy();
      hanging.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
  return sim;
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new BodyTooLarge());
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { "Content-Type": "text/html; charset=iso-8859-1" });
  res.end("<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>404 Not Found</title>\n</head><body>\n<h1>Not Found</h1>\n<p>The requested URL was not found on this server.</p>\n</body></html>\n");
}
