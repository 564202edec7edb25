// Committed migrations of the `sync` schema, in order. Create new ones with `npm run migration:create -- sync`.
import { Migration20261121132727_initial } from "./Migration20261121132727_initial.js";
import { Migration20261121144031_records } from "./Migration20261121144031_records.js";
import { Migration20261121151912_records_access } from "./Migration20261121151912_records_access.js";
import { Migration20261121152435_sync_log } from "./Migration20261121152435_sync_log.js";
import { Migration20261121163735_audit_outbox } from "./Migration20261121163735_audit_outbox.js";
import { Migration20261121175123_run_current_model } from "./Migration20261121175123_run_current_model.js";
import { Migration20261121204957_push_receipt_user } from "./Migration20261121204957_push_receipt_user.js";
import { Migration20261122013000_lazy_create_history } from "./Migration20261122013000_lazy_create_history.js";
import { Migration20261208010000_push_receipt_fingerprint } from "./Migration20261208010000_push_receipt_fingerprint.js";

export const migrations = [
  { name: "Migration20261121132727_initial", class: Migration20261121132727_initial },
  { name: "Migration20261121144031_records", class: Migration20261121144031_records },
  { name: "Migration20261121151912_records_access", class: Migration20261121151912_records_access },
  { name: "Migration20261121152435_sync_log", class: Migration20261121152435_sync_log },
  { name: "Migration20261121163735_audit_outbox", class: Migration20261121163735_audit_outbox },
  { name: "Migration20261121175123_run_current_model", class: Migration20261121175123_run_current_model },
  { name: "Migration20261121204957_push_receipt_user", class: Migration20261121204957_push_receipt_user },
  { name: "Migration20261122013000_lazy_create_history", class: Migration20261122013000_lazy_create_history },
  { name: "Migration20261208010000_push_receipt_fingerprint", class: Migration20261208010000_push_receipt_fingerprint },
];
