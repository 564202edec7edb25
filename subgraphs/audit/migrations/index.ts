// Committed migrations of the `audit` schema, in order. Create new ones with `npm run migration:create -- audit`.
import { Migration20261121132733_initial } from "./Migration20261121132733_initial.js";
import { Migration20261121135642_identity } from "./Migration20261121135642_identity.js";
import { Migration20261121162039_chain } from "./Migration20261121162039_chain.js";
import { Migration20261121171420_purged_tenant } from "./Migration20261121171420_purged_tenant.js";
import { Migration20261121175139_retention_boundary } from "./Migration20261121175139_retention_boundary.js";

export const migrations = [
  { name: "Migration20261121132733_initial", class: Migration20261121132733_initial },
  { name: "Migration20261121135642_identity", class: Migration20261121135642_identity },
  { name: "Migration20261121162039_chain", class: Migration20261121162039_chain },
  { name: "Migration20261121171420_purged_tenant", class: Migration20261121171420_purged_tenant },
  { name: "Migration20261121175139_retention_boundary", class: Migration20261121175139_retention_boundary },
];
