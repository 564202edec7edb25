import { pino, type Logger } from "pino";

/** Structured JSON logs; one root logger per process, children per service. */
export function createLogger(level: string = "info", bindings: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { ...bindings },
    redact: {
      paths: ["req.headers.authorization", "headers.authorization", "authorization", "password", "*.password", "token", "*.token"],
      censor: "[redacted]",
    },
  });
}
export type { Logger };
