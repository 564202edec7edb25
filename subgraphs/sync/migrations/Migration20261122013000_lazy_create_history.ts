import { Migration } from '@mikro-orm/migrations';

export class Migration20261122013000_lazy_create_history extends Migration {

  override name = 'Migration20261122013000_lazy_create_history';

  override up(): void | Promise<void> {
    this.addSql(`alter table "sync"."record" add "origin_actor_type" varchar(20) null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "sync"."record" drop column "origin_actor_type";`);
  }

}
