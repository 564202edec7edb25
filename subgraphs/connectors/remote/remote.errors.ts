// Typed failures of a remote system (Odoo, Moodle), made at the client's edge from each protocol's error shapes.
// Services decide what a kind means (a run's status, a GraphQL code); clients never throw anything else.

/** What went wrong, independent of the protocol. */
export enum RemoteErrorKind {
  /** Wrong credentials, expired session or token. */
  AUTH = "AUTH",
  /** Authenticated, but the remote user may not do this (ACL, function not in the token's service). */
  PERMISSION = "PERMISSION",
  /** The record, model or function does not exist. */
  NOT_FOUND = "NOT_FOUND",
  /** The remote refused the input (constraint, bad value, unknown field, bad domain). */
  VALIDATION = "VALIDATION",
  /** Network failure, refused connection, HTTP 5xx, or a response that is not the protocol: transient. */
  UNAVAILABLE = "UNAVAILABLE",
  /** No answer within the timeout: transient. */
  TIMEOUT = "TIMEOUT",
  /** Too many requests (HTTP 429): transient. */
  RATE_LIMITED = "RATE_LIMITED",
}

const TRANSIENT = new Set([RemoteErrorKind.UNAVAILABLE, RemoteErrorKind.TIMEOUT, RemoteErrorKind.RATE_LIMITED]);

export class RemoteError extends Error {
  override readonly name = "RemoteError";
  constructor(
    readonly kind: RemoteErrorKind,
    message: string,
    readonly detail: {
      /** The remote's own error name (`odoo.exceptions.AccessError`, `invalidtoken`, ...). */
      remoteCode?: string;
      /** HTTP status, when there was a response. */
      status?: number;
      cause?: unknown;
    } = {},
  ) {
    super(message, detail.cause === undefined ? undefined : { cause: detail.cause });
  }

  /** Worth retrying with backoff (the same request may succeed later). */
  get transient(): boolean {
    return TRANSIENT.has(this.kind);
  }
}

export function isRemoteError(err: unknown): err is RemoteError {
  return err instanceof RemoteError;
}
