// Filtering and keyset paging of a tenant's audit events, shared by `auditEvents` and the CSV export. SQL is written
// out (the tenant filter of the ORM does not apply to raw SQL): every query here binds the tenant explicitly.
import type { EntityManager } from "@mikro-orm/postgresql";
import { Errors } from "../../../kernel/errors.js";
import { isUuid } from "../../../kernel/loaders.js";
import { OCCURRED_AT_SQL } from "../chain/chain.js";
import { ActorType, type AuditEvent } from "./audit-event.entity.js";

export const MAX_AUDIT_PAGE = 500;
const MAX_TEXT = 200;

export interface AuditFilterInput {
  actorId?: string | null;
  actorType?: ActorType | null;
  /** Prefix of `action` (`auth.` matches `auth.login.failed`). */
  action?: string | null;
  targetType?: string | null;
  targetId?: string | null;
  from?: Date | null;
  to?: Date | null;
  /** Case-insensitive substring of action, target, request id, changes or metadata. */
  text?: string | null;
}

/** A position in a newest-first or oldest-first walk: the last row's (occurredAt, id), bound to its tenant. */
export interface AuditKey {
  occurredAt: string;
  id: string;
}

const likeEscape = (s: string) => s.replace(/[\\%_]/g, "\\$&");

function checkDate(d: Date | null | undefined, field: string): void {
  if (d != null && (!(d instanceof Date) || Number.isNaN(d.getTime()))) throw Errors.badInput(`${field} is not a valid date-time`, field);
}

/** Validates the filter (BAD_USER_INPUT with the offending field) and renders it as SQL conditions. */
export function filterSql(tenantId: string, f: AuditFilterInput = {}, prefix = "filter."): { sql: string; params: unknown[] } {
  const where = [`"tenant_id" = ?`];
  const params: unknown[] = [tenantId];
  checkDate(f.from, `${prefix}from`);
  checkDate(f.to, `${prefix}to`);
  if (f.from && f.to && f.from.getTime() > f.to.getTime()) throw Errors.badInput("from must not be after to", `${prefix}from`);
  if (f.actorId != null) {
    if (!isUuid(f.actorId)) throw Errors.badInput("actorId must be a UUID", `${prefix}actorId`);
    where.push(`"actor_id" = ?`);
    params.push(f.actorId);
  }
  if (f.actorType != null) {
    if (!(Object.values(ActorType) as string[]).includes(f.actorType)) throw Errors.badInput("unknown actorType", `${prefix}actorType`);
    where.push(`"actor_type" = ?::"audit"."actor_type"`);
    params.push(f.actorType);
  }
  for (const [key, column, max] of [["action", "action", 100], ["targetType", "target_type", 100], ["targetId", "target_id", 100]] as const) {
    const value = f[key];
    if (value == null) continue;
    if (value.length > max) throw Errors.badInput(`${key} is longer than ${max} characters`, `${prefix}${key}`);
    if (key === "action") {
      if (value === "") continue;
      where.push(`"action" like ? escape '\\'`);
      params.push(`${likeEscape(value)}%`);
    } else {
      where.push(`"${column}" = ?`);
      params.push(value);
    }
  }
  if (f.from) {
    where.push(`"occurred_at" >= ?::timestamptz`);
    params.push(f.from.toISOString());
  }
  if (f.to) {
    where.push(`"occurred_at" <= ?::timestamptz`);
    params.push(f.to.toISOString());
  }
  if (f.text != null && f.text !== "") {
    if (f.text.length > MAX_TEXT) throw Errors.badInput(`text is longer than ${MAX_TEXT} characters`, `${prefix}text`);
    const like = `%${likeEscape(f.text)}%`;
    where.push(
      `("action" ilike ? escape '\\' or "target_type" ilike ? escape '\\' or "target_id" ilike ? escape '\\' or "request_id" ilike ? escape '\\'` +
        ` or "changes"::text ilike ? escape '\\' or "metadata"::text ilike ? escape '\\')`,
    );
    params.push(like, like, like, like, like, like);
  }
  return { sql: where.join(" and "), params };
}

/** Opaque cursor: base64url JSON of the tenant and the row's key. */
export function encodeCursor(tenantId: string, key: AuditKey): string {
  return Buffer.from(JSON.stringify({ t: tenantId, o: key.occurredAt, i: key.id })).toString("base64url");
}

/** BAD_USER_INPUT for a malformed cursor or one issued to another tenant. */
export function decodeCursor(tenantId: string, cursor: string, field = "after"): AuditKey {
  let parsed: unknown;
  try {
    if (cursor.length > 512 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error();
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw Errors.badInput("Invalid cursor", field);
  }
  const c = parsed as { t?: unknown; o?: unknown; i?: unknown };
  if (typeof c?.o !== "string" || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(c.o) || !isUuid(c.i) || !isUuid(c.t)) throw Errors.badInput("Invalid cursor", field);
  if (c.t !== tenantId) throw Errors.badInput("This cursor belongs to another tenant", field);
  return { occurredAt: c.o, id: c.i };
}

export interface EventRow {
  id: string;
  tenant_id: string;
  actor_type: ActorType;
  actor_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  request_id: string | null;
  changes: Record<string, unknown> | null;
  metadata: Record<string, unknown> | null;
  occurred_at: Date | string;
  occurred_key: string;
  chain_seq: string | null;
  hash: string | null;
}

export type AuditEventRow = AuditEvent & { key: AuditKey };

export function toEvent(r: EventRow): AuditEventRow {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    actorType: r.actor_type,
    actorId: r.actor_id,
    action: r.action,
    targetType: r.target_type,
    targetId: r.target_id,
    requestId: r.request_id,
    changes: r.changes,
    metadata: r.metadata,
    occurredAt: new Date(r.occurred_at),
    chainSeq: r.chain_seq,
    hash: r.hash,
    key: { occurredAt: r.occurred_key, id: r.id },
  };
}

/** One page of the tenant's filtered events after `after`, newest first (`desc`) or oldest first (`asc`). */
export async function fetchAuditPage(
  em: EntityManager,
  where: { sql: string; params: unknown[] },
  opts: { limit: number; after?: AuditKey | null; order: "desc" | "asc" },
): Promise<AuditEventRow[]> {
  const params = [...where.params];
  let sql = where.sql;
  if (opts.after) {
    sql += ` and ("occurred_at", "id") ${opts.order === "desc" ? "<" : ">"} (?::timestamptz, ?::uuid)`;
    params.push(opts.after.occurredAt, opts.after.id);
  }
  const dir = opts.order === "desc" ? "desc" : "asc";
  const rows = await em.execute<EventRow[]>(
    `select "id", "tenant_id", "actor_type", "actor_id", "action", "target_type", "target_id", "request_id", "changes", "metadata",
            "occurred_at", ${OCCURRED_AT_SQL} as occurred_key, "chain_seq", "hash"
     from "audit"."audit_event" where ${sql} order by "occurred_at" ${dir}, "id" ${dir} limit ${Math.trunc(opts.limit)}`,
    params,
  );
  return rows.map(toEvent);
}
