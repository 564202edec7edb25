// Bounded HTTP load with autocannon, run in a worker thread so that the load generator does not share an event loop
// with the in-process stack it measures. Latencies are collected per response (autocannon's own summary has no p95).
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import autocannon from "autocannon";

export interface LoadOptions {
  url: string;
  headers: Record<string, string>;
  body: string;
  connections: number;
  seconds: number;
}

export interface LoadResult {
  requestsPerSecond: number;
  requests: number;
  /** Responses that were not 2xx, plus socket errors and timeouts: must be 0 for the figures to mean anything. */
  failures: number;
  p50Ms: number;
  p95Ms: number;
}

/** Runs `opts` against the URL from a worker thread; resolves when the load has finished. */
export function runLoad(opts: LoadOptions): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: opts });
    worker.once("message", resolve);
    worker.once("error", reject);
    worker.once("exit", (code) => code !== 0 && reject(new Error(`load worker exited with ${code}`)));
  });
}

if (!isMainThread) {
  const opts = workerData as LoadOptions;
  const latencies: number[] = [];
  let responses = 0;
  // In a worker thread autocannon returns its raw, unaggregated result: the counts below come from its events.
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const options = { url: opts.url, method: "POST" as const, headers: opts.headers, body: opts.body, connections: opts.connections, duration: opts.seconds };
    const instance = autocannon(options, (err, res) => (err ? reject(err) : resolve(res)));
    instance.on("response", (_client, statusCode, _bytes, responseTime) => {
      responses++;
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    });
  });
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  const summary: LoadResult = {
    requestsPerSecond: latencies.length / result.duration,
    requests: latencies.length,
    failures: responses - latencies.length + result.errors + result.timeouts,
    p50Ms: at(0.5),
    p95Ms: at(0.95),
  };
  parentPort!.postMessage(summary);
}
