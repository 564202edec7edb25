import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from "jose";
import type { AuthChecker } from "type-graphql";
import { Errors } from "./errors.js";

/** Only these algorithms are accepted: `alg` confusion (HS256 with a public key, `none`) is refused. */
export const TOKEN_ALGORITHMS = ["EdDSA"] as const;
export const DEFAULT_ISSUER = "tributary";
export const DEFAULT_AUDIENCE = "tributary-api";

/** Who is calling. Derived only from a verified token. */
export interface Principal {
  kind: "user";
  userId: string;
  tenantId: string;
  email: string;
  roles: string[];
  permissions: string[];
  /** Token id (`jti`), for revocation and audit. */
  tokenId: string;
  expiresAt: Date;
}

/** Claims Tributary puts in an access token besides the registered ones (`sub` is the user id). */
export interface AccessTokenClaims {
  tid: string;
  email: string;
  roles: string[];
  perms: string[];
}

export interface TokenVerifierOptions {
  /** JWKS endpoint of the tenants service, or a key resolver (tests, in-process). */
  jwks: string | JWTVerifyGetKey;
  issuer?: string;
  audience?: string;
}

/** Verifies access tokens against the tenants service's JWKS (cached and refreshed by jose on unknown `kid`). */
export class TokenVerifier {
  private readonly keys: JWTVerifyGetKey;
  private readonly issuer: string;
  private readonly audience: string;

  constructor(opts: TokenVerifierOptions) {
    this.keys =
      typeof opts.jwks === "string"
        ? createRemoteJWKSet(new URL(opts.jwks), { cooldownDuration: 5_000, timeoutDuration: 3_000 })
        : opts.jwks;
    this.issuer = opts.issuer ?? DEFAULT_ISSUER;
    this.audience = opts.audience ?? DEFAULT_AUDIENCE;
  }

  /** Returns the principal of a `Bearer` authorization value; throws UNAUTHENTICATED with a reason otherwise. */
  async verifyAuthorization(authorization: string): Promise<Principal> {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!match) throw Errors.unauthenticated("Authorization must be 'Bearer <token>'");
    return this.verify(match[1]!);
  }

  async verify(token: string): Promise<Principal> {
    try {
      const { payload } = await jwtVerify<AccessTokenClaims>(token, this.keys, {
        issuer: this.issuer,
        audience: this.audience,
        algorithms: [...TOKEN_ALGORITHMS],
        requiredClaims: ["sub", "exp", "jti", "tid"],
      });
      return {
        kind: "user",
        userId: payload.sub!,
        tenantId: payload.tid,
        email: payload.email,
        roles: payload.roles ?? [],
        permissions: payload.perms ?? [],
        tokenId: payload.jti!,
        expiresAt: new Date(payload.exp! * 1000),
      };
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) throw Errors.unauthenticated("Token expired");
      if (e instanceof joseErrors.JOSEError) throw Errors.unauthenticated("Invalid token");
      throw Errors.upstreamUnavailable("token keys");
    }
  }
}

/** What the auth checker needs from a context. */
export interface AuthContext {
  principal?: Principal;
}

/**
 * type-graphql auth checker for every subgraph: `@Authorized()` needs a verified caller,
 * `@Authorized("sync:push")` needs that permission. Throws typed errors (never type-graphql's own).
 */
export const authChecker: AuthChecker<AuthContext> = ({ context }, required) => {
  const principal = context.principal;
  if (!principal) throw Errors.unauthenticated();
  const missing = required.filter((p) => !principal.permissions.includes(p));
  if (missing.length) throw Errors.forbidden(`Missing permission ${missing.join(", ")}`);
  return true;
};

/** The caller, or UNAUTHENTICATED. */
export function requirePrincipal(ctx: AuthContext): Principal {
  if (!ctx.principal) throw Errors.unauthenticated();
  return ctx.principal;
}
