import { Migration } from '@mikro-orm/migrations';

export class Migration20261208004604_remote_state extends Migration {

  override name = 'Migration20261208004604_remote_state';

  override up(): void | Promise<void> {
    this.addSql(`alter table "connectors"."remote_link" add "remote_state" jsonb null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "connectors"."remote_link" drop column "remote_state";`);
  }

}
