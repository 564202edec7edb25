// Signed webhooks from remote systems (`POST /webhooks/odoo/:connectorId`) reach the connectors service through the
// gateway's one public port. The body is forwarded byte for byte (the HMAC covers the exact bytes) with the signature
// headers; the connectors service verifies the signature, the timestamp and replays. Charged to the caller's IP by the
// rate limiter like any unauthenticated request.
import express, { type Express } from "express";
import type { Logger } from "pino";
import { normalizeRequestId, REQUEST_ID_HEADER } from "../kernel/request-id.js";
import type { GatewayGuards } from "./guards/guards.js";

const FORWARDED = ["content-type", "x-tributary-timestamp", "x-tributary-signature"];

export function mountWebhookProxy(app: Express, deps: { connectorsUrl: string; guards?: GatewayGuards; logger: Logger }): void {
  app.post("/webhooks/odoo/:connectorId", express.raw({ type: () => true, limit: "1mb" }), async (req, res) => {
    const requestId = normalizeRequestId(req.headers[REQUEST_ID_HEADER]);
    res.setHeader(REQUEST_ID_HEADER, requestId);
    try {
      await deps.guards?.chargeHttp(req, res);
    } catch {
      return void res.status(429).json({ code: "RATE_LIMITED", error: "too many requests" });
    }
    try {
      const headers: Record<string, string> = { [REQUEST_ID_HEADER]: requestId };
      for (const name of FORWARDED) {
        const value = req.header(name);
        if (value) headers[name] = value;
      }
      const target = new URL(`/webhooks/odoo/${encodeURIComponent(String(req.params.connectorId))}`, deps.connectorsUrl);
      const upstream = await fetch(target, { method: "POST", headers, body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0), signal: AbortSignal.timeout(30_000) });
      res.status(upstream.status).type("application/json").send(Buffer.from(await upstream.arrayBuffer()));
    } catch (err) {
      deps.logger.warn({ err }, "webhook proxy failed");
      res.status(503).json({ code: "UPSTREAM_UNAVAILABLE", error: "connectors unavailable; retry" });
    }
  });
}
