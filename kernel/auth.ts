import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from "jose";
import { LRUCache } from "lru-cache";
import type { AuthChecker } from "type-graphql";
import { Errors } from "./errors.js";

/** Only these algorithms are accepted: `alg` confusion (HS256 with a public key, `none`) is refused. */
export const TOKEN_ALGORITHMS = ["EdDSA"] as const;
export const DEFAULT_ISSUER = "tributary";
export const DEFAULT_AUDIENCE = "tributary-api";

/** A tenant user (or an API key acting for a tenant). Derived only from a verified token. */
export interface Principal {
  kind: "user" | "api_key";
  /** The user id, or for API keys the key's id. */
  userId: string;
  tenantId: string;
  email: string;
  roles: string[];
  permissions: string[];
  /** The tenant's plan (FREE, STARTER, PRO, ENTERPRISE): rate limits and features follow it. */
  plan: string;
  /** Token id (`jti`), for revocation and audit. */
  tokenId: string;
  /** The session (refresh-token family) a user's token was issued for (`sid`); absent for API keys. */
  sessionId?: string;
  issuedAt: Date;
  expiresAt: Date;
}

/** A platform operator (SUPER_ADMIN, ADMIN, SUPPORT). Belongs to no tenant; acts on one only through explicit arguments. */
export interface PlatformPrincipal {
  kind: "platform";
  userId: string;
  email: string;
  platformRole: string;
  permissions: string[];
  tokenId: string;
  sessionId?: string;
  issuedAt: Date;
  expiresAt: Date;
}

/** Whoever a valid token speaks for. */
export type Caller = Principal | PlatformPrincipal;

/** Claims Tributary puts in an access token besides the registered ones (`sub` is the user id). */
export interface AccessTokenClaims {
  /** Token kind: tenant user, API key or platform user. */
  knd?: "user" | "api_key" | "platform";
  tid?: string;
  email: string;
  roles?: string[];
  perms: string[];
  plan?: string;
  /** Platform role, for platform tokens. */
  prl?: string;
  /** Issue time in milliseconds (`iat` has only seconds; revocations need better). */
  ims?: number;
  /** Session id: the refresh-token family a user's token belongs to, so `logout` can end its access tokens at once. */
  sid?: string;
}

export interface TokenVerifierOptions {
  /** JWKS endpoint of the tenants service, or a key resolver (tests, in-process). */
  jwks: string | JWTVerifyGetKey;
  issuer?: string;
  audience?: string;
}

/** Verified tokens remembered per process (most recently used kept). */
const VERIFIED_TOKENS_MAX = 10_000;

/**
 * Verifies access tokens against the tenants service's JWKS (cached and refreshed by jose on unknown `kid`).
 *
 * A verified token's principal is remembered until the token expires, so a client's requests after the first cost no
 * signature check (an Ed25519 verification per request at the gateway and again at each subgraph). Nothing else is
 * skipped: revocations (ended sessions, suspended tenants, revoked keys) are checked by the caller on every request,
 * as before, and a token that fails is never remembered. Keys are only ever added to the JWKS while their tokens live
 * (rotation keeps the old key until its last token expires), so remembering a verdict until expiry changes nothing.
 */
export class TokenVerifier {
  private readonly keys: JWTVerifyGetKey;
  private readonly issuer: string;
  private readonly audience: string;
  private readonly verified = new LRUCache<string, Caller>({ max: VERIFIED_TOKENS_MAX });

  constructor(opts: TokenVerifierOptions) {
    this.keys =
      typeof opts.jwks === "string"
        ? createRemoteJWKSet(new URL(opts.jwks), { cooldownDuration: 5_000, timeoutDuration: 3_000 })
        : opts.jwks;
    this.issuer = opts.issuer ?? DEFAULT_ISSUER;
    this.audience = opts.audience ?? DEFAULT_AUDIENCE;
  }

  /** Returns the principal of a `Bearer` authorization value; throws UNAUTHENTICATED with a reason otherwise. */
  async verifyAuthorization(authorization: string): Promise<Caller> {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!match) throw Errors.unauthenticated("Authorization must be 'Bearer <token>'");
    return this.verify(match[1]!);
  }

  async verify(token: string): Promise<Caller> {
    const known = this.verified.get(token);
    // A copy: a request may not change what the next one sees.
    if (known && known.expiresAt.getTime() > Date.now()) return { ...known };
    const caller = await this.verifyOnce(token);
    const ttl = caller.expiresAt.getTime() - Date.now();
    if (ttl > 0) this.verified.set(token, caller, { ttl });
    return { ...caller };
  }

  private async verifyOnce(token: string): Promise<Caller> {
    let payload: Awaited<ReturnType<typeof jwtVerify<AccessTokenClaims>>>["payload"];
    try {
      ({ payload } = await jwtVerify<AccessTokenClaims>(token, this.keys, {
        issuer: this.issuer,
        audience: this.audience,
        algorithms: [...TOKEN_ALGORITHMS],
        requiredClaims: ["sub", "exp", "iat", "jti"],
      }));
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) throw Errors.unauthenticated("Token expired");
      if (e instanceof joseErrors.JOSEError) throw Errors.unauthenticated("Invalid token");
      throw Errors.upstreamUnavailable("token keys");
    }
    const common = {
      userId: payload.sub!,
      email: typeof payload.email === "string" ? payload.email : "",
      permissions: Array.isArray(payload.perms) ? payload.perms.filter((p) => typeof p === "string") : [],
      tokenId: payload.jti!,
      ...(typeof payload.sid === "string" ? { sessionId: payload.sid } : {}),
      issuedAt: new Date(typeof payload.ims === "number" ? payload.ims : payload.iat! * 1000),
      expiresAt: new Date(payload.exp! * 1000),
    };
    if (payload.knd === "platform") {
      if (typeof payload.prl !== "string") throw Errors.unauthenticated("Invalid token");
      return { kind: "platform", platformRole: payload.prl, ...common };
    }
    if (typeof payload.tid !== "string") throw Errors.unauthenticated("Invalid token");
    return {
      kind: payload.knd === "api_key" ? "api_key" : "user",
      tenantId: payload.tid,
      roles: Array.isArray(payload.roles) ? payload.roles : [],
      plan: typeof payload.plan === "string" ? payload.plan : "FREE",
      ...common,
    };
  }
}

/** What the auth checker needs from a context. */
export interface AuthContext {
  /** Set for tenant callers (users, API keys). */
  principal?: Principal;
  /** Set for platform operators. */
  platform?: PlatformPrincipal;
}

/**
 * type-graphql auth checker for every subgraph: `@Authorized()` needs a verified caller,
 * `@Authorized("sync:push")` needs that permission. Throws typed errors (never type-graphql's own).
 */
export const authChecker: AuthChecker<AuthContext> = ({ context }, required) => {
  const caller = context.principal ?? context.platform;
  if (!caller) throw Errors.unauthenticated();
  // Tenant data needs a tenant caller: platform operators reach tenants only through platform fields (`platform:*`).
  const platformField = required.length > 0 && required.every((p) => p.startsWith("platform:"));
  if (caller.kind === "platform" && !platformField) throw Errors.forbidden("Platform users act on a tenant through platform operations");
  if (caller.kind !== "platform" && platformField) throw Errors.forbidden("Platform operators only");
  const missing = required.filter((p) => !caller.permissions.includes(p));
  if (missing.length) throw Errors.forbidden(`Missing permission ${missing.join(", ")}`);
  return true;
};

/** The platform operator, or UNAUTHENTICATED / FORBIDDEN. */
export function requirePlatform(ctx: AuthContext, permission?: string): PlatformPrincipal {
  if (!ctx.platform) throw ctx.principal ? Errors.forbidden("Platform operators only") : Errors.unauthenticated();
  if (permission && !ctx.platform.permissions.includes(permission)) throw Errors.forbidden(`Missing permission ${permission}`);
  return ctx.platform;
}

/** The tenant caller, or UNAUTHENTICATED (no caller) / FORBIDDEN (a platform operator). */
export function requirePrincipal(ctx: AuthContext): Principal {
  if (!ctx.principal) throw ctx.platform ? Errors.forbidden("Platform users act on a tenant through platform operations") : Errors.unauthenticated();
  return ctx.principal;
}
