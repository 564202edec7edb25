import type { Logger } from "pino";
import { TokenVerifier, type Caller } from "../kernel/auth.js";
import { Errors } from "../kernel/errors.js";
import { internalHeaders } from "../kernel/internal-auth.js";
import { REQUEST_ID_HEADER } from "../kernel/request-id.js";
import { RevocationList, revocationCloseCode, type Revocation } from "../kernel/revocations.js";

/** A live WebSocket connection and how to close it. */
interface TrackedSocket {
  caller: Caller;
  close(code: number, reason: string): void;
}

const API_KEY = /^(?:Bearer|ApiKey)\s+(trb_[A-Za-z0-9_-]{20,120})$/i;
/** Exchanged tokens are reused until this long before they expire. */
const REFRESH_MARGIN_MS = 60_000;

/**
 * Who is calling, as the gateway decides it before planning: JWTs are verified against the JWKS; API keys are
 * exchanged once with the tenants service for a short-lived JWT (cached; subgraphs only ever see JWTs); every caller
 * is checked against the revocation list, and sockets of revoked callers are closed when a revocation arrives.
 */
export class GatewayIdentity {
  private readonly exchanged = new Map<string, { authorization: string; caller: Caller; refreshAt: number }>();
  private readonly sockets = new Set<TrackedSocket>();
  private unlisten?: () => void;

  constructor(
    private readonly opts: {
      verifier: TokenVerifier;
      revocations: RevocationList;
      /** The tenants service's internal API-key exchange endpoint, and the service secret it requires. */
      exchangeUrl: string;
      internalSecret: string;
      logger: Logger;
    },
  ) {}

  start(): void {
    this.unlisten = this.opts.revocations.onRevocation((r) => this.closeRevoked(r));
  }

  stop(): void {
    this.unlisten?.();
  }

  /**
   * Verifies an `Authorization` value. Returns the caller and the authorization to forward (an API key is replaced
   * by the token it was exchanged for). Throws UNAUTHENTICATED / TENANT_SUSPENDED.
   */
  async authenticate(authorization: string, client: { ip?: string; requestId: string }): Promise<{ caller: Caller; forward: string }> {
    const key = API_KEY.exec(authorization.trim())?.[1];
    const result = key ? await this.exchange(key, client) : { caller: await this.opts.verifier.verifyAuthorization(authorization), forward: authorization };
    this.opts.revocations.check(result.caller);
    return result;
  }

  private async exchange(key: string, client: { ip?: string; requestId: string }): Promise<{ caller: Caller; forward: string }> {
    const cached = this.exchanged.get(key);
    if (cached && Date.now() < cached.refreshAt) return { caller: cached.caller, forward: cached.authorization };
    let res: Response;
    try {
      res = await fetch(this.opts.exchangeUrl, {
        method: "POST",
        headers: { "content-type": "application/json", [REQUEST_ID_HEADER]: client.requestId, ...internalHeaders(this.opts.internalSecret) },
        body: JSON.stringify({ key, ip: client.ip }),
        signal: AbortSignal.timeout(5_000),
      });
    } catch {
      throw Errors.upstreamUnavailable("tenants");
    }
    if (res.status === 401) {
      this.exchanged.delete(key);
      throw Errors.unauthenticated("Invalid API key");
    }
    // A valid key of a suspended tenant: its holder must not be sent to authenticate again.
    if (res.status === 403) {
      this.exchanged.delete(key);
      throw Errors.tenantSuspended();
    }
    if (!res.ok) throw Errors.upstreamUnavailable("tenants");
    const { accessToken } = (await res.json()) as { accessToken: string };
    const authorization = `Bearer ${accessToken}`;
    const caller = await this.opts.verifier.verifyAuthorization(authorization);
    if (this.exchanged.size > 10_000) this.exchanged.clear(); // bounded; a miss only costs one exchange
    this.exchanged.set(key, { authorization, caller, refreshAt: caller.expiresAt.getTime() - REFRESH_MARGIN_MS });
    return { caller, forward: authorization };
  }

  /** Remembers an authenticated socket so a revocation can close it; returns the function that forgets it. */
  track(caller: Caller, close: (code: number, reason: string) => void): () => void {
    const entry: TrackedSocket = { caller, close };
    this.sockets.add(entry);
    return () => this.sockets.delete(entry);
  }

  private closeRevoked(r: Revocation): void {
    if (r.kind === "user") {
      for (const [key, cached] of this.exchanged) if (cached.caller.userId === r.userId) this.exchanged.delete(key);
    } else if (r.kind === "tenant" && r.suspended) {
      for (const [key, cached] of this.exchanged) if (cached.caller.kind !== "platform" && cached.caller.tenantId === r.tenantId) this.exchanged.delete(key);
    }
    for (const s of [...this.sockets]) {
      const code = revocationCloseCode(r, s.caller);
      if (code === undefined) continue;
      s.close(code, code === 4403 ? "Tenant suspended" : r.kind === "session" ? "Session ended" : "Session revoked");
      this.sockets.delete(s);
    }
  }
}
