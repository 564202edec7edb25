import { Migration } from '@mikro-orm/migrations';

export class Migration20261122013000_lazy_create_history extends Migration {

  override name = 'Migration20261122013000_lazy_create_history';

  override up(): void | Promise<void> {
    this.addSql(`alter table "sync"."record" add "origin_actor_type" varchar(20) null;`);
    // A record's versions: the history rows, and the creation of each record still at version 1 written since this
    // migration (origin_actor_type set), which has no history row until its first change (record-writer.ts).
    this.addSql(`create view "sync"."record_versions" as
      select h.tenant_id, h.collection, h.record_id, h.version, h.seq, h.operation, h.changes, h.at, h.actor_type, h.actor_id, h.client_id, h.sync_run_id
        from "sync"."record_history" h
      union all
      select r.tenant_id, r.collection, r.id, 1, r.seq, 'CREATE'::"sync"."record_operation", null::jsonb, r.updated_at, r.origin_actor_type, r.origin_user_id, r.origin_client_id, r.origin_run_id
        from "sync"."record" r where r.version = 1 and r.origin_actor_type is not null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop view "sync"."record_versions";`);
    this.addSql(`alter table "sync"."record" drop column "origin_actor_type";`);
  }

}
