import { Arg, Ctx, Field, FieldResolver, ID, InputType, Int, ObjectType, Query, Resolver, Root } from "type-graphql";
import { PLATFORM_AUDIT_TRAIL } from "../../../kernel/audit.js";
import { requirePrincipal } from "../../../kernel/auth.js";
import { Errors } from "../../../kernel/errors.js";
import { occurredAtKey, verifyChain } from "../chain/chain.js";
import type { AuditContext } from "../context.js";
import { ActorType, AuditEvent } from "./audit-event.entity.js";
import { MAX_AUDIT_PAGE, decodeCursor, encodeCursor, fetchAuditPage, filterSql, type AuditEventRow, type AuditKey } from "./audit-query.js";
import { UserRef } from "./refs.js";
import { recordTrailRead, trailTenant } from "./trail-access.js";

export { MAX_AUDIT_PAGE };

const compact = (o: Record<string, unknown>) => {
  const out = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null));
  return Object.keys(out).length ? out : null;
};

/** An event's keyset position (as read by the audit queries, or from its time, which is stored with milliseconds). */
export function keyOf(event: AuditEvent): AuditKey {
  return (event as Partial<AuditEventRow>).key ?? { occurredAt: occurredAtKey(event.occurredAt), id: event.id };
}

@InputType({ description: "Filters of `auditEvents`; all given ones must match." })
export class AuditEventFilter {
  @Field(() => ID, { nullable: true })
  actorId?: string | null;

  @Field(() => ActorType, { nullable: true })
  actorType?: ActorType | null;

  @Field(() => String, { nullable: true, description: "Prefix of the action, e.g. `auth.` or `connector.created`" })
  action?: string | null;

  @Field(() => String, { nullable: true })
  targetType?: string | null;

  @Field(() => String, { nullable: true })
  targetId?: string | null;

  @Field(() => Date, { nullable: true, description: "Occurred at or after" })
  from?: Date | null;

  @Field(() => Date, { nullable: true, description: "Occurred at or before" })
  to?: Date | null;

  @Field(() => String, { nullable: true, description: "Case-insensitive text in the action, target, request id, changes or metadata" })
  text?: string | null;
}

@ObjectType({ description: "A page of audit events, newest first." })
export class AuditEventPage {
  @Field(() => [AuditEvent])
  nodes!: AuditEvent[];

  @Field(() => String, { nullable: true, description: "Pass as `after` for the next page" })
  endCursor!: string | null;

  @Field()
  hasNextPage!: boolean;
}

@ObjectType({ description: "The result of checking a tenant's audit hash chain." })
export class AuditChainReport {
  @Field({ description: "True when every checked link holds" })
  ok!: boolean;

  @Field(() => Int, { description: "Links checked before the first broken one (all of them when ok)" })
  checked!: number;

  @Field(() => Int, { nullable: true, description: "Chain position of the first broken link" })
  firstBrokenSeq!: number | null;

  @Field(() => ID, { nullable: true })
  firstBrokenEventId!: string | null;

  @Field(() => String, { nullable: true })
  reason!: string | null;
}

@Resolver(() => AuditEvent)
export class AuditEventResolver {
  @Query(() => AuditEventPage, {
    description:
      "A tenant's audit events, newest first, with keyset paging. Tenant callers need audit:read and read their own tenant's; " +
      "platform operators need platform:read and name the tenant (their read is recorded in that tenant's trail), or " +
      `the installation's own trail (tenantId ${PLATFORM_AUDIT_TRAIL}).`,
  })
  async auditEvents(
    @Ctx() ctx: AuditContext,
    @Arg("filter", () => AuditEventFilter, { nullable: true }) filter: AuditEventFilter | null,
    @Arg("first", () => Int, { defaultValue: 50, description: `1 to ${MAX_AUDIT_PAGE}` }) first: number,
    @Arg("after", () => String, { nullable: true, description: "`endCursor` of the previous page" }) after?: string | null,
    @Arg("tenantId", () => ID, { nullable: true, description: "Platform operators only: whose trail" }) tenantId?: string | null,
  ): Promise<AuditEventPage> {
    const tenant = trailTenant(ctx, tenantId);
    if (!Number.isInteger(first) || first < 1 || first > MAX_AUDIT_PAGE) throw Errors.badInput(`first must be between 1 and ${MAX_AUDIT_PAGE}`, "first");
    const where = filterSql(tenant, filter ?? {});
    const cursor = after != null ? decodeCursor(tenant, after) : null;
    await recordTrailRead(ctx, tenant, "auditEvents", { filter: filter ? compact({ ...filter }) : null, first, after });
    const rows = await fetchAuditPage(ctx.em, where, { limit: first + 1, after: cursor, order: "desc" });
    const nodes = rows.slice(0, first);
    const last = nodes.at(-1);
    return { nodes, endCursor: last ? encodeCursor(tenant, last.key) : null, hasNextPage: rows.length > first };
  }

  @Query(() => AuditChainReport, {
    description:
      "Checks a tenant's audit hash chain over the events that occurred in [from, to] and reports the first broken link. " +
      "Tenant callers need audit:read (own tenant); platform operators need platform:read and name the tenant (the check " +
      "is recorded in that tenant's trail), or the installation's own trail.",
  })
  async verifyAuditChain(
    @Ctx() ctx: AuditContext,
    @Arg("from", () => Date, { nullable: true }) from?: Date | null,
    @Arg("to", () => Date, { nullable: true }) to?: Date | null,
    @Arg("tenantId", () => ID, { nullable: true, description: "Platform operators only: the tenant to check" }) tenantId?: string | null,
  ): Promise<AuditChainReport> {
    const tenant = trailTenant(ctx, tenantId);
    // Validates the range like the auditEvents filter does (from after to: BAD_USER_INPUT).
    filterSql(tenant, { from, to }, "");
    await recordTrailRead(ctx, tenant, "verifyAuditChain", { from: from?.toISOString(), to: to?.toISOString() });
    return verifyChain(ctx.em, tenant, from, to);
  }

  @FieldResolver(() => UserRef, { nullable: true, description: "The user who acted, if a user did" })
  actor(@Root() event: AuditEvent): UserRef | null {
    return event.actorType === ActorType.USER && event.actorId ? { id: event.actorId } : null;
  }

  @FieldResolver(() => String, { description: "This event's position: pass as `after` to a trail or to auditEvents to continue after it" })
  cursor(@Root() event: AuditEvent): string {
    return encodeCursor(event.tenantId, keyOf(event));
  }
}

/** Federation entry point; the tenant filter makes foreign ids resolve to null. */
export function resolveAuditEventReference(ref: { id: string }, ctx: AuditContext): Promise<AuditEvent | null> {
  requirePrincipal(ctx);
  return ctx.loaders.byId(AuditEvent).load(ref.id);
}
