/**
 * The candles the report draws: the bars of the coarsest configured
 * interval per (exchange, symbol), capped per symbol by merging neighbours.
 *
 * @module
 */

import { formatDuration } from "../../common/config/duration.ts";
import { parseBarInterval } from "../../common/config/bar_interval.ts";
import type { Bar } from "../bar.ts";
import type { Candle, CandleSeries } from "./result.ts";

/** Most candles kept per (exchange, symbol); past it, neighbours merge. */
export const MAX_CANDLES = 5_000;

interface Series {
  exchange: string;
  symbol: string;
  /** Length of one candle now: the interval's, doubled at each merge. */
  bucketMs: number;
  candles: Candle[];
}

/**
 * Keeps the bars of the coarsest of `intervals` as candles per stream. When
 * a stream has more than `maxCandles`, the candle length doubles and every
 * two neighbours (by start, aligned to the epoch) merge into one: open of the
 * first, close of the last, high and low over both, volumes added. The
 * report then still spans the whole run, more coarsely; the series says the
 * length its candles have (`"2m"` after one merge of `"1m"` bars).
 */
export class CandleKeeper {
  readonly #interval: string;
  readonly #intervalMs: number;
  readonly #max: number;
  readonly #series = new Map<string, Series>();

  /**
   * Candles of the coarsest of `intervals` (checked bar intervals).
   *
   * @throws {RangeError} for no interval or a `maxCandles` below 2.
   */
  constructor(
    intervals: readonly string[],
    options: {
      /** @default {MAX_CANDLES} */
      maxCandles?: number;
    } = {},
  ) {
    if (intervals.length === 0) {
      throw new RangeError("Invalid intervals []: expected at least one");
    }
    const ms = intervals.map(parseBarInterval);
    const coarsest = ms.indexOf(Math.max(...ms));
    this.#interval = intervals[coarsest];
    this.#intervalMs = ms[coarsest];
    this.#max = options.maxCandles ?? MAX_CANDLES;
    if (!(Number.isInteger(this.#max) && this.#max >= 2)) {
      throw new RangeError(
        `Invalid maxCandles ${this.#max}: expected an integer >= 2`,
      );
    }
  }

  /** The interval whose bars are kept. */
  get interval(): string {
    return this.#interval;
  }

  /** Takes a closed bar: kept when it is of the coarsest interval. */
  bar(bar: Bar): void {
    if (bar.intervalMs !== this.#intervalMs) return;
    const key = `${bar.exchange}\n${bar.symbol}`;
    let series = this.#series.get(key);
    if (series === undefined) {
      series = {
        exchange: bar.exchange,
        symbol: bar.symbol,
        bucketMs: this.#intervalMs,
        candles: [],
      };
      this.#series.set(key, series);
    }
    add(series, {
      time: bar.start,
      open: bar.open,
      high: bar.high,
      low: bar.low,
      close: bar.close,
      volume: bar.volume,
    });
    if (series.candles.length > this.#max) {
      const candles = series.candles;
      series.bucketMs *= 2;
      series.candles = [];
      for (const candle of candles) add(series, candle);
    }
  }

  /** The candles per (exchange, symbol), sorted by exchange then symbol. */
  series(): CandleSeries[] {
    return [...this.#series.values()]
      .sort((a, b) =>
        compare(a.exchange, b.exchange) || compare(a.symbol, b.symbol)
      )
      .map((series) => ({
        exchange: series.exchange,
        symbol: series.symbol,
        interval: series.bucketMs === this.#intervalMs
          ? this.#interval
          : formatDuration(series.bucketMs),
        candles: series.candles,
      }));
  }
}

/** Adds `candle` to its bucket: a new candle, or merged into the last one. */
function add(series: Series, candle: Candle): void {
  const time = Math.floor(candle.time / series.bucketMs) * series.bucketMs;
  const last = series.candles.at(-1);
  if (last === undefined || last.time !== time) {
    series.candles.push({ ...candle, time });
    return;
  }
  if (candle.high > last.high) last.high = candle.high;
  if (candle.low < last.low) last.low = candle.low;
  last.close = candle.close;
  last.volume += candle.volume;
}

/** Code-unit order (locale-free, so the output never depends on the machine). */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
