import { Migration } from '@mikro-orm/migrations';

export class Migration20261208003842_webhook_token extends Migration {

  override name = 'Migration20261208003842_webhook_token';

  override up(): void | Promise<void> {
    this.addSql(`create table "connectors"."webhook_rate" ("connector_id" uuid not null, "window_start" timestamptz not null, "hits" int not null default 0, primary key ("connector_id", "window_start"));`);

    this.addSql(`create table "connectors"."webhook_token" ("connector_id" uuid not null, "tenant_id" uuid not null, "token_hash" varchar(64) not null, "created_at" timestamptz not null, "last_used_at" timestamptz null, primary key ("connector_id"));`);
    this.addSql(`create index "webhook_token_tenant_id_index" on "connectors"."webhook_token" ("tenant_id");`);
    this.addSql(`alter table "connectors"."webhook_token" add constraint "webhook_token_token_hash_unique" unique ("token_hash");`);

    this.addSql(`alter table "connectors"."connector" alter column "settings" set default '{"timeoutMs":30000,"retries":3,"requestsPerSecond":20,"overlapSeconds":120,"reconcileEveryMinutes":360,"webhookRequestsPerMinute":600}';`);
    // Existing connectors get the new settings' defaults (the GraphQL fields are non-null).
    this.addSql(`update "connectors"."connector" set "settings" = '{"overlapSeconds":120,"reconcileEveryMinutes":360,"webhookRequestsPerMinute":600}'::jsonb || "settings"::jsonb;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "connectors"."webhook_rate" cascade;`);
    this.addSql(`drop table if exists "connectors"."webhook_token" cascade;`);

    this.addSql(`alter table "connectors"."connector" alter column "settings" set default '{"retries": 3, "timeoutMs": 30000, "requestsPerSecond": 20}';`);
  }

}
