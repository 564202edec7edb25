import { Migration } from '@mikro-orm/migrations';

export class Migration20261121163704_audit_outbox extends Migration {

  override name = 'Migration20261121163704_audit_outbox';

  override up(): void | Promise<void> {
    this.addSql(`create table "tenants"."audit_outbox" ("id" uuid not null, "tenant_id" uuid not null, "payload" jsonb not null, "created_at" timestamptz not null, "attempts" int not null default 0, "next_attempt_at" timestamptz not null, "delivered_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "audit_outbox_delivered_at_next_attempt_at_index" on "tenants"."audit_outbox" ("delivered_at", "next_attempt_at");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "tenants"."audit_outbox" cascade;`);
  }

}
