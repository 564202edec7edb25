import { Migration } from '@mikro-orm/migrations';

export class Migration20261121151912_records_access extends Migration {

  override name = 'Migration20261121151912_records_access';

  override up(): void | Promise<void> {
    this.addSql(`create type "sync"."conflict_strategy" as enum ('SERVER_WINS', 'CLIENT_WINS', 'MERGE', 'MANUAL');`);
    this.addSql(`create type "sync"."conflict_status" as enum ('OPEN', 'RESOLVED');`);
    this.addSql(`create type "sync"."conflict_resolution" as enum ('KEEP_SERVER', 'KEEP_CLIENT', 'CUSTOM');`);
    this.addSql(`create type "sync"."record_operation" as enum ('CREATE', 'UPDATE', 'DELETE');`);
    this.addSql(`create table "sync"."conflict" ("id" uuid not null, "tenant_id" uuid not null, "collection" varchar(100) not null, "document_id" varchar(200) not null, "status" "sync"."conflict_status" not null default 'OPEN', "base" jsonb null, "client_state" jsonb not null, "server_state" jsonb null, "client_id" varchar(200) null, "created_by_id" uuid not null, "created_at" timestamptz not null, "resolved_at" timestamptz null, "resolved_by_id" uuid null, "resolution" "sync"."conflict_resolution" null, primary key ("id"));`);
    this.addSql(`create index "conflict_tenant_id_status_created_at_index" on "sync"."conflict" ("tenant_id", "status", "created_at");`);

    this.addSql(`create table "sync"."record_history" ("tenant_id" uuid not null, "collection" varchar(100) not null, "record_id" varchar(200) not null, "version" int not null, "seq" bigint not null, "operation" "sync"."record_operation" not null, "changes" jsonb null, "at" timestamptz not null, "actor_type" varchar(20) not null, "actor_id" uuid null, "client_id" varchar(200) null, "sync_run_id" uuid null, primary key ("tenant_id", "collection", "record_id", "version"));`);
    this.addSql(`create index "record_history_tenant_id_collection_record_id_seq_index" on "sync"."record_history" ("tenant_id", "collection", "record_id", "seq");`);

    this.addSql(`create table "sync"."sync_client" ("tenant_id" uuid not null, "client_id" varchar(200) not null, "user_id" uuid null, "last_checkpoint" text null, "last_mutation_id" varchar(200) null, "last_seen_at" timestamptz not null, "last_pull_at" timestamptz null, "last_push_at" timestamptz null, "reset_at" timestamptz null, "reset_pending" boolean not null default false, primary key ("tenant_id", "client_id"));`);

    this.addSql(`alter table "sync"."collection" add "primary_key" varchar(100) not null default 'id', add "conflict_strategy" "sync"."conflict_strategy" not null default 'SERVER_WINS', add "purged_through_seq" bigint not null default '0';`);

    this.addSql(`alter table "sync"."record" add "origin_run_id" uuid null;`);

  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "sync"."conflict" cascade;`);
    this.addSql(`drop table if exists "sync"."record_history" cascade;`);
    this.addSql(`drop table if exists "sync"."sync_client" cascade;`);

    this.addSql(`alter table "sync"."collection" drop column "primary_key", drop column "conflict_strategy", drop column "purged_through_seq";`);

    this.addSql(`alter table "sync"."record" drop column "origin_run_id";`);


    this.addSql(`drop type "sync"."conflict_strategy";`);
    this.addSql(`drop type "sync"."conflict_status";`);
    this.addSql(`drop type "sync"."conflict_resolution";`);
    this.addSql(`drop type "sync"."record_operation";`);
  }

}
