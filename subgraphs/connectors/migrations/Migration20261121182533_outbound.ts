import { Migration } from '@mikro-orm/migrations';

export class Migration20261121182533_outbound extends Migration {

  override name = 'Migration20261121182533_outbound';

  override up(): void | Promise<void> {
    this.addSql(`alter table "connectors"."connector_mapping" add "outbound_after" varchar(40) null, add "outbound" jsonb null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "connectors"."connector_mapping" drop column "outbound_after", drop column "outbound";`);
  }

}
