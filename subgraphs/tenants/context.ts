import type { ServiceContext } from "../../kernel/context.js";
import type { AuditRecorder } from "../../kernel/audit.js";
import type { KeyStore } from "./auth/key-store.js";

/** The tenants service's request context. */
export interface TenantsContext extends ServiceContext {
  keyStore: KeyStore;
  audit: AuditRecorder;
}
