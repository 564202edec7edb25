import type { GraphQLSchema } from "graphql";
import { Extensions, getMetadataStorage } from "type-graphql";

/**
 * Every mutation declares its audit policy in code (issue 6, "nothing unaudited"):
 *
 *   @Audited("role.created")                                  // records this action (and maybe others: `also`)
 *   @NotAudited("read-only: ...")                             // deliberately records nothing, and says why
 *
 * The policy lives in the field's GraphQL extensions (`extensions.audit`) of the type-graphql schema. The federated
 * subgraph schema is rebuilt from SDL, which carries no extensions, so `mutationAuditPolicies` reads the policy back
 * from type-graphql's metadata for each Mutation field of a built subgraph schema.
 */
export type AuditPolicy = { action: string; also?: string[] } | { skip: string };

/** `noun.verb` or `noun.sub.verb`, lower case, words joined by `_` (e.g. `auth.login.failed`, `sync.run.status_changed`). */
export const AUDIT_ACTION_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){1,2}$/;
const MIN_REASON_LENGTH = 10;

/** Methods that already carry a policy: declaring both (or one twice) is a mistake caught at class definition. */
const declared = new WeakMap<object, Set<string | symbol>>();

function declareOnce(target: object, key: string | symbol): void {
  const keys = declared.get(target) ?? new Set<string | symbol>();
  if (keys.has(key)) {
    const owner = (target as { constructor?: { name?: string } }).constructor?.name ?? "?";
    throw new Error(`${owner}.${String(key)} declares its audit policy more than once (use exactly one @Audited or @NotAudited)`);
  }
  keys.add(key);
  declared.set(target, keys);
}

/**
 * The mutation records `action` with `ctx.audit.record` (directly or in the service it calls). `also` names further
 * actions the same mutation may record (a failure path, a cascade), so the declared set is what it can emit.
 */
export function Audited(action: string, ...also: string[]): MethodDecorator {
  for (const a of [action, ...also]) {
    if (!AUDIT_ACTION_PATTERN.test(a)) throw new Error(`audit action "${a}" is not noun.verb or noun.sub.verb`);
  }
  const policy: AuditPolicy = also.length ? { action, also } : { action };
  const extension = Extensions({ audit: policy });
  return (target, key, descriptor) => {
    declareOnce(target, key);
    extension(target, key as string, descriptor);
  };
}

/** The mutation deliberately records no audit event; `reason` says why (it is read in reviews and by the policy test). */
export function NotAudited(reason: string): MethodDecorator {
  if (reason.trim().length < MIN_REASON_LENGTH) throw new Error(`@NotAudited needs a reason (at least ${MIN_REASON_LENGTH} characters)`);
  const extension = Extensions({ audit: { skip: reason.trim() } satisfies AuditPolicy });
  return (target, key, descriptor) => {
    declareOnce(target, key);
    extension(target, key as string, descriptor);
  };
}

/** The policy found in a field's extensions, or why there is none that counts. */
export function auditPolicyFromExtensions(extensions: Record<string, unknown> | null | undefined): AuditPolicy | undefined {
  const audit = extensions?.audit as Partial<{ action: unknown; also: unknown; skip: unknown }> | undefined;
  if (!audit || typeof audit !== "object") return undefined;
  const hasAction = typeof audit.action === "string";
  const hasSkip = typeof audit.skip === "string";
  if (hasAction === hasSkip) return undefined;
  return hasAction
    ? { action: audit.action as string, ...(Array.isArray(audit.also) && audit.also.length ? { also: audit.also as string[] } : {}) }
    : { skip: audit.skip as string };
}

export interface MutationAuditPolicy {
  mutation: string;
  /** The resolver method that implements it (`Class.method`), when it was found. */
  resolver?: string;
  policy?: AuditPolicy;
  /** Why `policy` is missing: none declared, or the mutation could not be matched to one resolver method. */
  problem?: string;
}

/**
 * The declared audit policy of every Mutation field of a built schema. The policy is read from the field's own
 * extensions when the schema kept them, else from type-graphql's metadata for the resolver method of that name (the
 * subgraph schema must have been built in this process, which fills that metadata).
 */
export function mutationAuditPolicies(schema: GraphQLSchema): MutationAuditPolicy[] {
  const mutationType = schema.getMutationType();
  if (!mutationType) return [];
  const storage = getMetadataStorage();
  return Object.values(mutationType.getFields()).map((field): MutationAuditPolicy => {
    const own = auditPolicyFromExtensions(field.extensions as Record<string, unknown>);
    if (own) return { mutation: field.name, policy: own };
    const candidates = storage.mutations.filter((m) => m.schemaName === field.name);
    // One class can be registered more than once only through inheritance; distinct methods are what matters.
    const distinct = [...new Map(candidates.map((m) => [`${m.target.name}.${m.methodName}`, m])).values()];
    if (distinct.length === 0) return { mutation: field.name, problem: "no type-graphql resolver method found for this mutation" };
    if (distinct.length > 1) {
      return { mutation: field.name, problem: `several resolver methods define it: ${distinct.map((m) => `${m.target.name}.${m.methodName}`).join(", ")}` };
    }
    const [meta] = distinct as [(typeof distinct)[number]];
    const resolver = `${meta.target.name}.${meta.methodName}`;
    const policy = auditPolicyFromExtensions(meta.extensions as Record<string, unknown> | undefined);
    return policy ? { mutation: field.name, resolver, policy } : { mutation: field.name, resolver, problem: "declares neither @Audited nor @NotAudited" };
  });
}
