// Committed migrations of the `tenants` schema, in order. Create new ones with `npm run migration:create -- tenants`.
import { Migration20261121132712_initial } from "./Migration20261121132712_initial.js";
import { Migration20261121135639_identity } from "./Migration20261121135639_identity.js";
import { Migration20261121135942_roles } from "./Migration20261121135942_roles.js";
import { Migration20261121141922_key_activation } from "./Migration20261121141922_key_activation.js";
import { Migration20261121143159_tenant_purge } from "./Migration20261121143159_tenant_purge.js";
import { Migration20261121163704_audit_outbox } from "./Migration20261121163704_audit_outbox.js";
import { Migration20261121175131_audit_retention } from "./Migration20261121175131_audit_retention.js";
import { Migration20261121204844_access_revocation } from "./Migration20261121204844_access_revocation.js";
import { Migration20261208013907_role_name_unique_ignoring_case } from "./Migration20261208013907_role_name_unique_ignoring_case.js";

export const migrations = [
  { name: "Migration20261121132712_initial", class: Migration20261121132712_initial },
  { name: "Migration20261121135639_identity", class: Migration20261121135639_identity },
  { name: "Migration20261121135942_roles", class: Migration20261121135942_roles },
  { name: "Migration20261121141922_key_activation", class: Migration20261121141922_key_activation },
  { name: "Migration20261121143159_tenant_purge", class: Migration20261121143159_tenant_purge },
  { name: "Migration20261121163704_audit_outbox", class: Migration20261121163704_audit_outbox },
  { name: "Migration20261121175131_audit_retention", class: Migration20261121175131_audit_retention },
  { name: "Migration20261121204844_access_revocation", class: Migration20261121204844_access_revocation },
  { name: "Migration20261208013907_role_name_unique_ignoring_case", class: Migration20261208013907_role_name_unique_ignoring_case },
];
