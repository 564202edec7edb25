import { Migration } from '@mikro-orm/migrations';

export class Migration20261208010000_push_receipt_fingerprint extends Migration {

  override name = 'Migration20261208010000_push_receipt_fingerprint';

  override up(): void | Promise<void> {
    this.addSql(`alter table "sync"."push_receipt" add "fingerprint" varchar(64) null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "sync"."push_receipt" drop column "fingerprint";`);
  }

}
