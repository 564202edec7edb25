import { Migration } from '@mikro-orm/migrations';

export class Migration20261121132712_initial extends Migration {

  override name = 'Migration20261121132712_initial';

  override up(): void | Promise<void> {
    this.addSql(`create schema if not exists "tenants";`);
    this.addSql(`create type "tenants"."tenant_status" as enum ('TRIAL', 'ACTIVE', 'SUSPENDED', 'DELETED');`);
    this.addSql(`create type "tenants"."plan" as enum ('FREE', 'STARTER', 'PRO', 'ENTERPRISE');`);
    this.addSql(`create type "tenants"."user_status" as enum ('ACTIVE', 'DISABLED');`);
    this.addSql(`create table "tenants"."signing_key" ("kid" varchar(64) not null, "algorithm" varchar(16) not null, "public_jwk" jsonb not null, "private_jwk" jsonb not null, "created_at" timestamptz not null, "retired_at" timestamptz null, primary key ("kid"));`);

    this.addSql(`create table "tenants"."tenant" ("id" uuid not null, "slug" varchar(63) not null, "name" varchar(200) not null, "status" "tenants"."tenant_status" not null default 'TRIAL', "plan" "tenants"."plan" not null default 'FREE', "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`alter table "tenants"."tenant" add constraint "tenant_slug_unique" unique ("slug");`);

    this.addSql(`create table "tenants"."user" ("id" uuid not null, "tenant_id" uuid not null, "email" varchar(320) not null, "display_name" varchar(200) not null, "password_hash" text not null, "roles" text[] not null, "status" "tenants"."user_status" not null default 'ACTIVE', "last_login_at" timestamptz null, "created_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`create index "user_tenant_id_index" on "tenants"."user" ("tenant_id");`);
    this.addSql(`alter table "tenants"."user" add constraint "user_tenant_id_email_unique" unique ("tenant_id", "email");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "tenants"."signing_key" cascade;`);
    this.addSql(`drop table if exists "tenants"."tenant" cascade;`);
    this.addSql(`drop table if exists "tenants"."user" cascade;`);

    this.addSql(`drop type "tenants"."tenant_status";`);
    this.addSql(`drop type "tenants"."plan";`);
    this.addSql(`drop type "tenants"."user_status";`);
    this.addSql(`drop schema if exists "tenants";`);
  }

}
