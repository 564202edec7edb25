import { Arg, Authorized, Ctx, FieldResolver, Int, Query, Resolver, Root } from "type-graphql";
import { requirePrincipal } from "../../../kernel/auth.js";
import { Errors } from "../../../kernel/errors.js";
import type { ServiceContext } from "../../../kernel/context.js";
import { ActorType, AuditEvent } from "./audit-event.entity.js";
import { UserRef } from "./refs.js";

const PERM_READ = "audit:read";
export const MAX_AUDIT_PAGE = 500;

function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_PAGE) {
    throw Errors.badInput(`limit must be between 1 and ${MAX_AUDIT_PAGE}`, "limit");
  }
}

@Resolver(() => AuditEvent)
export class AuditEventResolver {
  @Authorized(PERM_READ)
  @Query(() => [AuditEvent], { description: "The caller's tenant's audit events, newest first." })
  auditEvents(
    @Ctx() ctx: ServiceContext,
    @Arg("limit", () => Int, { defaultValue: 50, description: `1 to ${MAX_AUDIT_PAGE}` }) limit: number,
    @Arg("actionPrefix", () => String, { nullable: true, description: "e.g. `auth.` or `connector.created`" }) actionPrefix?: string | null,
  ): Promise<AuditEvent[]> {
    checkLimit(limit);
    const where = actionPrefix ? { action: { $like: `${actionPrefix.replace(/[\\%_]/g, "\\$&")}%` } } : {};
    return ctx.em.find(AuditEvent, where, { orderBy: { occurredAt: "desc", id: "desc" }, limit });
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
