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
  const { runs } = useLiveRuns();
  const [pending, setPending] = useState<{ ids: string[]; attempt: number } | null>(null);
  const latest = useRef(opts);
  latest.current = opts;

  useRunsEnded((ended) => {
    const ids = ended.filter((id) => {
      const run = runs.get(id);
      return run && latest.current.relevant(run);
    });
    if (ids.length) setPending((p) => ({ ids: [...new Set([...(p?.ids ?? []), ...ids])], attempt: 0 }));
  });

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

/** Calls `onEnded` with the ids of the runs that ended on the live feed since the last call (those still kept). */
function useRunsEnded(onEnded: (ids: string[]) => void): void {
  const { finished, finishedTotal } = useLiveRuns();
  const handled = useRef(finishedTotal);
  const latest = useRef(onEnded);
  latest.current = onEnded;
  useEffect(() => {
    const count = finishedTotal - handled.current;
    handled.current = finishedTotal;
    if (count > 0) latest.current(finished.slice(-Math.min(count, finished.length)));
  }, [finishedTotal]);
}

/**
 * Re-reads aggregates (charts, totals) when relevant runs end, at most once per `intervalMs`: a tenant's devices may
 * push many times a second, and each push is a run. The last end in a burst is always followed by a read.
 */
export function useThrottledRefetchOnRunsEnded(opts: { relevant: (run: RunSummaryFragment) => boolean; refetch: () => void; intervalMs: number }): void {
  const { runs } = useLiveRuns();
  const latest = useRef(opts);
  latest.current = opts;
  const lastRead = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => void (timer.current && clearTimeout(timer.current)), []);
  useRunsEnded((ended) => {
    if (!ended.some((id) => runs.has(id) && latest.current.relevant(runs.get(id)!))) return;
    if (timer.current) return; // a read is already scheduled: it will see this end too
    const wait = Math.max(0, lastRead.current + latest.current.intervalMs - Date.now());
    timer.current = setTimeout(() => {
      timer.current = null;
      lastRead.current = Date.now();
      latest.current.refetch();
    }, wait);
  });
}
