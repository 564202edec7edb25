import type { AuditRecorder } from "../../kernel/audit.js";
import type { ServiceContext } from "../../kernel/context.js";

/** The audit service's request context: its recorder appends to the chains directly (no outbox of its own). */
export interface AuditContext extends ServiceContext {
  audit: AuditRecorder;
}
