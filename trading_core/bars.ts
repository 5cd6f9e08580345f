/**
 * OHLCV bars per (exchange, symbol) stream at fixed intervals, built from
 * trade time (`ts_event`), closed on time even when no trade comes (the
 * `"wall"` clock) or only by the stream's next trade (the `"trade"` clock).
 * The root mod.ts shows {@linkcode BarBuilder} at work.
 *
 * @module
 */

import type { TradeOrigin } from "../common/wire/codec.ts";
import { Side } from "../common/wire/trade.ts";
import type { TradeView } from "../common/wire/trade_view.ts";
import type { Bar } from "./bar.ts";
import {
  type BarBuilderOptions,
  type BarClock,
  checkBarOptions,
} from "./_bar_options.ts";

export type { BarBuilderOptions, BarClock };

/** Totals of one interval over all streams, from {@linkcode BarBuilder.stats}. */
export interface BarIntervalStats {
  /** The interval as configured. */
  interval: string;
  /** Bars emitted (empty ones included). */
  closed: number;
  /** Trades older than the open bar, left out of every bar. */
  late: number;
  /** Empty bars not emitted because a gap exceeded `maxEmptyBars`. */
  skippedEmpty: number;
}

/** Counters of one (exchange, symbol) stream and interval, from {@linkcode BarBuilder.counts}. */
export interface BarCounts {
  /** The exchange. */
  exchange: string;
  /** The symbol. */
  symbol: string;
  /** The interval as configured. */
  interval: string;
  /** Bars emitted (empty ones included). */
  closed: number;
  /** Trades older than the open bar, left out of every bar. */
  late: number;
  /** Empty bars not emitted because a gap exceeded `maxEmptyBars`. */
  skippedEmpty: number;
}

// The fields of one (stream, interval) slot in #slots. START is NaN until
// the stream's first trade; from then on a bar is always open (maybe empty).
const START = 0;
const OPEN = 1;
const HIGH = 2;
const LOW = 3;
const CLOSE = 4;
const VOLUME = 5;
const BUY = 6;
const SELL = 7;
const NOTIONAL = 8;
const TRADES = 9;
const CLOSED = 10;
const LATE = 11;
const SKIPPED = 12;
// 1 when the open bar misses trades (a gap was delivered while it was open,
// or before its first trade); 1 from a gap until the stream's next trade.
const INCOMPLETE = 13;
const PENDING = 14;
const STRIDE = 15;

// The fields of one exchange's trade clock in #clocks: the latest trade
// time, and the trade time and wall time of the last anchor (-Infinity before
// the exchange's first trade).
const MAX_TS = 0;
const ANCHOR_TS = 1;
const ANCHOR_WALL = 2;
const CLOCK_STRIDE = 3;

// The trade clock re-reads the wall clock when trade time has moved this far
// since the last reading, not on every new ms: `now()` costs ~50-80 ns.
const ANCHOR_STEP_MS = 10;

/**
 * Builds OHLCV bars per (exchange, symbol) stream and interval from trades,
 * by trade time. The same symbol on two exchanges is two streams, with bars
 * of their own.
 *
 * - A bar covers `[start, start + intervalMs)` with `start` a multiple of
 *   the interval since the epoch (UTC aligned). A stream's bars start with
 *   its first trade; from then on every interval has a bar: one without
 *   trades repeats the previous close in open, high, low and close, with
 *   volume 0 and vwap null.
 * - A trade at or past the open bar's end closes it (and emits the empty
 *   bars in between) before it is added. With the `"wall"` clock (the
 *   default), {@linkcode advance} also closes bars whose end is
 *   `closeDelayMs` behind their exchange's trade clock, so bars close on
 *   time when no trade comes; with the `"trade"` clock it closes nothing,
 *   and the bars depend on each stream's own trades alone (a backtest, and
 *   live `--bar-clock trade`: the order of trades across symbols, which a
 *   live feed does not fix, then changes no bar). Every bar is emitted
 *   through `onBar` before the call that closed it returns, in start order
 *   per stream and interval.
 * - A trade older than the open bar's start belongs to a bar already closed:
 *   it is counted as late and changes no bar.
 * - When one step would emit more than `maxEmptyBars` empty bars for a
 *   symbol and interval (a jump in trade time), it emits none of them,
 *   counts them as skipped, and goes on from the new bar.
 * - A gap ({@linkcode gap}: trades of a stream missing, delivered in order
 *   with its trades) makes the open bar, every bar closed before the
 *   stream's next trade and the bar holding that trade `complete: false`.
 * - At shutdown the open bars are not emitted: they are partial.
 *
 * The trade clock of an exchange (the `"wall"` clock only) estimates its current trade time as the
 * latest trade time seen (over the exchange's streams) plus the time `now()`
 * says has passed since; it re-reads `now()` when that trade time has moved
 * 10 ms, so when trades stop the estimate can lag by up to that. It suits
 * live feeds and replays at any speed. Each exchange has its own, since two
 * exchanges' times need not agree (one may be replayed from last year's file
 * while the other is live): one never closes the other's bars. One clock per
 * exchange costs one `now()` per 10 ms of trade time whatever the number of
 * symbols, and a quiet symbol's bars close on time when the busy ones move
 * the clock (a replay at speed N). A trade with a wildly wrong timestamp
 * would move it for every symbol: the caller keeps such outliers out (see
 * `TradeProcessing`, `trading_core.bars.max_clock_jump`). Trade time must be
 * non-negative (as the wire format holds it).
 *
 * `add` allocates nothing except the bars it emits. An exception thrown by
 * `onBar` propagates out of `add` or `advance`; the bar counts as emitted,
 * and bars and trades after it in that call are left for the next one.
 */
export class BarBuilder {
  readonly #exchange: string | undefined;
  readonly #intervals: readonly string[];
  readonly #intervalMs: Float64Array;
  readonly #onBar: (bar: Bar) => void;
  readonly #closeDelayMs: number;
  readonly #maxEmptyBars: number;
  readonly #now: () => number;
  /** The "trade" clock: no wall clock, advance() closes nothing. */
  readonly #tradeClock: boolean;
  readonly #streams: TradeOrigin[] = [];
  /** Per exchange: its clock's index and its streams' indexes by symbol. */
  readonly #index = new Map<
    string,
    { clock: number; symbols: Map<string, number> }
  >();
  #slots = new Float64Array(0);
  /** The clock index of each stream (its exchange's). */
  #clockOf = new Int32Array(0);
  #clocks = new Float64Array(0);

  /**
   * Creates a builder for `symbols` on `options.exchange` (stream index =
   * position in the list; more can come with {@linkcode addSymbol}).
   *
   * @throws {TypeError} for a missing `onBar` or `now`, no intervals, or
   * symbols without an `exchange`.
   * @throws {RangeError} for a bad or repeated interval or symbol, or a bad
   * `closeDelayMs` or `maxEmptyBars`.
   */
  constructor(symbols: readonly string[], options: BarBuilderOptions) {
    const checked = checkBarOptions(options);
    const { intervals, intervalMs } = checked;
    this.#exchange = checked.exchange;
    this.#intervals = intervals;
    this.#intervalMs = Float64Array.from(intervalMs);
    this.#onBar = checked.onBar;
    this.#closeDelayMs = checked.closeDelayMs;
    this.#maxEmptyBars = checked.maxEmptyBars;
    this.#now = checked.now;
    this.#tradeClock = checked.clock === "trade";
    // Not checkSymbolList: streams are keyed by the symbol exactly as trades name it (no upper-casing or token check).
    for (const symbol of symbols) {
      const streams = this.#streams.length;
      if (this.addSymbol(symbol) < streams) {
        throw new RangeError(
          `Invalid symbols: ${
            JSON.stringify(symbol)
          } is listed twice: expected each symbol once`,
        );
      }
    }
  }

  /** The (exchange, symbol) streams, by index. */
  get streams(): readonly Readonly<TradeOrigin>[] {
    return this.#streams;
  }

  /**
   * Adds the stream of `symbol` on `exchange` (a wildcard subscription meets
   * them as they come) and returns its index; a known stream keeps its
   * index.
   *
   * @throws {TypeError} without an exchange here or in the options.
   */
  addSymbol(
    symbol: string,
    exchange: string | undefined = this.#exchange,
  ): number {
    if (typeof exchange !== "string") {
      throw new TypeError(
        `Invalid exchange ${String(exchange)} of symbol ${
          JSON.stringify(symbol)
        }: expected a string (here or in the exchange option)`,
      );
    }
    let entry = this.#index.get(exchange);
    const known = entry?.symbols.get(symbol);
    if (known !== undefined) return known;
    const index = this.#streams.length;
    const size = (index + 1) * this.#intervalMs.length * STRIDE;
    if (size > this.#slots.length) {
      const slots = new Float64Array(Math.max(size, this.#slots.length * 2));
      slots.set(this.#slots);
      for (let at = this.#slots.length; at < slots.length; at += STRIDE) {
        slots[at + START] = NaN;
      }
      this.#slots = slots;
      const clockOf = new Int32Array(
        slots.length / (this.#intervalMs.length * STRIDE),
      );
      clockOf.set(this.#clockOf);
      this.#clockOf = clockOf;
    }
    if (entry === undefined) {
      entry = { clock: this.#index.size, symbols: new Map() };
      this.#index.set(exchange, entry);
      this.#addClock();
    }
    entry.symbols.set(symbol, index);
    this.#clockOf[index] = entry.clock;
    this.#streams.push({ exchange, symbol });
    return index;
  }

  /** Makes room for the clock of one more exchange, before its first trade. */
  #addClock(): void {
    const at = (this.#index.size - 1) * CLOCK_STRIDE;
    if (at + CLOCK_STRIDE > this.#clocks.length) {
      const clocks = new Float64Array(2 * (at + CLOCK_STRIDE));
      clocks.set(this.#clocks);
      this.#clocks = clocks;
    }
    this.#clocks[at + MAX_TS] = -Infinity;
    this.#clocks[at + ANCHOR_TS] = -Infinity;
  }

  /**
   * Notes that trades of stream index `stream` are missing before its next
   * trade (a gap delivered in order with its trades): in every interval, the
   * open bar, each bar closed before that trade and the bar holding it come
   * out with `complete: false`.
   *
   * @throws {RangeError} when `stream` is not a stream index.
   */
  gap(stream: number): void {
    this.#checkStream(stream);
    const slots = this.#slots;
    for (let k = 0; k < this.#intervalMs.length; k++) {
      const at = this.#at(stream, k);
      // NaN START (no trade yet): the first bar is marked when it opens.
      if (slots[at + START] === slots[at + START]) slots[at + INCOMPLETE] = 1;
      slots[at + PENDING] = 1;
    }
  }

  #checkStream(stream: number): void {
    if (!((stream >>> 0) === stream && stream < this.#streams.length)) {
      throw new RangeError(
        `Invalid stream index ${stream}: expected 0 to ${
          this.#streams.length - 1
        }`,
      );
    }
  }

  /** Adds the selected record of `trade`, of stream index `stream` (see {@linkcode addTrade}). */
  add(trade: TradeView, stream: number): void {
    this.addTrade(
      stream,
      trade.tsEventMs,
      trade.price,
      trade.size,
      trade.side,
    );
  }

  /**
   * Adds one trade at `tsEventMs` (ms since the epoch, trade time) to every
   * interval of stream index `stream`, first emitting the bars it closes.
   * Side Buy counts in buy volume, Sell in sell volume, Unknown in neither.
   *
   * @throws {RangeError} when `stream` is not a stream index.
   */
  addTrade(
    stream: number,
    tsEventMs: number,
    price: number,
    size: number,
    side: Side,
  ): void {
    this.#checkStream(stream);
    const clocks = this.#clocks;
    const c = this.#clockOf[stream] * CLOCK_STRIDE;
    if (!this.#tradeClock && tsEventMs > clocks[c + MAX_TS]) {
      clocks[c + MAX_TS] = tsEventMs;
      if (tsEventMs >= clocks[c + ANCHOR_TS] + ANCHOR_STEP_MS) {
        clocks[c + ANCHOR_TS] = tsEventMs;
        clocks[c + ANCHOR_WALL] = this.#now();
      }
    }
    const intervals = this.#intervalMs.length;
    let slots = this.#slots;
    for (let k = 0; k < intervals; k++) {
      const at = (stream * intervals + k) * STRIDE;
      const start = slots[at + START];
      if (tsEventMs < start) {
        slots[at + LATE]++;
        slots[at + PENDING] = 0; // the missing trades were older still
        continue;
      }
      const ms = this.#intervalMs[k];
      // Also true for NaN: the stream's first trade opens its first bar.
      if (!(tsEventMs < start + ms)) {
        const next = Math.floor(tsEventMs / ms) * ms;
        if (start !== start) slots[at + START] = next;
        else {
          this.#roll(stream, k, next);
          slots = this.#slots; // onBar may have added a stream
        }
      }
      if (slots[at + PENDING] !== 0) {
        slots[at + INCOMPLETE] = 1;
        slots[at + PENDING] = 0;
      }
      if (slots[at + TRADES] === 0) {
        slots[at + OPEN] = price;
        slots[at + HIGH] = price;
        slots[at + LOW] = price;
      } else {
        if (price > slots[at + HIGH]) slots[at + HIGH] = price;
        if (price < slots[at + LOW]) slots[at + LOW] = price;
      }
      slots[at + CLOSE] = price;
      slots[at + VOLUME] += size;
      slots[at + NOTIONAL] += price * size;
      if (side === Side.Buy) slots[at + BUY] += size;
      else if (side === Side.Sell) slots[at + SELL] += size;
      slots[at + TRADES]++;
    }
  }

  /**
   * With the `"wall"` clock, closes every open bar whose end is at least
   * `closeDelayMs` behind its exchange's trade clock, with the empty bars of the whole intervals since
   * (never one ending past the clock). Does nothing for a stream before its
   * first trade, nor for one `held` says is held (its feed has trades not
   * yet delivered: they, or a gap found on reading them, belong to the open
   * bar, which then closes on trade time). Meant for a timer (e.g. every
   * 100 ms); cheap to call often. With the `"trade"` clock, does nothing.
   */
  advance(held?: (stream: number) => boolean): void {
    if (this.#tradeClock) return;
    // Per exchange: bars ending at or before its limit close (NaN: no trade).
    const limits = new Float64Array(this.#index.size).fill(NaN);
    let now: number | undefined;
    const clocks = this.#clocks;
    for (let e = 0; e < limits.length; e++) {
      const c = e * CLOCK_STRIDE;
      const maxTs = clocks[c + MAX_TS];
      if (maxTs === -Infinity) continue;
      now ??= this.#now();
      const clock = Math.max(
        maxTs,
        clocks[c + ANCHOR_TS] + (now - clocks[c + ANCHOR_WALL]),
      );
      limits[e] = clock - this.#closeDelayMs;
    }
    const intervals = this.#intervalMs.length;
    for (let stream = 0; stream < this.#streams.length; stream++) {
      // undefined for an exchange onBar added meanwhile: its turn comes next time.
      if (held?.(stream)) continue;
      const limit = limits[this.#clockOf[stream]];
      for (let k = 0; k < intervals; k++) {
        const ms = this.#intervalMs[k];
        // Bars ending at or before `limit` close: the open bar becomes `next`.
        const next = Math.floor(limit / ms) * ms;
        // False for NaN: no bars before the stream's first trade.
        if (this.#slots[(stream * intervals + k) * STRIDE + START] < next) {
          this.#roll(stream, k, next);
        }
      }
    }
  }

  /** Totals per interval over all streams, in the configured order. */
  stats(): BarIntervalStats[] {
    return this.#intervals.map((interval, k) => {
      let closed = 0, late = 0, skippedEmpty = 0;
      for (let stream = 0; stream < this.#streams.length; stream++) {
        const at = this.#at(stream, k);
        closed += this.#slots[at + CLOSED];
        late += this.#slots[at + LATE];
        skippedEmpty += this.#slots[at + SKIPPED];
      }
      return { interval, closed, late, skippedEmpty };
    });
  }

  /** Bars closed, late trades and skipped empty bars per stream and interval (streams by index, then intervals in order). */
  counts(): BarCounts[] {
    return this.#streams.flatMap(({ exchange, symbol }, index) =>
      this.#intervals.map((interval, k) => {
        const at = this.#at(index, k);
        return {
          exchange,
          symbol,
          interval,
          closed: this.#slots[at + CLOSED],
          late: this.#slots[at + LATE],
          skippedEmpty: this.#slots[at + SKIPPED],
        };
      })
    );
  }

  #at(stream: number, k: number): number {
    return (stream * this.#intervalMs.length + k) * STRIDE;
  }

  /** Closes the open bar and the empty ones after it, until the bar starting at `next` is open. */
  #roll(stream: number, k: number, next: number): void {
    const at = this.#at(stream, k);
    this.#close(stream, k);
    const gap = (next - this.#slots[at + START]) / this.#intervalMs[k];
    if (gap > this.#maxEmptyBars) {
      this.#slots[at + SKIPPED] += gap;
      this.#slots[at + START] = next;
      return;
    }
    while (this.#slots[at + START] < next) this.#close(stream, k);
  }

  /** The open bar of stream index `stream` in interval index `k` as it stands (what the live console draws last); undefined before the stream's first trade or out of range. */
  openBar(stream: number, k: number): Bar | undefined {
    const known = (stream >>> 0) === stream && (k >>> 0) === k &&
      stream < this.#streams.length && k < this.#intervalMs.length;
    const start = known ? this.#slots[this.#at(stream, k) + START] : NaN;
    return start === start ? this.#bar(stream, k) : undefined;
  }

  /** The open bar of `stream` in interval `k`, as a {@linkcode Bar}. */
  #bar(stream: number, k: number): Bar {
    const slots = this.#slots;
    const at = this.#at(stream, k);
    const { exchange, symbol } = this.#streams[stream];
    const intervalMs = this.#intervalMs[k];
    const start = slots[at + START];
    const volume = slots[at + VOLUME];
    const notional = slots[at + NOTIONAL];
    return {
      exchange,
      symbol,
      interval: this.#intervals[k],
      intervalMs,
      start,
      end: start + intervalMs,
      open: slots[at + OPEN],
      high: slots[at + HIGH],
      low: slots[at + LOW],
      close: slots[at + CLOSE],
      volume,
      buyVolume: slots[at + BUY],
      sellVolume: slots[at + SELL],
      notional,
      vwap: volume > 0 ? notional / volume : null,
      trades: slots[at + TRADES],
      complete: slots[at + INCOMPLETE] === 0,
    };
  }

  /** Emits the open bar and opens the next one, empty at the last close. */
  #close(stream: number, k: number): void {
    const slots = this.#slots;
    const at = this.#at(stream, k);
    const bar = this.#bar(stream, k);
    const { start, close, intervalMs } = bar;
    slots[at + START] = start + intervalMs;
    slots[at + OPEN] = close;
    slots[at + HIGH] = close;
    slots[at + LOW] = close;
    slots.fill(0, at + VOLUME, at + TRADES + 1);
    slots[at + INCOMPLETE] = slots[at + PENDING];
    slots[at + CLOSED]++;
    this.#onBar(bar);
  }
}
