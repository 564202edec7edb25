// The transactional audit outbox (issue 6, "never lost"): each emitting service writes its audit records into its own
// schema's `audit_outbox` table through the caller's EntityManager (inside the caller's transaction when there is
// one), and a relay in the same process delivers them, in batches, to the audit subgraph's internal endpoint. A row
// is marked delivered only after the audit service answered 200 (it has stored the batch); otherwise the batch backs
// off. Replicas share the table: `for update skip locked` hands each row to one relay at a time. The audit ingest is
// idempotent by event id, so a batch redelivered after a crash between "stored" and "marked" is stored once.
import { OptionalProps } from "@mikro-orm/core";
import { Entity, Index, PrimaryKey, Property } from "@mikro-orm/decorators/legacy";
import type { MikroORM } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import { boundSql } from "./db.js";
import { internalHeaders } from "./internal-auth.js";
import type { AuditRecord } from "./topics.js";

/** Internal endpoint of the audit subgraph that stores a batch of outbox records (other services only). */
export const AUDIT_EVENTS_PATH = "/internal/audit/events";

/**
 * One audit record waiting for (or past) delivery. Shared by every emitting subgraph; each ORM puts it in its own
 * schema (no schema here). Not tenant-scoped: the relay reads across tenants.
 */
@Entity({ tableName: "audit_outbox" })
@Index({ properties: ["deliveredAt", "nextAttemptAt"] })
export class AuditOutbox {
  [OptionalProps]?: "createdAt" | "attempts" | "nextAttemptAt" | "deliveredAt";

  /** The audit event's id (the audit service stores each id once). */
  @PrimaryKey({ type: "uuid" })
  id!: string;

  @Property({ type: "uuid" })
  tenantId!: string;

  /** The {@link AuditRecord} as the recorder built it. */
  @Property({ type: "json" })
  payload!: AuditRecord;

  @Property({ type: "timestamptz" })
  createdAt: Date = new Date();

  @Property({ type: "integer" })
  attempts: number = 0;

  @Property({ type: "timestamptz" })
  nextAttemptAt: Date = new Date();

  /** Null until the audit service acknowledged the record. */
  @Property({ type: "timestamptz", nullable: true })
  deliveredAt: Date | null = null;
}

/** Where the audit subgraph is: a URL, or a getter (the in-process stack learns it after the emitters started). */
export type AuditUrl = string | (() => string | undefined);

/** What the audit endpoint answers: the ids it stored (or already had) and the ones it can never store. */
export interface AuditBatchResult {
  stored: string[];
  rejected: { id: string; reason: string }[];
}

export interface AuditRelayOptions {
  orm: MikroORM;
  /** The audit subgraph's URL (its GraphQL URL or its base; the endpoint path is resolved against it). */
  auditUrl: AuditUrl;
  logger: Logger;
  /** Records per POST. */
  batchSize?: number;
  /** How often the relay looks for due rows when nothing woke it. */
  pollMs?: number;
  /** First retry delay after a failed delivery; doubles per attempt up to `maxBackoffMs`. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** How long delivered rows are kept before the relay deletes them. */
  retentionMs?: number;
  /** Per-request timeout of a POST. */
  timeoutMs?: number;
  /** The HTTP client (tests inject faults). */
  fetch?: typeof fetch;
  /** The service secret the audit service's ingest endpoint requires (INTERNAL_SECRET). */
  secret: string;
}

/**
 * Delivers a service's outbox to the audit subgraph. `start` runs a loop that drains due rows batch by batch, then
 * sleeps until `wake` (called after a record) or the poll interval; `stop` aborts an in-flight POST (its rows stay
 * undelivered and their locks are released) and waits for the loop to end.
 */
export class AuditOutboxRelay {
  private readonly batchSize: number;
  private readonly pollMs: number;
  private readonly baseBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly retentionMs: number;
  private readonly timeoutMs: number;
  private readonly fetch: typeof fetch;
  private readonly table: string;
  private running = false;
  private loop?: Promise<void>;
  private sleeper?: { timer: NodeJS.Timeout; resolve: () => void };
  private woken = false;
  private abort?: AbortController;
  private lastCleanup = 0;
  /** Records acknowledged by the audit service since start (tests, metrics). */
  delivered = 0;
  /** Passes over the outbox since start (each looks for one batch of due rows). */
  passes = 0;

  constructor(private readonly opts: AuditRelayOptions) {
    this.batchSize = opts.batchSize ?? 100;
    this.pollMs = opts.pollMs ?? 1_000;
    this.baseBackoffMs = opts.baseBackoffMs ?? 500;
    this.maxBackoffMs = opts.maxBackoffMs ?? 60_000;
    this.retentionMs = opts.retentionMs ?? 86_400_000;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.fetch = opts.fetch ?? fetch;
    const schema = opts.orm.config.get("schema");
    if (!schema) throw new Error("the audit outbox needs the ORM's schema");
    this.table = `"${schema}"."audit_outbox"`;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops the loop: an in-flight POST is aborted (its rows stay undelivered, for the next relay). */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.abort?.abort();
    this.wake();
    await this.loop;
  }

  /** Delivers now rather than at the next poll (after a record, or after a commit that may have made rows visible). */
  wake(): void {
    this.woken = true;
    if (this.sleeper) {
      clearTimeout(this.sleeper.timer);
      this.sleeper.resolve();
      this.sleeper = undefined;
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      this.woken = false;
      let more = false;
      try {
        more = (await this.deliverBatch()) === "more";
        await this.cleanup();
      } catch (err) {
        if (this.running) this.opts.logger.warn({ err }, "audit outbox relay pass failed");
      }
      if (!this.running) break;
      if (more || this.woken) continue;
      await new Promise<void>((resolve) => {
        this.sleeper = { resolve, timer: setTimeout(() => ((this.sleeper = undefined), resolve()), this.pollMs) };
        this.sleeper.timer.unref?.();
      });
    }
  }

  /**
   * Claims up to one batch of due rows (locked until this transaction ends, skipped by other relays), POSTs them and
   * marks the acknowledged ones delivered; on failure the batch backs off. "more" when a full batch went through.
   */
  async deliverBatch(): Promise<"more" | "idle" | "failed"> {
    const url = this.endpoint();
    if (!url) return "idle";
    this.passes++;
    // Its own event manager: the relay's commits must not wake the relay (the service wakes it after commits).
    const em = this.opts.orm.em.fork({ freshEventManager: true });
    return em.transactional(async (tx) => {
      const sql = boundSql(tx);
      const rows: { id: string; payload: AuditRecord; attempts: number }[] = await sql(
        `select "id", "payload", "attempts" from ${this.table}
         where "delivered_at" is null and "next_attempt_at" <= now()
         order by "created_at", "id" limit ? for update skip locked`,
        [this.batchSize],
      );
      if (!rows.length) return "idle";
      const ids = rows.map((r) => r.id);
      let result: AuditBatchResult;
      try {
        result = await this.post(url, rows.map((r) => r.payload));
      } catch (err) {
        if (!this.running) throw err; // stopped mid-POST: roll back, the rows stay as they were
        await this.backOff(sql, ids);
        this.opts.logger.warn({ err: String(err), records: ids.length }, "audit outbox delivery failed; backing off");
        return "failed";
      }
      const rejected = new Set(result.rejected.map((r) => r.id));
      const ok = ids.filter((id) => !rejected.has(id));
      if (ok.length) await sql(`update ${this.table} set "delivered_at" = now() where "id" = any(?::uuid[])`, [ok]);
      if (rejected.size) {
        // Never dropped: kept undelivered (visible, retried at the capped backoff) and logged.
        await this.backOff(sql, [...rejected]);
        this.opts.logger.error({ rejected: result.rejected }, "audit service rejected outbox records");
      }
      this.delivered += ok.length;
      return rows.length === this.batchSize ? "more" : "idle";
    });
  }

  private endpoint(): string | undefined {
    const base = typeof this.opts.auditUrl === "function" ? this.opts.auditUrl() : this.opts.auditUrl;
    return base ? new URL(AUDIT_EVENTS_PATH, base).toString() : undefined;
  }

  private async post(url: string, events: AuditRecord[]): Promise<AuditBatchResult> {
    this.abort = new AbortController();
    const timeout = setTimeout(() => this.abort?.abort(), this.timeoutMs);
    try {
      const res = await this.fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...internalHeaders(this.opts.secret) },
        body: JSON.stringify({ events }),
        signal: this.abort.signal,
      });
      if (res.status !== 200) throw new Error(`audit service answered ${res.status}`);
      const body = (await res.json()) as Partial<AuditBatchResult>;
      return { stored: body.stored ?? [], rejected: Array.isArray(body.rejected) ? body.rejected : [] };
    } finally {
      clearTimeout(timeout);
    }
  }

  private async backOff(sql: ReturnType<typeof boundSql>, ids: string[]): Promise<void> {
    await sql(
      `update ${this.table} set "attempts" = "attempts" + 1,
         "next_attempt_at" = now() + least(?::float8 * power(2, least("attempts", 30)), ?::float8) * interval '1 millisecond'
       where "id" = any(?::uuid[])`,
      [this.baseBackoffMs, this.maxBackoffMs, ids],
    );
  }

  /** Deletes rows delivered longer than the retention ago (at most once a minute). */
  private async cleanup(): Promise<void> {
    const now = Date.now();
    if (now - this.lastCleanup < 60_000) return;
    this.lastCleanup = now;
    await boundSql(this.opts.orm.em.fork({ freshEventManager: true }))(
      `delete from ${this.table} where "delivered_at" is not null and "delivered_at" < now() - ?::float8 * interval '1 millisecond'`,
      [this.retentionMs],
    );
  }
}
