import { randomUUID } from "node:crypto";
import type { MikroORM, EntityManager } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import type { AuthContext, Principal, TokenVerifier } from "./auth.js";
import { LoaderRegistry } from "./loaders.js";
import { forkForTenant, forkUnscoped } from "./tenancy.js";

/** Header carrying the request id from the gateway to the subgraphs (and back in responses). */
export const REQUEST_ID_HEADER = "x-request-id";

/** The per-request context every subgraph resolver receives. */
export interface ServiceContext extends AuthContext {
  requestId: string;
  logger: Logger;
  /** Scoped to the caller's tenant when authenticated; unscoped (tenant queries fail closed) otherwise. */
  em: EntityManager;
  loaders: LoaderRegistry;
}

/** A caller-supplied request id is kept when it is a sane token; anything else gets a fresh UUID. */
export function normalizeRequestId(value: unknown): string {
  return typeof value === "string" && /^[A-Za-z0-9._:-]{8,128}$/.test(value) ? value : randomUUID();
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
    principal,
    logger: opts.logger.child({ requestId, tenantId: principal?.tenantId, userId: principal?.userId }),
    em,
    loaders: new LoaderRegistry(em),
  };
}
