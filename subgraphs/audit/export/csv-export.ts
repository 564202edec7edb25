// GET /audit/export.csv?from=&to=&action=&actorId=&actorType=&targetType=&targetId=&text=[&tenantId= for platform]
// Streams the caller's tenant's audit events as CSV, oldest first, read from Postgres in keyset chunks: memory stays
// bounded whatever the range. Same bearer token as GraphQL (verified here, with revocations); needs audit:read, or
// platform:read with tenantId (that export is itself recorded in the tenant's trail).
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { MikroORM } from "@mikro-orm/postgresql";
import { stringify } from "csv-stringify";
import type { Express, Request, Response } from "express";
import { GraphQLError } from "graphql";
import type { Logger } from "pino";
import type { TokenVerifier } from "../../../kernel/auth.js";
import { createServiceContext } from "../../../kernel/context.js";
import { ErrorCode, Errors } from "../../../kernel/errors.js";
import type { AuditRecorder } from "../../../kernel/audit.js";
import { CLIENT_IP_HEADER, CLIENT_USER_AGENT_HEADER, REQUEST_ID_HEADER, type ClientInfo } from "../../../kernel/request-id.js";
import type { RevocationList } from "../../../kernel/revocations.js";
import { ActorType } from "../audit-event/audit-event.entity.js";
import { fetchAuditPage, filterSql, type AuditEventRow, type AuditFilterInput, type AuditKey } from "../audit-event/audit-query.js";
import { recordTrailRead, trailTenant } from "../audit-event/trail-access.js";

export const AUDIT_EXPORT_PATH = "/audit/export.csv";
const CHUNK = 1_000;

export const AUDIT_CSV_COLUMNS = [
  "occurredAt", "id", "chainSeq", "actorType", "actorId", "action", "targetType", "targetId", "requestId", "changes", "metadata", "hash",
] as const;

export function mountAuditExport(
  app: Express,
  deps: { orm: MikroORM; audit: AuditRecorder; verifier: () => TokenVerifier; revocations: () => RevocationList | undefined; logger: Logger },
): void {
  app.get(AUDIT_EXPORT_PATH, async (req: Request, res: Response) => {
    let where: ReturnType<typeof filterSql>;
    try {
      const ctx = await createServiceContext({
        orm: deps.orm,
        verifier: deps.verifier(),
        revocations: deps.revocations(),
        logger: deps.logger,
        authorization: typeof req.headers.authorization === "string" ? req.headers.authorization : undefined,
        requestId: req.headers[REQUEST_ID_HEADER],
        client: clientOf(req),
      });
      const q = queryParams(req);
      if (!ctx.platform && !ctx.principal) throw Errors.unauthenticated();
      const auditCtx = { ...ctx, audit: deps.audit };
      // Own tenant (audit:read), or the tenant a platform operator (platform:read) names.
      const tenantId = trailTenant(auditCtx, q.tenantId);
      const filter = parseFilter(q);
      where = filterSql(tenantId, filter, "");
      // A platform operator's export is recorded in the tenant's trail before a row is sent.
      await recordTrailRead(auditCtx, tenantId, "export.csv", { filter: Object.fromEntries(Object.entries(q).filter(([k]) => k !== "tenantId")) });
    } catch (err) {
      return sendError(res, err, deps.logger);
    }

    res.status(200);
    res.setHeader("content-type", "text/csv; charset=utf-8");
    res.setHeader("content-disposition", 'attachment; filename="audit-events.csv"');
    res.setHeader("cache-control", "no-store");
    const em = deps.orm.em.fork();
    async function* rows(): AsyncGenerator<Record<string, unknown>> {
      let after: AuditKey | null = null;
      for (;;) {
        const page: AuditEventRow[] = await fetchAuditPage(em, where, { limit: CHUNK, after, order: "asc" });
        for (const e of page) yield csvRow(e);
        if (page.length < CHUNK) return;
        after = page[page.length - 1]!.key;
      }
    }
    try {
      // Backpressure end to end: the generator reads the next chunk only when the socket has taken the previous one.
      // Cells starting with = + - @ are prefixed with ' (CSV injection into spreadsheets).
      await pipeline(Readable.from(rows()), stringify({ header: true, columns: [...AUDIT_CSV_COLUMNS], escape_formulas: true }), res);
    } catch (err) {
      // Headers are sent: a failure mid-stream can only cut the response (the client sees an incomplete body).
      if (!req.socket.destroyed) deps.logger.error({ err }, "audit export failed");
      res.destroy();
    }
  });
}

function csvRow(e: AuditEventRow): Record<string, unknown> {
  return {
    occurredAt: e.key.occurredAt,
    id: e.id,
    chainSeq: e.chainSeq ?? "",
    actorType: e.actorType,
    actorId: e.actorId ?? "",
    action: e.action,
    targetType: e.targetType ?? "",
    targetId: e.targetId ?? "",
    requestId: e.requestId ?? "",
    changes: e.changes == null ? "" : JSON.stringify(e.changes),
    metadata: e.metadata == null ? "" : JSON.stringify(e.metadata),
    hash: e.hash ?? "",
  };
}

const PARAMS = ["from", "to", "action", "actorId", "actorType", "targetType", "targetId", "text", "tenantId"] as const;
type Query = Partial<Record<(typeof PARAMS)[number], string>>;

function queryParams(req: Request): Query {
  const out: Query = {};
  for (const key of PARAMS) {
    const v = req.query[key];
    if (v === undefined) continue;
    if (typeof v !== "string") throw Errors.badInput(`${key} must be given once`, key);
    if (v.includes("\u0000")) throw Errors.badInput(`${key} contains a NUL character`, key);
    out[key] = v;
  }
  return out;
}

function parseDate(v: string | undefined, field: string): Date | null {
  if (v === undefined || v === "") return null;
  const d = new Date(v);
  if (!/^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d{1,6})?)?(Z|[+-]\d\d:\d\d))?$/.test(v) || Number.isNaN(d.getTime())) {
    throw Errors.badInput(`${field} must be an ISO 8601 date-time`, field);
  }
  return d;
}

function parseFilter(q: Query): AuditFilterInput {
  if (q.actorType !== undefined && !(Object.values(ActorType) as string[]).includes(q.actorType)) throw Errors.badInput("unknown actorType", "actorType");
  return {
    from: parseDate(q.from, "from"),
    to: parseDate(q.to, "to"),
    action: q.action ?? null,
    actorId: q.actorId ?? null,
    actorType: (q.actorType as ActorType | undefined) ?? null,
    targetType: q.targetType ?? null,
    targetId: q.targetId ?? null,
    text: q.text ?? null,
  };
}

/** Errors as JSON with the public code: 401 who-are-you, 403 not allowed/suspended, 400 bad input, 503 unavailable. */
function sendError(res: Response, err: unknown, logger: Logger): void {
  const code = err instanceof GraphQLError && typeof err.extensions.code === "string" ? err.extensions.code : ErrorCode.INTERNAL_SERVER_ERROR;
  if (code === ErrorCode.INTERNAL_SERVER_ERROR) logger.error({ err }, "audit export refused");
  const status =
    code === ErrorCode.UNAUTHENTICATED ? 401
    : code === ErrorCode.BAD_USER_INPUT ? 400
    : code === ErrorCode.FORBIDDEN || code === ErrorCode.TENANT_SUSPENDED ? 403
    : code === ErrorCode.UPSTREAM_UNAVAILABLE ? 503
    : 500;
  const message = code === ErrorCode.INTERNAL_SERVER_ERROR ? "Internal server error" : (err as Error).message;
  const extensions: Record<string, unknown> = { code };
  if (err instanceof GraphQLError && typeof err.extensions.field === "string") extensions.field = err.extensions.field;
  res.status(status).json({ errors: [{ message, extensions }] });
}

/** The original client as the gateway reports it (as for GraphQL requests), for the record of a platform read. */
function clientOf(req: Request): ClientInfo {
  const ip = req.headers[CLIENT_IP_HEADER];
  const ua = req.headers[CLIENT_USER_AGENT_HEADER] ?? req.headers["user-agent"];
  return { ip: typeof ip === "string" && ip.length <= 64 ? ip : req.socket.remoteAddress, userAgent: typeof ua === "string" ? ua.slice(0, 512) : undefined };
}
