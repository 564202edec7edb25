import { Migration } from '@mikro-orm/migrations';

export class Migration20261208013907_role_name_unique_ignoring_case extends Migration {

  override name = 'Migration20261208013907_role_name_unique_ignoring_case';

  override up(): void | Promise<void> {
    this.addSql(`drop index "tenants"."role_tenant_id_name_unique";`);
    this.addSql(`create unique index "role_tenant_id_lower_name_unique" on "tenants"."role" ("tenant_id", lower("name")) where "deleted_at" is null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index "tenants"."role_tenant_id_lower_name_unique";`);
    this.addSql(`create unique index "role_tenant_id_name_unique" on "tenants"."role" ("tenant_id", "name") where deleted_at IS NULL;`);
  }

}
