// What both simulators (and randomized tests) share: a seeded PRNG and the CLI lifecycle.

/** mulberry32: a tiny deterministic PRNG (the same seed gives the same sequence). Seed 0 is taken as a fixed constant. */
export function prng(seed: number): () => number {
  let a = seed >>> 0 || 0x9e3779b9;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A simulator run as a process: prints its one JSON line (what a controller needs to find it) and closes on
 * SIGTERM/SIGINT (a second signal exits at once).
 */
export function serveUntilSignal(sim: { close(): Promise<void> }, announce: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(announce)}\n`);
  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(1);
    stopping = true;
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
