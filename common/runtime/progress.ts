/**
 * Progress output of both roles: on a terminal, a status block redrawn in
 * place (rate, totals, lag, latency); otherwise, or with JSON logs, plain
 * log lines every progress interval. Lines to keep (losses, gaps) are log
 * lines on both.
 *
 * @module
 */

import type { LogConfig } from "../config/mod.ts";
import { createLogger, type LogFields, type Logger } from "./log.ts";
import { StatusLine } from "./status_line.ts";

/** How often a terminal status block is redrawn at most, ms. */
export const TERMINAL_REFRESH_MS = 1000;

/** One progress line: its text, and the figures as JSON log fields. */
export interface ProgressLine {
  /** The line as text. */
  text: string;
  /** The same figures for `--log-format json`. */
  fields?: LogFields;
  /**
   * A line to keep, not redraw (a loss, a gap): logged as a warning on both
   * paths; on a terminal printed above the status block, which the next
   * redraw does not erase.
   *
   * @default {false}
   */
  keep?: boolean;
}

/** What a progress report is made for. */
export interface ProgressContext {
  /** The terminal's width when the lines are drawn in a status block; undefined when they are logged. */
  width?: number;
}

/** A role's logger, and the status block when stdout is a terminal. */
export interface RoleOutput {
  /** The role's logger (keeps the status block below its lines). */
  log: Logger;
  /** The terminal status block, or undefined when stdout is not a terminal or logs are JSON. */
  status: StatusLine | undefined;
}

/**
 * The logger of `component` for `config`, with a status block when stdout is
 * a terminal (`terminal` overrides the detection) and the format is text.
 */
export function roleOutput(
  component: string,
  config: LogConfig,
  options: { terminal?: boolean } = {},
): RoleOutput {
  const terminal = options.terminal ?? Deno.stdout.isTerminal();
  const status = terminal && config.format === "text"
    ? new StatusLine()
    : undefined;
  return {
    log: createLogger(component, { ...config, status }),
    status,
  };
}

/** Options of {@linkcode startProgress}. */
export interface ProgressOptions {
  /** Time between plain progress lines, ms; 0 = no progress. */
  intervalMs: number;
  /** Where plain lines go. */
  log: Logger;
  /** Draw here instead (a terminal): redrawn every second, or every interval if shorter. */
  status?: StatusLine;
}

/** A running progress report; {@linkcode ProgressReport.stop} ends it. */
export interface ProgressReport {
  /** Stops reporting and erases the status block. */
  stop(): void;
}

/**
 * Calls `lines(seconds since the last call, context)` periodically and shows
 * the result: in the status block (`context.width` its width), or as info log
 * lines; the lines to keep ({@linkcode ProgressLine.keep}) as warnings
 * either way.
 */
export function startProgress(
  lines: (seconds: number, context: ProgressContext) => ProgressLine[],
  options: ProgressOptions,
): ProgressReport {
  const { intervalMs, log, status } = options;
  if (intervalMs <= 0) return { stop: () => status?.clear() };
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const report = lines((now - last) / 1000, { width: status?.width });
    last = now;
    const block: string[] = [];
    for (const line of report) {
      if (line.keep) log.warn(line.text, line.fields);
      else if (status) block.push(line.text);
      else log.info(line.text, line.fields);
    }
    status?.show(block);
  }, status ? Math.min(intervalMs, TERMINAL_REFRESH_MS) : intervalMs);
  return {
    stop() {
      clearInterval(timer);
      status?.clear();
    },
  };
}
