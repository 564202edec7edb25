import type { MikroORM } from "@mikro-orm/postgresql";
import type { RevocationSnapshot } from "../../../kernel/revocations.js";
import { Tenant, TenantStatus } from "../tenant/tenant.entity.js";
import { User } from "../user/user.entity.js";
import { PlatformUser } from "../platform/platform-user.entity.js";
import { ApiKey } from "./api-key.entity.js";
import { RefreshToken } from "./refresh-token.entity.js";
import { ACCESS_TOKEN_TTL_SECONDS } from "./key-store.js";

/**
 * The revocations that still matter: suspended or deleted tenants, and users and API keys whose tokens were revoked
 * recently enough that an access token issued before could still be alive. A user whose permissions shrank
 * (`accessTokensValidAfter`) counts with the API keys they created, whose tokens carry scopes capped by theirs.
 */
export async function revocationSnapshot(orm: MikroORM): Promise<RevocationSnapshot> {
  const em = orm.em.fork();
  const off = { filters: { tenant: false } } as const;
  const since = new Date(Date.now() - 2 * ACCESS_TOKEN_TTL_SECONDS * 1000);
  const [tenants, users, narrowed, keys, operators, sessions] = await Promise.all([
    em.find(Tenant, { status: { $in: [TenantStatus.SUSPENDED, TenantStatus.DELETED] } }, { ...off, fields: ["id"] }),
    em.find(User, { tokensValidAfter: { $gt: since } }, { ...off, fields: ["id", "tokensValidAfter"] }),
    em.find(User, { accessTokensValidAfter: { $gt: since } }, { ...off, fields: ["id", "accessTokensValidAfter"] }),
    em.find(ApiKey, { revokedAt: { $gt: since } }, { ...off, fields: ["id", "revokedAt"] }),
    em.find(PlatformUser, { tokensValidAfter: { $gt: since } }, { fields: ["id", "tokensValidAfter"] }),
    // Sessions ended by logout or reuse detection (and those ended with all of a user's, already covered above).
    em.find(RefreshToken, { revokedAt: { $gt: since } }, { fields: ["familyId", "revokedAt"] }),
  ]);
  const narrowedAt = new Map(narrowed.map((u) => [u.id, u.accessTokensValidAfter!.getTime()]));
  const keysOfNarrowed = narrowed.length
    ? await em.find(ApiKey, { createdById: { $in: [...narrowedAt.keys()] }, revokedAt: null }, { ...off, fields: ["id", "createdById"] })
    : [];
  // A user may appear more than once (and with both instants): every process keeps the latest per id.
  return {
    suspendedTenants: tenants.map((t) => t.id),
    users: [
      ...users.map((u) => ({ userId: u.id, notBefore: u.tokensValidAfter!.getTime() })),
      ...narrowed.map((u) => ({ userId: u.id, notBefore: narrowedAt.get(u.id)! })),
      ...keysOfNarrowed.map((k) => ({ userId: k.id, notBefore: narrowedAt.get(k.createdById)! })),
      ...keys.map((k) => ({ userId: k.id, notBefore: k.revokedAt!.getTime() })),
      ...operators.map((o) => ({ userId: o.id, notBefore: o.tokensValidAfter!.getTime() })),
    ],
    // One entry per session (a family's tokens are revoked together).
    sessions: [...new Map(sessions.map((s) => [s.familyId, s.revokedAt!.getTime()] as const))].map(([sessionId, revokedAt]) => ({ sessionId, revokedAt })),
  };
}
