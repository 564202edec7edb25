import { Migration } from '@mikro-orm/migrations';

export class Migration20261121135942_roles extends Migration {

  override name = 'Migration20261121135942_roles';

  override up(): void | Promise<void> {
    this.addSql(`create table "tenants"."collection_grant" ("id" uuid not null, "tenant_id" uuid not null, "role_id" uuid not null, "collection" varchar(100) not null, "can_push" boolean not null default false, "can_pull" boolean not null default false, "row_filters" jsonb not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`create index "collection_grant_tenant_id_index" on "tenants"."collection_grant" ("tenant_id");`);
    this.addSql(`alter table "tenants"."collection_grant" add constraint "collection_grant_role_id_collection_unique" unique ("role_id", "collection");`);

    this.addSql(`create table "tenants"."role" ("id" uuid not null, "tenant_id" uuid not null, "name" varchar(100) not null, "description" varchar(500) null, "permissions" text[] not null, "system" boolean not null default false, "deleted_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`create unique index "role_tenant_id_name_unique" on "tenants"."role" ("tenant_id", "name") where "deleted_at" is null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "tenants"."collection_grant" cascade;`);
    this.addSql(`drop table if exists "tenants"."role" cascade;`);
  }

}
