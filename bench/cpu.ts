// Where a benchmark phase spends its time: wall clock, CPU of this Node process (all threads) and CPU of the
// embedded PostgreSQL (postmaster + backends, from /proc), plus optional V8 CPU profiles of the main thread (the
// thread the in-process stack runs on) summarised as top functions and top packages by self time.
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import path from "node:path";

/** Milliseconds on the monotonic clock; the same clock in every thread of the process. */
export const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

/** Linux clock ticks per second (USER_HZ); 100 on every mainstream kernel. */
const TICKS = 100;

/**
 * CPU seconds used so far by a PostgreSQL server: the postmaster's own time, the time of children it has reaped
 * (backends that exited; cutime/cstime) and the time of its live children. Monotonic while the server runs.
 */
export function postgresCpuSeconds(postmasterPid: number): number {
  let ticks = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    // Fields after "(comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(entry) === postmasterPid) ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    else if (Number(f[1]) === postmasterPid) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / TICKS;
}

/** The postmaster's pid, from the `postmaster.pid` file of a data directory. */
export function postmasterPid(pgDataDir: string): number {
  return Number(readFileSync(path.join(pgDataDir, "postmaster.pid"), "utf8").split("\n")[0]);
}

/** Accumulated wall time and CPU of one phase, possibly measured in several slices. */
export class PhaseMeter {
  wallMs = 0;
  nodeCpuMs = 0;
  pgCpuMs = 0;

  constructor(private readonly pgPid: number) {}

  async measure<T>(fn: () => Promise<T>): Promise<T> {
    const cpu0 = process.cpuUsage();
    const pg0 = postgresCpuSeconds(this.pgPid);
    const t0 = nowMs();
    try {
      return await fn();
    } finally {
      this.wallMs += nowMs() - t0;
      const cpu = process.cpuUsage(cpu0);
      this.nodeCpuMs += (cpu.user + cpu.system) / 1000;
      this.pgCpuMs += (postgresCpuSeconds(this.pgPid) - pg0) * 1000;
    }
  }

  /** "wall 4.1 s, node CPU 3.9 s (95%), postgres CPU 0.8 s (20%)": the share is of one core over the wall time. */
  describe(): string {
    const pct = (ms: number) => `${Math.round((100 * ms) / Math.max(1, this.wallMs))}%`;
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    return `wall ${s(this.wallMs)}, node CPU ${s(this.nodeCpuMs)} (${pct(this.nodeCpuMs)} of a core), postgres CPU ${s(this.pgCpuMs)} (${pct(this.pgCpuMs)})`;
  }
}

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: CpuProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
}

/**
 * Samples the main thread's JavaScript with the inspector while a phase runs (only when `dir` is set): each slice is
 * written as `<dir>/<phase>-<n>.cpuprofile` (open in Chrome DevTools) and its self time added to the phase's totals.
 */
export class PhaseProfiler {
  private session?: Session;
  private readonly byFunction = new Map<string, Map<string, number>>();
  private readonly byPackage = new Map<string, Map<string, number>>();
  private readonly slices = new Map<string, number>();

  constructor(readonly dir: string | undefined) {}

  get enabled(): boolean {
    return !!this.dir;
  }

  async profile<T>(phase: string, fn: () => Promise<T>): Promise<T> {
    if (!this.dir) return fn();
    if (!this.session) {
      await mkdir(this.dir, { recursive: true });
      this.session = new Session();
      this.session.connect();
      await this.session.post("Profiler.enable");
      await this.session.post("Profiler.setSamplingInterval", { interval: 500 });
    }
    await this.session.post("Profiler.start");
    try {
      return await fn();
    } finally {
      const { profile } = (await this.session.post("Profiler.stop")) as { profile: CpuProfile };
      const n = (this.slices.get(phase) ?? 0) + 1;
      this.slices.set(phase, n);
      await writeFile(path.join(this.dir, `${phase}-${n}.cpuprofile`), JSON.stringify(profile));
      this.add(phase, profile);
    }
  }

  private add(phase: string, profile: CpuProfile): void {
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    const fns = this.byFunction.get(phase) ?? new Map<string, number>();
    const pkgs = this.byPackage.get(phase) ?? new Map<string, number>();
    this.byFunction.set(phase, fns);
    this.byPackage.set(phase, pkgs);
    const samples = profile.samples ?? [];
    const deltas = profile.timeDeltas ?? [];
    for (let i = 0; i < samples.length; i++) {
      const node = nodes.get(samples[i]);
      if (!node) continue;
      const ms = (deltas[i + 1] ?? deltas[i] ?? 0) / 1000; // a sample's time is the gap to the next one
      const { functionName, url, lineNumber } = node.callFrame;
      const fn = url ? `${functionName || "(anonymous)"}  ${shortUrl(url)}:${lineNumber + 1}` : functionName || "(native)";
      fns.set(fn, (fns.get(fn) ?? 0) + ms);
      const pkg = packageOf(functionName, url);
      pkgs.set(pkg, (pkgs.get(pkg) ?? 0) + ms);
    }
  }

  /** Lines "  12.3%  456 ms  name": top functions and top packages by self time, idle excluded. */
  summary(phase: string, top = 15): string[] {
    const fns = this.byFunction.get(phase);
    const pkgs = this.byPackage.get(phase);
    if (!fns || !pkgs) return [];
    const busy = [...pkgs].filter(([k]) => k !== "(idle)").reduce((t, [, v]) => t + v, 0);
    const fmt = (entries: [string, number][]) =>
      entries
        .filter(([k]) => k !== "(idle)")
        .sort((a, b) => b[1] - a[1])
        .slice(0, top)
        .map(([k, v]) => `    ${((100 * v) / busy).toFixed(1).padStart(5)}%  ${Math.round(v).toString().padStart(6)} ms  ${k}`);
    return [
      `  CPU profile of the main thread, ${phase}: ${Math.round(busy)} ms busy (idle ${Math.round(pkgs.get("(idle)") ?? 0)} ms); profiles in ${this.dir}`,
      "   top packages by self time:",
      ...fmt([...pkgs]),
      "   top functions by self time:",
      ...fmt([...fns]),
    ];
  }

  async close(): Promise<void> {
    if (!this.session) return;
    await this.session.post("Profiler.disable").catch(() => undefined);
    this.session.disconnect();
    this.session = undefined;
  }
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf("/node_modules/");
  if (nm >= 0) return url.slice(nm + "/node_modules/".length);
  const dist = url.indexOf("/dist/");
  if (dist >= 0) return url.slice(dist + "/dist/".length);
  return url.replace(/^file:\/\//, "");
}

/** A package name for node_modules code, `tributary/<area>` for the project, `node:` for Node's own JavaScript. */
function packageOf(functionName: string, url: string): string {
  if (!url) return functionName.startsWith("(") ? functionName : "(native)";
  const nm = url.lastIndexOf("/node_modules/");
  if (nm >= 0) {
    const parts = url.slice(nm + "/node_modules/".length).split("/");
    return parts[0].startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (url.startsWith("node:")) return "node (internal)";
  const dist = url.indexOf("/dist/");
  if (dist >= 0) {
    const parts = url.slice(dist + "/dist/".length).split("/");
    return `tributary/${parts[0] === "subgraphs" ? `subgraphs/${parts[1]}` : parts[0]}`;
  }
  return url;
}
