// The simulator's own knobs over HTTP: deterministic seeding at scale, domains, write_date semantics, faults, hooks
// that change data after K calls, and the /__sim/ control endpoints (unreachable through JSON-RPC).
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { ODOO18_PACE, startOdooSimulator, type OdooSimulator } from "./odoo.simulator.js";

type Rpc = { result?: unknown; error?: { code: number; data: { name: string; message: string } } };

async function rpc(sim: OdooSimulator, service: string, method: string, args: unknown[], signal?: AbortSignal): Promise<Rpc> {
  const res = await fetch(`${sim.url}/jsonrpc`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", method: "call", id: 1, params: { service, method, args } }),
    signal,
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Rpc;
}

const kw = (sim: OdooSimulator, model: string, method: string, args: unknown[], kwargs: Record<string, unknown> = {}) =>
  rpc(sim, "object", "execute_kw", [sim.db, 2, sim.adminPassword, model, method, args, kwargs]);

async function result<T>(p: Promise<Rpc>): Promise<T> {
  const r = await p;
  if (r.error) throw new Error(`${r.error.data.name}: ${r.error.data.message}`);
  return r.result as T;
}

async function control(sim: OdooSimulator, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: { "Content-Type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("seeding", () => {
  it("is deterministic for a seed and clock, and different for another seed", async () => {
    const clock = () => Date.UTC(2026, 0, 1) * 1000;
    const a = await startOdooSimulator({ clock, seed: { partners: 300, products: 10, orders: 10, seed: 5 } });
    const b = await startOdooSimulator({ clock, seed: { partners: 300, products: 10, orders: 10, seed: 5 } });
    const c = await startOdooSimulator({ clock, seed: { partners: 300, seed: 6 } });
    try {
      const fields = ["name", "email", "parent_id", "country_id", "active", "write_date", "create_date"];
      const read = (sim: OdooSimulator) => result(kw(sim, "res.partner", "search_read", [[]], { fields, order: "id asc", context: { active_test: false } }));
      expect(await read(a)).toEqual(await read(b));
      expect(await read(a)).not.toEqual(await read(c));
      const orders = (sim: OdooSimulator) => result(kw(sim, "sale.order", "search_read", [[]], { fields: ["name", "partner_id", "amount_total", "order_line"] }));
      expect(await orders(a)).toEqual(await orders(b));
      expect(a.apiKey).toMatch(/^[0-9a-f]{40}$/);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  it("seeds 100,000 partners in seconds and serves an indexed page without sorting the table", async () => {
    const started = performance.now();
    const sim = await startOdooSimulator({ seed: { partners: 100_000, seed: 1 } });
    try {
      const seededMs = performance.now() - started;
      expect(seededMs).toBeLessThan(15_000);
      expect(sim.store.count("res.partner")).toBe(100_006);
      const fields = ["name", "email", "write_date", "active"];
      const page = await result<{ id: number }[]>(
        kw(sim, "res.partner", "search_read", [[["id", ">", 90_000]]], { fields, limit: 1000, order: "id asc", context: { active_test: false } }),
      );
      expect(page).toHaveLength(1000);
      expect(page[0].id).toBe(90_001);
      // Index walks: a page's cost does not grow with the table (the default order, by contrast, sorts everything).
      sim.resetStats();
      for (let i = 0; i < 20; i++) {
        await result(kw(sim, "res.partner", "search_read", [[["id", ">", i * 5000]]], { fields, limit: 1000, order: "id asc" }));
        await result(kw(sim, "res.partner", "search_read", [[["write_date", ">=", "2000-01-01 00:00:00"]]], { fields, limit: 1000, order: "write_date asc, id asc" }));
      }
      const indexedMs = sim.stats.busyMs;
      sim.resetStats();
      for (let i = 0; i < 2; i++) await result(kw(sim, "res.partner", "search_read", [[]], { fields, limit: 1000 }));
      const sortedMs = sim.stats.busyMs;
      // 40 indexed pages cost less than 2 pages that sort 100,000 rows by complete_name.
      expect(indexedMs).toBeLessThan(sortedMs);
    } finally {
      await sim.close();
    }
  });
});

describe("encoding", () => {
  it("encodes records straight to JSON exactly as the value path does, for every field of every model", async () => {
    const sim = await startOdooSimulator({ seed: { partners: 200, products: 20, orders: 30, seed: 4, archivedRatio: 0.2 } });
    try {
      for (const model of sim.store.modelNames()) {
        const rows = sim.store.search(model, [], { activeTest: false, order: "id asc" });
        const fields = sim.store.defaultReadFields(model);
        for (const load of [true, false]) {
          expect(JSON.parse(sim.store.encodeWire(model, rows, fields, load))).toEqual(sim.store.toWire(model, rows, fields, load));
        }
      }
    } finally {
      await sim.close();
    }
  });
});

describe("data semantics", () => {
  let sim: OdooSimulator;
  let now = Date.UTC(2026, 2, 1, 10, 0, 0) * 1000 + 250_000;
  beforeAll(async () => {
    sim = await startOdooSimulator({ clock: () => now });
  });
  afterAll(async () => {
    await sim?.close();
  });

  it("evaluates domains with prefix operators, like-family, in, child_of, dotted paths and many2one names", async () => {
    const [co] = await result<number[]>(kw(sim, "res.partner", "create", [[{ name: "Zeta Corp", is_company: true, country_id: 4 }]]));
    const [p1, p2, p3] = await result<number[]>(
      kw(sim, "res.partner", "create", [
        [
          { name: "Ann Zeta", parent_id: co, email: "ann@zeta.example" },
          { name: "Ben Zeta", parent_id: co, phone: "+1" },
          { name: "Cy Other", email: "cy@other.example" },
        ],
      ]),
    );
    const ids = async (domain: unknown[]) => (await result<number[]>(kw(sim, "res.partner", "search", [domain], { order: "id asc" }))).filter((id) => id >= co);
    expect(await ids(["|", ["name", "=like", "A%"], ["name", "=ilike", "cy other"]])).toEqual([p1, p3]);
    expect(await ids(["!", ["name", "ilike", "zeta"]])).toEqual([p3]);
    expect(await ids([["email", "!=", false], ["email", "not ilike", "zeta"]])).toEqual([p3]);
    expect(await ids([["phone", "=", false], ["id", "in", [co, p1, p2, p3]]])).toEqual([co, p1, p3]);
    expect(await ids([["id", "child_of", co]])).toEqual([co, p1, p2]);
    expect(await ids([["parent_id.name", "=", "Zeta Corp"]])).toEqual([p1, p2]);
    expect(await ids([["parent_id", "ilike", "zeta c"]])).toEqual([p1, p2]);
    expect(await ids([["country_id", "=", "Belgium"]])).toEqual([co]);
    expect(await ids([["child_ids", "!=", false]])).toEqual([co]);
    expect(await ids([["name", "not in", ["Ann Zeta", "Ben Zeta"]], ["id", ">=", co]])).toEqual([co, p3]);
    const [read] = await result<Record<string, unknown>[]>(kw(sim, "res.partner", "read", [[p1]], { fields: ["display_name", "complete_name", "parent_id"] }));
    expect(read).toEqual({ id: p1, display_name: "Zeta Corp, Ann Zeta", complete_name: "Zeta Corp, Ann Zeta", parent_id: [co, "Zeta Corp"] });
  });

  it("deletes like PostgreSQL: a refused unlink changes nothing; cascades and set-null otherwise", async () => {
    const partner = await result<number>(kw(sim, "res.partner", "create", [{ name: "Customer With Orders" }]));
    const contact = await result<number>(kw(sim, "res.partner", "create", [{ name: "Its Contact", parent_id: partner }]));
    const [product] = sim.store.create("product.product", [{ name: "Widget", list_price: 2.5 }]);
    const draft = await result<number>(kw(sim, "sale.order", "create", [{ partner_id: partner, order_line: [[0, 0, { product_id: product, product_uom_qty: 4, price_unit: 2.5 }]] }]));
    const confirmed = await result<number>(kw(sim, "sale.order", "create", [{ partner_id: partner }]));
    expect(await result(kw(sim, "sale.order", "action_confirm", [[confirmed]]))).toBe(true);
    const [order] = await result<{ amount_total: number; order_line: number[] }[]>(kw(sim, "sale.order", "read", [[draft]], { fields: ["amount_total", "order_line"] }));
    expect(order.amount_total).toBe(10);
    expect(order.order_line).toHaveLength(1);

    const refused = await kw(sim, "res.partner", "unlink", [[partner]]);
    expect(refused.error?.data.name).toBe("odoo.exceptions.ValidationError");
    expect(refused.error?.data.message).toContain("Constraint: sale_order_partner_id_fkey");
    expect(sim.store.row("sale.order", draft)).toBeDefined();
    expect(sim.store.row("res.partner", partner)).toBeDefined();

    expect(await result(kw(sim, "sale.order", "action_cancel", [[confirmed]]))).toBe(true);
    expect(await result(kw(sim, "res.partner", "unlink", [[partner]]))).toBe(true);
    expect(sim.store.row("sale.order", draft)).toBeUndefined();
    expect(sim.store.row("sale.order", confirmed)).toBeUndefined();
    expect(sim.store.row("sale.order.line", order.order_line[0])).toBeUndefined();
    // The contact stays, without its company (ON DELETE SET NULL), and its write_date is untouched.
    const before = sim.store.row("res.partner", contact)!.write_date;
    expect(sim.store.row("res.partner", contact)).toMatchObject({ parent_id: false, write_date: before });
  });

  it("stamps every record of one call with the call's start time, returned in seconds but compared in microseconds", async () => {
    now = Date.UTC(2026, 2, 1, 10, 5, 0) * 1000 + 700_000;
    const ids = await result<number[]>(kw(sim, "res.partner", "create", [[{ name: "T1" }, { name: "T2" }, { name: "T3" }]]));
    const rows = await result<{ write_date: string; create_date: string }[]>(kw(sim, "res.partner", "read", [ids], { fields: ["write_date", "create_date"] }));
    expect(new Set(rows.map((r) => r.write_date))).toEqual(new Set(["2026-03-01 10:05:00"]));
    expect(ids.map((id) => sim.store.row("res.partner", id)!.write_date)).toEqual(ids.map(() => now));
    const find = (op: string, value: string) => result<number[]>(kw(sim, "res.partner", "search", [[["id", "in", ids], ["write_date", op, value]]]));
    expect(await find("=", "2026-03-01 10:05:00")).toEqual([]);
    expect(await find(">", "2026-03-01 10:05:00")).toEqual(ids);
    expect(await find("<", "2026-03-01 10:05:01")).toEqual(ids);
    // A transaction that started earlier commits now: its write_date is in the past.
    sim.store.write("res.partner", [ids[0]], { comment: "late" }, { at: now - 3_000_000 });
    expect(await find("<", "2026-03-01 10:04:58")).toEqual([ids[0]]);
  });
});

describe("faults, hooks and control endpoints", () => {
  let sim: OdooSimulator;
  beforeAll(async () => {
    sim = await startOdooSimulator({ seed: { partners: 30, seed: 2 } });
  });
  afterEach(() => {
    sim.faults.clear();
    sim.faults.latencyMs = 0;
    sim.faults.perRecordUs = 0;
    sim.faults.workers = 0;
  });
  afterAll(async () => {
    await sim?.close();
  });

  const version = (signal?: AbortSignal) =>
    fetch(`${sim.url}/jsonrpc`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", method: "call", id: 1, params: { service: "common", method: "version", args: [] } }),
      signal,
    });

  it("fails the next N matching calls with HTTP errors, then answers; skip and method/model matching", async () => {
    sim.faults.failNext(2, { kind: "http", status: 503 });
    expect((await version()).status).toBe(503);
    expect((await version()).status).toBe(503);
    expect((await version()).status).toBe(200);

    sim.faults.add({ method: "search_count", model: "res.country", skip: 1, times: 1, fault: { kind: "http", status: 502 } });
    expect((await kw(sim, "res.partner", "search_count", [[]])).result).toEqual(expect.any(Number));
    expect((await kw(sim, "res.country", "search_count", [[]])).result).toBe(30);
    await expect(kw(sim, "res.country", "search_count", [[]])).rejects.toThrow();
    expect((await kw(sim, "res.country", "search_count", [[]])).result).toBe(30);
  });

  it("answers with an Odoo error envelope, hangs, resets, delays, and can fail after applying the call", async () => {
    sim.faults.failNext(1, { kind: "error", name: "psycopg2.errors.SerializationFailure", message: "could not serialize access" });
    expect((await kw(sim, "res.partner", "search_count", [[]])).error?.data.name).toBe("psycopg2.errors.SerializationFailure");

    sim.faults.failNext(1, { kind: "hang" });
    const hung = Date.now();
    await expect(version(AbortSignal.timeout(200))).rejects.toThrow();
    expect(Date.now() - hung).toBeGreaterThanOrEqual(190);

    sim.faults.failNext(1, { kind: "reset" });
    await expect(version()).rejects.toThrow();

    sim.faults.failNext(1, { kind: "delay", ms: 150 });
    const t0 = Date.now();
    expect((await version()).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);

    sim.faults.add({ method: "create", fault: { kind: "http", status: 502 }, afterServe: true });
    await expect(kw(sim, "res.partner", "create", [{ name: "Applied but unanswered" }])).rejects.toThrow();
    expect(sim.store.searchCount("res.partner", [["name", "=", "Applied but unanswered"]])).toBe(1);

    sim.faults.latencyMs = 120;
    const t1 = Date.now();
    await version();
    expect(Date.now() - t1).toBeGreaterThanOrEqual(110);
  });

  it("emulates a real Odoo's pace: server time per record read, and a worker limit", async () => {
    sim.faults.perRecordUs = 10_000; // 10 ms per record
    sim.faults.workers = 1;
    const read = () => kw(sim, "res.partner", "search_read", [[]], { fields: ["name"], limit: 5, order: "id asc" });
    const t0 = Date.now();
    await Promise.all([read(), read()]);
    // One worker: two calls of 5 records at 10 ms each take at least 100 ms in a row.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(95);
    sim.faults.perRecordUs = 0;
    sim.faults.workers = 0;
  });

  it("paces every call: perCallMs plus perRecordUs per record (ODOO18_PACE: about 52 ms a page of 1,000)", async () => {
    expect(ODOO18_PACE.perCallMs + (1_000 * ODOO18_PACE.perRecordUs) / 1000).toBeGreaterThanOrEqual(45);
    expect(ODOO18_PACE.perCallMs + (1_000 * ODOO18_PACE.perRecordUs) / 1000).toBeLessThanOrEqual(60);
    sim.faults.perCallMs = 60;
    sim.faults.perRecordUs = 8_000;
    const t0 = Date.now();
    await kw(sim, "res.partner", "search_read", [[]], { fields: ["name"], limit: 5, order: "id asc" });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(95); // 60 ms + 5 × 8 ms
    sim.faults.perCallMs = 0;
    sim.faults.perRecordUs = 0;
  });

  it("plays a long transaction: invisible until commit, then stamped with its start, behind ids committed meanwhile", async () => {
    const tx = sim.store.begin();
    const [late] = tx.create("res.partner", [{ name: "Long transaction" }]);
    const [meanwhile] = sim.store.create("res.partner", [{ name: "Committed meanwhile" }], { at: tx.startedAt + 5_000_000 });
    expect(meanwhile).toBeGreaterThan(late!);
    const visible = async () => (await result<{ id: number; write_date: string }[]>(kw(sim, "res.partner", "search_read", [[["name", "=", "Long transaction"]]], { fields: ["write_date"] })));
    expect(await visible()).toEqual([]);
    tx.commit();
    const [row] = await visible();
    expect(row!.id).toBe(late);
    const [other] = await result<{ write_date: string }[]>(kw(sim, "res.partner", "read", [[meanwhile]], { fields: ["write_date"] }));
    expect(row!.write_date < other!.write_date).toBe(true);
    expect(() => tx.commit()).toThrow();
  });

  it("applies a hook's changes after the K-th matching call, not before", async () => {
    const before = sim.store.count("res.partner");
    sim.after({ method: "search_read", model: "res.partner", afterCalls: 2, ops: [{ op: "create", model: "res.partner", values: [{ name: "Hooked A" }, { name: "Hooked B" }] }] });
    const count = async () => ((await result<unknown[]>(kw(sim, "res.partner", "search_read", [[["name", "like", "Hooked"]]], { fields: ["id"] }))).length);
    expect(await count()).toBe(0);
    expect(await count()).toBe(0);
    expect(await count()).toBe(2);
    expect(sim.store.count("res.partner")).toBe(before + 2);
  });

  it("serves /__sim/ control endpoints, which JSON-RPC cannot reach", async () => {
    const info = await control(sim, "GET", "/__sim/info");
    expect(info.body).toMatchObject({ db: sim.db, adminLogin: "admin", apiKey: sim.apiKey });
    expect((await control(sim, "POST", "/__sim/seed", { partners: 10, seed: 9 })).body).toEqual({ partners: 10, products: 0, orders: 0 });
    const ops = await control(sim, "POST", "/__sim/ops", {
      ops: [
        { op: "create", model: "res.partner", values: [{ name: "Ctl 1" }, { name: "Ctl 2" }] },
        { op: "archive", model: "res.partner", ids: [7] },
      ],
    });
    const [created] = ops.body.results as [number[]];
    expect(created).toHaveLength(2);
    const late = await control(sim, "POST", "/__sim/ops", { ops: [{ op: "write", model: "res.partner", ids: [created[0]], values: { comment: "x" }, at: "2020-01-01 00:00:00.5" }] });
    expect(late.status).toBe(200);
    const records = await control(sim, "GET", `/__sim/records?model=res.partner&ids=${created[0]},7&fields=name,write_date,active`);
    expect(records.body.records).toEqual([
      { id: created[0], name: "Ctl 1", write_date: "2020-01-01 00:00:00", active: true },
      { id: 7, name: expect.any(String), write_date: expect.any(String), active: false },
    ]);
    const live = await control(sim, "GET", "/__sim/ids?model=res.partner&active=true");
    expect(live.body.ids).toEqual(sim.store.ids("res.partner", { active: true }));

    await control(sim, "POST", "/__sim/faults", { rules: [{ fault: { kind: "http", status: 503 }, times: 1 }] });
    expect((await version()).status).toBe(503);
    await control(sim, "POST", "/__sim/hooks", { method: "version", afterCalls: 1, ops: [{ op: "unlink", model: "res.partner", ids: [created[1]] }] });
    await version();
    expect(sim.store.row("res.partner", created[1])).toBeUndefined();
    const stats = await control(sim, "GET", "/__sim/stats");
    expect(stats.body).toMatchObject({ requests: expect.any(Number), faultsInjected: expect.any(Number) });
    expect((stats.body.calls as Record<string, number>)["common.version"]).toBeGreaterThan(0);

    // Through the protocol path, "__sim" is just an unknown service.
    expect((await rpc(sim, "__sim", "info", [])).error?.data.name).toBe("builtins.KeyError");
    expect((await control(sim, "GET", "/__sim/nope")).status).toBe(404);

    await control(sim, "POST", "/__sim/reset", { seed: { partners: 5 } });
    expect(sim.store.count("res.partner")).toBe(11);
  });

  it("guards control endpoints with a token when configured, and can turn them off", async () => {
    const guarded = await startOdooSimulator({ controlToken: "tok" });
    const off = await startOdooSimulator({ control: false });
    try {
      expect((await control(guarded, "GET", "/__sim/info")).status).toBe(403);
      expect((await control(guarded, "GET", "/__sim/info", undefined, { "x-sim-control-token": "tok" })).status).toBe(200);
      const res = await fetch(`${off.url}/__sim/info`);
      expect(res.status).toBe(404);
    } finally {
      await Promise.all([guarded.close(), off.close()]);
    }
  });
});
