import type { MikroORM } from "@mikro-orm/postgresql";
import type { RevocationSnapshot } from "../../../kernel/revocations.js";
import { Tenant, TenantStatus } from "../tenant/tenant.entity.js";
import { User } from "../user/user.entity.js";
import { PlatformUser } from "../platform/platform-user.entity.js";
import { ApiKey } from "./api-key.entity.js";
import { ACCESS_TOKEN_TTL_SECONDS } from "./key-store.js";

/**
 * The revocations that still matter: suspended or deleted tenants, and users and API keys whose tokens were revoked
 * recently enough that an access token issued before could still be alive.
 */
export async function revocationSnapshot(orm: MikroORM): Promise<RevocationSnapshot> {
  const em = orm.em.fork();
  const off = { filters: { tenant: false } } as const;
  const since = new Date(Date.now() - 2 * ACCESS_TOKEN_TTL_SECONDS * 1000);
  const [tenants, users, keys, operators] = await Promise.all([
    em.find(Tenant, { status: { $in: [TenantStatus.SUSPENDED, TenantStatus.DELETED] } }, { ...off, fields: ["id"] }),
    em.find(User, { tokensValidAfter: { $gt: since } }, { ...off, fields: ["id", "tokensValidAfter"] }),
    em.find(ApiKey, { revokedAt: { $gt: since } }, { ...off, fields: ["id", "revokedAt"] }),
    em.find(PlatformUser, { tokensValidAfter: { $gt: since } }, { fields: ["id", "tokensValidAfter"] }),
  ]);
  return {
    suspendedTenants: tenants.map((t) => t.id),
    users: [
      ...users.map((u) => ({ userId: u.id, notBefore: u.tokensValidAfter!.getTime() })),
      ...keys.map((k) => ({ userId: k.id, notBefore: k.revokedAt!.getTime() })),
      ...operators.map((o) => ({ userId: o.id, notBefore: o.tokensValidAfter!.getTime() })),
    ],
  };
}
