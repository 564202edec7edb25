import { Migration } from '@mikro-orm/migrations';

export class Migration20261121132727_initial extends Migration {

  override name = 'Migration20261121132727_initial';

  override up(): void | Promise<void> {
    this.addSql(`create schema if not exists "sync";`);
    this.addSql(`create type "sync"."sync_run_kind" as enum ('PUSH', 'PULL', 'CONNECTOR');`);
    this.addSql(`create type "sync"."sync_run_status" as enum ('QUEUED', 'RUNNING', 'SUCCEEDED', 'PARTIAL', 'FAILED', 'CANCELLED');`);
    this.addSql(`create table "sync"."sync_run" ("id" uuid not null, "tenant_id" uuid not null, "kind" "sync"."sync_run_kind" not null, "status" "sync"."sync_run_status" not null default 'QUEUED', "connector_id" uuid null, "triggered_by_id" uuid null, "processed" int not null default 0, "created" int not null default 0, "updated" int not null default 0, "deleted" int not null default 0, "failed" int not null default 0, "conflicts" int not null default 0, "error" text null, "started_at" timestamptz null, "finished_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`create index "sync_run_connector_id_index" on "sync"."sync_run" ("connector_id");`);
    this.addSql(`create index "sync_run_tenant_id_created_at_index" on "sync"."sync_run" ("tenant_id", "created_at");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "sync"."sync_run" cascade;`);

    this.addSql(`drop type "sync"."sync_run_kind";`);
    this.addSql(`drop type "sync"."sync_run_status";`);
    this.addSql(`drop schema if exists "sync";`);
  }

}
