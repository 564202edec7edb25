// Service-to-service calls on internal endpoints (connectors -> sync run log and record ingest). Subgraphs are on
// internal ports, but an internal endpoint acting for any tenant must still refuse a caller without the shared
// service secret: `authorization: Internal <secret>`, compared in constant time. Distributed deployments set
// INTERNAL_SECRET on each service that calls or serves these endpoints; the one-process stack generates one per start.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";
import { z } from "zod";

const SCHEME = "Internal ";

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
