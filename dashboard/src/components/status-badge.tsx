import type { ConnectorHealth } from "../__generated__/graphql.js";
import { healthLabel, healthTone, runLabel, runTone } from "../lib/status.js";

/** A run's status as a coloured pill; running ones pulse. `null`: never run (grey). */
export function StatusBadge({ status }: { status: string | null | undefined }) {
  const tone = runTone(status);
  return (
    <span className={`badge tone-${tone}`} data-status={status ?? "NEVER"}>
      <span className="dot" aria-hidden="true" />
      {runLabel(status)}
    </span>
  );
}

export function HealthBadge({ health }: { health: ConnectorHealth }) {
  return (
    <span className={`badge tone-${healthTone(health)}`} data-health={health}>
      <span className="dot" aria-hidden="true" />
      {healthLabel(health)}
    </span>
  );
}
