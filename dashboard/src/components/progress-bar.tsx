import { runTone } from "../lib/status.js";

/**
 * A run's progress. Determinate when a total is known (`total`), otherwise an animated stripe while the run is active;
 * full once it ended, in its status colour.
 */
export function ProgressBar({ status, processed, total }: { status: string; processed: number; total: number | null }) {
  const active = status === "QUEUED" || status === "RUNNING";
  const fraction = !active ? 1 : total && total > 0 ? Math.min(1, processed / total) : null;
  return (
    <div
      className={`progress tone-${runTone(status)}${fraction === null ? " indeterminate" : ""}`}
      role="progressbar"
      aria-label="Run progress"
      aria-valuemin={0}
      aria-valuemax={total ?? undefined}
      aria-valuenow={total ? processed : undefined}
      aria-valuetext={active ? `${processed} records processed${total ? ` of about ${total}` : ""}` : status.toLowerCase()}
    >
      <div className="progress-fill" style={{ width: `${fraction === null ? 100 : Math.round(fraction * 1000) / 10}%` }} />
    </div>
  );
}
