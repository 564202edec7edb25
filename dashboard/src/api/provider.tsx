// React wiring: the session's clients, the live socket's state, and the tenant's live run feed (syncRunsUpdated) shared
// by every page.
import { createContext, useContext, useEffect, useMemo, useRef, useState, useSyncExternalStore, type ReactNode } from "react";
import { Provider as UrqlProvider, useSubscription, type CombinedError } from "urql";
import { RunsUpdatedDocument, type RunSummaryFragment, type RunsUpdatedSubscription } from "../__generated__/graphql.js";
import { createApiClients, type ApiClients, type LiveConnection, type LiveState } from "./client.js";

const LiveContext = createContext<LiveConnection | null>(null);

/** Clients for one signed-in session (`sessionKey`); disposed when the session ends or changes. */
export function ApiProvider({ sessionKey, children }: { sessionKey: string; children: ReactNode }) {
  // Created in an effect so that whatever creates also disposes (StrictMode mounts twice in development).
  const [clients, setClients] = useState<ApiClients | null>(null);
  useEffect(() => {
    const created = createApiClients();
    setClients(created);
    return () => created.dispose();
  }, [sessionKey]);
  if (!clients) return null;
  return (
    <UrqlProvider value={clients.client}>
      <LiveContext.Provider value={clients.live}>
        <LiveRunsProvider>{children}</LiveRunsProvider>
      </LiveContext.Provider>
    </UrqlProvider>
  );
}

/** The live socket: connecting, connected or reconnecting, and how many times it reconnected. */
export function useLive(): LiveState {
  const live = useContext(LiveContext);
  if (!live) throw new Error("useLive outside ApiProvider");
  return useSyncExternalStore(live.subscribe, live.get);
}

/** Calls `refetch` after every reconnect of the socket: what changed while it was down is read again. */
export function useRefetchOnReconnect(refetch: () => void): void {
  const { epoch } = useLive();
  const first = useRef(epoch);
  const latest = useRef(refetch);
  latest.current = refetch;
  useEffect(() => {
    if (epoch !== first.current) latest.current();
  }, [epoch]);
}

// ---- The tenant's live runs ------------------------------------------------------------------------------------------

export interface LiveRuns {
  /** Runs seen on the feed since sign-in, newest state of each: every active one, and the latest ended ones. */
  runs: ReadonlyMap<string, RunSummaryFragment>;
  /** Ids of the latest runs that reached a final state on the feed, in order. */
  finished: readonly string[];
  /** How many runs reached a final state since sign-in (pages refetch aggregates when it grows). */
  finishedTotal: number;
  error?: CombinedError;
}

const LiveRunsContext = createContext<LiveRuns>({ runs: new Map(), finished: [], finishedTotal: 0 });

const FINAL = new Set(["SUCCEEDED", "PARTIAL", "FAILED", "CANCELLED"]);
/**
 * Ended runs kept from the feed: a tenant whose devices push all day sends a run per push, and a dashboard left open
 * must not grow without bound. Active runs are always kept; pages read older runs from the API.
 */
export const KEPT_ENDED_RUNS = 300;

function LiveRunsProvider({ children }: { children: ReactNode }) {
  const [result] = useSubscription<RunsUpdatedSubscription, LiveRuns>({ query: RunsUpdatedDocument }, (prev, data) => {
    const run = data.syncRunsUpdated;
    const runs = new Map(prev?.runs ?? []);
    const before = runs.get(run.id);
    runs.set(run.id, freshest(before, run)!);
    const ended = FINAL.has(run.status) && !(before && FINAL.has(before.status));
    let finished = prev?.finished ?? [];
    if (ended) {
      finished = [...finished, run.id];
      if (finished.length > KEPT_ENDED_RUNS) {
        // The oldest ended runs leave both lists.
        for (const id of finished.slice(0, finished.length - KEPT_ENDED_RUNS)) runs.delete(id);
        finished = finished.slice(-KEPT_ENDED_RUNS);
      }
    }
    return { runs, finished, finishedTotal: (prev?.finishedTotal ?? 0) + (ended ? 1 : 0) };
  });
  const value = useMemo<LiveRuns>(
    () => ({ runs: result.data?.runs ?? new Map(), finished: result.data?.finished ?? [], finishedTotal: result.data?.finishedTotal ?? 0, error: result.error }),
    [result.data, result.error],
  );
  return <LiveRunsContext.Provider value={value}>{children}</LiveRunsContext.Provider>;
}

export const useLiveRuns = (): LiveRuns => useContext(LiveRunsContext);

/** The more recent of two states of one run (by updatedAt; a final state never goes back to an active one). */
export function freshest<T extends { status: string; updatedAt: string }>(a: T | null | undefined, b: T | null | undefined): T | null | undefined {
  if (!a) return b;
  if (!b) return a;
  if (FINAL.has(a.status) !== FINAL.has(b.status)) return FINAL.has(a.status) ? a : b;
  return Date.parse(b.updatedAt) >= Date.parse(a.updatedAt) ? b : a;
}
