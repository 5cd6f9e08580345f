/**
 * The candles the console charts: the last {@linkcode CANDLES_KEPT} closed
 * bars of every (stream, interval), kept as `live`'s bar builder closes them
 * ({@linkcode CandleStore.bar}, its `onBar`), and the open bar read from the
 * builder when asked.
 *
 * @module
 */

import type { TradeOrigin } from "../../common/wire/codec.ts";
import type { Bar } from "../bar.ts";
import type { BarBuilder } from "../bars.ts";

/** Closed bars kept per (stream, interval): 4 minutes of 1 s bars, 4 hours of 1 m ones. */
export const CANDLES_KEPT = 240;

// The fields of a kept bar: what a candle and its legend show.
const START = 0;
const OPEN = 1;
const HIGH = 2;
const LOW = 3;
const CLOSE = 4;
const VOLUME = 5;
const TRADES = 6;
const COMPLETE = 7;
const STRIDE = 8;

/** One (stream, interval)'s ring of closed bars. */
interface Ring {
  bars: Float64Array;
  /** Bars closed so far (the ring holds the last {@linkcode CANDLES_KEPT}). */
  closed: number;
}

/**
 * A candle as the events carry it: `[start (ms), open, high, low, close,
 * volume, trades, complete (1 or 0)]`.
 */
export type Candle = [
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
];

/**
 * Closed bars per (stream, interval), by the console's stream indexes (the
 * order of {@linkcode addStream}: `live`'s), and the open bar from the
 * builder.
 */
export class CandleStore {
  /** The intervals charted, as configured. */
  readonly intervals: readonly string[];
  readonly #k = new Map<string, number>();
  /** Stream index by exchange, then symbol. */
  readonly #index = new Map<string, Map<string, number>>();
  readonly #streams: TradeOrigin[] = [];
  /** By stream × intervals + k. */
  readonly #rings: (Ring | undefined)[] = [];
  #builder: Pick<BarBuilder, "openBar" | "streams"> | undefined;

  /** A store for `intervals` (those of the bar builder it is fed by). */
  constructor(intervals: readonly string[]) {
    this.intervals = [...intervals];
    this.intervals.forEach((interval, k) => this.#k.set(interval, k));
  }

  /** The builder whose open bars {@linkcode open} reads (set once `live`'s exists). */
  set builder(builder: Pick<BarBuilder, "openBar" | "streams">) {
    this.#builder = builder;
  }

  /** The interval index of `interval`, undefined when not charted. */
  intervalIndex(interval: string): number | undefined {
    return this.#k.get(interval);
  }

  /** Announces the next stream (index = streams so far), in `live`'s order. */
  addStream(origin: TradeOrigin): void {
    let symbols = this.#index.get(origin.exchange);
    if (symbols === undefined) {
      symbols = new Map();
      this.#index.set(origin.exchange, symbols);
    }
    if (!symbols.has(origin.symbol)) {
      symbols.set(origin.symbol, this.#streams.length);
    }
    this.#streams.push({ exchange: origin.exchange, symbol: origin.symbol });
  }

  /** The stream index of (exchange, symbol), undefined when unknown. */
  find(exchange: string, symbol: string): number | undefined {
    return this.#index.get(exchange)?.get(symbol);
  }

  /** A closed bar (the builder's `onBar`): kept; one of an unknown stream or interval is left out. */
  readonly bar = (bar: Bar): void => {
    const stream = this.#index.get(bar.exchange)?.get(bar.symbol);
    const k = this.#k.get(bar.interval);
    if (stream === undefined || k === undefined) return;
    const slot = stream * this.intervals.length + k;
    const ring = this.#rings[slot] ??= {
      bars: new Float64Array(CANDLES_KEPT * STRIDE),
      closed: 0,
    };
    const at = (ring.closed % CANDLES_KEPT) * STRIDE;
    const bars = ring.bars;
    bars[at + START] = bar.start;
    bars[at + OPEN] = bar.open;
    bars[at + HIGH] = bar.high;
    bars[at + LOW] = bar.low;
    bars[at + CLOSE] = bar.close;
    bars[at + VOLUME] = bar.volume;
    bars[at + TRADES] = bar.trades;
    bars[at + COMPLETE] = bar.complete ? 1 : 0;
    ring.closed++;
  };

  /** Bars closed so far of stream index `stream` in interval index `k`. */
  closed(stream: number, k: number): number {
    return this.#rings[stream * this.intervals.length + k]?.closed ?? 0;
  }

  /**
   * The closed bars of stream index `stream` in interval index `k` after
   * the first `after` (at most {@linkcode CANDLES_KEPT}, oldest first).
   */
  since(stream: number, k: number, after = 0): Candle[] {
    const ring = this.#rings[stream * this.intervals.length + k];
    if (ring === undefined) return [];
    const out: Candle[] = [];
    const first = Math.max(after, ring.closed - CANDLES_KEPT);
    for (let n = first; n < ring.closed; n++) {
      const at = (n % CANDLES_KEPT) * STRIDE;
      out.push(Array.from(ring.bars.subarray(at, at + STRIDE)) as Candle);
    }
    return out;
  }

  /** The open bar of stream index `stream` in interval index `k` as a candle; null before its first trade. */
  open(stream: number, k: number): Candle | null {
    const builder = this.#builder;
    const origin = this.#streams[stream];
    if (builder === undefined || origin === undefined) return null;
    // The builder numbers streams in the same order; checked, in case not.
    let index = stream;
    const known = builder.streams[index];
    if (known?.exchange !== origin.exchange || known.symbol !== origin.symbol) {
      index = builder.streams.findIndex((s) =>
        s.exchange === origin.exchange && s.symbol === origin.symbol
      );
    }
    const bar = index < 0 ? undefined : builder.openBar(index, k);
    if (bar === undefined) return null;
    return [
      bar.start,
      bar.open,
      bar.high,
      bar.low,
      bar.close,
      bar.volume,
      bar.trades,
      bar.complete ? 1 : 0,
    ];
  }
}
