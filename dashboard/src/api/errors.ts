// Every API error becomes a readable message: a sentence for the user, the server's own detail, the stable code and
// the request id (to quote to support). Clients switch on `extensions.code`, never on message text (README, Errors).
import { CombinedError } from "urql";

export interface ReadableError {
  title: string;
  detail?: string;
  code?: string;
  requestId?: string;
  /** Extra fields the API attached (reason, runId, retryAfter, ...). */
  extensions?: Record<string, unknown>;
}

const TITLES: Record<string, string> = {
  UNAUTHENTICATED: "You are not signed in, or your session has ended.",
  TENANT_SUSPENDED: "Your organisation's account is suspended.",
  RATE_LIMITED: "Too many requests.",
  QUERY_TOO_COMPLEX: "This request is larger than the server allows.",
  PLAN_LIMIT_REACHED: "Your plan's limit is reached.",
  FORBIDDEN: "You don't have permission to do this.",
  NOT_FOUND: "Not found.",
  BAD_USER_INPUT: "The server did not accept this input.",
  CONFLICT: "This conflicts with the current state.",
  GRAPHQL_PARSE_FAILED: "The dashboard sent a request the server could not read.",
  GRAPHQL_VALIDATION_FAILED: "The dashboard and the server disagree about the API (reload the page).",
  UPSTREAM_UNAVAILABLE: "A service is unavailable right now. Try again in a moment.",
  UPSTREAM_ERROR: "The remote system refused the call.",
  SUBSCRIPTION_OVERFLOW: "Live updates fell behind; they restart from the current state.",
  INTERNAL_SERVER_ERROR: "Something went wrong on the server.",
};

/** Per-code wording for one place (e.g. sign-in: UNAUTHENTICATED means wrong credentials). */
export type ErrorWording = Partial<Record<string, string>>;

export function describeError(error: unknown, wording: ErrorWording = {}): ReadableError {
  if (error instanceof CombinedError) {
    const requestId = (error.response as Response | undefined)?.headers?.get?.("x-request-id") ?? undefined;
    const first = error.graphQLErrors[0];
    if (first) {
      const extensions = (first.extensions ?? {}) as Record<string, unknown>;
      const code = typeof extensions.code === "string" ? extensions.code : "INTERNAL_SERVER_ERROR";
      let title = wording[code] ?? TITLES[code] ?? "The request failed.";
      if (code === "RATE_LIMITED" && typeof extensions.retryAfter === "number") title = `Too many requests. Try again in ${Math.ceil(extensions.retryAfter)} s.`;
      const messages = [...new Set(error.graphQLErrors.map((e) => e.message))];
      const detail = messages.join(" · ");
      return { title, detail: detail && detail !== title ? detail : undefined, code, requestId: requestId || undefined, extensions };
    }
    if (error.networkError) {
      const status = (error.response as Response | undefined)?.status;
      return {
        title: status && status >= 500 ? "The server is unavailable right now. Try again in a moment." : "Can't reach the server. Check your connection and try again.",
        detail: status ? `HTTP ${status}` : error.networkError.message,
        code: "NETWORK_ERROR",
        requestId: requestId || undefined,
      };
    }
  }
  // A socket closed with a code (CloseEvent-like), e.g. 4403 when the tenant was suspended.
  if (error && typeof error === "object" && "code" in error && typeof (error as { code: unknown }).code === "number") {
    const { code, reason } = error as { code: number; reason?: string };
    if (code === 4403) return { title: TITLES.TENANT_SUSPENDED!, detail: reason || undefined, code: "TENANT_SUSPENDED" };
    if (code === 4401) return { title: TITLES.UNAUTHENTICATED!, detail: reason || undefined, code: "UNAUTHENTICATED" };
    return { title: "The live connection closed.", detail: `${code}${reason ? `: ${reason}` : ""}`, code: "SOCKET_CLOSED" };
  }
  if (error instanceof Error) return { title: "Something went wrong in the dashboard.", detail: error.message };
  return { title: "Something went wrong.", detail: String(error) };
}
