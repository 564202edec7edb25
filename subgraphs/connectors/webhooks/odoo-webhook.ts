// `POST /webhooks/odoo/:connectorId` (served here, reached through the gateway's port): an Odoo automation tells us
// records changed. The body is signed: `X-Tributary-Timestamp: <unix seconds>` and
// `X-Tributary-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`, with the connector's webhook
// secret (rotateWebhookSecret). A timestamp more than 5 minutes off, a bad signature, or a signature seen before
// (replay) is refused with 401; an unknown connector or one without webhooks answers the same 401 (no probing). A
// valid call queues an incremental run of the touched model (or asks the active run's end to start one).
import { createHmac, timingSafeEqual } from "node:crypto";
import express, { type Express } from "express";
import type { MikroORM } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import { z } from "zod";
import type { AuditRecorder } from "../../../kernel/audit.js";
import { isUuid } from "../../../kernel/loaders.js";
import { forkForTenant, forkUnscoped } from "../../../kernel/tenancy.js";
import { Connector, ConnectorKind } from "../connector/connector.entity.js";
import type { SecretBox } from "../connector/secret-box.js";
import { ConnectorMapping, SyncDirection } from "../mapping/mapping.entity.js";
import type { ConnectorRuns } from "../jobs/run.service.js";
import { hintChanged } from "./webhook-hint.js";

export const WEBHOOK_PATH = "/webhooks/odoo/:connectorId";
export const TIMESTAMP_HEADER = "x-tributary-timestamp";
export const SIGNATURE_HEADER = "x-tributary-signature";
const WINDOW_S = 300;

export const webhookOwner = (connectorId: string) => `connector:${connectorId}:webhook`;

const bodySchema = z.object({
  model: z.string().min(1).max(200),
  ids: z.array(z.number().int().positive()).max(10_000).optional(),
});

/** The signature header value for `body` (what an Odoo automation computes). */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

export function mountOdooWebhook(app: Express, deps: { orm: MikroORM; box: SecretBox; runs: () => ConnectorRuns; audit: AuditRecorder; logger: Logger }): void {
  app.post(WEBHOOK_PATH, express.raw({ type: () => true, limit: "1mb" }), async (req, res) => {
    const refuse = (status: number, code: string, error: string) => void res.status(status).json({ code, error });
    try {
      const connectorId = String(req.params.connectorId);
      const raw = Buffer.isBuffer(req.body) ? req.body.toString("utf8") : "";
      const timestamp = Number(req.header(TIMESTAMP_HEADER));
      const signature = req.header(SIGNATURE_HEADER) ?? "";
      if (!Number.isInteger(timestamp) || Math.abs(Date.now() / 1000 - timestamp) > WINDOW_S) return refuse(401, "UNAUTHENTICATED", "missing or stale timestamp");
      if (!/^sha256=[0-9a-f]{64}$/.test(signature) || !isUuid(connectorId)) return refuse(401, "UNAUTHENTICATED", "bad signature");

      const connector = await forkUnscoped(deps.orm).findOne(Connector, { id: connectorId }, { filters: false, populate: ["encryptedWebhookSecret"] });
      if (!connector || connector.kind !== ConnectorKind.ODOO || !connector.encryptedWebhookSecret) return refuse(401, "UNAUTHENTICATED", "bad signature");
      const secret = deps.box.open(connector.encryptedWebhookSecret, webhookOwner(connector.id));
      const expected = Buffer.from(signWebhook(secret, timestamp, raw));
      if (expected.length !== signature.length || !timingSafeEqual(expected, Buffer.from(signature))) return refuse(401, "UNAUTHENTICATED", "bad signature");

      const em = forkForTenant(deps.orm, connector.tenantId);
      // Replays: each signature is accepted once (receipts older than the window are dropped).
      const fresh = await em.execute(
        "insert into connectors.webhook_receipt (connector_id, signature, received_at) values (?, ?, now()) on conflict do nothing returning signature",
        [connector.id, signature.slice(7)],
      );
      await em.execute(`delete from connectors.webhook_receipt where received_at < now() - interval '${WINDOW_S * 2} seconds'`);
      if (!fresh.length) return refuse(401, "UNAUTHENTICATED", "replayed delivery");

      let body: z.infer<typeof bodySchema>;
      try {
        body = bodySchema.parse(JSON.parse(raw));
      } catch {
        return refuse(400, "BAD_USER_INPUT", 'expected {"model": "<odoo model>", "ids": [<ids>]}');
      }
      const mapping = await em.findOne(ConnectorMapping, { connectorId: connector.id, remoteModel: body.model, enabled: true, direction: { $in: [SyncDirection.INBOUND, SyncDirection.BOTH] } });
      if (!mapping) return refuse(404, "NOT_FOUND", `no enabled inbound mapping of ${body.model}`);

      const ctx = { em, requestId: String(req.header("x-request-id") ?? ""), serviceActor: "webhook", principal: undefined, platform: undefined };
      const outcome = await hintChanged(em, deps.runs(), connector, mapping);
      const runId = outcome?.outcome === "QUEUED" ? outcome.runId : null;
      await deps.audit.record(ctx, {
        tenantId: connector.tenantId,
        action: "connector.webhook.received",
        targetType: "Connector",
        targetId: connector.id,
        metadata: { via: "signature", model: body.model, ids: (body.ids ?? []).length, runId, coalesced: runId === null },
      });
      res.status(202).json({ runId, coalesced: runId === null });
    } catch (err) {
      deps.logger.error({ err }, "odoo webhook failed");
      if (!res.headersSent) refuse(503, "INTERNAL_SERVER_ERROR", "not queued; retry");
    }
  });
}
