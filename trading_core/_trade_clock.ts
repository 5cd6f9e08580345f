/**
 * The one place that decides whether a trade's time is believable: per
 * (exchange, symbol) stream, a trade more than `max_clock_jump` ahead of
 * the stream's clock is an outlier unless the stream's next trade confirms
 * the jump. `TradeProcessing` owns it.
 *
 * @module
 */

/**
 * Per stream, the latest accepted trade time (the stream's clock) and the
 * outlier waiting for confirmation.
 *
 * - The first trade of a stream is accepted.
 * - A trade more than `maxJumpMs` ahead of the clock is an outlier, unless
 *   the stream's previous trade was an outlier and this one is also more
 *   than `maxJumpMs` ahead of the clock and within `maxJumpMs` of that
 *   outlier: the jump is real, and this trade is accepted (the outlier
 *   stays out).
 * - Any other trade is accepted; the clock is the latest accepted time.
 *
 * Outliers are counted per stream. `accept` allocates nothing.
 */
export class TradeClock {
  readonly #maxJumpMs: number;
  /** Per stream: the latest accepted trade time, -Infinity before the first. */
  #clock = new Float64Array(0);
  /** Per stream: the time of the outlier just before, NaN for none. */
  #pending = new Float64Array(0);
  #outliers = new Float64Array(0);

  /** A clock whose streams may jump at most `maxJumpMs` ahead unconfirmed. */
  constructor(maxJumpMs: number) {
    if (!(maxJumpMs > 0)) {
      throw new RangeError(
        `Invalid maxJumpMs ${maxJumpMs}: expected a positive number of ms`,
      );
    }
    this.#maxJumpMs = maxJumpMs;
  }

  /** Whether the trade of stream index `stream` at `tsMs` is accepted (false: an outlier, counted). */
  accept(stream: number, tsMs: number): boolean {
    if (stream >= this.#clock.length) this.#grow(stream);
    const clock = this.#clock[stream];
    const max = this.#maxJumpMs;
    if (!(tsMs - clock > max) || clock === -Infinity) {
      if (tsMs > clock) this.#clock[stream] = tsMs;
      this.#pending[stream] = NaN;
      return true;
    }
    const pending = this.#pending[stream];
    // NaN pending: false.
    if (Math.abs(tsMs - pending) <= max) {
      this.#clock[stream] = tsMs;
      this.#pending[stream] = NaN;
      return true;
    }
    this.#pending[stream] = tsMs;
    this.#outliers[stream]++;
    return false;
  }

  /** The latest accepted trade time of stream index `stream`, ms (-Infinity before its first trade). */
  clock(stream: number): number {
    return stream < this.#clock.length ? this.#clock[stream] : -Infinity;
  }

  /** Outliers of stream index `stream` so far. */
  outliers(stream: number): number {
    return stream < this.#outliers.length ? this.#outliers[stream] : 0;
  }

  #grow(stream: number): void {
    const size = Math.max(stream + 1, this.#clock.length * 2, 8);
    const clock = new Float64Array(size).fill(-Infinity);
    clock.set(this.#clock);
    const pending = new Float64Array(size).fill(NaN);
    pending.set(this.#pending);
    const outliers = new Float64Array(size);
    outliers.set(this.#outliers);
    this.#clock = clock;
    this.#pending = pending;
    this.#outliers = outliers;
  }
}
