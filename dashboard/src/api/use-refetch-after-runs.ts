import { useEffect, useRef, useState } from "react";
import type { RunSummaryFragment } from "../__generated__/graphql.js";
import { useLiveRuns } from "./provider.js";

const MAX_ATTEMPTS = 6; // 0.25 + 0.5 + 1 + 2 + 4 + 8 s

/**
 * Re-reads a page's data when runs it shows end (seen on the live feed), until the data shows their end. A connector
 * run's end reaches the sync log (and so the feed) a moment before the connectors service has updated the mappings'
 * last run and record counts, so one immediate re-read can still be stale: `settled(runId)` tells, on the data as it
 * is now, whether it already reflects the run; if not, it is read again with backoff (a few times at most).
 */
export function useRefetchAfterRuns(opts: {
  relevant: (run: RunSummaryFragment) => boolean;
  settled: (runId: string) => boolean;
  refetch: () => void;
  /** The data `settled` looks at (its identity changes when it was read again). */
  data: unknown;
}): void {
  const { finished, runs } = useLiveRuns();
  const [pending, setPending] = useState<{ ids: string[]; attempt: number } | null>(null);
  const handled = useRef(finished.length);
  const latest = useRef(opts);
  latest.current = opts;

  useEffect(() => {
    if (finished.length === handled.current) return;
    const ended = finished.slice(handled.current).filter((id) => {
      const run = runs.get(id);
      return run && latest.current.relevant(run);
    });
    handled.current = finished.length;
    if (ended.length) setPending((p) => ({ ids: [...new Set([...(p?.ids ?? []), ...ended])], attempt: 0 }));
  }, [finished.length]);

  useEffect(() => {
    if (!pending) return;
    const waiting = pending.ids.filter((id) => !latest.current.settled(id));
    if (!waiting.length || pending.attempt >= MAX_ATTEMPTS) {
      setPending(null);
      return;
    }
    const timer = setTimeout(() => {
      latest.current.refetch();
      setPending({ ids: waiting, attempt: pending.attempt + 1 });
    }, 250 * 2 ** pending.attempt);
    return () => clearTimeout(timer);
  }, [pending, opts.data]);
}
