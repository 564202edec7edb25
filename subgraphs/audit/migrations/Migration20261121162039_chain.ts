import { Migration } from '@mikro-orm/migrations';

export class Migration20261121162039_chain extends Migration {

  override name = 'Migration20261121162039_chain';

  override up(): void | Promise<void> {
    this.addSql(`drop index "audit"."audit_event_tenant_id_actor_id_index";`);
    this.addSql(`drop index "audit"."audit_event_tenant_id_occurred_at_index";`);
    this.addSql(`alter table "audit"."audit_event" add "chain_seq" bigint null, add "hash" varchar(64) null;`);
    this.addSql(`create index "audit_event_tenant_id_action_prefix_index" on "audit"."audit_event" ("tenant_id", "action" varchar_pattern_ops, "occurred_at");`);
    this.addSql(`create index "audit_event_tenant_id_target_type_target_id_occurred_at_index" on "audit"."audit_event" ("tenant_id", "target_type", "target_id", "occurred_at");`);
    this.addSql(`create index "audit_event_tenant_id_actor_id_occurred_at_index" on "audit"."audit_event" ("tenant_id", "actor_id", "occurred_at");`);
    this.addSql(`create index "audit_event_tenant_id_occurred_at_id_index" on "audit"."audit_event" ("tenant_id", "occurred_at", "id");`);
    this.addSql(`alter table "audit"."audit_event" add constraint "audit_event_tenant_id_chain_seq_unique" unique ("tenant_id", "chain_seq");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index "audit"."audit_event_tenant_id_action_prefix_index";`);
    this.addSql(`drop index "audit"."audit_event_tenant_id_target_type_target_id_occurred_at_index";`);
    this.addSql(`drop index "audit"."audit_event_tenant_id_actor_id_occurred_at_index";`);
    this.addSql(`drop index "audit"."audit_event_tenant_id_occurred_at_id_index";`);
    this.addSql(`alter table "audit"."audit_event" drop constraint "audit_event_tenant_id_chain_seq_unique";`);
    this.addSql(`alter table "audit"."audit_event" drop column "chain_seq", drop column "hash";`);
    this.addSql(`create index "audit_event_tenant_id_actor_id_index" on "audit"."audit_event" ("tenant_id", "actor_id");`);
    this.addSql(`create index "audit_event_tenant_id_occurred_at_index" on "audit"."audit_event" ("tenant_id", "occurred_at");`);
  }

}
