import { Migration } from '@mikro-orm/migrations';

export class Migration20261121132730_initial extends Migration {

  override name = 'Migration20261121132730_initial';

  override up(): void | Promise<void> {
    this.addSql(`create schema if not exists "connectors";`);
    this.addSql(`create type "connectors"."connector_kind" as enum ('ODOO', 'MOODLE');`);
    this.addSql(`create type "connectors"."connector_health" as enum ('UNKNOWN', 'HEALTHY', 'DEGRADED', 'UNREACHABLE');`);
    this.addSql(`create table "connectors"."connector" ("id" uuid not null, "tenant_id" uuid not null, "kind" "connectors"."connector_kind" not null, "name" varchar(200) not null, "base_url" varchar(2048) not null, "health" "connectors"."connector_health" not null default 'UNKNOWN', "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`create index "connector_tenant_id_index" on "connectors"."connector" ("tenant_id");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "connectors"."connector" cascade;`);

    this.addSql(`drop type "connectors"."connector_kind";`);
    this.addSql(`drop type "connectors"."connector_health";`);
    this.addSql(`drop schema if exists "connectors";`);
  }

}
