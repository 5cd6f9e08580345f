/**
 * The options of `BarBuilder` and their checks, apart from the
 * builder itself (bars.ts).
 *
 * @module
 */

import {
  BAR_INTERVAL_EXAMPLES,
  parseBarInterval,
} from "../common/config/bar_interval.ts";
import type { BarClock } from "../common/config/mod.ts";
import type { Bar } from "./bar.ts";

export type { BarClock };

/** Options of `BarBuilder` (bars.ts). */
export interface BarBuilderOptions {
  /**
   * Exchange (lower case) of the symbols given to the constructor, and to
   * `BarBuilder.addSymbol` without an exchange; needed only then.
   */
  exchange?: string;
  /** Bar intervals, e.g. `["1s", "1m"]`: at least one, each once (see {@linkcode parseBarInterval}). */
  intervals: readonly string[];
  /** Receives each closed bar, synchronously, in start order per stream and interval. */
  onBar: (bar: Bar) => void;
  /**
   * How long past its end a bar waits for its trades before
   * `BarBuilder.advance` closes it, ms.
   *
   * @default {250}
   */
  closeDelayMs?: number;
  /**
   * Most empty bars one step may emit per stream and interval; a longer gap
   * emits none.
   *
   * @default {10_000}
   */
  maxEmptyBars?: number;
  /**
   * What closes bars besides a later trade of their stream: `"wall"`, the
   * stream's trade clock (its latest trade time plus the wall time since)
   * through `BarBuilder.advance`; `"trade"`, nothing (no wall clock: the
   * bars depend on the trades alone, as a backtest needs).
   *
   * @default {"wall"}
   */
  clock?: BarClock;
  /**
   * A monotonic clock in ms; only differences are used (set it in tests).
   *
   * @default {performance.now}
   */
  now?: () => number;
}

/** {@linkcode BarBuilderOptions} checked, with their defaults and each interval's length. */
export interface CheckedBarOptions {
  /** The exchange option. */
  exchange: string | undefined;
  /** The intervals as configured. */
  intervals: readonly string[];
  /** Length of each interval, ms. */
  intervalMs: number[];
  /** The bar callback. */
  onBar: (bar: Bar) => void;
  /** See {@linkcode BarBuilderOptions.closeDelayMs}. */
  closeDelayMs: number;
  /** See {@linkcode BarBuilderOptions.maxEmptyBars}. */
  maxEmptyBars: number;
  /** See {@linkcode BarBuilderOptions.clock}. */
  clock: BarClock;
  /** See {@linkcode BarBuilderOptions.now}. */
  now: () => number;
}

/**
 * Checks `options` and fills in the defaults.
 *
 * @throws {TypeError} for a missing `onBar` or `now`, no intervals, or a
 * non-string `exchange`.
 * @throws {RangeError} for a bad or repeated interval, or a bad
 * `closeDelayMs`, `maxEmptyBars` or `clock`.
 */
export function checkBarOptions(options: BarBuilderOptions): CheckedBarOptions {
  const {
    exchange,
    intervals,
    onBar,
    closeDelayMs = 250,
    maxEmptyBars = 10_000,
    clock = "wall",
    now = performance.now.bind(performance),
  } = options;
  if (exchange !== undefined && typeof exchange !== "string") {
    throw new TypeError(
      `Invalid exchange ${String(exchange)}: expected a string`,
    );
  }
  if (typeof onBar !== "function" || typeof now !== "function") {
    throw new TypeError("Invalid options: onBar and now must be functions");
  }
  if (!Array.isArray(intervals) || intervals.length === 0) {
    throw new TypeError(
      `Invalid intervals ${
        JSON.stringify(intervals)
      }: expected at least one, ${BAR_INTERVAL_EXAMPLES}`,
    );
  }
  const intervalMs = intervals.map(parseBarInterval);
  intervalMs.forEach((ms, i) => {
    const first = intervalMs.indexOf(ms);
    if (first !== i) {
      throw new RangeError(
        `Invalid intervals: ${JSON.stringify(intervals[i])} repeats ${
          JSON.stringify(intervals[first])
        } (${ms} ms): expected each interval once`,
      );
    }
  });
  if (!(Number.isFinite(closeDelayMs) && closeDelayMs >= 0)) {
    throw new RangeError(
      `Invalid closeDelayMs ${closeDelayMs}: expected a finite number >= 0`,
    );
  }
  if (!(Number.isInteger(maxEmptyBars) && maxEmptyBars >= 0)) {
    throw new RangeError(
      `Invalid maxEmptyBars ${maxEmptyBars}: expected an integer >= 0`,
    );
  }
  if (clock !== "wall" && clock !== "trade") {
    throw new RangeError(
      `Invalid clock ${JSON.stringify(clock)}: expected "wall" or "trade"`,
    );
  }
  return {
    exchange,
    intervals: [...intervals],
    intervalMs,
    onBar,
    closeDelayMs,
    maxEmptyBars,
    clock,
    now,
  };
}
