import { GraphQLError } from "graphql";
import type { Logger } from "pino";
import type { Principal } from "../../../kernel/auth.js";
import { Errors } from "../../../kernel/errors.js";
import type { PubSub } from "../../../kernel/pubsub/pubsub.js";
import { REQUEST_ID_HEADER } from "../../../kernel/request-id.js";
import { matchesRowFilters, type RowFilterSpec } from "../../../kernel/row-filters.js";

/** Filters one role contributes (AND-ed); groups are OR-ed. */
export interface FilterGroup {
  role: string;
  filters: RowFilterSpec[];
}

/** What the caller may do on one collection: filters null = every record, [] = none. */
export interface CollectionAccess {
  canPush: boolean;
  canPull: boolean;
  pushFilters: FilterGroup[] | null;
  pullFilters: FilterGroup[] | null;
}

interface EffectiveGrant extends CollectionAccess {
  collection: string;
}

/** A caller's grants: the access governing each collection (its own entry, else `*`, else nothing). */
export class CallerGrants {
  constructor(private readonly grants: readonly EffectiveGrant[]) {}

  on(collection: string): CollectionAccess {
    return (
      this.grants.find((g) => g.collection === collection) ??
      this.grants.find((g) => g.collection === "*") ?? { canPush: false, canPull: false, pushFilters: [], pullFilters: [] }
    );
  }
}

/** Whether a document is inside the records `groups` let through (null: all). */
export const visibleUnder = (doc: Record<string, unknown>, groups: FilterGroup[] | null): boolean => matchesRowFilters(doc, groups);

const QUERY = `query SyncGrants { myCollectionGrants { collection canPush canPull
  pushFilters { role filters { field op value } } pullFilters { role filters { field op value } } } }`;

/** Who is asking, as forwarded to the tenants service. */
export interface Caller {
  principal: Principal;
  authorization?: string;
  requestId: string;
}

/**
 * The caller's collection grants, asked of the tenants service (which owns roles) with the caller's own token and
 * cached per token. A `grants.changed` event drops the tenant's entries at once; the TTL bounds staleness if an event is
 * lost. Never reads the tenants service's tables.
 */
export class GrantsDirectory {
  private readonly cache = new Map<string, { grants: CallerGrants; at: number; tenantId: string }>();
  private readonly generation = new Map<string, number>();
  private unsubscribe?: () => Promise<unknown>;

  constructor(
    private readonly tenantsUrl: string,
    private readonly pubsub: PubSub,
    private readonly logger: Logger,
    private readonly ttlMs = 30_000,
  ) {}

  async start(): Promise<void> {
    const events = await this.pubsub.subscribe<{ tenantId: string }>("grants.changed");
    this.unsubscribe = async () => events.return?.();
    void (async () => {
      for await (const e of events) if (typeof e?.tenantId === "string") this.invalidate(e.tenantId);
    })().catch((err: unknown) => this.logger.warn({ err }, "grants.changed listener ended"));
  }

  async stop(): Promise<void> {
    await this.unsubscribe?.();
  }

  /** Forgets every cached grant of a tenant (its roles or grants changed). */
  invalidate(tenantId: string): void {
    this.generation.set(tenantId, (this.generation.get(tenantId) ?? 0) + 1);
    for (const [key, entry] of this.cache) if (entry.tenantId === tenantId) this.cache.delete(key);
  }

  async grantsFor(caller: Caller): Promise<CallerGrants> {
    const { principal } = caller;
    const key = principal.tokenId;
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.grants;
    const generation = this.generation.get(principal.tenantId) ?? 0;
    const grants = new CallerGrants(await this.fetch(caller));
    // An invalidation that arrived while asking means the answer may predate the change: use it once, don't keep it.
    if ((this.generation.get(principal.tenantId) ?? 0) === generation) {
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(key, { grants, at: Date.now(), tenantId: principal.tenantId });
    }
    return grants;
  }

  private async fetch(caller: Caller): Promise<EffectiveGrant[]> {
    let res: Response;
    try {
      res = await fetch(this.tenantsUrl, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(caller.authorization ? { authorization: caller.authorization } : {}),
          [REQUEST_ID_HEADER]: caller.requestId,
        },
        body: JSON.stringify({ query: QUERY }),
        signal: AbortSignal.timeout(5_000),
      });
    } catch {
      throw Errors.upstreamUnavailable("tenants");
    }
    const body = (await res.json().catch(() => null)) as {
      data?: { myCollectionGrants?: EffectiveGrant[] };
      errors?: { message: string; extensions?: { code?: string } }[];
    } | null;
    const grants = body?.data?.myCollectionGrants;
    if (Array.isArray(grants)) return grants;
    const refused = body?.errors?.find((e) => e.extensions?.code === "UNAUTHENTICATED" || e.extensions?.code === "FORBIDDEN" || e.extensions?.code === "TENANT_SUSPENDED");
    if (refused) throw new GraphQLError(refused.message, { extensions: { code: refused.extensions!.code } });
    this.logger.warn({ status: res.status, errors: body?.errors?.map((e) => e.extensions?.code) }, "grants lookup failed");
    throw Errors.upstreamUnavailable("tenants");
  }
}
