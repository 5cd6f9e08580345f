/**
 * The figures of a backtest's equity, sampled once per sample interval of
 * merged trade time: maximum drawdown, the Sharpe ratio of the per-sample
 * returns, exposure, and the curve the report draws.
 *
 * @module
 */

import type { EquityPoint } from "./result.ts";
import { Thinned } from "./_thinned.ts";

/** Most points of the equity curve kept for the report (thinned evenly past it). */
export const MAX_EQUITY_POINTS = 5_000;

/** The state of the account at one sample. */
export interface EquitySample {
  /** End of the sampled interval, ms (trade time). */
  time: number;
  /** Equity then: cash plus positions marked at their last price. */
  equity: number;
  /** Gross position value then, Σ |position| × last price. */
  gross: number;
}

/** The summary figures of {@linkcode EquityCurve.figures}. */
export interface EquityFigures {
  /** Samples taken. */
  samples: number;
  /** Largest fall of equity from a previous peak (the starting balance counts as one). */
  maxDrawdown: number;
  /** That fall as a fraction of its peak; 0 without one. */
  maxDrawdownRatio: number;
  /** Mean over population standard deviation of the per-sample returns; null with fewer than 2 returns or no variation. */
  sharpe: number | null;
  /** Share of samples with a position open (gross > 0), 0..1; 0 without samples. */
  exposure: number;
  /** Largest gross position value at a sample. */
  maxGrossExposure: number;
  /** Lowest equity at a sample (the starting balance without samples). */
  minEquity: number;
  /** End of the first sampled interval whose equity was below zero, ms; null when it never was. */
  equityBelowZeroAt: number | null;
}

/**
 * Equity sampled at interval ends: each {@linkcode sample} is one or more
 * consecutive samples of the same state. Returns are `equity / previous - 1`
 * from the starting balance on (a return after a non-positive equity is left
 * out). Memory is bounded: the figures are kept as running sums (Welford's
 * mean and variance, merged in one step for a run of repeated samples), the
 * curve thinned to {@linkcode MAX_EQUITY_POINTS}.
 */
export class EquityCurve {
  readonly #points: Thinned<EquityPoint>;
  #previous: number;
  #peak: number;
  #samples = 0;
  #open = 0;
  #maxGross = 0;
  #maxDrawdown = 0;
  #maxDrawdownRatio = 0;
  #minEquity: number;
  #belowZeroAt: number | null = null;
  // Welford: count, mean and sum of squared deviations of the returns.
  #n = 0;
  #mean = 0;
  #m2 = 0;
  #last: EquityPoint | undefined;

  /** A curve starting at `startingBalance`. */
  constructor(
    startingBalance: number,
    options: {
      /** Points kept for the report. @default {MAX_EQUITY_POINTS} */
      maxPoints?: number;
    } = {},
  ) {
    this.#previous = startingBalance;
    this.#peak = startingBalance;
    this.#minEquity = startingBalance;
    this.#points = new Thinned(options.maxPoints ?? MAX_EQUITY_POINTS);
  }

  /**
   * Records `sample`, `repeat` times (consecutive interval ends with no trade
   * between them, `sample.time` the first; `everyMs` apart). The curve gets
   * the first and, when repeated, the last.
   */
  sample(sample: EquitySample, repeat = 1, everyMs = 0): void {
    const { time, equity, gross } = sample;
    this.#samples += repeat;
    if (gross > 0) this.#open += repeat;
    if (gross > this.#maxGross) this.#maxGross = gross;
    if (this.#previous > 0) this.#addReturn(equity / this.#previous - 1);
    // The repeats: returns of 0.
    if (repeat > 1 && equity > 0) this.#addZeros(repeat - 1);
    this.#previous = equity;
    if (equity < this.#minEquity) this.#minEquity = equity;
    if (equity < 0 && this.#belowZeroAt === null) this.#belowZeroAt = time;
    if (equity > this.#peak) this.#peak = equity;
    const drawdown = this.#peak - equity;
    if (drawdown > this.#maxDrawdown) {
      this.#maxDrawdown = drawdown;
      this.#maxDrawdownRatio = this.#peak > 0 ? drawdown / this.#peak : 0;
    }
    this.#point({ time, equity, drawdown });
    if (repeat > 1) {
      this.#point({ time: time + (repeat - 1) * everyMs, equity, drawdown });
    }
  }

  #point(point: EquityPoint): void {
    this.#points.push(point);
    this.#last = point;
  }

  #addReturn(value: number): void {
    this.#n++;
    const delta = value - this.#mean;
    this.#mean += delta / this.#n;
    this.#m2 += delta * (value - this.#mean);
  }

  /** Merges `count` returns of 0 (Chan et al.'s pairwise update). */
  #addZeros(count: number): void {
    const n = this.#n + count;
    const delta = -this.#mean;
    this.#m2 += delta * delta * this.#n * count / n;
    this.#mean += delta * count / n;
    this.#n = n;
  }

  /** The summary figures so far. */
  figures(): EquityFigures {
    const std = this.#n > 0 ? Math.sqrt(this.#m2 / this.#n) : 0;
    return {
      samples: this.#samples,
      maxDrawdown: this.#maxDrawdown,
      maxDrawdownRatio: this.#maxDrawdownRatio,
      sharpe: this.#n >= 2 && std > 0 ? this.#mean / std : null,
      exposure: this.#samples > 0 ? this.#open / this.#samples : 0,
      maxGrossExposure: this.#maxGross,
      minEquity: this.#minEquity,
      equityBelowZeroAt: this.#belowZeroAt,
    };
  }

  /** The curve for the report, oldest first: thinned, and always ending with the last sample. */
  points(): EquityPoint[] {
    const points = [...this.#points.items];
    const last = this.#last;
    if (last !== undefined && points.at(-1) !== last) points.push(last);
    return points;
  }
}
