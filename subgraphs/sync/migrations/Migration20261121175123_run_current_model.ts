import { Migration } from '@mikro-orm/migrations';

export class Migration20261121175123_run_current_model extends Migration {

  override name = 'Migration20261121175123_run_current_model';

  override up(): void | Promise<void> {
    this.addSql(`alter table "sync"."sync_run" add "current_model" varchar(200) null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "sync"."sync_run" drop column "current_model";`);
  }

}
