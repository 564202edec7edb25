import type { Logger } from "pino";
import type { Caller } from "./auth.js";
import { Errors } from "./errors.js";
import { internalHeaders } from "./internal-auth.js";
import type { PubSub } from "./pubsub/pubsub.js";

/** Topic on which the tenants service announces revocations to every process. */
export const REVOCATION_TOPIC = "auth.revoked";

/**
 * One revocation: a tenant suspended (or reactivated), a user's tokens issued before a time, or every token of one
 * session (a refresh-token family ended by `logout` or by reuse detection; access tokens name it in their `sid` claim).
 */
export type Revocation =
  | { kind: "tenant"; tenantId: string; suspended: boolean }
  | { kind: "user"; userId: string; notBefore: number }
  | { kind: "session"; sessionId: string; revokedAt: number };

/** What a process loads at start (and periodically) so it does not depend on having heard every event. */
export interface RevocationSnapshot {
  suspendedTenants: string[];
  users: { userId: string; notBefore: number }[];
  /** Sessions ended recently enough that one of their access tokens could still be alive (absent from older peers). */
  sessions?: { sessionId: string; revokedAt: number }[];
}

/** While pub/sub is down (a Redis outage: no events arrive), the snapshot is reloaded this often instead. */
const OUTAGE_REFRESH_MS = 5_000;

/** How long a session revocation is remembered: longer than any access token lives (they last about 15 minutes). */
const SESSION_MEMORY_MS = 2 * 3600_000;

/**
 * Whether a revocation ends a caller's tokens: the WebSocket close code to use (4403 for a suspended tenant, 4401 for
 * an ended session or revoked user), or undefined when the caller is not affected.
 */
export function revocationCloseCode(r: Revocation, caller: Caller): 4401 | 4403 | undefined {
  if (r.kind === "tenant") return r.suspended && caller.kind !== "platform" && caller.tenantId === r.tenantId ? 4403 : undefined;
  if (r.kind === "user") return caller.userId === r.userId && caller.issuedAt.getTime() < r.notBefore ? 4401 : undefined;
  return caller.sessionId !== undefined && caller.sessionId === r.sessionId ? 4401 : undefined;
}

/**
 * Makes revocations take effect at once in every process although access tokens are self-contained: a suspended
 * tenant's tokens and a user's tokens issued before a password change, deactivation or logout-everywhere are refused
 * by every service. Events arrive over pub/sub; a periodic snapshot from the tenants service covers missed ones.
 */
export class RevocationList {
  private suspended = new Set<string>();
  private users = new Map<string, number>();
  /** Ended sessions → when (pruned after {@link SESSION_MEMORY_MS}). */
  private sessions = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private events?: AsyncIterableIterator<Revocation>;
  private readonly listeners = new Set<(r: Revocation) => void>();

  constructor(
    private readonly opts: {
      pubsub: PubSub;
      snapshot: () => Promise<RevocationSnapshot>;
      logger: Logger;
      refreshMs?: number;
    },
  ) {}

  /** Subscribes to revocation events, then loads the snapshot (retrying in the background if it is not reachable). */
  async start(): Promise<void> {
    this.events = await this.opts.pubsub.subscribe<Revocation>(REVOCATION_TOPIC);
    void (async () => {
      for await (const r of this.events!) this.apply(r);
    })();
    await this.refresh();
    // Every refreshMs; every OUTAGE_REFRESH_MS while pub/sub is down, so a revocation made during a Redis outage
    // still takes effect within seconds everywhere.
    const refreshMs = this.opts.refreshMs ?? 30_000;
    const outageMs = Math.min(refreshMs, OUTAGE_REFRESH_MS);
    let last = Date.now();
    let busy = false;
    this.timer = setInterval(() => {
      if (busy) return;
      busy = true;
      void (async () => {
        const since = Date.now() - last;
        if (since >= refreshMs || (since >= outageMs && !(await this.opts.pubsub.ping()))) {
          last = Date.now();
          await this.refresh();
        }
      })().finally(() => (busy = false));
    }, outageMs / 2);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.events?.return?.();
  }

  /** Called for every revocation this process hears of (the gateway closes affected sockets). */
  onRevocation(listener: (r: Revocation) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async refresh(): Promise<void> {
    try {
      const snap = await this.opts.snapshot();
      this.suspended = new Set(snap.suspendedTenants);
      // Merged, not replaced: an event that arrived while the snapshot was in flight must not be dropped.
      for (const u of snap.users) this.users.set(u.userId, Math.max(this.users.get(u.userId) ?? 0, u.notBefore));
      for (const s of snap.sessions ?? []) this.sessions.set(s.sessionId, s.revokedAt);
      const forgetBefore = Date.now() - SESSION_MEMORY_MS;
      for (const [id, at] of this.sessions) if (at < forgetBefore) this.sessions.delete(id);
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, "revocation snapshot unavailable; using events only");
    }
  }

  apply(r: Revocation): void {
    if (r.kind === "tenant") {
      if (r.suspended) this.suspended.add(r.tenantId);
      else this.suspended.delete(r.tenantId);
    } else if (r.kind === "user") {
      this.users.set(r.userId, Math.max(this.users.get(r.userId) ?? 0, r.notBefore));
    } else {
      this.sessions.set(r.sessionId, r.revokedAt);
    }
    for (const l of this.listeners) l(r);
  }

  /** Throws TENANT_SUSPENDED or UNAUTHENTICATED when the caller's token has been revoked. */
  check(caller: Caller): void {
    if (caller.kind !== "platform" && this.suspended.has(caller.tenantId)) throw Errors.tenantSuspended();
    const notBefore = this.users.get(caller.userId);
    if (notBefore !== undefined && caller.issuedAt.getTime() < notBefore) throw Errors.unauthenticated("Session revoked");
    if (caller.sessionId !== undefined && this.sessions.has(caller.sessionId)) throw Errors.unauthenticated("Session ended");
  }
}

/** Snapshot fetcher for services other than tenants: GET the tenants service's internal endpoint (service secret required). */
export function httpSnapshot(url: string, internalSecret: string): () => Promise<RevocationSnapshot> {
  return async () => {
    const res = await fetch(url, { headers: internalHeaders(internalSecret), signal: AbortSignal.timeout(3_000) });
    if (!res.ok) throw new Error(`revocations: HTTP ${res.status}`);
    return (await res.json()) as RevocationSnapshot;
  };
}
