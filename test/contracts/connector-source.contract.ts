// One contract every ConnectorSource must pass (subgraphs/connectors/remote/source.ts), run against each remote's
// simulator: test/contracts/odoo-source.contract.test.ts, moodle-source.contract.test.ts.
//
// How to run it for a source:
//
//   describeConnectorSourceContract("Odoo", async () => {
//     const sim = await startOdooSimulator({ seed: { partners: 300 } });
//     return { source, sourceWithBadCredentials, model: "res.partner", ..., close: () => sim.close() };
//   });
//
// `setup` runs once (beforeAll) and returns a SourceContractHarness: the source under test plus hooks that act on the
// remote behind the source's back (through the simulator's programmatic API or its control endpoints). Every hook is
// plain async data in, data out, so any remote can implement it:
//   - the truth: `fullIds()` (what a full run must return, exactly once each) and `liveIds()` (what liveIds yields);
//   - changes: `createRecords(n)`, `updateInOneCall(ids)` (one remote call: the records share one change timestamp),
//     `lateCommit(id, secondsAgo)` (optional: a change stamped `secondsAgo` before the newest one but visible only
//     now — a long transaction committing late; omit it when the remote has no such notion), `removeRemotely(ids)`;
//   - outbound: `newRecordFields()` / `changedFields()` for source.create / source.update, `readRemote(id)` to check;
//   - faults: `fault("UNAVAILABLE" | "TIMEOUT")` makes every call fail until `clearFaults()`.
// The source must be configured with short timeouts (≤ 1 s) and at most one retry so fault tests stay quick, and
// with an incremental overlap window of `overlapSeconds` (≥ 2).
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { RemoteError, RemoteErrorKind } from "../../subgraphs/connectors/remote/remote.errors.js";
import type { ConnectorSource, SourceCursor } from "../../subgraphs/connectors/remote/source.js";

export interface SourceContractHarness {
  /** The source under test, with valid credentials, short timeouts (≤ 1 s) and at most one retry. */
  source: ConnectorSource;
  /** The same remote, with wrong credentials. */
  sourceWithBadCredentials: ConnectorSource;
  /** The model (Odoo) or record kind (Moodle) the suite exercises: one with change tracking. */
  model: string;
  /** The incremental overlap window the source was configured with (s); late commits are played inside it. */
  overlapSeconds: number;
  /** Page size the suite uses (small, so paging is exercised; default 25). */
  pageSize?: number;
  /** Ids a full run must return, each exactly once. */
  fullIds(): Promise<string[]>;
  /** Ids `liveIds` must yield (each once). */
  liveIds(): Promise<string[]>;
  /** Creates `count` records remotely; returns their ids. */
  createRecords(count: number): Promise<string[]>;
  /** Changes these records in ONE remote call, so they share one change timestamp. */
  updateInOneCall(ids: string[]): Promise<void>;
  /** Changes `id` in a transaction stamped `secondsAgo` before the model's newest change, visible only now. */
  lateCommit?(id: string, secondsAgo: number): Promise<void>;
  /** Deletes (or archives) records remotely: they leave `liveIds`. */
  removeRemotely(ids: string[]): Promise<void>;
  /** Fields for `source.create(model, ...)`; `readRemote` of the new record must contain them. */
  newRecordFields(): Record<string, unknown>;
  /** Fields for `source.update(model, id, ...)`; `readRemote` must then contain them. */
  changedFields(): Record<string, unknown>;
  /** The remote record's fields in the remote's own shape, or null when it does not exist. */
  readRemote(id: string): Promise<Record<string, unknown> | null>;
  /** Every call fails from now on: UNAVAILABLE (an HTTP 5xx) or TIMEOUT (no answer), until `clearFaults`. */
  fault(kind: "UNAVAILABLE" | "TIMEOUT"): Promise<void>;
  clearFaults(): Promise<void>;
  close(): Promise<void>;
}

/** Reads a whole run; the cursor goes through JSON between pages, as the job persists it. */
async function run(
  h: SourceContractHarness,
  opts: { full: boolean; cursor?: SourceCursor | null; maxPages?: number; between?: (page: number) => Promise<void> },
): Promise<{ ids: string[]; cursor: SourceCursor; pages: number; records: { remoteId: string; fields: Record<string, unknown> }[] }> {
  const pageSize = h.pageSize ?? 25;
  let cursor: SourceCursor | null = opts.cursor ?? null;
  const records: { remoteId: string; fields: Record<string, unknown> }[] = [];
  for (let pages = 1; ; pages++) {
    if (pages > (opts.maxPages ?? 10_000)) throw new Error(`run did not finish within ${opts.maxPages} pages`);
    const page = await h.source.readPage(h.model, cursor, { pageSize, full: opts.full });
    expect(page.records.length).toBeLessThanOrEqual(pageSize);
    for (const r of page.records) {
      expect(typeof r.remoteId).toBe("string");
      records.push(r);
    }
    cursor = JSON.parse(JSON.stringify(page.cursor)) as SourceCursor;
    if (page.done) return { ids: records.map((r) => r.remoteId), cursor: cursor!, pages, records };
    await opts.between?.(pages);
  }
}

async function rejection(promise: Promise<unknown>): Promise<RemoteError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof RemoteError) return err;
    throw new Error(`expected a RemoteError, got ${err instanceof Error ? err.stack : String(err)}`);
  }
  throw new Error("expected a RemoteError, but the call succeeded");
}

const sorted = (ids: Iterable<string>) => [...ids].sort((a, b) => (a.length - b.length) || (a < b ? -1 : a > b ? 1 : 0));

function missingFrom(returned: Iterable<string>, expected: Iterable<string>): string[] {
  const got = new Set(returned);
  return [...expected].filter((id) => !got.has(id));
}

/** Registers the ConnectorSource contract for one implementation. */
export function describeConnectorSourceContract(name: string, setup: () => Promise<SourceContractHarness>): void {
  describe(`ConnectorSource contract: ${name}`, () => {
    let h: SourceContractHarness;

    beforeAll(async () => {
      h = await setup();
      // Enough records for several pages.
      const have = (await h.fullIds()).length;
      const pageSize = h.pageSize ?? 25;
      if (have < pageSize * 4 + 3) await h.createRecords(pageSize * 4 + 3 - have);
    });

    afterAll(async () => {
      await h?.clearFaults().catch(() => undefined);
      await h?.close();
    });

    it("testConnection reports the version, latency and remote user", async () => {
      const info = await h.source.testConnection();
      expect(typeof info.version).toBe("string");
      expect(info.version.length).toBeGreaterThan(0);
      expect(info.latencyMs).toBeGreaterThanOrEqual(0);
      expect(typeof info.remoteUser).toBe("string");
      expect(info.remoteUser.length).toBeGreaterThan(0);
      expect(h.source.models()).toContain(h.model);
    });

    it("wrong credentials fail with AUTH (testConnection and reads)", async () => {
      expect((await rejection(h.sourceWithBadCredentials.testConnection())).kind).toBe(RemoteErrorKind.AUTH);
      const read = await rejection(h.sourceWithBadCredentials.readPage(h.model, null, { pageSize: 10, full: true }));
      expect(read.kind).toBe(RemoteErrorKind.AUTH);
    });

    it("a full run pages through every record exactly once", async () => {
      const expected = await h.fullIds();
      const result = await run(h, { full: true });
      const counts = new Map<string, number>();
      for (const id of result.ids) counts.set(id, (counts.get(id) ?? 0) + 1);
      expect([...counts].filter(([, n]) => n > 1)).toEqual([]);
      expect(sorted(counts.keys())).toEqual(sorted(expected));
      const pageSize = h.pageSize ?? 25;
      expect(result.pages).toBeGreaterThanOrEqual(Math.ceil(expected.length / pageSize));
      expect(result.pages).toBeLessThanOrEqual(Math.ceil(expected.length / pageSize) + 1);
    });

    it("a full run resumed from a persisted cursor continues where it stopped", async () => {
      const expected = await h.fullIds();
      const pageSize = h.pageSize ?? 25;
      const first = await h.source.readPage(h.model, null, { pageSize, full: true });
      expect(first.done).toBe(false);
      const rest = await run(h, { full: true, cursor: JSON.parse(JSON.stringify(first.cursor)) as SourceCursor });
      const all = [...first.records.map((r) => r.remoteId), ...rest.ids];
      expect(new Set(all).size).toBe(all.length);
      expect(sorted(all)).toEqual(sorted(expected));
    });

    it("an incremental run from nothing returns every record; a run after changes returns every changed record", async () => {
      const initial = await run(h, { full: false });
      expect(missingFrom(initial.ids, await h.fullIds())).toEqual([]);

      const pageSize = h.pageSize ?? 25;
      const created = await h.createRecords(3);
      // Many records changed in one call share one change timestamp: more than two pages of them.
      const existing = (await h.liveIds()).filter((id) => !created.includes(id));
      const batch = existing.slice(0, pageSize * 2 + 7);
      await h.updateInOneCall(batch);
      const after = await run(h, { full: false, cursor: initial.cursor });
      expect(missingFrom(after.ids, [...created, ...batch])).toEqual([]);
    });

    it("a run that finds nothing new returns (at most) the overlap window, and moves on", async () => {
      const first = await run(h, { full: false });
      const again = await run(h, { full: false, cursor: first.cursor });
      const repeat = await run(h, { full: false, cursor: again.cursor });
      // Nothing changed: a repeat run returns no more than the previous one (the overlap window) and terminates.
      expect(repeat.ids.length).toBeLessThanOrEqual(again.ids.length);
      expect(repeat.pages).toBeLessThanOrEqual(again.pages);
    });

    it("records changed between pages of a run are returned by that run or the next", async () => {
      const start = await run(h, { full: false });
      const live = await h.liveIds();
      const early = live.slice(0, 5);
      const late = live.slice(-5);
      let changed = false;
      const during = await run(h, {
        full: false,
        cursor: start.cursor,
        between: async () => {
          if (changed) return;
          changed = true;
          await h.updateInOneCall([...early, ...late]);
        },
      });
      const next = await run(h, { full: false, cursor: during.cursor });
      expect(missingFrom([...during.ids, ...next.ids], [...early, ...late])).toEqual([]);
    });

    it("a change committed late inside the overlap window is not skipped", async () => {
      if (!h.lateCommit) {
        console.warn(`${name}: no lateCommit hook — the late-commit case does not apply`);
        return;
      }
      const before = await run(h, { full: false });
      // Newer changes first, then one stamped earlier that becomes visible only afterwards.
      const live = await h.liveIds();
      await h.updateInOneCall(live.slice(0, 3));
      const seen = await run(h, { full: false, cursor: before.cursor });
      expect(missingFrom(seen.ids, live.slice(0, 3))).toEqual([]);
      const lateId = live[live.length - 1];
      await h.lateCommit(lateId, Math.max(1, Math.floor(h.overlapSeconds / 2)));
      const after = await run(h, { full: false, cursor: seen.cursor });
      expect(after.ids).toContain(lateId);
    });

    it("liveIds pages the live set, each id once, and drops removed records", async () => {
      const collect = async () => {
        const out: string[] = [];
        for await (const page of h.source.liveIds(h.model, { pageSize: 40 })) {
          expect(page.length).toBeLessThanOrEqual(40);
          out.push(...page);
        }
        return out;
      };
      const ids = await collect();
      expect(new Set(ids).size).toBe(ids.length);
      expect(sorted(ids)).toEqual(sorted(await h.liveIds()));
      const gone = ids.slice(-3);
      await h.removeRemotely(gone);
      const after = await collect();
      expect(after.filter((id) => gone.includes(id))).toEqual([]);
      expect(sorted(after)).toEqual(sorted(await h.liveIds()));
    });

    it("create, update and remove round-trip; removing twice is fine; updating a removed record is NOT_FOUND", async () => {
      const fields = h.newRecordFields();
      const id = await h.source.create(h.model, fields);
      expect(typeof id).toBe("string");
      expect(await h.readRemote(id)).toMatchObject(fields);
      const changes = h.changedFields();
      await h.source.update(h.model, id, changes);
      expect(await h.readRemote(id)).toMatchObject(changes);
      await h.source.remove(h.model, id);
      expect(await h.readRemote(id)).toBeNull();
      await expect(h.source.remove(h.model, id)).resolves.toBeUndefined();
      expect((await rejection(h.source.update(h.model, id, changes))).kind).toBe(RemoteErrorKind.NOT_FOUND);
    });

    it("an unavailable remote fails with UNAVAILABLE, a silent one with TIMEOUT", async () => {
      try {
        await h.fault("UNAVAILABLE");
        expect((await rejection(h.source.readPage(h.model, null, { pageSize: 10, full: true }))).kind).toBe(RemoteErrorKind.UNAVAILABLE);
        expect((await rejection(h.source.testConnection())).kind).toBe(RemoteErrorKind.UNAVAILABLE);
        await h.clearFaults();
        await h.fault("TIMEOUT");
        const started = Date.now();
        expect((await rejection(h.source.readPage(h.model, null, { pageSize: 10, full: false }))).kind).toBe(RemoteErrorKind.TIMEOUT);
        expect(Date.now() - started).toBeLessThan(10_000);
      } finally {
        await h.clearFaults();
      }
      // And it works again once the remote is back.
      const page = await h.source.readPage(h.model, null, { pageSize: 10, full: true });
      expect(page.records.length).toBeGreaterThan(0);
    });
  });
}
