import { Migration } from '@mikro-orm/migrations';

export class Migration20261121171420_purged_tenant extends Migration {

  override name = 'Migration20261121171420_purged_tenant';

  override up(): void | Promise<void> {
    this.addSql(`create table "audit"."purged_tenant" ("tenant_id" uuid not null, "purged_at" timestamptz not null, primary key ("tenant_id"));`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "audit"."purged_tenant" cascade;`);
  }

}
