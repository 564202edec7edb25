import type { ServiceContext } from "../../kernel/context.js";
import type { AuditRecorder } from "../../kernel/audit.js";
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
