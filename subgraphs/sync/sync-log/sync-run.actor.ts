import type { Principal } from "../../../kernel/auth.js";
import { MAX_STORED_RUN_ERRORS, SyncRunActorType, type SyncRunError } from "./sync-run.entity.js";

/** The actor columns of a run acting for a verified principal (a user, or an API key: its token's subject is the key). */
export function actorOf(principal: Pick<Principal, "kind" | "userId">): {
  actorType: SyncRunActorType;
  triggeredById: string | null;
  apiKeyId: string | null;
} {
  return principal.kind === "api_key"
    ? { actorType: SyncRunActorType.API_KEY, triggeredById: null, apiKeyId: principal.userId }
    : { actorType: SyncRunActorType.USER, triggeredById: principal.userId, apiKeyId: null };
}

/**
 * The error columns of a run after `added` per-record errors: the first {@link MAX_STORED_RUN_ERRORS} are kept
 * (`errors`), `errorCount` counts them all. For a new run, leave out `current`.
 */
export function withRunErrors(
  added: readonly { recordId?: string | null; collection?: string | null; code: string; message: string }[],
  current: { errors: SyncRunError[]; errorCount: number } = { errors: [], errorCount: 0 },
): { errors: SyncRunError[]; errorCount: number } {
  const room = Math.max(0, MAX_STORED_RUN_ERRORS - current.errors.length);
  const kept = added.slice(0, room).map((e) => ({
    recordId: e.recordId == null ? null : String(e.recordId).slice(0, 200),
    collection: e.collection == null ? null : String(e.collection).slice(0, 100),
    code: String(e.code).slice(0, 100),
    message: String(e.message).slice(0, 2000),
  }));
  return { errors: kept.length ? [...current.errors, ...kept] : current.errors, errorCount: current.errorCount + added.length };
}
