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
 * - A stream's first trade is judged against its exchange's clock (the
 *   latest accepted trade time of any stream of that exchange), when
 *   `accept` is told the exchange and the exchange has one; otherwise it is
 *   accepted.
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
  /** Per stream: index of its exchange in `#exchangeClock`, -1 for none (yet). */
  #exchangeOf = new Int32Array(0);
  /** Exchange index by name. */
  readonly #exchanges = new Map<string, number>();
  /** Per exchange: the latest accepted trade time of any of its streams. */
  readonly #exchangeClock: number[] = [];

  /** A clock whose streams may jump at most `maxJumpMs` ahead unconfirmed. */
  constructor(maxJumpMs: number) {
    if (!(maxJumpMs > 0)) {
      throw new RangeError(
        `Invalid maxJumpMs ${maxJumpMs}: expected a positive number of ms`,
      );
    }
    this.#maxJumpMs = maxJumpMs;
  }

  /**
   * Whether the trade of stream index `stream` at `tsMs` is accepted
   * (false: an outlier, counted). `exchange` names the stream's exchange,
   * whose clock judges the stream's first trade (read on a stream's first
   * trade only).
   */
  accept(stream: number, tsMs: number, exchange?: string): boolean {
    if (stream >= this.#clock.length) this.#grow(stream);
    if (this.#exchangeOf[stream] === -1 && exchange !== undefined) {
      this.#exchangeOf[stream] = this.#exchangeIndex(exchange);
    }
    const ref = this.reference(stream);
    const max = this.#maxJumpMs;
    if (ref === -Infinity || !(tsMs - ref > max)) {
      this.#move(stream, tsMs);
      return true;
    }
    const pending = this.#pending[stream];
    // NaN pending: false.
    if (Math.abs(tsMs - pending) <= max) {
      this.#move(stream, tsMs);
      return true;
    }
    this.#pending[stream] = tsMs;
    this.#outliers[stream]++;
    return false;
  }

  /**
   * The time a trade of stream index `stream` is judged against, ms: the
   * stream's clock, or before its first accepted trade its exchange's
   * clock (-Infinity when neither has one).
   */
  reference(stream: number): number {
    const clock = this.clock(stream);
    if (clock !== -Infinity) return clock;
    const exchange = stream < this.#exchangeOf.length
      ? this.#exchangeOf[stream]
      : -1;
    return exchange === -1 ? -Infinity : this.#exchangeClock[exchange];
  }

  /** The latest accepted trade time of stream index `stream`, ms (-Infinity before its first trade). */
  clock(stream: number): number {
    return stream < this.#clock.length ? this.#clock[stream] : -Infinity;
  }

  /** Outliers of stream index `stream` so far. */
  outliers(stream: number): number {
    return stream < this.#outliers.length ? this.#outliers[stream] : 0;
  }

  /** Accepts a trade of `stream` at `tsMs`: moves its clock and its exchange's. */
  #move(stream: number, tsMs: number): void {
    if (tsMs > this.#clock[stream]) this.#clock[stream] = tsMs;
    this.#pending[stream] = NaN;
    const exchange = this.#exchangeOf[stream];
    if (exchange !== -1 && tsMs > this.#exchangeClock[exchange]) {
      this.#exchangeClock[exchange] = tsMs;
    }
  }

  #exchangeIndex(exchange: string): number {
    let index = this.#exchanges.get(exchange);
    if (index === undefined) {
      index = this.#exchangeClock.length;
      this.#exchanges.set(exchange, index);
      this.#exchangeClock.push(-Infinity);
    }
    return index;
  }

  #grow(stream: number): void {
    const size = Math.max(stream + 1, this.#clock.length * 2, 8);
    const clock = new Float64Array(size).fill(-Infinity);
    clock.set(this.#clock);
    const pending = new Float64Array(size).fill(NaN);
    pending.set(this.#pending);
    const outliers = new Float64Array(size);
    outliers.set(this.#outliers);
    const exchangeOf = new Int32Array(size).fill(-1);
    exchangeOf.set(this.#exchangeOf);
    this.#exchangeOf = exchangeOf;
    this.#clock = clock;
    this.#pending = pending;
    this.#outliers = outliers;
  }
}
