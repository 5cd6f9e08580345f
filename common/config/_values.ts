/**
 * Value readers several sections share: bounded durations, non-negative
 * numbers, symbol lists, file paths, JetStream names, shared-memory prefixes,
 * each role's `[metrics]` table, HTTP hosts and bar interval lists.
 *
 * @module
 */

import { TomlDate } from "smol-toml";
import { formatDuration } from "./duration.ts";
import { parseBarInterval } from "./bar_interval.ts";
import { DEFAULT_SHM_PATH_PREFIX } from "./_defaults.ts";
import type { Section } from "./_reader.ts";
import { quoteValue } from "./quote.ts";
import { checkSymbolList } from "./symbols.ts";
import type { MetricsConfig } from "./types.ts";
import { exchangeStreamName } from "../wire/subjects.ts";

/** The range of counts and ids: 0 up to the largest exact integer. */
export const COUNT = { min: 0, max: Number.MAX_SAFE_INTEGER };

/** The shortest duration there is, in ms: durations count whole nanoseconds. */
export const NANOSECOND = 1e-6;

/** Allowed durations of a key, in ms: `min` to `max` (inclusive), or also "0" (= off) when `off`. */
export interface DurationRange {
  /** Shortest allowed, ms. */
  min: number;
  /** Longest allowed, ms (default: no limit). */
  max?: number;
  /** "0" is also allowed and means off. */
  off?: boolean;
}

/** What `range` allows, for messages: `a duration from 1ms to 10s`. */
function describeRange({ min, max, off }: DurationRange): string {
  const span = max === undefined
    ? `of at least ${formatDuration(min)}`
    : `from ${formatDuration(min)} to ${formatDuration(max)}`;
  return off ? `"0" (off) or a duration ${span}` : `a duration ${span}`;
}

/** A duration within `range`; outside it (or absent), `range.fallback`, with a problem quoting the value. */
export function boundedDuration(
  section: Section,
  key: string,
  range: DurationRange & { fallback: number },
): number {
  const { fallback, min, max = Infinity, off = false } = range;
  const ms = section.duration(key, fallback);
  if ((ms >= min && ms <= max) || (off && ms === 0)) return ms;
  section.problem(
    key,
    `invalid duration ${quoteValue(section.raw(key))}: expected ${
      describeRange(range)
    }`,
  );
  return fallback;
}

/** A TOML integer or float that is finite and not negative; `fallback` when absent or bad. */
export function nonNegativeNumber(
  section: Section,
  key: string,
  { fallback }: { fallback: number },
): number {
  const expected = "expected a number, 0 or more";
  return section.converted(key, "value", (value) => {
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw new RangeError(`Invalid number: ${expected}`);
    }
    return value;
  }, expected) ?? fallback;
}

/**
 * A `symbols` list, upper-cased, by the one rule ({@linkcode checkSymbolList}):
 * each bad item is a problem (and the list falls back whole, so later checks
 * do not pile on), and so is a symbol listed twice, once per symbol.
 */
export function readSymbols(
  section: Section,
  fallback: readonly string[],
): string[] {
  let check = checkSymbolList(section.stringList("symbols", fallback));
  const bad = check.problems.filter((problem) => problem.repeats === undefined);
  for (const { index, expected } of bad) {
    section.invalidItem("symbols", index, "symbol", expected);
  }
  if (bad.length > 0) check = checkSymbolList(fallback);
  const reported = new Set<string>();
  for (const { value } of check.problems) {
    const symbol = (value as string).toUpperCase(); // a repeat: a symbol
    if (reported.has(symbol)) continue;
    section.problem("symbols", `symbol "${symbol}" is listed twice`);
    reported.add(symbol);
  }
  return check.symbols;
}

/** JetStream names (stream, durable) may not hold separators, wildcards, whitespace or path characters. */
// deno-lint-ignore no-control-regex
const JETSTREAM_NAME = /^[^.*>\s/\\\x00-\x1f\x7f]{1,255}$/;

/** Checks a stream or durable consumer name (see {@linkcode JETSTREAM_NAME}). */
export function checkJetStreamName(name: string): string {
  if (!JETSTREAM_NAME.test(name)) {
    throw new RangeError(
      `Invalid name ${
        JSON.stringify(name)
      }: expected 1 to 255 characters without ".", "*", ">", "/", "\\", whitespace or control characters`,
    );
  }
  return name;
}

/**
 * The per-exchange name `{base}_{EXCHANGE}` of `exchange`, reported at
 * `stream_per_exchange` when it is not a valid JetStream name (see
 * {@linkcode JETSTREAM_NAME}); `from` names the key `base` comes from.
 */
export function exchangeStreamOf(
  section: Section,
  base: string,
  options: { exchange: string; from?: string },
): string {
  const { from = "stream_name" } = options;
  const name = exchangeStreamName(base, options.exchange);
  if (JETSTREAM_NAME.test(name)) return name;
  section.problem(
    "stream_per_exchange",
    `the per-exchange name ${
      JSON.stringify(name)
    } ({${from}}_{EXCHANGE}) is not a valid JetStream name: expected 1 to 255 characters without ".", "*", ">", "/", "\\", whitespace or control characters (change ${from} or the exchange)`,
  );
  return name;
}

function checkShmPrefix(prefix: string): string {
  if (!/^\/[A-Za-z0-9._-]{0,200}$/.test(prefix)) {
    throw new RangeError(
      `Invalid prefix: expected "/" followed by at most 200 letters, digits, ".", "_" or "-", e.g. "/marketbus_"`,
    );
  }
  return prefix;
}

/** A `shm_path_prefix`: "/" then letters, digits, ".", "_" or "-". */
export function readShmPathPrefix(section: Section): string {
  return section.string("shm_path_prefix", DEFAULT_SHM_PATH_PREFIX, {
    check: checkShmPrefix,
  });
}

/** An RFC 3339 time with a zone, as a string. */
const RFC3339 =
  /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/** An instant: a TOML offset date-time or an RFC 3339 string with a zone; local times are ambiguous. */
export function toInstant(raw: unknown): Date | undefined {
  let date: Date | undefined;
  if (raw instanceof TomlDate) {
    date = raw.isDateTime() && !raw.isLocal() ? raw : undefined;
  } else if (raw instanceof Date) {
    date = raw;
  } else if (typeof raw === "string" && RFC3339.test(raw)) {
    date = new Date(raw);
  }
  return date !== undefined && !Number.isNaN(date.getTime())
    ? new Date(date.getTime())
    : undefined;
}

/** Checks a file path: not empty or blank. */
export function nonEmptyPath(path: string): string {
  if (path.trim() === "") throw new RangeError("expected a file path");
  return path;
}

/** The `host` an HTTP endpoint listens on: a host name or address, default `127.0.0.1`. */
export function readHost(section: Section): string {
  return section.string("host", "127.0.0.1", {
    check: (host) => {
      if (host.trim() === "" || /[\s/]/.test(host)) {
        throw new RangeError(
          'expected a host name or address, e.g. "127.0.0.1", "0.0.0.0"',
        );
      }
      return host;
    },
  });
}

/** Reads a role's `[*.metrics]` table: the `/metrics` and `/healthz` endpoint. */
export function readMetrics(section: Section): MetricsConfig {
  const port = section.integer("port", 0, { min: 0, max: 65535 });
  const host = readHost(section);
  const staleAfterMs = boundedDuration(section, "stale_after", {
    fallback: 10_000,
    min: 100,
  });
  section.done();
  return { port, host, staleAfterMs };
}

/**
 * A list of bar intervals (e.g. `["1s", "1m"]`) at `key`: at least one, each
 * valid and listed once (by length: "60s" and "1m" are the same).
 * `["1s", "1m"]` when absent.
 */
export function readIntervals(section: Section, key: string): string[] {
  const intervals = section.stringList(key, ["1s", "1m"], {
    check: (text) => {
      parseBarInterval(text);
      return text;
    },
    what: "interval",
  });
  const seen = new Set<number>();
  for (const interval of intervals) {
    const ms = parseBarInterval(interval);
    if (seen.has(ms)) {
      section.problem(
        key,
        `interval "${interval}" is listed twice (as ${ms} ms)`,
      );
    }
    seen.add(ms);
  }
  if (intervals.length === 0) {
    section.problem(key, 'expected at least one interval, e.g. ["1s", "1m"]');
  }
  return intervals;
}
