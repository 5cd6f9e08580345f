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
import type { BarsConfig, BrokerConfig, TradingCoreConfig } from "./types.ts";

/** The highest fee or slippage, basis points (10 %). */
const MAX_BPS = 1000;

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
  const maxClockJumpMs = boundedDuration(section, "max_clock_jump", {
    fallback: 3_600_000,
    min: 1_000,
  });
  section.done();
  return { intervals, closeDelayMs, clock, maxClockJumpMs };
}

/** A TOML number from `min` to `max`; `fallback` when absent or out of range (a problem quoting it). */
function boundedNumber(
  section: Section,
  key: string,
  range: { fallback: number; min: number; max: number },
): number {
  const { fallback, min, max } = range;
  const expected = `expected a number from ${min} to ${max}`;
  return section.converted(key, "value", (value) => {
    if (typeof value !== "number" || !(value >= min && value <= max)) {
      throw new RangeError(`Invalid number: ${expected}`);
    }
    return value;
  }, expected) ?? fallback;
}

/** Reads `[trading_core.broker]`. */
function readBroker(section: Section): BrokerConfig {
  const startingBalance = boundedNumber(section, "starting_balance", {
    fallback: 100_000,
    min: 0,
    max: 1e15,
  });
  const bps = (key: string, fallback: number) =>
    boundedNumber(section, key, { fallback, min: 0, max: MAX_BPS });
  const feeBps = bps("fee_bps", 10);
  const makerFeeBps = bps("maker_fee_bps", 10);
  const slippageBps = bps("slippage_bps", 0);
  const latencyMs = boundedDuration(section, "latency", {
    fallback: 0,
    min: 0,
    max: 3_600_000,
  });
  section.done();
  return { startingBalance, feeBps, makerFeeBps, slippageBps, latencyMs };
}

/** Reads `[trading_core]`. */
export function readTradingCore(section: Section): TradingCoreConfig {
  const strategy = section.optionalString("strategy", { check: nonEmptyPath });
  const barsOut = section.optionalString("bars_out", { check: nonEmptyPath });
  const fillsOut = section.optionalString("fills_out", {
    check: nonEmptyPath,
  });
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
  const broker = readBroker(section.section("broker"));
  if (fillsOut !== undefined && strategy === undefined) {
    section.problem(
      "fills_out",
      "fills come from a strategy's orders: set trading_core.strategy (--strategy) too, or leave fills_out out",
    );
  }
  const metrics = readMetrics(section.section("metrics"));
  section.done();
  return {
    strategy,
    barsOut,
    fillsOut,
    onExistingFile,
    onWriteError,
    bars,
    broker,
    metrics,
  };
}
