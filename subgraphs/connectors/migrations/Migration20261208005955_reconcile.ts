import { Migration } from '@mikro-orm/migrations';

export class Migration20261208005955_reconcile extends Migration {

  override name = 'Migration20261208005955_reconcile';

  override up(): void | Promise<void> {
    this.addSql(`alter table "connectors"."connector_mapping" add "reconciled_at" timestamptz null;`);

    this.addSql(`alter table "connectors"."remote_link" add "remote_version" varchar(40) null;`);
    this.addSql(`create index "remote_link_numeric_id_index" on "connectors"."remote_link" ("mapping_id", (("remote_id")::bigint)) where "remote_id" ~ '^[0-9]{1,18}\$';`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "connectors"."connector_mapping" drop column "reconciled_at";`);

    this.addSql(`drop index "connectors"."remote_link_numeric_id_index";`);
    this.addSql(`alter table "connectors"."remote_link" drop column "remote_version";`);
  }

}
