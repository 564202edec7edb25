// Webhooks from remote systems reach the connectors service through the gateway's one public port: signed ones
// (`POST /webhooks/odoo/:connectorId`) and a stock Odoo's unsigned ones on a connector's secret URL
// (`POST /webhooks/odoo/notify/:token`). The body is forwarded byte for byte (the HMAC covers the exact bytes) with
// the signature headers and the client's address; the connectors service verifies signatures, timestamps, replays and
// tokens. Charged to the caller's IP by the rate limiter like any unauthenticated request.
import express, { type Express } from "express";
import type { Logger } from "pino";
import { CLIENT_IP_HEADER, CLIENT_USER_AGENT_HEADER, normalizeRequestId, REQUEST_ID_HEADER } from "../kernel/request-id.js";
import type { GatewayGuards } from "./guards/guards.js";

const FORWARDED = ["content-type", "x-tributary-timestamp", "x-tributary-signature"];

export function mountWebhookProxy(app: Express, deps: { connectorsUrl: string; guards?: GatewayGuards; logger: Logger }): void {
  app.post(["/webhooks/odoo/:connectorId", "/webhooks/odoo/notify/:token"], express.raw({ type: () => true, limit: "1mb" }), async (req, res) => {
    const requestId = normalizeRequestId(req.headers[REQUEST_ID_HEADER]);
    res.setHeader(REQUEST_ID_HEADER, requestId);
    try {
      await deps.guards?.chargeHttp(req, res);
    } catch {
      return void res.status(429).json({ code: "RATE_LIMITED", error: "too many requests" });
    }
    try {
      const headers: Record<string, string> = { [REQUEST_ID_HEADER]: requestId };
      const ip = deps.guards?.clientIp(req) ?? req.socket.remoteAddress;
      if (ip) headers[CLIENT_IP_HEADER] = ip;
      const agent = req.header("user-agent");
      if (agent) headers[CLIENT_USER_AGENT_HEADER] = agent.slice(0, 500);
      for (const name of FORWARDED) {
        const value = req.header(name);
        if (value) headers[name] = value;
      }
      const target = new URL(
        req.params.token !== undefined
          ? `/webhooks/odoo/notify/${encodeURIComponent(String(req.params.token))}`
          : `/webhooks/odoo/${encodeURIComponent(String(req.params.connectorId))}`,
        deps.connectorsUrl,
      );
      const upstream = await fetch(target, { method: "POST", headers, body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0), signal: AbortSignal.timeout(30_000) });
      const retryAfter = upstream.headers.get("retry-after");
      if (retryAfter) res.setHeader("Retry-After", retryAfter);
      res.status(upstream.status).type("application/json").send(Buffer.from(await upstream.arrayBuffer()));
    } catch (err) {
      deps.logger.warn({ err }, "webhook proxy failed");
      res.status(503).json({ code: "UPSTREAM_UNAVAILABLE", error: "connectors unavailable; retry" });
    }
  });
}
