import { Migration } from '@mikro-orm/migrations';

export class Migration20261121175139_retention_boundary extends Migration {

  override name = 'Migration20261121175139_retention_boundary';

  override up(): void | Promise<void> {
    this.addSql(`create table "audit"."audit_chain_boundary" ("tenant_id" uuid not null, "chain_seq" bigint not null, "hash" varchar(64) not null, "cut_at" timestamptz not null, primary key ("tenant_id"));`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "audit"."audit_chain_boundary" cascade;`);
  }

}
