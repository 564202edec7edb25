import { Migration } from '@mikro-orm/migrations';

export class Migration20261121141922_key_activation extends Migration {

  override name = 'Migration20261121141922_key_activation';

  override up(): void | Promise<void> {
    this.addSql(`alter table "tenants"."signing_key" add "activates_at" timestamptz null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "tenants"."signing_key" drop column "activates_at";`);
  }

}
