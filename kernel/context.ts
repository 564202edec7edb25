import type { MikroORM, EntityManager } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import type { AuthContext, Principal, TokenVerifier } from "./auth.js";
import { LoaderRegistry } from "./loaders.js";
import { forkForTenant, forkUnscoped } from "./tenancy.js";
import { normalizeRequestId } from "./request-id.js";


/** The per-request context every subgraph resolver receives. */
export interface ServiceContext extends AuthContext {
  requestId: string;
  /** The caller's verified `Authorization` value, forwarded when this service asks another one on their behalf. */
  authorization?: string;
  logger: Logger;
  /** Scoped to the caller's tenant when authenticated; unscoped (tenant queries fail closed) otherwise. */
  em: EntityManager;
  loaders: LoaderRegistry;
}


/** Verifies the caller (if any) and builds a context with a fresh, tenant-scoped EntityManager and loaders. */
export async function createServiceContext(opts: {
  orm: MikroORM;
  verifier: TokenVerifier;
  logger: Logger;
  authorization?: string | null;
  requestId?: unknown;
}): Promise<ServiceContext> {
  const requestId = normalizeRequestId(opts.requestId);
  const principal: Principal | undefined = opts.authorization
    ? await opts.verifier.verifyAuthorization(opts.authorization)
    : undefined;
  const em = principal ? forkForTenant(opts.orm, principal.tenantId) : forkUnscoped(opts.orm);
  return {
    requestId,
    authorization: principal ? opts.authorization ?? undefined : undefined,
    principal,
    logger: opts.logger.child({ requestId, tenantId: principal?.tenantId, userId: principal?.userId }),
    em,
    loaders: new LoaderRegistry(em),
  };
}
