// The Odoo client against the simulator over real HTTP: typed results, the RemoteError kind of every failure the
// protocol has (with the Odoo exception name kept), retries on transient faults only, timeouts, the rate limit, and
// that the password or API key never leaks into an error.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { createServer } from "node:net";
import { startOdooSimulator, type OdooSimulator } from "../../../simulators/odoo/odoo.simulator.js";
import { RemoteError, RemoteErrorKind } from "../remote/remote.errors.js";
import { kindOfOdooError, OdooClient, UnconfirmedRemoteError, type Many2one, type OdooClientOptions } from "./odoo.client.js";

const SECRET = "s3cret-Pa55word-xyz";
let sim: OdooSimulator;

const fast = { timeoutMs: 2_000, retries: 0, minBackoffMs: 5, maxBackoffMs: 20 };
const client = (overrides: Partial<OdooClientOptions> = {}) =>
  new OdooClient({ url: sim.url, db: sim.db, login: "admin", password: sim.apiKey, ...fast, ...overrides });

/** The RemoteError a promise rejects with (fails the test if it resolves or throws anything else). */
async function failure(promise: Promise<unknown>): Promise<RemoteError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof RemoteError) return err;
    throw new Error(`expected a RemoteError, got ${String(err)}`);
  }
  throw new Error("expected a failure, but the call succeeded");
}

const calls = (key: string) => sim.stats.calls[key] ?? 0;

beforeAll(async () => {
  sim = await startOdooSimulator({
    db: "clienttest",
    seed: { partners: 50, products: 5, orders: 3, seed: 3 },
    users: [
      { login: "limited", password: "limited-pw", groups: "user" },
      { login: "secretive", password: SECRET, groups: "admin" },
    ],
  });
});

afterEach(() => {
  sim.faults.clear();
  sim.faults.latencyMs = 0;
});

afterAll(async () => {
  await sim?.close();
});

describe("OdooClient results", () => {
  it("reads the version without logging in, and authenticates with a password or an API key", async () => {
    const version = await client().version();
    expect(version).toEqual({ server_version: "18.0", server_version_info: [18, 0, 0, "final", 0, ""], server_serie: "18.0", protocol_version: 1 });
    expect(await client({ password: "admin" }).authenticate()).toBe(2);
    expect(await client().authenticate()).toBe(2);
  });

  it("authenticates once and reuses the uid for execute_kw", async () => {
    const c = client();
    const before = calls("common.authenticate");
    await c.searchCount("res.partner", []);
    await c.searchCount("res.partner", [["is_company", "=", true]]);
    expect(calls("common.authenticate") - before).toBe(1);
  });

  it("round-trips create, read, search_read, write, unlink with Odoo's shapes", async () => {
    const c = client();
    const [companyId] = await c.createMany("res.partner", [{ name: "Client Test Co", is_company: true }]);
    const id = await c.create("res.partner", { name: "Client Test Person", parent_id: companyId, email: "ctp@example.com" });
    expect(typeof id).toBe("number");
    const [read] = await c.read<{ id: number; name: string; parent_id: Many2one; phone: string | false; category_id: number[] }>(
      "res.partner",
      [id],
      ["name", "parent_id", "phone", "category_id"],
    );
    expect(read).toEqual({ id, name: "Client Test Person", parent_id: [companyId, "Client Test Co"], phone: false, category_id: [] });
    const rows = await c.searchRead("res.partner", [["parent_id", "=", companyId]], { fields: ["name", "write_date"], order: "id asc" });
    expect(rows).toHaveLength(1);
    expect(rows[0].write_date).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    expect(await c.write("res.partner", [id], { phone: "+32 2 555 00 00" })).toBe(true);
    expect((await c.read("res.partner", [id], ["phone"]))[0].phone).toBe("+32 2 555 00 00");
    expect(await c.unlink("res.partner", [id])).toBe(true);
    expect(await c.read("res.partner", [id], ["name"])).toEqual([]);
    expect(await c.search("res.partner", [["id", "=", id]], { context: { active_test: false } })).toEqual([]);
  });

  it("passes context (active_test) and paging, and returns fields_get and name_search typed", async () => {
    const c = client();
    const id = await c.create("res.partner", { name: "Archived Client Test" });
    await c.write("res.partner", [id], { active: false });
    expect(await c.search("res.partner", [["id", "=", id]])).toEqual([]);
    expect(await c.search("res.partner", [["id", "=", id]], { context: { active_test: false } })).toEqual([id]);
    const page = await c.search("res.partner", [], { order: "id asc", offset: 2, limit: 3 });
    const all = await c.search("res.partner", [], { order: "id asc" });
    expect(page).toEqual(all.slice(2, 5));
    const fields = await c.fieldsGet("res.partner", { allfields: ["name", "parent_id"], attributes: ["type", "relation"] });
    expect(fields).toEqual({ name: { type: "char" }, parent_id: { type: "many2one", relation: "res.partner" } });
    const found = await c.nameSearch("res.country", "Belg");
    expect(found).toEqual([[expect.any(Number), "Belgium"]]);
  });
});

describe("OdooClient error kinds", () => {
  it("AUTH: a wrong password (authenticate answers false), on execute_kw too, and a wrong database", async () => {
    const bad = client({ password: "wrong-password" });
    const auth = await failure(bad.authenticate());
    expect(auth.kind).toBe(RemoteErrorKind.AUTH);
    expect((await failure(bad.searchCount("res.partner", []))).kind).toBe(RemoteErrorKind.AUTH);
    const db = await failure(client({ db: "no_such_db" }).authenticate());
    expect(db.kind).toBe(RemoteErrorKind.AUTH);
    expect(db.detail.remoteCode).toBe("psycopg2.OperationalError");
    // Odoo names its database server's host and port: the message keeps only what the tenant needs.
    expect(db.message).toBe('Odoo common.authenticate: database "no_such_db" does not exist on this Odoo server');
  });

  it("AUTH: a password changed after login (AccessDenied) and a deleted user (MissingError on res.users)", async () => {
    const [uid] = sim.store.create("res.users", { name: "Temp", login: "temp", password: "temp-pw-1" });
    const c = client({ login: "temp", password: "temp-pw-1" });
    expect(await c.authenticate()).toBe(uid);
    sim.store.write("res.users", [uid], { password: "temp-pw-2" });
    const changed = await failure(c.searchCount("res.partner", []));
    expect(changed.kind).toBe(RemoteErrorKind.AUTH);
    expect(changed.detail.remoteCode).toBe("odoo.exceptions.AccessDenied");

    const [uid2] = sim.store.create("res.users", { name: "Temp2", login: "temp2", password: "temp2-pw" });
    const c2 = client({ login: "temp2", password: "temp2-pw" });
    await c2.authenticate();
    sim.store.unlink("res.users", [uid2]);
    const gone = await failure(c2.searchCount("res.partner", []));
    expect(gone.kind).toBe(RemoteErrorKind.AUTH);
    expect(gone.detail.remoteCode).toBe("odoo.exceptions.MissingError");
  });

  it("AUTH: session expiry (code 100)", async () => {
    sim.faults.failNext(1, { kind: "error", name: "odoo.http.SessionExpiredException", message: "Session expired", code: 100 });
    const err = await failure(client().version());
    expect(err.kind).toBe(RemoteErrorKind.AUTH);
    expect(err.detail.remoteCode).toBe("odoo.http.SessionExpiredException");
    expect(kindOfOdooError("odoo.http.SessionExpiredException", "Session expired", 100)).toBe(RemoteErrorKind.AUTH);
  });

  it("PERMISSION: ACL refusals and private methods (AccessError)", async () => {
    const limited = client({ login: "limited", password: "limited-pw" });
    const acl = await failure(limited.create("res.users", { name: "x", login: "x" }));
    expect(acl.kind).toBe(RemoteErrorKind.PERMISSION);
    expect(acl.detail.remoteCode).toBe("odoo.exceptions.AccessError");
    expect((await failure(limited.unlink("res.partner", [1]))).kind).toBe(RemoteErrorKind.PERMISSION);
    const priv = await failure(client().executeKw("res.partner", "_compute_display_name", [[1]]));
    expect(priv.kind).toBe(RemoteErrorKind.PERMISSION);
  });

  it("NOT_FOUND: unknown model (UserError), unknown method (AttributeError), missing record (MissingError)", async () => {
    const c = client();
    const model = await failure(c.searchRead("no.such.model", []));
    expect([model.kind, model.detail.remoteCode]).toEqual([RemoteErrorKind.NOT_FOUND, "odoo.exceptions.UserError"]);
    const method = await failure(c.executeKw("res.partner", "no_such_method", [[]]));
    expect([method.kind, method.detail.remoteCode]).toEqual([RemoteErrorKind.NOT_FOUND, "builtins.AttributeError"]);
    const missing = await failure(c.write("res.partner", [987654], { name: "ghost" }));
    expect([missing.kind, missing.detail.remoteCode]).toEqual([RemoteErrorKind.NOT_FOUND, "odoo.exceptions.MissingError"]);
  });

  it("VALIDATION: bad domain, unknown field, bad date, missing required field, business rule (UserError)", async () => {
    const c = client();
    const cases: [Promise<unknown>, string][] = [
      [c.searchRead("res.partner", [["no_such_field", "=", 1]]), "builtins.ValueError"],
      [c.searchRead("res.partner", [["name", "~~" as never, "x"]]), "builtins.ValueError"],
      [c.searchRead("res.partner", [], { fields: ["no_such_field"] }), "builtins.ValueError"],
      [c.searchRead("res.partner", [["write_date", ">", "not-a-date"]]), "psycopg2.errors.InvalidDatetimeFormat"],
      [c.create("res.partner.category", {}), "odoo.exceptions.ValidationError"],
    ];
    for (const [promise, remoteCode] of cases) {
      const err = await failure(promise);
      expect([err.kind, err.detail.remoteCode]).toEqual([RemoteErrorKind.VALIDATION, remoteCode]);
      expect(err.transient).toBe(false);
    }
    const [order] = await c.search("sale.order", [["state", "=", "sale"]], { limit: 1 });
    const rule = await failure(c.unlink("sale.order", [order]));
    expect([rule.kind, rule.detail.remoteCode]).toEqual([RemoteErrorKind.VALIDATION, "odoo.exceptions.UserError"]);
  });

  it("UNAVAILABLE: HTTP 5xx, a closed port, and an answer that is not JSON-RPC; NOT_FOUND: no /jsonrpc at that URL", async () => {
    sim.faults.failNext(1, { kind: "http", status: 502 });
    const http = await failure(client().version());
    expect([http.kind, http.detail.status]).toEqual([RemoteErrorKind.UNAVAILABLE, 502]);

    const port = await freePort();
    const refused = await failure(new OdooClient({ url: `http://127.0.0.1:${port}`, db: "x", login: "x", password: "x", ...fast }).version());
    expect(refused.kind).toBe(RemoteErrorKind.UNAVAILABLE);

    sim.faults.failNext(1, { kind: "http", status: 200, body: "<html><body>Login</body></html>" });
    expect((await failure(client().version())).kind).toBe(RemoteErrorKind.UNAVAILABLE);

    const wrongPath = await failure(client({ url: `${sim.url}/odoo` }).version());
    expect(wrongPath.kind).toBe(RemoteErrorKind.NOT_FOUND);
  });

  it("TIMEOUT: no answer within the per-attempt timeout", async () => {
    sim.faults.failNext(1, { kind: "hang" });
    const started = Date.now();
    const err = await failure(client({ timeoutMs: 300 }).version());
    expect(err.kind).toBe(RemoteErrorKind.TIMEOUT);
    expect(err.transient).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe("OdooClient retries and rate limit", () => {
  it("retries transient failures (503, then a hang) with backoff and succeeds", async () => {
    const c = client({ retries: 3, timeoutMs: 300 });
    await c.authenticate();
    const before = calls("object.search_count");
    sim.faults.failNext(2, { kind: "http", status: 503 }, { method: "search_count" });
    expect(await c.searchCount("res.partner", [])).toBeGreaterThan(0);
    expect(calls("object.search_count") - before).toBe(3);

    sim.faults.failNext(1, { kind: "hang" }, { method: "search_count" });
    expect(await c.searchCount("res.partner", [])).toBeGreaterThan(0);
    expect(calls("object.search_count") - before).toBe(5);
  });

  it("gives up after the configured retries with the last transient kind", async () => {
    const c = client({ retries: 2 });
    const before = calls("common.version");
    sim.faults.failNext(10, { kind: "http", status: 503 });
    const err = await failure(c.version());
    expect(err.kind).toBe(RemoteErrorKind.UNAVAILABLE);
    expect(calls("common.version") - before).toBe(3);
  });

  it("does not retry AUTH, PERMISSION, NOT_FOUND or VALIDATION", async () => {
    const c = client({ retries: 3, password: "wrong" });
    const before = calls("common.authenticate");
    expect((await failure(c.authenticate())).kind).toBe(RemoteErrorKind.AUTH);
    expect(calls("common.authenticate") - before).toBe(1);

    const ok = client({ retries: 3 });
    await ok.authenticate();
    const reads = calls("object.search_read");
    expect((await failure(ok.searchRead("res.partner", [["nope", "=", 1]]))).kind).toBe(RemoteErrorKind.VALIDATION);
    expect((await failure(ok.searchRead("no.model", []))).kind).toBe(RemoteErrorKind.NOT_FOUND);
    expect(calls("object.search_read") - reads).toBe(2);
  });

  it("retries a create turned away (503) but never re-sends one that may have been applied", async () => {
    const c = client({ retries: 3 });
    await c.authenticate();
    const count = () => sim.store.searchCount("res.partner", [["name", "=like", "Retry Create %"]]);

    sim.faults.failNext(1, { kind: "http", status: 503 }, { method: "create" });
    await c.create("res.partner", { name: "Retry Create A" });
    expect(count()).toBe(1);

    // The create is applied, then the answer is lost (502 from a proxy): no retry, an unconfirmed error.
    sim.faults.add({ method: "create", fault: { kind: "http", status: 502 }, afterServe: true });
    const lost = await failure(c.create("res.partner", { name: "Retry Create B" }));
    expect(lost).toBeInstanceOf(UnconfirmedRemoteError);
    expect(lost.kind).toBe(RemoteErrorKind.UNAVAILABLE);
    expect(lost.transient).toBe(false);
    expect(count()).toBe(2);

    sim.faults.add({ method: "create", fault: { kind: "hang" }, afterServe: true });
    const hung = await failure(client({ retries: 3, timeoutMs: 300 }).create("res.partner", { name: "Retry Create C" }));
    expect([hung.kind, hung.transient]).toEqual([RemoteErrorKind.TIMEOUT, false]);
    expect(count()).toBe(3);
  });

  it("keeps to the rate limit toward the remote", async () => {
    const limited = client({ requestsPerSecond: 2 });
    const started = Date.now();
    await Promise.all(Array.from({ length: 5 }, () => limited.version()));
    // 2 requests per second: 2 now, 2 after 1 s, 1 after 2 s.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);

    const free = client();
    const t0 = Date.now();
    await Promise.all(Array.from({ length: 5 }, () => free.version()));
    expect(Date.now() - t0).toBeLessThan(1_000);
  });
});

describe("OdooClient secrets", () => {
  it("never puts the password or API key in an error message", async () => {
    const c = client({ login: "secretive", password: SECRET, retries: 0 });
    // A server that echoes the password (Odoo does not; a proxy or a custom module might).
    sim.faults.failNext(1, { kind: "error", name: "odoo.exceptions.UserError", message: `bad value ${SECRET} for field` });
    const echoed = await failure(c.authenticate());
    const errors: RemoteError[] = [echoed];
    errors.push(await failure(client({ password: SECRET }).authenticate()));
    errors.push(await failure(c.searchRead("res.partner", [["nope", "=", SECRET]])));
    sim.faults.failNext(1, { kind: "http", status: 503 });
    errors.push(await failure(c.searchCount("res.partner", [])));
    errors.push(await failure(new OdooClient({ url: `http://127.0.0.1:${await freePort()}`, db: "x", login: "x", password: SECRET, ...fast }).authenticate()));
    for (const err of errors) {
      expect(err.message).not.toContain(SECRET);
      expect(String(err.stack)).not.toContain(SECRET);
      expect(JSON.stringify({ ...err, detail: { ...err.detail, cause: String(err.detail.cause ?? "") } })).not.toContain(SECRET);
    }
    expect(echoed.message).toContain("***");
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
