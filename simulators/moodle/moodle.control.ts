// A typed client for the simulator's /__sim/ control endpoints, for a simulator running in another process (the demo,
// e2e tests that kill workers, benchmarks): seed, change data, inject faults, move the clock, read statistics.
import type { MoodleCourseRecord, MoodleEnrolmentRecord, MoodleUserRecord, SeedOptions } from "./moodle.store.js";
import type { FaultRule, SimConfig, SimStatsSnapshot, StoreOp, TokenRole } from "./moodle.simulator.js";

export interface SimState {
  url: string;
  tokens: Record<TokenRole, string>;
  now: number;
  config: SimConfig;
  counts: { categories: number; courses: number; users: number; deletedUsers: number; enrolments: number };
  faults: FaultRule[];
  scheduled: number;
  stats: SimStatsSnapshot;
}

export class MoodleSimControl {
  private readonly base: string;
  constructor(
    /** The simulator's URL (as printed by main.ts). */
    url: string,
    private readonly controlToken?: string,
  ) {
    this.base = `${url.replace(/\/+$/, "")}/__sim/`;
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...(this.controlToken ? { "x-sim-control-token": this.controlToken } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as T & { error?: string };
    if (!res.ok) throw new Error(`simulator ${method} /__sim/${path}: ${json.error ?? res.status}`);
    return json;
  }

  state(): Promise<SimState> {
    return this.request("GET", "state");
  }
  /** A fresh site, optionally seeded; faults, schedules and stats cleared. */
  reset(seed?: SeedOptions): Promise<{ ok: true }> {
    return this.request("POST", "reset", { seed });
  }
  seed(options: SeedOptions): Promise<{ courses: number; users: number; enrolments: number; firstCourseId: number | null; firstUserId: number | null }> {
    return this.request("POST", "seed", options);
  }
  /** Applies data changes now (results in order: created records, booleans for deletes...). */
  ops(ops: StoreOp[]): Promise<{ results: unknown[] }> {
    return this.request("POST", "ops", { ops });
  }
  /** Applies data changes once `afterCalls` (matching) server.php calls have been answered. */
  schedule(afterCalls: number, ops: StoreOp[], fn?: string): Promise<{ ok: true }> {
    return this.request("POST", "changes", { afterCalls, ops, function: fn });
  }
  addFault(rule: FaultRule): Promise<{ pending: FaultRule[] }> {
    return this.request("POST", "faults", rule);
  }
  clearFaults(): Promise<{ ok: true }> {
    return this.request("DELETE", "faults");
  }
  configure(patch: Partial<SimConfig>): Promise<SimConfig> {
    return this.request("PATCH", "config", patch);
  }
  clock(change: { set?: number; advance?: number; real?: true }): Promise<{ now: number }> {
    return this.request("POST", "clock", change);
  }
  stats(): Promise<SimStatsSnapshot> {
    return this.request("GET", "stats");
  }
  resetStats(): Promise<{ ok: true }> {
    return this.request("DELETE", "stats");
  }
  courses(): Promise<MoodleCourseRecord[]> {
    return this.request("GET", "courses");
  }
  course(id: number): Promise<MoodleCourseRecord> {
    return this.request("GET", `courses/${id}`);
  }
  users(): Promise<MoodleUserRecord[]> {
    return this.request("GET", "users");
  }
  user(id: number): Promise<MoodleUserRecord> {
    return this.request("GET", `users/${id}`);
  }
  enrolments(courseid?: number): Promise<MoodleEnrolmentRecord[]> {
    return this.request("GET", courseid === undefined ? "enrolments" : `enrolments?courseid=${courseid}`);
  }
}
