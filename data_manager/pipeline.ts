/**
 * The publishing pipeline: stamps each symbol's sequence on the records a
 * source delivers and hands every record to every transport.
 *
 * @module
 */

import { RecordOffset } from "../common/wire/mod.ts";
import type { TradeSink, TradeSource } from "./source.ts";
import type { TradePublisher } from "../common/transport/publisher.ts";

/** Options of {@linkcode publishTrades}. */
export interface PublishOptions {
  /** Stops publishing when aborted. */
  signal?: AbortSignal;
  /**
   * Let sources that can wait wait for the transports' room instead of
   * letting a transport drop (when every transport can wait,
   * e.g. NATS only; never when the ring is one of them).
   */
  backpressure?: boolean;
  /** Stop after this many trades (0 or absent = no limit); later trades are not published. */
  limit?: number;
}

/** What the pipeline published. */
export interface PublishCounters {
  /** Trades taken from the source and handed to the transports. */
  trades: number;
  /** Per symbol, in the source's symbol order. */
  perSymbol: number[];
}

/** Stamps sequences and fans records out to the transports. */
export class Pipeline implements TradeSink {
  /** Counters, updated as trades go out. */
  readonly counters: PublishCounters;
  #transports: readonly TradePublisher[];
  #sequences: Uint32Array;
  #backpressure: boolean;
  #limit: number;
  #reached = new AbortController();

  /** A pipeline for `symbols` into `transports`. */
  constructor(
    symbols: readonly string[],
    transports: readonly TradePublisher[],
    options: {
      backpressure?: boolean;
      counters?: PublishCounters;
      limit?: number;
    } = {},
  ) {
    this.#limit = options.limit && options.limit > 0 ? options.limit : Infinity;
    this.#transports = transports;
    this.#sequences = new Uint32Array(symbols.length);
    this.#backpressure = options.backpressure ?? false;
    this.counters = options.counters ??
      { trades: 0, perSymbol: new Array(symbols.length).fill(0) };
  }

  /** Stamps the symbol's next seq (from 1, wrapping at 2^32) and sends the record to every transport. */
  publish(symbol: number, record: Uint8Array): void {
    if (this.counters.trades >= this.#limit) return;
    const seq = this.#sequences[symbol] + 1;
    this.#sequences[symbol] = seq;
    // Little-endian u32 by bytes: no view to allocate per trade.
    const at = RecordOffset.Seq;
    record[at] = seq & 0xff;
    record[at + 1] = (seq >>> 8) & 0xff;
    record[at + 2] = (seq >>> 16) & 0xff;
    record[at + 3] = seq >>> 24;
    const transports = this.#transports;
    for (let t = 0; t < transports.length; t++) {
      transports[t].send(symbol, record);
    }
    this.counters.perSymbol[symbol]++;
    if (++this.counters.trades === this.#limit) this.#reached.abort();
  }

  /** Aborts once the limit is reached. */
  get limitReached(): AbortSignal {
    return this.#reached.signal;
  }

  /** With backpressure, the first transport's pending room; otherwise undefined. */
  room(): Promise<void> | undefined {
    if (!this.#backpressure) return undefined;
    for (const transport of this.#transports) {
      const room = transport.room?.();
      if (room) return room;
    }
    return undefined;
  }
}

/**
 * Runs `source` into every transport until it is exhausted or `signal`
 * aborts. `counters` is updated live, so progress lines can read it.
 */
export async function publishTrades(
  source: TradeSource,
  transports: readonly TradePublisher[],
  options: PublishOptions & { counters?: PublishCounters } = {},
): Promise<PublishCounters> {
  const pipeline = new Pipeline(source.symbols, transports, options);
  const signals = [pipeline.limitReached];
  if (options.signal) signals.push(options.signal);
  await source.run(pipeline, { signal: AbortSignal.any(signals) });
  return pipeline.counters;
}
