import { randomUUID } from "node:crypto";
import type { MikroORM } from "@mikro-orm/postgresql";
import { Field, InputType, Int, ObjectType } from "type-graphql";
import type { AuditRecorder } from "../../../kernel/audit.js";
import { Errors } from "../../../kernel/errors.js";
import { isUuid } from "../../../kernel/loaders.js";
import type { Revocation } from "../../../kernel/revocations.js";
import { inTransaction, type TenantsContext } from "../context.js";
import { Tenant, TenantStatus } from "../tenant/tenant.entity.js";
import { User, UserStatus } from "../user/user.entity.js";
import { announceRevocations, type PermissionResolver } from "./session.service.js";
import { ApiKey } from "./api-key.entity.js";
import type { KeyStore } from "./key-store.js";
import { API_KEY_PREFIX, formatApiKey, hashSecret, newSecret } from "./tokens.js";

@InputType()
export class CreateApiKeyInput {
  @Field({ description: "What the key is for (1–200 characters)" })
  name!: string;

  @Field(() => [String], { description: "Permissions granted; each must be one the creator holds" })
  scopes!: string[];

  @Field(() => Int, { nullable: true, description: "Days until it expires (1–730); omit for no expiry" })
  expiresInDays?: number | null;
}

@ObjectType()
export class CreatedApiKey {
  @Field(() => ApiKey)
  apiKey!: ApiKey;

  @Field({ description: "The key itself (trb_…), shown only in this response; send as `Authorization: Bearer trb_…`" })
  secret!: string;
}

/** Creates an API key in the caller's tenant with at most the caller's permissions. */
export async function createApiKey(ctx: TenantsContext, input: CreateApiKeyInput): Promise<CreatedApiKey> {
  const principal = ctx.principal!;
  if (principal.kind !== "user") throw Errors.forbidden("API keys cannot create API keys");
  const name = input.name.trim();
  if (!name || name.length > 200) throw Errors.badInput("name must be 1 to 200 characters", "name");
  const scopes = [...new Set(input.scopes)];
  if (!scopes.length) throw Errors.badInput("scopes must name at least one permission", "scopes");
  // Checked against the creator's permissions now (from their current roles), not the possibly older token's.
  const creator = await ctx.em.findOne(User, { id: principal.userId });
  const current = creator ? await ctx.permissions(ctx.em, principal.tenantId, creator.roles) : [];
  const beyond = scopes.filter((s) => !current.includes(s));
  if (beyond.length) throw Errors.forbidden(`You cannot grant permissions you do not hold: ${beyond.join(", ")}`);
  const days = input.expiresInDays;
  if (days !== undefined && days !== null && (!Number.isInteger(days) || days < 1 || days > 730)) {
    throw Errors.badInput("expiresInDays must be between 1 and 730", "expiresInDays");
  }
  const secret = formatApiKey(newSecret());
  // The key and its audit event commit together.
  const apiKey = await inTransaction(ctx, async (tx) => {
    const apiKey = tx.em.create(ApiKey, {
      id: randomUUID(),
      tenantId: principal.tenantId,
      name,
      prefix: secret.slice(0, 12),
      secretHash: hashSecret(secret),
      scopes,
      createdById: principal.userId,
      expiresAt: days ? new Date(Date.now() + days * 86_400_000) : null,
    });
    await tx.em.flush();
    await tx.audit.record(tx, { action: "api_key.created", targetType: "ApiKey", targetId: apiKey.id, changes: { name: { after: name }, scopes: { after: scopes } } });
    return apiKey;
  });
  return { apiKey, secret };
}

export async function revokeApiKey(ctx: TenantsContext, id: string): Promise<ApiKey> {
  // The revocation and its audit event commit together; tokens already minted for the key (sub = key id) stop in
  // every service once it is announced, after the commit.
  const { key, revocation } = await inTransaction(ctx, async (tx) => {
    const key = isUuid(id) ? await tx.em.findOne(ApiKey, { id }) : null;
    if (!key) throw Errors.notFound("ApiKey", id);
    if (key.revokedAt) return { key, revocation: null };
    key.revokedAt = new Date();
    await tx.em.flush();
    await tx.audit.record(tx, { action: "api_key.revoked", targetType: "ApiKey", targetId: key.id });
    const revocation: Revocation = { kind: "user", userId: key.id, notBefore: key.revokedAt.getTime() };
    return { key, revocation };
  });
  if (revocation) await announceRevocations(ctx, [revocation]);
  return key;
}

/**
 * Revokes every API key a user created (when the user is deactivated) through `ctx.em` (the caller's transaction),
 * each with its audit event. Returns the revocations to announce once committed.
 */
export async function revokeKeysCreatedBy(ctx: TenantsContext, userId: string): Promise<Revocation[]> {
  const keys = await ctx.em.find(ApiKey, { createdById: userId, revokedAt: null });
  const now = new Date();
  for (const key of keys) key.revokedAt = now;
  await ctx.em.flush();
  for (const key of keys) {
    await ctx.audit.record(ctx, { action: "api_key.revoked", targetType: "ApiKey", targetId: key.id, metadata: { reason: "creator deactivated" } });
  }
  return keys.map((key) => ({ kind: "user", userId: key.id, notBefore: now.getTime() }));
}

/** Why an exchange was refused: an unknown, revoked or expired key (or one whose creator is inactive), or a valid key of a suspended or deleted tenant. */
export type ApiKeyRefusal = "invalid" | "suspended";

/**
 * Exchanges an API key for an access token (called by the gateway, never by clients): subgraphs only ever verify
 * JWTs. Revoked or expired keys are refused as invalid; a valid key of a suspended tenant as `suspended` (its holder
 * is told TENANT_SUSPENDED, like a user of that tenant, not asked to authenticate again). Every use is audited.
 */
export async function exchangeApiKey(
  orm: MikroORM,
  keyStore: KeyStore,
  audit: AuditRecorder,
  permissions: PermissionResolver,
  key: string,
  client: { ip?: string; requestId: string },
): Promise<{ accessToken: string; expiresAt: Date } | { refused: ApiKeyRefusal }> {
  const invalid = { refused: "invalid" } as const;
  if (!key.startsWith(API_KEY_PREFIX) || key.length > 200) return invalid;
  const em = orm.em.fork();
  const off = { filters: { tenant: false } } as const;
  const apiKey = await em.findOne(ApiKey, { secretHash: hashSecret(key) }, off);
  if (!apiKey || apiKey.revokedAt || (apiKey.expiresAt && apiKey.expiresAt.getTime() <= Date.now())) return invalid;
  const tenant = await em.findOne(Tenant, { id: apiKey.tenantId }, off);
  if (!tenant) return invalid;
  if (tenant.status === TenantStatus.SUSPENDED || tenant.status === TenantStatus.DELETED) return { refused: "suspended" };
  // A key never outlives or outgrows its creator: an inactive creator ends it; its scopes shrink with their roles.
  const creator = await em.findOne(User, { id: apiKey.createdById, tenantId: tenant.id }, off);
  if (!creator || creator.status !== UserStatus.ACTIVE) return invalid;
  const allowed = await permissions(em, tenant.id, creator.roles);
  const ttl = apiKey.expiresAt ? Math.floor((apiKey.expiresAt.getTime() - Date.now()) / 1000) : undefined;
  const { token, expiresAt } = await keyStore.signAccessToken(
    apiKey.id,
    { knd: "api_key", tid: tenant.id, email: `api-key:${apiKey.prefix}`, roles: [], perms: apiKey.scopes.filter((p) => allowed.includes(p)), plan: tenant.plan },
    ttl,
  );
  // The use (lastUsedAt) and its audit event commit together, before the token is handed out.
  await em.transactional(async (tx) => {
    apiKey.lastUsedAt = new Date();
    await tx.flush();
    await audit.record(
      { requestId: client.requestId, em: tx },
      { tenantId: tenant.id, actorType: "API_KEY", actorId: apiKey.id, action: "auth.api_key.used", targetType: "ApiKey", targetId: apiKey.id, metadata: { ip: client.ip ?? null } },
    );
  });
  return { accessToken: token, expiresAt };
}
