import { Migration } from '@mikro-orm/migrations';

export class Migration20261121191354_run_error extends Migration {

  override name = 'Migration20261121191354_run_error';

  override up(): void | Promise<void> {
    this.addSql(`alter table "connectors"."connector_run" add "error" text null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "connectors"."connector_run" drop column "error";`);
  }

}
