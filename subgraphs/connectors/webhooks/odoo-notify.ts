// `POST /webhooks/odoo/notify/<token>` (served here, reached through the gateway's port): the webhook URL a stock
// Odoo 18 can call. Its automation rules' "Send Webhook Notification" action posts
// `{"_action": "<rule>(#<id>)", "_id": <record id>, "_model": "<model>", <chosen fields>}` with no custom headers and
// cannot sign (`ir.actions.server._run_action_webhook`), so the secret is the URL itself: a 256-bit random token of
// the connector, stored only as its SHA-256, shown once by `rotateWebhookToken`.
//
// - A token that matches no connector (unknown, rotated away, disabled, malformed) answers the same 404 as any
//   unknown path, after the same work (hash, one indexed lookup, a constant-time compare): nothing tells whether a
//   connector exists.
// - The body is only a hint (`webhook-hint.ts`): its fields are never stored; the model's incremental run reads them.
// - Rate-limited per connector (`settings.webhookRequestsPerMinute`, counted in PostgreSQL, so shared by replicas):
//   beyond it the call gets 429 and only joins a run already active (it starts none); accepted calls are audited
//   (`connector.webhook.received`), refusals once per minute (`connector.webhook.throttled`).
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import express, { type Express, type Request } from "express";
import type { MikroORM } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import type { AuditRecorder } from "../../../kernel/audit.js";
import { CLIENT_IP_HEADER, CLIENT_USER_AGENT_HEADER } from "../../../kernel/request-id.js";
import { forkForTenant, forkUnscoped } from "../../../kernel/tenancy.js";
import { Connector, ConnectorKind, DEFAULT_SETTINGS } from "../connector/connector.entity.js";
import type { ConnectorRuns } from "../jobs/run.service.js";
import { ConnectorMapping, SyncDirection } from "../mapping/mapping.entity.js";
import { hintChanged } from "./webhook-hint.js";

export const NOTIFY_PATH = "/webhooks/odoo/notify/:token";
export const notifyPath = (token: string) => `/webhooks/odoo/notify/${token}`;

const TOKEN_PREFIX = "whk_";
const TOKEN_SHAPE = /^whk_[A-Za-z0-9_-]{43}$/;

/** A new webhook token (32 random bytes) and the hash that is stored. */
export function newWebhookToken(): { token: string; hash: string } {
  const token = `${TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
  return { token, hash: hashToken(token) };
}

export const hashToken = (token: string) => createHash("sha256").update(token, "utf8").digest("hex");

/** What the notification says: the model (and record) that changed. Odoo's native body or `{model, ids}`. */
function parseHint(raw: string): { model: string; id: number | null } | null {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!body || typeof body !== "object" || Array.isArray(body)) return null;
  const b = body as Record<string, unknown>;
  const model = typeof b._model === "string" ? b._model : typeof b.model === "string" ? b.model : null;
  if (!model || model.length > 200) return null;
  const id = Number.isSafeInteger(b._id) && (b._id as number) > 0 ? (b._id as number) : null;
  return { model, id };
}

export function mountOdooNotify(app: Express, deps: { orm: MikroORM; runs: () => ConnectorRuns; audit: AuditRecorder; logger: Logger }): void {
  app.post(NOTIFY_PATH, express.raw({ type: () => true, limit: "256kb" }), async (req, res) => {
    const answer = (status: number, body: Record<string, unknown>) => void res.status(status).json(body);
    const notFound = () => answer(404, { code: "NOT_FOUND", error: "not found" });
    try {
      const presented = String(req.params.token ?? "");
      // Every miss does the same work: hash (of whatever came), one indexed lookup, one constant-time compare.
      const hash = hashToken(presented);
      const rows: { connector_id: string; tenant_id: string; token_hash: string }[] = await forkUnscoped(deps.orm)
        .execute(
          `select t.connector_id, t.tenant_id, t.token_hash from connectors.webhook_token t
             join connectors.connector c on c.id = t.connector_id and c.tenant_id = t.tenant_id and c.kind = 'ODOO'
            where t.token_hash = ?`,
          [hash],
        );
      const row = rows[0];
      const stored = Buffer.from(row?.token_hash ?? "0".repeat(64), "hex");
      const match = timingSafeEqual(stored, Buffer.from(hash, "hex"));
      if (!row || !match || !TOKEN_SHAPE.test(presented)) return notFound();

      const em = forkForTenant(deps.orm, row.tenant_id);
      const connector = await em.findOne(Connector, { id: row.connector_id });
      if (!connector || connector.kind !== ConnectorKind.ODOO) return notFound();
      const ctx = {
        em,
        requestId: String(req.header("x-request-id") ?? ""),
        serviceActor: "webhook",
        principal: undefined,
        platform: undefined,
        client: clientOf(req),
      };
      const limit = connector.settings.webhookRequestsPerMinute ?? DEFAULT_SETTINGS.webhookRequestsPerMinute;
      const hits = await countHit(em, connector.id);
      const hint = parseHint(Buffer.isBuffer(req.body) ? req.body.toString("utf8") : "");
      const mapping = hint
        ? await em.findOne(ConnectorMapping, { connectorId: connector.id, remoteModel: hint.model, enabled: true, direction: { $in: [SyncDirection.INBOUND, SyncDirection.BOTH] } })
        : null;

      if (hits > limit) {
        // Over the limit: no new run, no audit per call; a run already active still reads the change afterwards.
        if (mapping) await hintChanged(em, deps.runs(), connector, mapping, false);
        if (hits === limit + 1) {
          await deps.audit.record(ctx, { tenantId: connector.tenantId, action: "connector.webhook.throttled", targetType: "Connector", targetId: connector.id, metadata: { limitPerMinute: limit } });
        }
        res.setHeader("Retry-After", String(60 - new Date().getUTCSeconds()));
        return answer(429, { code: "RATE_LIMITED", error: `more than ${limit} webhook calls this minute` });
      }
      if (!hint) return answer(400, { code: "BAD_USER_INPUT", error: 'expected Odoo\'s webhook body {"_model": "<model>", "_id": <id>, ...}' });
      if (!mapping) return answer(422, { code: "BAD_USER_INPUT", error: `no enabled inbound mapping of ${hint.model}` });

      const outcome = await hintChanged(em, deps.runs(), connector, mapping);
      await em.execute("update connectors.webhook_token set last_used_at = now() where connector_id = ?", [connector.id]);
      await deps.audit.record(ctx, {
        tenantId: connector.tenantId,
        action: "connector.webhook.received",
        targetType: "Connector",
        targetId: connector.id,
        metadata: { via: "token", model: hint.model, remoteId: hint.id, runId: outcome?.runId ?? null, outcome: outcome?.outcome ?? null },
      });
      answer(202, { runId: outcome?.runId ?? null, coalesced: outcome?.outcome === "COALESCED" });
    } catch (err) {
      deps.logger.error({ err }, "odoo webhook notification failed");
      if (!res.headersSent) answer(503, { code: "INTERNAL_SERVER_ERROR", error: "not queued; retry" });
    }
  });
}

/** Counts a call in this minute's window of the connector; returns the window's count (old windows are dropped). */
async function countHit(em: ReturnType<typeof forkForTenant>, connectorId: string): Promise<number> {
  const rows: { hits: number }[] = await em.execute(
    `insert into connectors.webhook_rate (connector_id, window_start, hits) values (?, date_trunc('minute', now()), 1)
     on conflict (connector_id, window_start) do update set hits = webhook_rate.hits + 1 returning hits`,
    [connectorId],
  );
  const hits = Number(rows[0]?.hits ?? 1);
  if (hits === 1) await em.execute("delete from connectors.webhook_rate where connector_id = ? and window_start < date_trunc('minute', now())", [connectorId]);
  return hits;
}

function clientOf(req: Request): { ip?: string; userAgent?: string } {
  return { ip: req.header(CLIENT_IP_HEADER) ?? req.ip, userAgent: req.header(CLIENT_USER_AGENT_HEADER) ?? req.header("user-agent") };
}
