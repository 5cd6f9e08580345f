/**
 * A logger that keeps its lines, for tests that check what was logged.
 *
 * @module
 */

import type { Logger } from "../common/runtime/log.ts";

/** A {@linkcode Logger} that records `"level: message"` lines in `lines`. */
export function captureLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const push = (level: string) => (message: string) =>
    lines.push(`${level}: ${message}`);
  return {
    log: {
      debug: push("debug"),
      info: push("info"),
      warn: push("warn"),
      error: push("error"),
    },
    lines,
  };
}
