import { Arg, Authorized, Ctx, Field, FieldResolver, ID, InputType, Int, ObjectType, Query, Resolver, Root } from "type-graphql";
import { requirePlatform, requirePrincipal } from "../../../kernel/auth.js";
import { Errors } from "../../../kernel/errors.js";
import { isUuid } from "../../../kernel/loaders.js";
import type { ServiceContext } from "../../../kernel/context.js";
import { verifyChain } from "../chain/chain.js";
import { ActorType, AuditEvent } from "./audit-event.entity.js";
import { MAX_AUDIT_PAGE, decodeCursor, encodeCursor, fetchAuditPage, filterSql } from "./audit-query.js";
import { UserRef } from "./refs.js";

const PERM_READ = "audit:read";
export { MAX_AUDIT_PAGE };

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
  @Authorized(PERM_READ)
  @Query(() => AuditEventPage, { description: "The caller's tenant's audit events, newest first, with keyset paging." })
  async auditEvents(
    @Ctx() ctx: ServiceContext,
    @Arg("filter", () => AuditEventFilter, { nullable: true }) filter: AuditEventFilter | null,
    @Arg("first", () => Int, { defaultValue: 50, description: `1 to ${MAX_AUDIT_PAGE}` }) first: number,
    @Arg("after", () => String, { nullable: true, description: "`endCursor` of the previous page" }) after?: string | null,
  ): Promise<AuditEventPage> {
    const { tenantId } = requirePrincipal(ctx);
    if (!Number.isInteger(first) || first < 1 || first > MAX_AUDIT_PAGE) throw Errors.badInput(`first must be between 1 and ${MAX_AUDIT_PAGE}`, "first");
    const where = filterSql(tenantId, filter ?? {});
    const cursor = after != null ? decodeCursor(tenantId, after) : null;
    const rows = await fetchAuditPage(ctx.em, where, { limit: first + 1, after: cursor, order: "desc" });
    const nodes = rows.slice(0, first);
    const last = nodes.at(-1);
    return { nodes, endCursor: last ? encodeCursor(tenantId, last.key) : null, hasNextPage: rows.length > first };
  }

  @Query(() => AuditChainReport, {
    description:
      "Checks the tenant's audit hash chain over the events that occurred in [from, to] and reports the first broken link. " +
      "Tenant callers need audit:read (own tenant); platform operators need platform:read and name the tenant.",
  })
  async verifyAuditChain(
    @Ctx() ctx: ServiceContext,
    @Arg("from", () => Date, { nullable: true }) from?: Date | null,
    @Arg("to", () => Date, { nullable: true }) to?: Date | null,
    @Arg("tenantId", () => ID, { nullable: true, description: "Platform operators only: the tenant to check" }) tenantId?: string | null,
  ): Promise<AuditChainReport> {
    let tenant: string;
    if (ctx.platform) {
      requirePlatform(ctx, "platform:read");
      if (!tenantId) throw Errors.badInput("tenantId is required for platform operators", "tenantId");
      if (!isUuid(tenantId)) throw Errors.badInput("tenantId must be a UUID", "tenantId");
      tenant = tenantId;
    } else {
      const principal = requirePrincipal(ctx);
      if (!principal.permissions.includes(PERM_READ)) throw Errors.forbidden(`Missing permission ${PERM_READ}`);
      if (tenantId != null && tenantId !== principal.tenantId) throw Errors.forbidden("tenantId is for platform operators");
      tenant = principal.tenantId;
    }
    // Validates the range like the auditEvents filter does (from after to: BAD_USER_INPUT).
    filterSql(tenant, { from, to }, "");
    return verifyChain(ctx.em, tenant, from, to);
  }

  @FieldResolver(() => UserRef, { nullable: true, description: "The user who acted, if a user did" })
  actor(@Root() event: AuditEvent): UserRef | null {
    return event.actorType === ActorType.USER && event.actorId ? { id: event.actorId } : null;
  }
}

@Resolver(() => UserRef)
export class UserAuditTrailResolver {
  @Authorized(PERM_READ)
  @FieldResolver(() => [AuditEvent], { description: "What this user did, newest first." })
  auditTrail(@Root() user: UserRef, @Ctx() ctx: ServiceContext): Promise<AuditEvent[]> {
    return ctx.loaders.byForeignKey(AuditEvent, "actorId", { occurredAt: "desc" }).load(user.id);
  }
}

/** Federation entry points; the tenant filter makes foreign ids resolve to null. */
export function resolveAuditEventReference(ref: { id: string }, ctx: ServiceContext): Promise<AuditEvent | null> {
  requirePrincipal(ctx);
  return ctx.loaders.byId(AuditEvent).load(ref.id);
}
export function resolveUserRefReference(ref: { id: string }, ctx: ServiceContext): UserRef {
  requirePrincipal(ctx);
  return { id: ref.id };
}
