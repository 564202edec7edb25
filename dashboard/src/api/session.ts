// The signed-in session: the access token (≈15 min) and the rotating refresh token, kept in sessionStorage so a reload
// stays signed in. sessionStorage (not localStorage) on purpose: each refresh token works once and presenting a spent
// one ends the whole session, so two tabs sharing one token pair would sign each other out; a tab's storage is its own.
// Refreshes are single-flight: every caller (HTTP operations, socket reconnects) waits for the same rotation.
import { createClient, fetchExchange, type CombinedError } from "@urql/core";
import { RefreshSessionDocument, SignInDocument, SignOutDocument, type SessionTokensFragment } from "../__generated__/graphql.js";
import { GRAPHQL_URL } from "./endpoints.js";

export interface Session extends SessionTokensFragment {
  tenant: string;
}

const STORAGE_KEY = "tributary.dashboard.session";
/** Refresh when the access token has less than this left, so no request goes out with a token about to expire. */
const EXPIRY_MARGIN_MS = 60_000;

/** Unauthenticated calls (sign in, refresh, sign out): no auth exchange, no cache. */
const publicClient = createClient({ url: GRAPHQL_URL, exchanges: [fetchExchange], requestPolicy: "network-only", preferGetMethod: false });

type Listener = () => void;

class SessionStore {
  private session: Session | null = load();
  private readonly listeners = new Set<Listener>();
  private refreshing: Promise<boolean> | null = null;
  /** Why the last session ended without the user signing out (shown on the sign-in page). */
  endedReason: string | null = null;

  get current(): Session | null {
    return this.session;
  }

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Signs in; resolves with the session or rejects with the API's error (a CombinedError). */
  async signIn(input: { tenant: string; email: string; password: string }): Promise<Session> {
    const res = await publicClient.mutation(SignInDocument, { input }).toPromise();
    if (res.error || !res.data) throw res.error ?? new Error("Empty answer from the server");
    this.endedReason = null;
    this.set({ ...res.data.login, tenant: input.tenant });
    return this.session!;
  }

  /** Signs out: ends the session on the server (best effort) and forgets it here. */
  async signOut(): Promise<void> {
    const session = this.session;
    this.endedReason = null;
    this.set(null);
    if (session) await publicClient.mutation(SignOutDocument, { refreshToken: session.refreshToken }).toPromise().catch(() => undefined);
  }

  /** Ends the session locally because the server refused it (expired refresh token, revoked, signed out elsewhere). */
  expire(reason: string): void {
    if (!this.session) return;
    this.endedReason = reason;
    this.set(null);
  }

  expiresSoon(): boolean {
    return !!this.session && Date.parse(this.session.expiresAt) - Date.now() < EXPIRY_MARGIN_MS;
  }

  /** A usable access token, refreshed first when it is about to expire; null when signed out. */
  async accessToken(): Promise<string | null> {
    if (this.session && this.expiresSoon()) await this.refresh();
    return this.session?.accessToken ?? null;
  }

  /**
   * Rotates the token pair. `staleToken`: the access token a caller saw refused; when the session already holds a newer
   * one (another caller refreshed meanwhile) nothing is sent. Resolves false when the session is over.
   */
  refresh(staleToken?: string): Promise<boolean> {
    const session = this.session;
    if (!session) return Promise.resolve(false);
    if (staleToken && session.accessToken !== staleToken) return Promise.resolve(true);
    this.refreshing ??= this.rotate(session).finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  private async rotate(session: Session): Promise<boolean> {
    if (Date.parse(session.refreshExpiresAt) <= Date.now()) {
      this.expire("Your session has expired. Sign in again.");
      return false;
    }
    const res = await publicClient.mutation(RefreshSessionDocument, { refreshToken: session.refreshToken }).toPromise();
    if (res.data) {
      // Signed out (or another session started) while this was in flight: keep what is there now.
      if (this.session !== session) return !!this.session;
      this.set({ ...res.data.refreshSession, tenant: session.tenant });
      return true;
    }
    if (res.error && isNetworkError(res.error)) return false; // offline: keep the session, the next call retries
    this.expire(
      res.error?.graphQLErrors.some((e) => e.extensions?.code === "TENANT_SUSPENDED")
        ? "Your organisation's account is suspended."
        : "Your session has ended (expired, or signed out elsewhere). Sign in again.",
    );
    return false;
  }

  private set(session: Session | null): void {
    this.session = session;
    try {
      if (session) window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
      else window.sessionStorage.removeItem(STORAGE_KEY);
    } catch {
      // Storage unavailable (private mode quotas): the session lives in memory only.
    }
    for (const listener of this.listeners) listener();
  }
}

function isNetworkError(error: CombinedError): boolean {
  return !!error.networkError && !error.graphQLErrors.length;
}

function load(): Session | null {
  try {
    const raw = window.sessionStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const session = JSON.parse(raw) as Session;
    if (typeof session.refreshToken !== "string" || Date.parse(session.refreshExpiresAt) <= Date.now()) return null;
    return session;
  } catch {
    return null;
  }
}

export const sessionStore = new SessionStore();
