import { Migration } from '@mikro-orm/migrations';

export class Migration20261121132733_initial extends Migration {

  override name = 'Migration20261121132733_initial';

  override up(): void | Promise<void> {
    this.addSql(`create schema if not exists "audit";`);
    this.addSql(`create type "audit"."actor_type" as enum ('USER', 'API_KEY', 'SERVICE', 'ANONYMOUS');`);
    this.addSql(`create table "audit"."audit_event" ("id" uuid not null, "tenant_id" uuid not null, "actor_type" "audit"."actor_type" not null, "actor_id" uuid null, "action" varchar(100) not null, "target_type" varchar(100) null, "target_id" varchar(100) null, "request_id" varchar(128) null, "changes" jsonb null, "metadata" jsonb null, "occurred_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`create index "audit_event_tenant_id_actor_id_index" on "audit"."audit_event" ("tenant_id", "actor_id");`);
    this.addSql(`create index "audit_event_tenant_id_occurred_at_index" on "audit"."audit_event" ("tenant_id", "occurred_at");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "audit"."audit_event" cascade;`);

    this.addSql(`drop type "audit"."actor_type";`);
    this.addSql(`drop schema if exists "audit";`);
  }

}
