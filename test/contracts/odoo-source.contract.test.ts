// The ConnectorSource contract for Odoo (OdooSource over OdooClient against the simulator), plus the cases only
// Odoo's write_date has: a randomized run of concurrent-looking writes on a pinned clock — many records per second
// whose write_date order is not id order, one-call batches larger than a page, late commits inside the overlap
// window, changes between pages — checking that incremental runs never skip a change.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { prng } from "../../simulators/odoo/odoo.seed.js";
import { startOdooSimulator, type OdooSimulator } from "../../simulators/odoo/odoo.simulator.js";
import { RemoteError, RemoteErrorKind } from "../../subgraphs/connectors/remote/remote.errors.js";
import type { RemoteRecord, SourceCursor, SourcePage } from "../../subgraphs/connectors/remote/source.js";
import { createOdooSource, type OdooSource } from "../../subgraphs/connectors/odoo/odoo.source.js";
import { describeConnectorSourceContract, type SourceContractHarness } from "./connector-source.contract.js";

const MODEL = "res.partner";

function sourceFor(sim: OdooSimulator, password: string, overlapSeconds: number): OdooSource {
  return createOdooSource({
    url: sim.url,
    db: sim.db,
    login: sim.adminLogin,
    password,
    timeoutMs: 500,
    retries: 1,
    minBackoffMs: 10,
    maxBackoffMs: 20,
    overlapSeconds,
    models: [MODEL, "product.product"],
  });
}

describeConnectorSourceContract("Odoo", async (): Promise<SourceContractHarness> => {
  const sim = await startOdooSimulator({ seed: { partners: 120, seed: 11, archivedRatio: 0.1 } });
  const overlapSeconds = 30;
  let batch = 0;
  return {
    source: sourceFor(sim, sim.apiKey, overlapSeconds),
    sourceWithBadCredentials: sourceFor(sim, "not-the-password", overlapSeconds),
    model: MODEL,
    overlapSeconds,
    pageSize: 25,
    // A full run reads with active_test=false: archived partners are part of it (the job treats them as removed).
    fullIds: async () => sim.store.ids(MODEL).map(String),
    liveIds: async () => sim.store.ids(MODEL, { active: true }).map(String),
    createRecords: async (count) =>
      sim.store.create(MODEL, Array.from({ length: count }, (_, i) => ({ name: `Contract Partner ${batch}-${i}`, email: `c${batch}.${i}@example.com` }))).map(String),
    updateInOneCall: async (ids) => {
      sim.store.write(MODEL, ids.map(Number), { comment: `batch ${++batch}` });
    },
    lateCommit: async (id, secondsAgo) => {
      const latest = sim.store.latestWriteDate(MODEL)!;
      sim.store.write(MODEL, [Number(id)], { comment: "late" }, { at: latest - secondsAgo * 1_000_000 });
    },
    removeRemotely: async (ids) => {
      // One hard delete and the rest archived: both leave the live set.
      const [first, ...rest] = ids.map(Number);
      sim.store.unlink(MODEL, [first]);
      if (rest.length) sim.store.archive(MODEL, rest);
    },
    newRecordFields: () => ({ name: "Outbound Partner", email: "outbound@example.com", is_company: true }),
    changedFields: () => ({ email: "changed@example.com", phone: "+32 9 000 00 00" }),
    readRemote: async (id) => {
      const rows = sim.store.readRows(MODEL, [Number(id)]);
      return rows.length ? sim.store.toWire(MODEL, rows, ["name", "email", "phone", "is_company"])[0] : null;
    },
    fault: async (kind) => {
      sim.faults.add({ fault: kind === "UNAVAILABLE" ? { kind: "http", status: 503 } : { kind: "hang" }, times: Infinity });
    },
    clearFaults: async () => sim.faults.clear(),
    close: () => sim.close(),
  };
});

describe("OdooSource incremental cursor (Odoo write_date specifics)", () => {
  let sim: OdooSimulator;
  let now = Date.UTC(2026, 0, 5, 9, 0, 0) * 1000;
  const overlapSeconds = 5;

  beforeAll(async () => {
    sim = await startOdooSimulator({ clock: () => now });
  });

  afterAll(async () => {
    await sim?.close();
  });

  async function runToEnd(
    source: OdooSource,
    cursor: SourceCursor | null,
    pageSize: number,
    hooks: { onPage?: (ids: number[]) => void; between?: () => void } = {},
  ) {
    const ids: string[] = [];
    let c = cursor;
    for (let i = 0; i < 10_000; i++) {
      const page = await source.readPage(MODEL, c, { pageSize, full: false });
      ids.push(...page.records.map((r) => r.remoteId));
      hooks.onPage?.(page.records.map((r) => Number(r.remoteId)));
      c = JSON.parse(JSON.stringify(page.cursor)) as SourceCursor;
      if (page.done) return { ids, cursor: c };
      hooks.between?.();
    }
    throw new Error("incremental run did not finish");
  }

  it("never skips a change: random same-second writes, one-call batches, late commits and changes between pages", async () => {
    const rand = prng(20260105);
    const source = sourceFor(sim, sim.apiKey, overlapSeconds);
    const store = sim.store;
    // id -> the run by whose end the change must have been returned: a change made before run R is due at the end
    // of R; a change made while R runs (between its pages) is due at the end of R + 1.
    const pending = new Map<number, number>();
    let due = 0;
    const note = (ids: number[]) => {
      for (const id of ids) pending.set(id, due);
    };
    const randomIds = (n: number) => {
      const all = store.ids(MODEL);
      return [...new Set(Array.from({ length: n }, () => all[Math.floor(rand() * all.length)]))];
    };
    /** One change, stamped somewhere in the current second (or a late commit), as concurrent transactions do. */
    const change = () => {
      const r = rand();
      now += Math.floor(rand() * 400_000);
      if (r < 0.25) {
        note(store.create(MODEL, Array.from({ length: 1 + Math.floor(rand() * 30) }, (_, i) => ({ name: `P${now}-${i}` }))));
      } else if (r < 0.45) {
        const ids = randomIds(40 + Math.floor(rand() * 60));
        store.write(MODEL, ids, { comment: `batch ${now}` });
        note(ids);
      } else if (r < 0.6) {
        // Committed late: stamped up to (overlap - 1) s before the newest change, visible only now.
        const ids = randomIds(1 + Math.floor(rand() * 3));
        const at = store.latestWriteDate(MODEL)! - Math.floor(rand() * (overlapSeconds - 1) * 1_000_000);
        store.write(MODEL, ids, { comment: `late ${now}` }, { at });
        note(ids);
      } else if (r < 0.7) {
        const ids = randomIds(2);
        store.archive(MODEL, ids);
        note(ids);
      } else {
        // A transaction that started earlier in this second: write_date order differs from id order.
        const ids = randomIds(1 + Math.floor(rand() * 5));
        store.write(MODEL, ids, { comment: `same-second ${now}` }, { at: now - Math.floor(rand() * (now % 1_000_000)) });
        note(ids);
      }
    };

    store.create(MODEL, Array.from({ length: 200 }, (_, i) => ({ name: `Initial ${i}` })));
    let cursor: SourceCursor | null = null;
    let changesDuringRuns = 0;
    for (let round = 0; round < 25; round++) {
      due = round;
      // Runs a few seconds apart (as a scheduler would run them), so the overlap window holds a few rounds of changes.
      now += 2_000_000;
      for (let i = 0; i < 8; i++) change();
      due = round + 1;
      const pageSize = [7, 20, 50, 101][round % 4];
      const result = await runToEnd(source, cursor, pageSize, {
        onPage: (ids) => ids.forEach((id) => pending.delete(id)),
        between: () => {
          if (rand() < 0.3) {
            change();
            changesDuringRuns++;
          }
        },
      });
      cursor = result.cursor;
      const missed = [...pending].filter(([, d]) => d <= round).map(([id]) => id);
      expect({ round, missed }).toEqual({ round, missed: [] });
    }
    expect(changesDuringRuns).toBeGreaterThan(10);
    console.log(JSON.stringify(sim.stats), store.count(MODEL));
    // A final quiet run catches up with everything.
    now += 2_000_000;
    await runToEnd(source, cursor, 33, { onPage: (ids) => ids.forEach((id) => pending.delete(id)) });
    expect([...pending.keys()]).toEqual([]);
  });

  it("pages one call's batch larger than a page by id, without repeats inside the run", async () => {
    const source = sourceFor(sim, sim.apiKey, overlapSeconds);
    now += 60_000_000;
    const start = await runToEnd(source, null, 100);
    now += 60_000_000;
    const ids = sim.store.create(MODEL, Array.from({ length: 230 }, (_, i) => ({ name: `Bulk ${i}` })));
    const after = await runToEnd(source, start.cursor, 50);
    expect(after.ids.filter((id) => ids.includes(Number(id))).sort()).toEqual(ids.map(String).sort());
    // The 230 share one write_date: paged by id, each once.
    expect(new Set(after.ids).size).toBe(after.ids.length);
  });

  it("returns active and write_date with every record, archived ones included", async () => {
    const source = sourceFor(sim, sim.apiKey, overlapSeconds);
    const [id] = sim.store.create(MODEL, [{ name: "To archive" }]);
    sim.store.archive(MODEL, [id]);
    const records: RemoteRecord[] = [];
    let cursor: SourceCursor | null = null;
    for (let done = false; !done; ) {
      const page: SourcePage = await source.readPage(MODEL, cursor, { pageSize: 500, full: false, fields: ["name"] });
      records.push(...page.records);
      cursor = page.cursor;
      done = page.done;
    }
    const rec = records.find((r) => r.remoteId === String(id));
    expect(rec?.fields).toEqual({ name: "To archive", active: false, write_date: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/) });
    const full = await source.readPage(MODEL, null, { pageSize: 100_000, full: true });
    expect(full.records.some((r) => r.remoteId === String(id) && r.fields.active === false)).toBe(true);
  });

  it("starts an incremental run at `since` and rejects a cursor that is not its own", async () => {
    const source = sourceFor(sim, sim.apiKey, overlapSeconds);
    now += 3_600_000_000;
    const since = new Date(now / 1000);
    now += 1_000_000;
    const ids = sim.store.create(MODEL, [{ name: "After since A" }, { name: "After since B" }]);
    const page = await source.readPage(MODEL, null, { pageSize: 100, full: false, since });
    expect(page.records.map((r) => r.remoteId)).toEqual(ids.map(String));
    expect(page.done).toBe(true);
    for (const bad of [{ mode: "full", afterId: 3, v: 1 }, { v: 1, mode: "inc", from: "yesterday" }, { courseid: 3 }]) {
      const err = await source.readPage(MODEL, bad as unknown as SourceCursor, { pageSize: 10, full: false }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RemoteError);
      expect((err as RemoteError).kind).toBe(RemoteErrorKind.VALIDATION);
    }
  });
});
