import type { ServiceContext } from "../../kernel/context.js";
import { randomUUID } from "node:crypto";
import { AuditRecorder } from "../../kernel/audit.js";
import { LoaderRegistry } from "../../kernel/loaders.js";
import { withLockedTransaction, withTransaction, type TxEntityManager } from "../../kernel/transaction.js";
import type { PubSub } from "../../kernel/pubsub/pubsub.js";
import type { KeyStore } from "./auth/key-store.js";
import type { LoginThrottle } from "./auth/login-throttle.js";
import type { PermissionResolver } from "./auth/session.service.js";
import type { TenantCreatedHook } from "./tenant/tenant.service.js";
import type { RoleValidator } from "./user/user.service.js";

/** The tenants service's request context. */
export interface TenantsContext extends ServiceContext {
  keyStore: KeyStore;
  audit: AuditRecorder;
  pubsub: PubSub;
  throttle: LoginThrottle;
  permissions: PermissionResolver;
  validateRoles: RoleValidator;
  onTenantCreated: TenantCreatedHook;
}

/**
 * Runs `work` in one transaction of the caller's EntityManager with a context whose `em` (and loaders) are the
 * transaction's, the way sync's audited mutations do it: the changes `work` makes and the audit events it records with
 * `ctx.audit.record(tx, …)` (rows of this service's audit outbox, written through that EntityManager) commit together
 * or not at all. What other services are told (pub/sub announcements) belongs after it returns, once committed.
 */
export function inTransaction<T, C extends Pick<ServiceContext, "em" | "loaders">>(
  ctx: C,
  work: (tx: C & { em: TxEntityManager }) => Promise<T>,
  /** An advisory lock the transaction holds from its start (see withLockedTransaction). */
  opts: { lock?: string } = {},
): Promise<T> {
  const run = (em: TxEntityManager) => work({ ...ctx, em, loaders: new LoaderRegistry(em) });
  return opts.lock ? withLockedTransaction(ctx.em, opts.lock, run) : withTransaction(ctx.em, run);
}

/** Whom an operation is recorded as, and through which recorder (a request's context is one). */
export type Auditor = { audit: AuditRecorder } & Omit<Parameters<AuditRecorder["record"]>[0], "em">;

/**
 * The installation itself as the actor (SERVICE `actor`), for operations called without a request context (the
 * operator CLI, tests): its records go to this service's outbox like any other, delivered by the service's relay.
 */
export function systemAuditor(actor = "system"): Auditor {
  return { audit: new AuditRecorder(), requestId: `system-${randomUUID()}`, serviceActor: actor, client: { userAgent: `tributary-${actor}` } };
}
