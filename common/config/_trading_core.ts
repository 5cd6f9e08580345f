/**
 * What trading_core does with the trades (`[trading_core]`): the strategy,
 * the bar intervals and output, what it does with existing or failing output
 * files, and its metrics endpoint.
 *
 * @module
 */

import { parseBarInterval } from "./bar_interval.ts";
import type { Section } from "./_reader.ts";
import { boundedDuration, nonEmptyPath, readMetrics } from "./_values.ts";
import type { BarsConfig, TradingCoreConfig } from "./types.ts";

function readBars(section: Section): BarsConfig {
  const intervals = section.stringList("intervals", ["1s", "1m"], {
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
        "intervals",
        `interval "${interval}" is listed twice (as ${ms} ms)`,
      );
    }
    seen.add(ms);
  }
  if (intervals.length === 0) {
    section.problem(
      "intervals",
      'expected at least one interval, e.g. ["1s", "1m"]',
    );
  }
  const closeDelayMs = boundedDuration(section, "close_delay", {
    fallback: 250,
    min: 0,
    max: 60_000,
  });
  const clock = section.choice("clock", "wall", ["wall", "trade"]);
  section.done();
  return { intervals, closeDelayMs, clock };
}

/** Reads `[trading_core]`. */
export function readTradingCore(section: Section): TradingCoreConfig {
  const strategy = section.optionalString("strategy", { check: nonEmptyPath });
  const barsOut = section.optionalString("bars_out", { check: nonEmptyPath });
  const onExistingFile = section.choice("on_existing_file", "refuse", [
    "refuse",
    "overwrite",
    "append",
  ]);
  const onWriteError = section.choice("on_write_error", "stop", [
    "stop",
    "continue",
  ]);
  const bars = readBars(section.section("bars"));
  const metrics = readMetrics(section.section("metrics"));
  section.done();
  return { strategy, barsOut, onExistingFile, onWriteError, bars, metrics };
}
