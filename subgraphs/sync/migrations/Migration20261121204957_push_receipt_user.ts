import { Migration } from '@mikro-orm/migrations';

export class Migration20261121204957_push_receipt_user extends Migration {

  override name = 'Migration20261121204957_push_receipt_user';

  override up(): void | Promise<void> {
    this.addSql(`alter table "sync"."push_receipt" add "user_id" uuid null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "sync"."push_receipt" drop column "user_id";`);
  }

}
