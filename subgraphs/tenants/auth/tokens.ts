import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** A random secret, URL-safe. */
export function newSecret(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}

/** SHA-256 hex of a high-entropy secret (refresh tokens, API keys): fast lookups, nothing reversible stored. */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** Constant-time comparison of two hex digests. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, "hex");
  const y = Buffer.from(b, "hex");
  return x.length === y.length && timingSafeEqual(x, y);
}

/** `rt.<id>.<secret>`: the id finds the row, the secret proves possession. */
export function formatRefreshToken(id: string, secret: string): string {
  return `rt.${id}.${secret}`;
}

export function parseRefreshToken(token: string): { id: string; secret: string } | null {
  const m = /^rt\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([A-Za-z0-9_-]{20,100})$/.exec(token);
  return m ? { id: m[1]!, secret: m[2]! } : null;
}

/** `trb_<secret>`: API keys are looked up by the hash of the whole key. */
export const API_KEY_PREFIX = "trb_";
export function formatApiKey(secret: string): string {
  return `${API_KEY_PREFIX}${secret}`;
}
