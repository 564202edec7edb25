// Committed migrations of the `connectors` schema, in order. Create new ones with `npm run migration:create -- connectors`.
import { Migration20261121132730_initial } from "./Migration20261121132730_initial.js";
import { Migration20261121163808_audit_outbox } from "./Migration20261121163808_audit_outbox.js";
import { Migration20261121175717_connector_jobs } from "./Migration20261121175717_connector_jobs.js";
import { Migration20261121182533_outbound } from "./Migration20261121182533_outbound.js";
import { Migration20261121191354_run_error } from "./Migration20261121191354_run_error.js";
import { Migration20261208003842_webhook_token } from "./Migration20261208003842_webhook_token.js";
import { Migration20261208004604_remote_state } from "./Migration20261208004604_remote_state.js";
import { Migration20261208005955_reconcile } from "./Migration20261208005955_reconcile.js";

export const migrations = [
  { name: "Migration20261121132730_initial", class: Migration20261121132730_initial },
  { name: "Migration20261121163808_audit_outbox", class: Migration20261121163808_audit_outbox },
  { name: "Migration20261121175717_connector_jobs", class: Migration20261121175717_connector_jobs },
  { name: "Migration20261121182533_outbound", class: Migration20261121182533_outbound },
  { name: "Migration20261121191354_run_error", class: Migration20261121191354_run_error },
  { name: "Migration20261208003842_webhook_token", class: Migration20261208003842_webhook_token },
  { name: "Migration20261208004604_remote_state", class: Migration20261208004604_remote_state },
  { name: "Migration20261208005955_reconcile", class: Migration20261208005955_reconcile },
];
