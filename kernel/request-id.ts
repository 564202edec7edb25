import { randomUUID } from "node:crypto";

/** Header carrying the request id from the gateway to the subgraphs (and back in responses). */
export const REQUEST_ID_HEADER = "x-request-id";

/** A caller-supplied request id is kept when it is a sane token; anything else gets a fresh UUID. */
export function normalizeRequestId(value: unknown): string {
  return typeof value === "string" && /^[A-Za-z0-9._:-]{8,128}$/.test(value) ? value : randomUUID();
}
