import type { MikroORM, EntityManager } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import type { AuthContext, Caller, TokenVerifier } from "./auth.js";
import type { RevocationList } from "./revocations.js";
import { LoaderRegistry } from "./loaders.js";
import { forkForTenant, forkUnscoped } from "./tenancy.js";
import { normalizeRequestId, type ClientInfo } from "./request-id.js";


/** The per-request context every subgraph resolver receives. */
export interface ServiceContext extends AuthContext {
  requestId: string;
  /** Set when the installation itself acts (operator CLI, seeding): audited as SERVICE with this name. */
  serviceActor?: string;
  /** Client address and user agent (forwarded by the gateway), for audit and throttling. */
  client: ClientInfo;
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
  revocations?: RevocationList;
  logger: Logger;
  authorization?: string | null;
  requestId?: unknown;
  client?: ClientInfo;
}): Promise<ServiceContext> {
  const requestId = normalizeRequestId(opts.requestId);
  const caller: Caller | undefined = opts.authorization ? await opts.verifier.verifyAuthorization(opts.authorization) : undefined;
  if (caller) opts.revocations?.check(caller);
  const principal = caller?.kind === "platform" ? undefined : caller;
  const platform = caller?.kind === "platform" ? caller : undefined;
  // Platform operators get an unscoped EntityManager: tenant-owned reads fail closed unless a platform operation
  // names its tenant explicitly.
  const em = principal ? forkForTenant(opts.orm, principal.tenantId) : forkUnscoped(opts.orm);
  return {
    requestId,
    client: opts.client ?? {},
    authorization: caller ? opts.authorization ?? undefined : undefined,
    principal,
    platform,
    logger: opts.logger.child({ requestId, tenantId: principal?.tenantId, userId: caller?.userId }),
    em,
    loaders: new LoaderRegistry(em),
  };
}
