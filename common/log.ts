/**
 * A minimal leveled logger: one line per event, prefixed with the role;
 * info and debug go to stdout, warnings and errors to stderr.
 *
 * @module
 */

import type { LogLevel } from "./config/mod.ts";

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Leveled log functions of one component. */
export interface Logger {
  /** Details for troubleshooting. */
  debug(message: string): void;
  /** Normal events (start, stop, progress). */
  info(message: string): void;
  /** Something is wrong but the process carries on. */
  warn(message: string): void;
  /** Something failed. */
  error(message: string): void;
}

/** A logger for `component` that drops messages below `level`. */
export function createLogger(component: string, level: LogLevel): Logger {
  const min = RANK[level];
  const out = (at: LogLevel, write: (line: string) => void, tag: string) =>
    RANK[at] < min
      ? () => {}
      : (message: string) => write(`${component}: ${tag}${message}`);
  return {
    debug: out("debug", console.log, "debug: "),
    info: out("info", console.log, ""),
    warn: out("warn", console.error, "warning: "),
    error: out("error", console.error, "error: "),
  };
}
