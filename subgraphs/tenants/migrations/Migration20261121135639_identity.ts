import { Migration } from '@mikro-orm/migrations';

export class Migration20261121135639_identity extends Migration {

  override name = 'Migration20261121135639_identity';

  override up(): void | Promise<void> {
    this.addSql(`create type "tenants"."platform_role" as enum ('SUPER_ADMIN', 'ADMIN', 'SUPPORT');`);
    this.addSql(`create table "tenants"."api_key" ("id" uuid not null, "tenant_id" uuid not null, "name" varchar(200) not null, "prefix" varchar(16) not null, "secret_hash" varchar(64) not null, "scopes" text[] not null, "created_by_id" uuid not null, "expires_at" timestamptz null, "last_used_at" timestamptz null, "revoked_at" timestamptz null, "created_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`alter table "tenants"."api_key" add constraint "api_key_secret_hash_unique" unique ("secret_hash");`);
    this.addSql(`create index "api_key_tenant_id_created_at_index" on "tenants"."api_key" ("tenant_id", "created_at");`);

    this.addSql(`create table "tenants"."platform_user" ("id" uuid not null, "email" varchar(320) not null, "display_name" varchar(200) not null, "password_hash" text not null, "role" "tenants"."platform_role" not null, "active" boolean not null default true, "tokens_valid_after" timestamptz null, "created_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`alter table "tenants"."platform_user" add constraint "platform_user_email_unique" unique ("email");`);

    this.addSql(`create table "tenants"."refresh_token" ("id" uuid not null, "family_id" uuid not null, "tenant_id" uuid not null, "user_id" uuid not null, "secret_hash" varchar(64) not null, "expires_at" timestamptz not null, "used_at" timestamptz null, "revoked_at" timestamptz null, "created_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`create index "refresh_token_family_id_index" on "tenants"."refresh_token" ("family_id");`);
    this.addSql(`create index "refresh_token_user_id_index" on "tenants"."refresh_token" ("user_id");`);

    this.addSql(`alter table "tenants"."tenant" add "trial_ends_at" timestamptz null, add "suspended_at" timestamptz null, add "deleted_at" timestamptz null;`);

    this.addSql(`alter type "tenants"."user_status" add value if not exists 'INVITED' before 'ACTIVE';`);
    this.addSql(`alter table "tenants"."user" add "invite_token_hash" varchar(64) null, add "invite_expires_at" timestamptz null, add "tokens_valid_after" timestamptz null;`);
    this.addSql(`alter table "tenants"."user" add constraint "user_invite_token_hash_unique" unique ("invite_token_hash");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "tenants"."api_key" cascade;`);
    this.addSql(`drop table if exists "tenants"."platform_user" cascade;`);
    this.addSql(`drop table if exists "tenants"."refresh_token" cascade;`);

    this.addSql(`alter table "tenants"."tenant" drop column "trial_ends_at", drop column "suspended_at", drop column "deleted_at";`);

    this.addSql(`alter table "tenants"."user" drop constraint "user_invite_token_hash_unique";`);
    this.addSql(`alter table "tenants"."user" drop column "invite_token_hash", drop column "invite_expires_at", drop column "tokens_valid_after";`);

    this.addSql(`drop type "tenants"."platform_role";`);
  }

}
