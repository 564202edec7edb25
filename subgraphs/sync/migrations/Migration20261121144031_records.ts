import { Migration } from '@mikro-orm/migrations';

export class Migration20261121144031_records extends Migration {

  override name = 'Migration20261121144031_records';

  override up(): void | Promise<void> {
    this.addSql(`create table "sync"."collection" ("id" uuid not null, "tenant_id" uuid not null, "name" varchar(100) not null, "json_schema" jsonb null, "tombstone_retention_days" int not null default 30, "created_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`alter table "sync"."collection" add constraint "collection_tenant_id_name_unique" unique ("tenant_id", "name");`);

    this.addSql(`create table "sync"."push_receipt" ("tenant_id" uuid not null, "client_id" varchar(200) not null, "mutation_id" varchar(200) not null, "result" jsonb not null, "created_at" timestamptz not null, primary key ("tenant_id", "client_id", "mutation_id"));`);

    this.addSql(`create table "sync"."record" ("tenant_id" uuid not null, "collection" varchar(100) not null, "id" varchar(200) not null, "data" jsonb not null, "deleted" boolean not null, "version" int not null, "seq" bigint not null, "updated_at" timestamptz not null, "origin_client_id" varchar(200) null, "origin_user_id" uuid null, primary key ("tenant_id", "collection", "id"));`);
    this.addSql(`create index "record_tenant_id_seq_index" on "sync"."record" ("tenant_id", "seq");`);

    this.addSql(`create table "sync"."tenant_seq" ("tenant_id" uuid not null, "value" bigint not null, primary key ("tenant_id"));`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "sync"."collection" cascade;`);
    this.addSql(`drop table if exists "sync"."push_receipt" cascade;`);
    this.addSql(`drop table if exists "sync"."record" cascade;`);
    this.addSql(`drop table if exists "sync"."tenant_seq" cascade;`);
  }

}
