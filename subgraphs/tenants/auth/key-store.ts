import { randomUUID } from "node:crypto";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import { SignJWT, exportJWK, generateKeyPair, importJWK, type JWK, type JWTVerifyGetKey, type CryptoKey } from "jose";
import { PLATFORM_AUDIT_TRAIL } from "../../../kernel/audit.js";
import { TOKEN_ALGORITHMS, type AccessTokenClaims } from "../../../kernel/auth.js";
import { advisoryXactLock, withTransaction } from "../../../kernel/transaction.js";
import { systemAuditor, type Auditor } from "../context.js";
import { SigningKey } from "./signing-key.entity.js";

const ALG = TOKEN_ALGORITHMS[0];
/** Access tokens are short-lived; refresh tokens come with the identity issue. */
export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
/** A new key is in the JWKS this long before it signs (longer than verifiers' JWKS refetch cooldown). */
export const KEY_ACTIVATION_DELAY_MS = 10_000;

interface LoadedKey {
  kid: string;
  publicJwk: JWK;
  privateKey?: CryptoKey;
  retiredAt: Date | null;
}

/** Signs access tokens with the current key and serves the public keys as JWKS. */
export class KeyStore {
  private current?: LoadedKey;
  private loadedAt = 0;
  /** When a published-but-not-yet-active key starts signing (reload then). */
  private nextActivation?: number;
  private publicKeys = new Map<string, LoadedKey>();

  constructor(private readonly orm: MikroORM, private readonly jwt: { issuer: string; audience: string }) {}

  /** Loads the key set, creating the first key if there is none (replicas serialize on an advisory lock). */
  async init(): Promise<void> {
    await withTransaction(this.orm.em.fork(), async (em) => {
      await advisoryXactLock(em, "tributary:signing-key");
      const active = await em.findOne(SigningKey, { $or: [{ retiredAt: null }, { retiredAt: { $gt: new Date() } }] }, { orderBy: { createdAt: "desc" } });
      if (!active) await this.createKey(em);
    });
    await this.reload();
  }

  private async reload(): Promise<void> {
    this.loadedAt = Date.now();
    const now = Date.now();
    const keys = await this.orm.em.fork().find(SigningKey, {}, { orderBy: { createdAt: "desc" }, populate: ["privateJwk"] as never });
    this.publicKeys = new Map();
    this.current = undefined;
    this.nextActivation = undefined;
    const horizon = now - ACCESS_TOKEN_TTL_SECONDS * 1000 * 2;
    for (const k of keys) {
      if (k.retiredAt && k.retiredAt.getTime() < horizon) continue;
      const loaded: LoadedKey = { kid: k.kid, publicJwk: k.publicJwk as JWK, retiredAt: k.retiredAt ?? null };
      const active = (!k.activatesAt || k.activatesAt.getTime() <= now) && (!k.retiredAt || k.retiredAt.getTime() > now);
      if (k.activatesAt && k.activatesAt.getTime() > now) this.nextActivation = Math.min(this.nextActivation ?? Infinity, k.activatesAt.getTime());
      if (active && !this.current) {
        loaded.privateKey = (await importJWK(k.privateJwk as JWK, ALG)) as CryptoKey;
        this.current = loaded;
      }
      this.publicKeys.set(k.kid, loaded);
    }
  }

  /**
   * Retires the current signing key and makes a new one. The old public key stays in the JWKS until every token it
   * signed has expired; other replicas pick the new key up on their next unknown `kid`.
   */
  async rotate(
    /** Who rotates (a platform operator's request, or the installation itself for the CLI): recorded in the installation's trail. */
    by: Auditor = systemAuditor(),
  ): Promise<{ kid: string; retiredKid?: string }> {
    const retiredKid = this.current?.kid;
    const activatesAt = new Date(Date.now() + KEY_ACTIVATION_DELAY_MS);
    let kid!: string;
    await withTransaction(this.orm.em.fork(), async (em) => {
      await advisoryXactLock(em, "tributary:signing-key");
      // The current key keeps signing until the new one activates, then retires (its public half stays published).
      await em.nativeUpdate(SigningKey, { retiredAt: null }, { retiredAt: activatesAt });
      kid = await this.createKey(em, activatesAt);
      await em.flush();
      // The new key and its audit event commit together.
      await by.audit.record(
        { ...by, em },
        {
          tenantId: PLATFORM_AUDIT_TRAIL,
          action: "platform.signing_key.rotated",
          targetType: "SigningKey",
          targetId: kid,
          changes: { kid: { before: retiredKid ?? null, after: kid } },
        },
      );
    });
    await this.reload();
    return { kid, retiredKid };
  }

  private async createKey(em: EntityManager, activatesAt: Date | null = null): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair(ALG, { crv: "Ed25519", extractable: true });
    const kid = randomUUID();
    em.create(SigningKey, {
      kid,
      algorithm: ALG,
      publicJwk: { ...(await exportJWK(publicKey)), kid, alg: ALG, use: "sig" },
      privateJwk: { ...(await exportJWK(privateKey)), kid, alg: ALG },
      activatesAt,
    });
    return kid;
  }

  /** Public keys for `/.well-known/jwks.json`. */
  jwks(): { keys: JWK[] } {
    return { keys: [...this.publicKeys.values()].map((k) => k.publicJwk) };
  }

  /** Key resolver for verifying tokens in this process without an HTTP round trip. */
  readonly resolveKey: JWTVerifyGetKey = async (header) => {
    let key = header.kid ? this.publicKeys.get(header.kid) : undefined;
    if (!key && header.kid) {
      await this.reload(); // another replica may have rotated
      key = this.publicKeys.get(header.kid);
    }
    if (!key) throw new (await import("jose")).errors.JWKSNoMatchingKey();
    return importJWK(key.publicJwk, ALG) as Promise<CryptoKey>;
  };

  /** Signs an access token for a user. */
  /** Signs an access token; `ttlSeconds` may only shorten the standard lifetime (API keys expiring sooner). */
  async signAccessToken(subject: string, claims: AccessTokenClaims, ttlSeconds?: number): Promise<{ token: string; expiresAt: Date; tokenId: string }> {
    const ttl = Math.max(1, Math.min(ttlSeconds ?? ACCESS_TOKEN_TTL_SECONDS, ACCESS_TOKEN_TTL_SECONDS));
    // A rotation made by another replica or the CLI is picked up within a minute.
    if (Date.now() - this.loadedAt > 60_000 || (this.nextActivation && Date.now() >= this.nextActivation)) await this.reload();
    const key = this.current;
    if (!key?.privateKey) throw new Error("signing key not loaded");
    const ms = Date.now();
    const now = Math.floor(ms / 1000);
    const tokenId = randomUUID();
    const token = await new SignJWT({ ...claims, ims: ms })
      .setProtectedHeader({ alg: ALG, kid: key.kid, typ: "JWT" })
      .setIssuer(this.jwt.issuer)
      .setAudience(this.jwt.audience)
      .setSubject(subject)
      .setJti(tokenId)
      .setIssuedAt(now)
      .setExpirationTime(now + ttl)
      .sign(key.privateKey);
    return { token, expiresAt: new Date((now + ttl) * 1000), tokenId };
  }
}
