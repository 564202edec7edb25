import { Migration } from '@mikro-orm/migrations';

export class Migration20261121143159_tenant_purge extends Migration {

  override name = 'Migration20261121143159_tenant_purge';

  override up(): void | Promise<void> {
    this.addSql(`alter table "tenants"."tenant" add "purged_at" timestamptz null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "tenants"."tenant" drop column "purged_at";`);
  }

}
