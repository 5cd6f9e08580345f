/**
 * What a hot standby's source publishes into while another process owns
 * its symbols: the last trades of each symbol, kept in a bounded buffer.
 * At the takeover it hands the pipeline, per symbol, the buffered trades
 * after the owner's last one (by trade id) and then every new trade; trades
 * the owner already published are skipped (no duplicate), and trade ids
 * missing between the owner's last trade and the first one it still has
 * become a gap of exactly that count (the seq skips them and the trade is
 * flagged, see {@linkcode TradeSink.gap}). Trade ids are taken as
 * consecutive per symbol, as Binance's and the synthetic source's are.
 *
 * @module
 */

import { RecordOffset } from "../common/wire/record.ts";
import { TRADE_RECORD_SIZE } from "../common/wire/trade.ts";
import type { Pipeline } from "./pipeline.ts";
import type { TradeSink } from "./source.ts";

/** Where a symbol resumes: after the owner's last trade id, or (undefined) at the next new trade. */
export type ResumeAfter = bigint | undefined;

/** What the takeover did per symbol. */
export interface TakeoverCounts {
  /** Trades the owner had published, skipped. */
  skipped: number[];
  /** Trades neither the owner published nor the buffer held: the gap. */
  lost: number[];
  /** Buffered trades published at the takeover. */
  replayed: number[];
}

function tradeIdOf(record: Uint8Array): bigint {
  return new DataView(record.buffer, record.byteOffset, TRADE_RECORD_SIZE)
    .getBigUint64(RecordOffset.TradeId, true);
}

/** A sink that buffers until {@linkcode StandbySink.takeOver}, then publishes: see the module doc. */
export class StandbySink implements TradeSink {
  /** What the takeover skipped, lost and replayed, per symbol. */
  readonly counts: TakeoverCounts;
  #capacity: number;
  #buffers: Uint8Array[];
  /** Records written per symbol since the last clear (the newest is at (written - 1) % capacity). */
  #written: number[];
  #target: Pipeline | undefined;
  /** Per symbol, while trades up to this id are the owner's: skipped. */
  #after: ResumeAfter[];

  /** A sink for `symbols` keeping the last `capacity` trades of each. */
  constructor(symbols: readonly string[], capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(
        `Invalid standby buffer ${capacity} (registry.standby_buffer): expected an integer, 1 or more`,
      );
    }
    this.#capacity = capacity;
    this.#buffers = symbols.map(() =>
      new Uint8Array(capacity * TRADE_RECORD_SIZE)
    );
    this.#written = symbols.map(() => 0);
    this.#after = symbols.map(() => undefined);
    const zeros = () => symbols.map(() => 0);
    this.counts = { skipped: zeros(), lost: zeros(), replayed: zeros() };
  }

  /** Buffers the trade while standing by; publishes it after the takeover. */
  publish(symbol: number, record: Uint8Array): void {
    if (this.#target !== undefined) return this.#forward(symbol, record);
    const at = (this.#written[symbol]++ % this.#capacity) * TRADE_RECORD_SIZE;
    this.#buffers[symbol].set(record.subarray(0, TRADE_RECORD_SIZE), at);
  }

  /** The pipeline's, once it publishes. */
  flush(): Promise<void> | undefined {
    return this.#target?.flush();
  }

  /** Never holds a standing-by source; the pipeline's room once it publishes. */
  room(): Promise<void> | undefined {
    return this.#target?.room();
  }

  /**
   * Standing by: the buffer of `symbol` is cleared (what it held is no
   * longer contiguous; the trade ids tell the gap at the takeover). After
   * it: the pipeline's gap.
   */
  gap(symbol: number, count: number): void {
    if (this.#target === undefined) {
      this.#written[symbol] = 0;
      return;
    }
    this.#target.gap(symbol, count);
  }

  /**
   * Publishes into `pipeline` from now on: per symbol, the buffered trades
   * after `after[symbol]` (none when it is undefined: that symbol starts at
   * the next new trade), then every new one.
   */
  takeOver(pipeline: Pipeline, after: readonly ResumeAfter[]): void {
    this.#target = pipeline;
    this.#buffers.forEach((buffer, symbol) => {
      this.#after[symbol] = after[symbol];
      if (after[symbol] === undefined) return;
      const written = this.#written[symbol];
      const first = Math.max(0, written - this.#capacity);
      for (let n = first; n < written; n++) {
        const at = (n % this.#capacity) * TRADE_RECORD_SIZE;
        const before = this.counts.skipped[symbol];
        this.#forward(symbol, buffer.subarray(at, at + TRADE_RECORD_SIZE));
        if (this.counts.skipped[symbol] === before) {
          this.counts.replayed[symbol]++;
        }
      }
    });
    this.#buffers = [];
  }

  #forward(symbol: number, record: Uint8Array): void {
    const after = this.#after[symbol];
    if (after !== undefined) {
      const id = tradeIdOf(record);
      if (id <= after) {
        this.counts.skipped[symbol]++;
        return;
      }
      const lost = Number(id - after - 1n);
      if (lost > 0) {
        this.#target!.gap(symbol, lost);
        this.counts.lost[symbol] += lost;
      }
      this.#after[symbol] = undefined;
    }
    this.#target!.publish(symbol, record);
  }
}
