import type { AuditRecorder } from "../../kernel/audit.js";
import type { ServiceContext } from "../../kernel/context.js";
import type { ChangeFeeds } from "./records/change-feed.js";
import type { RecordsService } from "./records/records.service.js";
import type { SyncRunService } from "./sync-log/sync-run.service.js";

/** The sync service's request context. */
export interface SyncContext extends ServiceContext {
  audit: AuditRecorder;
  syncRuns: SyncRunService;
  records: RecordsService;
  feeds: ChangeFeeds;
}
