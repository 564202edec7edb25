// What a webhook call does once it is authenticated: it is only a hint that a model changed. It never carries data
// into a collection (the payload's fields are ignored); it coalesces into an incremental run of that model, which
// reads the remote itself. At most one run per model is active and one more is remembered (`rerunRequested`), however
// many calls arrive: a bulk write in Odoo calls once per record.
import type { EntityManager } from "@mikro-orm/postgresql";
import type { Connector } from "../connector/connector.entity.js";
import { ConnectorModelLock } from "../jobs/connector-run.entity.js";
import type { ConnectorRuns } from "../jobs/run.service.js";
import type { ConnectorMapping } from "../mapping/mapping.entity.js";

/**
 * Seconds a run started by a webhook waits before it reads. Odoo posts its webhook from inside the transaction that
 * made the change (`ir.actions.server._run_action_webhook`, a synchronous request with a 1 s timeout), so an
 * immediate read could run before that transaction commits; every hint is followed by a run that starts at least
 * this long after it (the incremental window then still covers the change).
 */
export const WEBHOOK_RUN_DELAY_SECONDS = 2;

export interface HintOutcome {
  /** The run that will read the change: a new one, or the active one (a follow-up is then requested). */
  runId: string | null;
  /** QUEUED: a new run; COALESCED: a run of the model was active, one more follows it. */
  outcome: "QUEUED" | "COALESCED";
}

/** Coalesces a change hint for `mapping`'s model into a run (see above). `startRuns` false: only into an active run. */
export async function hintChanged(
  em: EntityManager,
  runs: ConnectorRuns,
  connector: Connector,
  mapping: ConnectorMapping,
  startRuns = true,
): Promise<HintOutcome | null> {
  const requestRerun = async () => {
    await em.execute("update connectors.connector_mapping set rerun_requested = true where id = ? and not rerun_requested", [mapping.id]);
  };
  const active = await em.findOne(ConnectorModelLock, { connectorId: connector.id, model: mapping.remoteModel });
  if (active) {
    // The active run may already be past the change (or may read before its commit): run once more after it.
    await requestRerun();
    return { runId: active.runId, outcome: "COALESCED" };
  }
  if (!startRuns) return null;
  try {
    const runId = await runs.start(em, connector, { models: [mapping.remoteModel] }, { type: "CONNECTOR", id: null }, undefined, { startAfterSeconds: WEBHOOK_RUN_DELAY_SECONDS });
    return { runId, outcome: "QUEUED" };
  } catch (err) {
    const ext = (err as { extensions?: { reason?: string; runId?: string } }).extensions;
    if (ext?.reason !== "SYNC_ALREADY_RUNNING") throw err;
    await requestRerun();
    return { runId: ext.runId ?? null, outcome: "COALESCED" };
  }
}
