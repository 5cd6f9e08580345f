/**
 * A minimal leveled logger: one line per event with its time, level and
 * component, as text or as one JSON object per line (`--log-format json`).
 * Info and debug go to stdout, warnings and errors to stderr.
 *
 * @module
 */

import type { LogFormat, LogLevel } from "../config/mod.ts";
import type { StatusLine } from "./status_line.ts";

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Extra values of an event, kept as JSON fields (text lines leave them out: the message says it). */
export type LogFields = Record<string, unknown>;

/** Leveled log functions of one component. */
export interface Logger {
  /** Details for troubleshooting. */
  debug(message: string, fields?: LogFields): void;
  /** Normal events (start, stop, progress). */
  info(message: string, fields?: LogFields): void;
  /** Something is wrong but the process carries on. */
  warn(message: string, fields?: LogFields): void;
  /** Something failed. */
  error(message: string, fields?: LogFields): void;
}

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  /** Drop messages below this level (default `"info"`). */
  level?: LogLevel;
  /** `"text"` (default) or `"json"`. */
  format?: LogFormat;
  /** A terminal status block to keep below the lines. */
  status?: StatusLine;
  /** Writes a stdout line (default `console.log`). */
  out?: (line: string) => void;
  /** Writes a stderr line (default `console.error`). */
  err?: (line: string) => void;
  /** The time of a line (default now). */
  now?: () => Date;
}

const TEXT_LEVEL: Record<LogLevel, string> = {
  debug: "DEBUG",
  info: "INFO ",
  warn: "WARN ",
  error: "ERROR",
};

function jsonValue(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

/**
 * One line of `format`: `2026-11-26T23:19:09.123Z INFO  data_manager: …`,
 * or `{"time":…,"level":"info","component":"data_manager","msg":…,…fields}`.
 */
export function formatLogLine(
  format: LogFormat,
  event: {
    time: Date;
    level: LogLevel;
    component: string;
    message: string;
    fields?: LogFields;
  },
): string {
  if (format === "json") {
    return JSON.stringify({
      time: event.time.toISOString(),
      level: event.level,
      component: event.component,
      msg: event.message,
      ...event.fields,
    }, jsonValue);
  }
  return `${event.time.toISOString()} ${
    TEXT_LEVEL[event.level]
  } ${event.component}: ${event.message}`;
}

/**
 * A logger for `component` (the role, e.g. `"data_manager"`, or a part of
 * it, e.g. `"strategy"`); `options` may be just the level.
 */
export function createLogger(
  component: string,
  options: LoggerOptions | LogLevel = {},
): Logger {
  const {
    level = "info",
    format = "text",
    status,
    out = console.log,
    err = console.error,
    now = () => new Date(),
  } = typeof options === "string" ? { level: options } : options;
  const min = RANK[level];
  const emit = (at: LogLevel, write: (line: string) => void) =>
    RANK[at] < min ? () => {} : (message: string, fields?: LogFields) => {
      const line = formatLogLine(format, {
        time: now(),
        level: at,
        component,
        message,
        fields,
      });
      if (status) status.print(line, write);
      else write(line);
    };
  return {
    debug: emit("debug", out),
    info: emit("info", out),
    warn: emit("warn", err),
    error: emit("error", err),
  };
}
