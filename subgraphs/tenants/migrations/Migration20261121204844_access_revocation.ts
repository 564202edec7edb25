import { Migration } from '@mikro-orm/migrations';

export class Migration20261121204844_access_revocation extends Migration {

  override name = 'Migration20261121204844_access_revocation';

  override up(): void | Promise<void> {
    this.addSql(`alter table "tenants"."user" add "access_tokens_valid_after" timestamptz null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "tenants"."user" drop column "access_tokens_valid_after";`);
  }

}
