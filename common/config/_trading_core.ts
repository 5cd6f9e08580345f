/**
 * What trading_core does with the trades (`[trading_core]`): the strategy,
 * the bar intervals and output, what it does with existing or failing output
 * files, its metrics endpoint and its web console.
 *
 * @module
 */

import type { Section } from "./_reader.ts";
import {
  boundedDuration,
  nonEmptyPath,
  readIntervals,
  readMetrics,
} from "./_values.ts";
import { readConsole } from "./_console.ts";
import type { BarsConfig, BrokerConfig, TradingCoreConfig } from "./types.ts";
import { BROKER_LIMITS } from "./broker_limits.ts";
import { DEFAULT_PROGRESS_SUMMARY_ABOVE } from "./_defaults.ts";

/** The range of `trading_core.progress_summary_above`: 0 = always the summary. */
const PROGRESS_SUMMARY_ABOVE = { min: 0, max: 1_000_000 };

function readBars(section: Section): BarsConfig {
  const intervals = readIntervals(section, "intervals");
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

/** Reads `[trading_core.broker]`, with the ranges of {@linkcode BROKER_LIMITS}. */
function readBroker(section: Section): BrokerConfig {
  const startingBalance = boundedNumber(
    section,
    "starting_balance",
    BROKER_LIMITS.startingBalance,
  );
  const feeBps = boundedNumber(section, "fee_bps", BROKER_LIMITS.feeBps);
  const makerFeeBps = boundedNumber(
    section,
    "maker_fee_bps",
    BROKER_LIMITS.makerFeeBps,
  );
  const slippageBps = boundedNumber(
    section,
    "slippage_bps",
    BROKER_LIMITS.slippageBps,
  );
  const latencyMs = boundedDuration(
    section,
    "latency",
    BROKER_LIMITS.latencyMs,
  );
  const maxOpenOrders = boundedNumber(
    section,
    "max_open_orders",
    BROKER_LIMITS.maxOpenOrders,
  );
  section.done();
  return {
    startingBalance,
    feeBps,
    makerFeeBps,
    slippageBps,
    latencyMs,
    maxOpenOrders,
  };
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
  const liveConsole = readConsole(section.section("console"));
  const metrics = readMetrics(section.section("metrics"));
  const progressSummaryAbove = section.integer(
    "progress_summary_above",
    DEFAULT_PROGRESS_SUMMARY_ABOVE,
    PROGRESS_SUMMARY_ABOVE,
  );
  section.done();
  return {
    strategy,
    barsOut,
    fillsOut,
    onExistingFile,
    onWriteError,
    bars,
    broker,
    console: liveConsole,
    metrics,
    progressSummaryAbove,
  };
}
