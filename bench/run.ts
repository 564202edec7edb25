// `npm run bench`: runs the exported run() of every *.bench.js file beside this one (in dist/bench) in turn and prints
// the figures each returns. Exits by itself: a leftover handle cannot keep it running.
// BENCH=sync (or a comma-separated list, e.g. BENCH=sync,gateway-guards) runs only the benches whose file name starts
// with one of the given names.
import { readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";

interface BenchModule {
  name?: string;
  run(): Promise<Record<string, string | number>>;
}

const dir = fileURLToPath(new URL(".", import.meta.url));
const only = (process.env.BENCH ?? "").split(",").map((s) => s.trim()).filter(Boolean);
const files = (await readdir(dir)).filter((f) => f.endsWith(".bench.js") && (!only.length || only.some((o) => f.startsWith(o)))).sort();
if (!files.length) {
  process.stderr.write(`no bench matches BENCH=${process.env.BENCH}\n`);
  process.exit(1);
}
let failed = false;
for (const file of files) {
  const bench = (await import(new URL(file, import.meta.url).href)) as BenchModule;
  process.stdout.write(`\n${file}: ${bench.name ?? ""}\n`);
  try {
    const figures = await bench.run();
    const width = Math.max(...Object.keys(figures).map((k) => k.length));
    for (const [key, value] of Object.entries(figures)) process.stdout.write(`  ${key.padEnd(width)}  ${value}\n`);
  } catch (err) {
    failed = true;
    process.stdout.write(`  FAILED: ${err instanceof Error ? err.stack : String(err)}\n`);
  }
}
process.exitCode = failed ? 1 : 0;
setTimeout(() => process.exit(), 5_000).unref();
