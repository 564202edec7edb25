import type { AuditRecorder } from "../../kernel/audit.js";
import type { ServiceContext } from "../../kernel/context.js";

/** The connectors service's request context. */
export interface ConnectorsContext extends ServiceContext {
  audit: AuditRecorder;
}
