import { randomUUID } from "node:crypto";

/** Header carrying the request id from the gateway to the subgraphs (and back in responses). */
export const REQUEST_ID_HEADER = "x-request-id";

/** A caller-supplied request id is kept when it is a sane token; anything else gets a fresh UUID. */
export function normalizeRequestId(value: unknown): string {
  return typeof value === "string" && /^[A-Za-z0-9._:-]{8,128}$/.test(value) ? value : randomUUID();
}

/** Headers the gateway sets so subgraphs know the original client (for audit and login throttling). */
export const CLIENT_IP_HEADER = "x-client-ip";
export const CLIENT_USER_AGENT_HEADER = "x-client-user-agent";

/** Who is at the other end of a request, as far as we can tell. */
export interface ClientInfo {
  ip?: string;
  userAgent?: string;
}
