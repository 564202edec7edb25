import { Migration } from '@mikro-orm/migrations';

export class Migration20261121135642_identity extends Migration {

  override name = 'Migration20261121135642_identity';

  override up(): void | Promise<void> {
    this.addSql(`alter type "audit"."actor_type" add value if not exists 'PLATFORM_USER' after 'API_KEY';`);
  }

}
