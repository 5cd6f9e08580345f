/**
 * Samples a broker's equity at each end of a sample interval of merged
 * trade time, into an {@linkcode EquityCurve}.
 *
 * @module
 */

import type { EquityCurve } from "./_equity.ts";

/** What the sampler reads of the broker. */
export interface EquitySource {
  /** Cash plus positions at their last price. */
  readonly equity: number;
  /** Every position: units and last price. */
  positions(): readonly { quantity: number; lastPrice: number }[];
}

/**
 * Calls {@linkcode EquitySampler.before} with each trade's time, before the
 * trade is handled: when the trade is at or past the end of the open
 * interval, the state after the trades before it is that interval's sample
 * (and that of every whole interval since, with no trade between: one
 * repeated sample). The first interval is the first trade's.
 */
export class EquitySampler {
  readonly #curve: EquityCurve;
  readonly #source: EquitySource;
  readonly #everyMs: number;
  /** End of the open interval, ms; NaN before the first trade. */
  #next = NaN;

  /** Samples `source` into `curve` every `everyMs` of trade time. */
  constructor(curve: EquityCurve, source: EquitySource, everyMs: number) {
    this.#curve = curve;
    this.#source = source;
    this.#everyMs = everyMs;
  }

  /** A trade at `ms` (trade time) is next: samples the intervals it ends. Cheap when it ends none. */
  before(ms: number): void {
    if (!(ms >= this.#next)) {
      if (this.#next !== this.#next) this.#next = this.#end(ms);
      return;
    }
    const last = this.#end(ms) - this.#everyMs; // the last interval end at or before ms
    const repeat = (last - this.#next) / this.#everyMs + 1;
    this.#sample(this.#next, repeat);
    this.#next = last + this.#everyMs;
  }

  /** After the last trade: the open interval's sample (none without a trade). */
  finish(): void {
    if (this.#next === this.#next) this.#sample(this.#next, 1);
    this.#next = NaN;
  }

  /** End of the interval holding `ms`. */
  #end(ms: number): number {
    return Math.floor(ms / this.#everyMs) * this.#everyMs + this.#everyMs;
  }

  #sample(time: number, repeat: number): void {
    let gross = 0;
    for (const { quantity, lastPrice } of this.#source.positions()) {
      gross += Math.abs(quantity) * lastPrice;
    }
    this.#curve.sample(
      { time, equity: this.#source.equity, gross },
      repeat,
      this.#everyMs,
    );
  }
}
