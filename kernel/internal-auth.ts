// Service-to-service calls on internal endpoints (connectors -> sync run log and record ingest, relays -> audit ingest,
// everyone -> the tenants service's revocations, gateway -> API key exchange, audit -> retention policies). Subgraphs are on
// internal ports, but an internal endpoint acting for any tenant must still refuse a caller without the shared
// service secret: `authorization: Internal <secret>`, compared in constant time. Distributed deployments set
// INTERNAL_SECRET on each service that calls or serves these endpoints; the one-process stack generates one per start.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";
import { z } from "zod";

const SCHEME = "Internal ";

// The tenants service's internal endpoints (other services only; the gateway never routes clients here). Each requires
// the service secret: revocations and retention policies name tenants and users, and the key exchange takes the
// client's IP for its audit record on trust.
/** GET: suspended tenants and revoked sessions, for every process that verifies tokens. */
export const REVOCATIONS_PATH = "/internal/revocations";
/** POST `{ key, ip }`: an API key exchanged for a short-lived access token (the gateway). */
export const API_KEY_EXCHANGE_PATH = "/internal/api-keys/exchange";
/** GET: each kept tenant's effective audit retention, for the audit service's retention job. */
export const AUDIT_RETENTION_PATH = "/internal/audit-retention";

/** INTERNAL_SECRET: at least 32 characters (e.g. `openssl rand -hex 32`). */
export const internalSecretSchema = z.string().min(32, { message: "must be at least 32 characters (e.g. openssl rand -hex 32)" });

/** A fresh secret for a one-process stack. */
export const generateInternalSecret = (): string => randomBytes(32).toString("hex");

/** Headers of an internal call. */
export const internalHeaders = (secret: string): Record<string, string> => ({ authorization: `${SCHEME}${secret}` });

const digest = (s: string) => createHash("sha256").update(s).digest();

/** Express middleware: 401 unless the request carries the service secret. */
export function requireInternalCaller(secret: string): RequestHandler {
  const expected = digest(secret);
  return (req, res, next) => {
    const header = req.headers.authorization ?? "";
    if (header.startsWith(SCHEME) && timingSafeEqual(digest(header.slice(SCHEME.length)), expected)) return next();
    res.status(401).json({ error: "internal endpoint: service credentials required" });
  };
}
