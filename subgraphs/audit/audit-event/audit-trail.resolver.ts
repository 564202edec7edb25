// Federated audit trails: `Tenant.auditTrail`, `User.auditTrail`, `Connector.auditTrail` and `SyncRun.auditTrail`,
// newest first, `first` events after the `after` cursor (an event's `cursor`, or an `endCursor` of auditEvents).
// Every trail field of one request is batched by a DataLoader kept beside the request's LoaderRegistry: one query per
// (kind, page size, cursor) with a lateral join, each owner's page read through its own index.
import DataLoader from "dataloader";
import type { EntityManager } from "@mikro-orm/postgresql";
import { Arg, Authorized, Ctx, FieldResolver, Int, Resolver, Root } from "type-graphql";
import { requirePlatform, requirePrincipal } from "../../../kernel/auth.js";
import { Errors } from "../../../kernel/errors.js";
import { boundSql } from "../../../kernel/db.js";
import { isUuid, type LoaderRegistry } from "../../../kernel/loaders.js";
import { OCCURRED_AT_SQL } from "../chain/chain.js";
import type { AuditContext } from "../context.js";
import { AuditEvent } from "./audit-event.entity.js";
import { decodeCursor, toEvent, type AuditEventRow, type AuditKey, type EventRow } from "./audit-query.js";
import { ConnectorRef, SyncRunRef, TenantRef, UserRef } from "./refs.js";
import { PERM_READ, PLATFORM_READ, recordTrailRead } from "./trail-access.js";

/** Events per trail page: 50 unless asked, at most 100 (more is BAD_USER_INPUT). */
export const DEFAULT_TRAIL_PAGE = 50;
export const MAX_TRAIL_PAGE = 100;

type TrailKind = "tenant" | "user" | "connector" | "syncRun";

interface TrailKey {
  kind: TrailKind;
  /** The tenant the trail belongs to (the caller's; for `tenant`, the owner itself). */
  tenantId: string;
  /** The owner: tenant id, user id (actor), or connector / sync run id (target). */
  id: string;
  first: number;
  after: AuditKey | null;
  /** A platform operator's read, recorded in the trail (before it is read) when the batch runs. */
  recordAs?: { via: string; detail: Record<string, unknown> };
}

const TARGET_TYPE: Partial<Record<TrailKind, string>> = { connector: "Connector", syncRun: "SyncRun" };

const cacheKey = (k: TrailKey) => JSON.stringify([k.kind, k.tenantId, k.id.toLowerCase(), k.first, k.after?.occurredAt ?? null, k.after?.id ?? null, !!k.recordAs]);
const groupKey = (k: TrailKey) => JSON.stringify([k.kind, k.kind === "tenant" ? null : k.tenantId, k.first, k.after?.occurredAt ?? null, k.after?.id ?? null]);

/** One page per owner, for owners sharing kind, tenant (except `tenant`), page size and cursor. */
async function loadGroup(em: EntityManager, keys: TrailKey[]): Promise<Map<string, AuditEventRow[]>> {
  const { kind, tenantId, first, after } = keys[0]!;
  // Owner ids that cannot exist (not UUIDs where a UUID is stored) have empty trails and must not reach a cast.
  const owners = [...new Set(keys.map((k) => k.id.toLowerCase()))].filter((id) => kind === "connector" || kind === "syncRun" || isUuid(id));
  const out = new Map<string, AuditEventRow[]>();
  if (!owners.length) return out;
  const params: unknown[] = [owners];
  let owner: string;
  if (kind === "tenant") owner = `"tenant_id" = k.owner::uuid`;
  else if (kind === "user") {
    owner = `"tenant_id" = ?::uuid and "actor_id" = k.owner::uuid`;
    params.push(tenantId);
  } else {
    owner = `"tenant_id" = ?::uuid and "target_type" = ? and "target_id" = k.owner`;
    params.push(tenantId, TARGET_TYPE[kind]);
  }
  let position = "";
  if (after) {
    position = ` and ("occurred_at", "id") < (?::timestamptz, ?::uuid)`;
    params.push(after.occurredAt, after.id);
  }
  // Bound parameters: the owner list goes as one text[] value.
  const rows: (EventRow & { owner: string })[] = await boundSql(em)(
    `select k.owner, e.* from unnest(?::text[]) as k(owner) cross join lateral (
       select "id", "tenant_id", "actor_type", "actor_id", "action", "target_type", "target_id", "request_id", "changes", "metadata",
              "occurred_at", ${OCCURRED_AT_SQL} as occurred_key, "chain_seq", "hash"
       from "audit"."audit_event" where ${owner}${position}
       order by "occurred_at" desc, "id" desc limit ${Math.trunc(first)}
     ) e`,
    params,
  );
  for (const row of rows) {
    const list = out.get(row.owner) ?? [];
    list.push(toEvent(row));
    out.set(row.owner, list);
  }
  return out;
}

function trailLoader(ctx: AuditContext): DataLoader<TrailKey, AuditEventRow[], string> {
  return new DataLoader<TrailKey, AuditEventRow[], string>(
    async (keys) => {
      // Platform reads are recorded first (all of the batch's, in parallel): a read that cannot be recorded fails, and
      // the trail read includes its own record.
      await Promise.all(keys.filter((k) => k.recordAs).map((k) => recordTrailRead(ctx, k.tenantId, k.recordAs!.via, k.recordAs!.detail)));
      const groups = new Map<string, TrailKey[]>();
      for (const k of keys) groups.set(groupKey(k), [...(groups.get(groupKey(k)) ?? []), k]);
      const pages = new Map<string, AuditEventRow[]>();
      await Promise.all(
        [...groups.values()].map(async (group) => {
          const byOwner = await loadGroup(ctx.em, group);
          for (const k of group) pages.set(cacheKey(k), byOwner.get(k.id.toLowerCase()) ?? []);
        }),
      );
      return keys.map((k) => pages.get(cacheKey(k)) ?? []);
    },
    { cacheKeyFn: cacheKey },
  );
}

// One trail loader per request, living exactly as long as the request's LoaderRegistry.
const trailLoaders = new WeakMap<LoaderRegistry, DataLoader<TrailKey, AuditEventRow[], string>>();
function trails(ctx: AuditContext): DataLoader<TrailKey, AuditEventRow[], string> {
  let loader = trailLoaders.get(ctx.loaders);
  if (!loader) trailLoaders.set(ctx.loaders, (loader = trailLoader(ctx)));
  return loader;
}

/** Checks the page arguments (BAD_USER_INPUT with the field, before anything is read or recorded) and loads the page. */
function page(
  ctx: AuditContext,
  kind: TrailKind,
  tenantId: string,
  id: string,
  first: number,
  after: string | null | undefined,
  recordAs?: TrailKey["recordAs"],
): Promise<AuditEventRow[]> {
  if (!Number.isInteger(first) || first < 1 || first > MAX_TRAIL_PAGE) throw Errors.badInput(`first must be between 1 and ${MAX_TRAIL_PAGE}`, "first");
  const position = after != null ? decodeCursor(tenantId, after) : null;
  return trails(ctx).load({ kind, tenantId, id, first, after: position, recordAs });
}

const FIRST = { defaultValue: DEFAULT_TRAIL_PAGE, description: `Events to return, 1 to ${MAX_TRAIL_PAGE}` } as const;
const AFTER = { nullable: true, description: "Continue after this event (its `cursor`, or an `endCursor` of auditEvents)" } as const;

@Resolver(() => TenantRef)
export class TenantAuditTrailResolver {
  @FieldResolver(() => [AuditEvent], {
    description:
      "The tenant's audit trail, newest first. Tenant callers need audit:read (their own tenant only); platform operators " +
      "need platform:read, and each such read is recorded in the tenant's trail.",
  })
  async auditTrail(
    @Root() tenant: TenantRef,
    @Ctx() ctx: AuditContext,
    @Arg("first", () => Int, FIRST) first: number,
    @Arg("after", () => String, AFTER) after?: string | null,
  ): Promise<AuditEvent[]> {
    if (ctx.platform) {
      requirePlatform(ctx, PLATFORM_READ);
      if (!isUuid(tenant.id)) return [];
      const tenantId = tenant.id.toLowerCase();
      // Recorded in the tenant's trail before it is read (with the other reads of the batch).
      return page(ctx, "tenant", tenantId, tenantId, first, after, { via: "Tenant.auditTrail", detail: { first, after } });
    }
    const principal = requirePrincipal(ctx);
    if (!principal.permissions.includes(PERM_READ)) throw Errors.forbidden(`Missing permission ${PERM_READ}`);
    // Another tenant's trail is indistinguishable from an empty one.
    if (tenant.id.toLowerCase() !== principal.tenantId) return [];
    return page(ctx, "tenant", principal.tenantId, principal.tenantId, first, after);
  }
}

@Resolver(() => UserRef)
export class UserAuditTrailResolver {
  @Authorized(PERM_READ)
  @FieldResolver(() => [AuditEvent], { description: "What this user did, newest first." })
  auditTrail(
    @Root() user: UserRef,
    @Ctx() ctx: AuditContext,
    @Arg("first", () => Int, FIRST) first: number,
    @Arg("after", () => String, AFTER) after?: string | null,
  ): Promise<AuditEvent[]> {
    return page(ctx, "user", requirePrincipal(ctx).tenantId, user.id, first, after);
  }
}

@Resolver(() => ConnectorRef)
export class ConnectorAuditTrailResolver {
  @Authorized(PERM_READ)
  @FieldResolver(() => [AuditEvent], { description: "What was done to this connector (created, changed, credentials, runs started), newest first." })
  auditTrail(
    @Root() connector: ConnectorRef,
    @Ctx() ctx: AuditContext,
    @Arg("first", () => Int, FIRST) first: number,
    @Arg("after", () => String, AFTER) after?: string | null,
  ): Promise<AuditEvent[]> {
    return page(ctx, "connector", requirePrincipal(ctx).tenantId, connector.id, first, after);
  }
}

@Resolver(() => SyncRunRef)
export class SyncRunAuditTrailResolver {
  @Authorized(PERM_READ)
  @FieldResolver(() => [AuditEvent], { description: "What was done to this sync run (started, status changes, cancelled), newest first." })
  auditTrail(
    @Root() run: SyncRunRef,
    @Ctx() ctx: AuditContext,
    @Arg("first", () => Int, FIRST) first: number,
    @Arg("after", () => String, AFTER) after?: string | null,
  ): Promise<AuditEvent[]> {
    return page(ctx, "syncRun", requirePrincipal(ctx).tenantId, run.id, first, after);
  }
}

// Federation entry points: the stubs carry only their id; each trail field checks the caller and binds the tenant.
export const resolveUserRefReference = (ref: { id: string }): UserRef => ({ id: ref.id });
export const resolveTenantRefReference = (ref: { id: string }): TenantRef => ({ id: ref.id });
export const resolveConnectorRefReference = (ref: { id: string }): ConnectorRef => ({ id: ref.id });
export const resolveSyncRunRefReference = (ref: { id: string }): SyncRunRef => ({ id: ref.id });
