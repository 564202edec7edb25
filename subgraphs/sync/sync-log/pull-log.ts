import { randomUUID } from "node:crypto";
import type { MikroORM } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import type { Principal } from "../../../kernel/auth.js";
import { actorOf } from "./sync-run.actor.js";
import { SyncRunKind, SyncRunStatus } from "./sync-run.entity.js";

/** One pull, as the pull path reports it. */
export interface PullLogEntry {
  principal: Principal;
  /** Defaults to the principal's tenant; an entry whose tenant differs from its principal's is dropped. */
  tenantId?: string;
  clientId?: string | null;
  collections: readonly string[];
  /** Documents returned. */
  documents: number;
  /** Time the pull took. */
  durationMs: number;
  /** When the pull finished; default: when it is logged. */
  at?: Date;
}

/** A run the log wrote (what `onWritten` gets, to announce it). */
export interface WrittenPullRun {
  id: string;
  tenantId: string;
  status: SyncRunStatus;
}

export interface PullLogOptions {
  logger?: Logger;
  /** How often buffered pulls are written; default 2 s. */
  flushIntervalMs?: number;
  /** Runs per insert; reaching it writes at once instead of waiting for the timer. Default 500. */
  maxBatch?: number;
  /** Runs held while writes are slow or failing; beyond it new (not yet buffered) groups are dropped. Default 10,000. */
  maxPending?: number;
  /** Told about the runs of each committed insert (to announce them); its failures are logged, never thrown. */
  onWritten?: (runs: WrittenPullRun[]) => Promise<void> | void;
}

interface Group {
  id: string;
  tenantId: string;
  actorType: string;
  triggeredById: string | null;
  apiKeyId: string | null;
  clientId: string | null;
  collections: string[];
  pulls: number;
  documents: number;
  durationMs: number;
  /** Epoch ms. */
  startedAt: number;
  finishedAt: number;
}

const INT_MAX = 2_147_483_647;
const COLUMNS =
  "id, tenant_id, kind, status, actor_type, triggered_by_id, api_key_id, client_id, collections, parameters, processed, created, updated, deleted, failed, conflicts, rejected, errors, error_count, started_at, finished_at, duration_ms, created_at, updated_at";
const ROW = "(?, ?, ?::sync.sync_run_kind, ?::sync.sync_run_status, ?::sync.sync_run_actor_type, ?, ?, ?, array[?]::text[], ?::jsonb, ?, 0, 0, 0, 0, 0, 0, '[]'::jsonb, 0, ?::timestamptz, ?::timestamptz, ?, ?::timestamptz, ?::timestamptz)";
const ROW_NO_COLLECTIONS = ROW.replace("array[?]::text[]", "'{}'::text[]");

/**
 * The sync log's pull entries, written off the pull path. `logPull` only updates an in-memory buffer (it never
 * waits and never throws); pulls of the same tenant, actor, client and collections within one window become ONE
 * `PULL` run with summed counts (`parameters.pulls` says how many), and each window is written with one multi-row
 * insert every `flushIntervalMs` (or as soon as `maxBatch` runs are waiting). A failed write is logged and dropped:
 * the log must never slow down or fail a pull. `close()` writes what is left (call it on shutdown, before the ORM
 * closes).
 */
export class PullLog {
  private pending = new Map<string, Group>();
  private running: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly flushIntervalMs: number;
  private readonly maxBatch: number;
  private readonly maxPending: number;
  /** Pulls not logged (buffer full, write failed, bad entry, after close). */
  dropped = 0;
  /** Runs written so far. */
  written = 0;

  constructor(
    private readonly orm: MikroORM,
    private readonly opts: PullLogOptions = {},
  ) {
    this.flushIntervalMs = opts.flushIntervalMs ?? 2_000;
    this.maxBatch = opts.maxBatch ?? 500;
    this.maxPending = opts.maxPending ?? 10_000;
  }

  /** Runs waiting to be written. */
  get size(): number {
    return this.pending.size;
  }

  /** Buffers one pull. Synchronous, O(1), never throws. */
  logPull(entry: PullLogEntry): void {
    try {
      if (this.closed) {
        this.dropped++;
        return;
      }
      const { principal } = entry;
      const tenantId = entry.tenantId ?? principal.tenantId;
      if (tenantId !== principal.tenantId) throw new Error("pull log entry for another tenant than its principal");
      const clientId = entry.clientId ? String(entry.clientId).slice(0, 200) : null;
      const collections = normalizeCollections(entry.collections);
      const documents = count(entry.documents);
      const durationMs = count(entry.durationMs);
      const finishedAt = entry.at ? entry.at.getTime() : Date.now();
      const startedAt = finishedAt - durationMs;
      // Tenant and actor ids are UUIDs; the free-form parts are JSON-quoted, so no two groups share a key.
      const key = `${tenantId}/${principal.kind}/${principal.userId}/${JSON.stringify(clientId)}${JSON.stringify(collections)}`;
      const group = this.pending.get(key);
      if (group) {
        group.pulls++;
        group.documents = Math.min(INT_MAX, group.documents + documents);
        group.durationMs = Math.min(INT_MAX, group.durationMs + durationMs);
        if (startedAt < group.startedAt) group.startedAt = startedAt;
        if (finishedAt > group.finishedAt) group.finishedAt = finishedAt;
        return;
      }
      if (this.pending.size >= this.maxPending) {
        if (this.dropped++ % 1000 === 0) this.opts.logger?.warn({ dropped: this.dropped, pending: this.pending.size }, "pull log full; dropping pull entries");
        return;
      }
      this.pending.set(key, { id: randomUUID(), tenantId, ...actorOf(principal), clientId, collections, pulls: 1, documents, durationMs, startedAt, finishedAt });
      this.timer ??= setInterval(() => void this.kick(), this.flushIntervalMs).unref();
      if (this.pending.size >= this.maxBatch) void this.kick();
    } catch (err) {
      this.dropped++;
      this.opts.logger?.warn({ err }, "pull not logged");
    }
  }

  /** Writes everything buffered so far (waits for a write in progress first). Never throws. */
  async flush(): Promise<void> {
    while (this.running) await this.running;
    if (this.pending.size) await this.kick();
  }

  /** Stops the timer and writes what is left; later pulls are dropped. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }

  /** Starts a write of the current buffer unless one is running; new pulls go to a fresh buffer meanwhile. */
  private kick(): Promise<void> {
    if (this.running || !this.pending.size) return this.running ?? Promise.resolve();
    const batch = [...this.pending.values()];
    this.pending = new Map();
    this.running = this.write(batch).finally(() => {
      this.running = null;
      // A full buffer built up during the write: do not wait for the timer.
      if (this.pending.size >= this.maxBatch) void this.kick();
    });
    return this.running;
  }

  private async write(groups: Group[]): Promise<void> {
    for (let i = 0; i < groups.length; i += this.maxBatch) {
      const chunk = groups.slice(i, i + this.maxBatch);
      try {
        await this.insert(chunk);
        this.written += chunk.length;
      } catch (err) {
        this.dropped += chunk.reduce((n, g) => n + g.pulls, 0);
        this.opts.logger?.warn({ err, runs: chunk.length }, "pull log write failed; entries dropped");
        continue;
      }
      try {
        await this.opts.onWritten?.(chunk.map((g) => ({ id: g.id, tenantId: g.tenantId, status: SyncRunStatus.SUCCEEDED })));
      } catch (err) {
        this.opts.logger?.warn({ err }, "announcing pull log entries failed");
      }
    }
  }

  /** One multi-row insert; every row names its tenant explicitly (raw SQL is not covered by the tenant filter). */
  private async insert(groups: Group[]): Promise<void> {
    const now = new Date().toISOString();
    const params: unknown[] = [];
    const rows = groups.map((g) => {
      params.push(g.id, g.tenantId, SyncRunKind.PULL, SyncRunStatus.SUCCEEDED, g.actorType, g.triggeredById, g.apiKeyId, g.clientId);
      if (g.collections.length) params.push(g.collections);
      const startedAt = new Date(g.startedAt).toISOString();
      params.push(JSON.stringify({ pulls: g.pulls }), g.documents, startedAt, new Date(g.finishedAt).toISOString(), g.durationMs, startedAt, now);
      return g.collections.length ? ROW : ROW_NO_COLLECTIONS;
    });
    await this.orm.em.execute(`insert into sync.sync_run (${COLUMNS}) values ${rows.join(", ")}`, params, "run");
  }
}

/** Sorted, without duplicates, at most 50 names of at most 100 characters (what the table takes). */
function normalizeCollections(names: readonly string[]): string[] {
  let sorted = names.length <= 50;
  for (let i = 0; sorted && i < names.length; i++) sorted = typeof names[i] === "string" && names[i]!.length <= 100 && (i === 0 || names[i - 1]! < names[i]!);
  if (sorted) return names.slice();
  return [...new Set(names.map((c) => String(c).slice(0, 100)))].sort().slice(0, 50);
}

function count(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.min(INT_MAX, Math.round(n)) : 0;
}
