import { Migration } from '@mikro-orm/migrations';

export class Migration20261121175131_audit_retention extends Migration {

  override name = 'Migration20261121175131_audit_retention';

  override up(): void | Promise<void> {
    this.addSql(`alter table "tenants"."tenant" add "audit_retention_override_days" int null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "tenants"."tenant" drop column "audit_retention_override_days";`);
  }

}
