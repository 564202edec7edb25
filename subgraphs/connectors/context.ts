import type { AuditRecorder } from "../../kernel/audit.js";
import type { ServiceContext } from "../../kernel/context.js";
import type { SecretBox } from "./connector/secret-box.js";
import type { ConnectorRuns } from "./jobs/run.service.js";
import type { SourceFactory } from "./jobs/sync-job.js";
import type { ConnectorJobs } from "./jobs/connector-jobs.js";

/** The connectors service's request context. */
export interface ConnectorsContext extends ServiceContext {
  audit: AuditRecorder;
  /** Seals and opens connector secrets (credentials, webhook secrets). */
  box: SecretBox;
  runs: ConnectorRuns;
  jobs: ConnectorJobs;
  sources: SourceFactory;
}
