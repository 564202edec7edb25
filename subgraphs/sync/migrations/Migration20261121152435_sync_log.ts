import { Migration } from '@mikro-orm/migrations';

export class Migration20261121152435_sync_log extends Migration {

  override name = 'Migration20261121152435_sync_log';

  override up(): void | Promise<void> {
    this.addSql(`create type "sync"."sync_run_actor_type" as enum ('USER', 'API_KEY', 'CONNECTOR', 'SERVICE');`);
    this.addSql(`drop index "sync"."sync_run_connector_id_index";`);
    this.addSql(`drop index "sync"."sync_run_tenant_id_created_at_index";`);
    this.addSql(`alter table "sync"."sync_run" add "actor_type" "sync"."sync_run_actor_type" not null default 'USER', add "api_key_id" uuid null, add "client_id" varchar(200) null, add "collections" text[] not null default '{}', add "parameters" jsonb null, add "rejected" int not null default 0, add "errors" jsonb not null default '[]', add "error_count" int not null default 0, add "duration_ms" int null;`);
    this.addSql(`alter table "sync"."sync_run" alter column "created_at" type timestamptz(3) using ("created_at"::timestamptz(3));`);
    this.addSql(`create index "sync_run_tenant_id_client_id_created_at_id_index" on "sync"."sync_run" ("tenant_id", "client_id", "created_at", "id");`);
    this.addSql(`create index "sync_run_tenant_id_triggered_by_id_created_at_id_index" on "sync"."sync_run" ("tenant_id", "triggered_by_id", "created_at", "id");`);
    this.addSql(`create index "sync_run_tenant_id_connector_id_created_at_id_index" on "sync"."sync_run" ("tenant_id", "connector_id", "created_at", "id");`);
    this.addSql(`create index "sync_run_tenant_id_status_created_at_id_index" on "sync"."sync_run" ("tenant_id", "status", "created_at", "id");`);
    this.addSql(`create index "sync_run_tenant_id_kind_created_at_id_index" on "sync"."sync_run" ("tenant_id", "kind", "created_at", "id");`);
    this.addSql(`create index "sync_run_tenant_id_created_at_id_index" on "sync"."sync_run" ("tenant_id", "created_at", "id");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index "sync"."sync_run_tenant_id_client_id_created_at_id_index";`);
    this.addSql(`drop index "sync"."sync_run_tenant_id_triggered_by_id_created_at_id_index";`);
    this.addSql(`drop index "sync"."sync_run_tenant_id_connector_id_created_at_id_index";`);
    this.addSql(`drop index "sync"."sync_run_tenant_id_status_created_at_id_index";`);
    this.addSql(`drop index "sync"."sync_run_tenant_id_kind_created_at_id_index";`);
    this.addSql(`drop index "sync"."sync_run_tenant_id_created_at_id_index";`);
    this.addSql(`alter table "sync"."sync_run" drop column "actor_type", drop column "api_key_id", drop column "client_id", drop column "collections", drop column "parameters", drop column "rejected", drop column "errors", drop column "error_count", drop column "duration_ms";`);
    this.addSql(`alter table "sync"."sync_run" alter column "created_at" type timestamptz(6) using ("created_at"::timestamptz(6));`);
    this.addSql(`create index "sync_run_connector_id_index" on "sync"."sync_run" ("connector_id");`);
    this.addSql(`create index "sync_run_tenant_id_created_at_index" on "sync"."sync_run" ("tenant_id", "created_at");`);

    this.addSql(`drop type "sync"."sync_run_actor_type";`);
  }

}
