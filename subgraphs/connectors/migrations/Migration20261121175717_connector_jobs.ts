import { Migration } from '@mikro-orm/migrations';

export class Migration20261121175717_connector_jobs extends Migration {

  override name = 'Migration20261121175717_connector_jobs';

  override up(): void | Promise<void> {
    this.addSql(`create type "connectors"."sync_direction" as enum ('INBOUND', 'OUTBOUND', 'BOTH');`);
    this.addSql(`create table "connectors"."connector_mapping" ("id" uuid not null, "tenant_id" uuid not null, "connector_id" uuid not null, "remote_model" varchar(200) not null, "collection" varchar(100) not null, "field_map" jsonb not null, "direction" "connectors"."sync_direction" not null, "schedule" varchar(200) null, "enabled" boolean not null default true, "cursor" jsonb null, "incremental_since" timestamptz null, "last_run_id" uuid null, "last_run_status" varchar(20) null, "last_run_at" timestamptz null, "rerun_requested" boolean not null default false, "record_count" int not null default 0, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`create index "connector_mapping_tenant_id_index" on "connectors"."connector_mapping" ("tenant_id");`);
    this.addSql(`create index "connector_mapping_connector_id_index" on "connectors"."connector_mapping" ("connector_id");`);
    this.addSql(`alter table "connectors"."connector_mapping" add constraint "connector_mapping_connector_id_remote_model_unique" unique ("connector_id", "remote_model");`);

    this.addSql(`create table "connectors"."connector_model_lock" ("connector_id" uuid not null, "model" varchar(200) not null, "run_id" uuid not null, "tenant_id" uuid not null, primary key ("connector_id", "model"));`);

    this.addSql(`create table "connectors"."connector_run" ("id" uuid not null, "tenant_id" uuid not null, "connector_id" uuid not null, "options" jsonb not null, "progress" jsonb not null, "counts" jsonb not null, "status" varchar(20) not null default 'QUEUED', "cancel_requested" boolean not null default false, "attempts" int not null default 0, "created_at" timestamptz not null, "finished_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "connector_run_connector_id_finished_at_index" on "connectors"."connector_run" ("connector_id", "finished_at");`);

    this.addSql(`create table "connectors"."remote_link" ("mapping_id" uuid not null, "remote_id" varchar(200) not null, "record_id" varchar(200) not null, "tenant_id" uuid not null, "seen_by_run_id" uuid null, primary key ("mapping_id", "remote_id"));`);
    this.addSql(`create index "remote_link_mapping_id_record_id_index" on "connectors"."remote_link" ("mapping_id", "record_id");`);

    this.addSql(`create table "connectors"."webhook_receipt" ("connector_id" uuid not null, "signature" varchar(64) not null, "received_at" timestamptz not null, primary key ("connector_id", "signature"));`);

    this.addSql(`alter table "connectors"."connector" add "encrypted_credentials" text null, add "credentials_updated_at" timestamptz null, add "settings" jsonb not null default '{"timeoutMs":30000,"retries":3,"requestsPerSecond":20}', add "remote_version" varchar(200) null, add "remote_user" varchar(200) null, add "last_tested_at" timestamptz null, add "latency_ms" int null, add "last_error" varchar(2000) null, add "allowed_calls" text[] not null default '{}', add "webhooks_enabled" boolean not null default false, add "encrypted_webhook_secret" text null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "connectors"."connector_mapping" cascade;`);
    this.addSql(`drop table if exists "connectors"."connector_model_lock" cascade;`);
    this.addSql(`drop table if exists "connectors"."connector_run" cascade;`);
    this.addSql(`drop table if exists "connectors"."remote_link" cascade;`);
    this.addSql(`drop table if exists "connectors"."webhook_receipt" cascade;`);

    this.addSql(`alter table "connectors"."connector" drop column "encrypted_credentials", drop column "credentials_updated_at", drop column "settings", drop column "remote_version", drop column "remote_user", drop column "last_tested_at", drop column "latency_ms", drop column "last_error", drop column "allowed_calls", drop column "webhooks_enabled", drop column "encrypted_webhook_secret";`);

    this.addSql(`drop type "connectors"."sync_direction";`);
  }

}
