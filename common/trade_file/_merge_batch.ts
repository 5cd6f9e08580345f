/**
 * The output side of a merge: the stream index of each (exchange, symbol),
 * and the batch of wire records being filled, its buffers reused.
 *
 * @module
 */

import type { TradeOrigin } from "../wire/codec.ts";
import { TRADE_RECORD_SIZE } from "../wire/trade.ts";
import { type MergeSource, RECORD_WORDS } from "./_record_block.ts";
import type { GapRow, RecordedGap } from "./_row.ts";

/** A gap line of a recording, in merged order: delivered before record `before` of its batch. */
export interface MergedGap {
  /** Index of the record of the batch it comes before (= the batch's count: after its last record). */
  before: number;
  /** Index of its (exchange, symbol) in the merger's `streams`. */
  stream: number;
  /** The gap as recorded. */
  gap: RecordedGap;
}

/**
 * One batch of the merged stream. Its arrays are views of buffers the merger
 * reuses: valid until the next batch is asked for (copy what must outlive it).
 */
export interface MergedBatch {
  /** count × 48-byte wire records (TradeView.wrap-able), in merged order. */
  records: Uint8Array;
  /** Per record, the index of its (exchange, symbol) in the merger's `streams`. */
  streams: Uint32Array;
  /** The gap lines met, in order, each placed before a record. */
  gaps: MergedGap[];
}

/** Stream indexes, in order of first appearance. */
export class StreamIndex {
  /** The (exchange, symbol) of each index. */
  readonly origins: TradeOrigin[] = [];
  readonly #index = new Map<string, number>();

  /** The index of (`exchange`, `symbol`), added at its first appearance. */
  of(exchange: string, symbol: string): number {
    const key = exchange + "\n" + symbol;
    let index = this.#index.get(key);
    if (index === undefined) {
      index = this.origins.length;
      this.origins.push({ exchange, symbol });
      this.#index.set(key, index);
    }
    return index;
  }
}

/** The batch being filled: records, their stream indexes, the gaps among them. */
export class BatchBuilder {
  /** Records in the batch. */
  count = 0;
  readonly #size: number;
  readonly #buffer: Uint8Array;
  readonly #words: Uint32Array;
  readonly #streams: Uint32Array;
  readonly #index: StreamIndex;
  #gaps: MergedGap[] = [];

  /** A batch of at most `size` records, streams indexed by `index`. */
  constructor(size: number, index: StreamIndex) {
    this.#size = size;
    this.#buffer = new Uint8Array(size * TRADE_RECORD_SIZE);
    this.#words = new Uint32Array(this.#buffer.buffer);
    this.#streams = new Uint32Array(size);
    this.#index = index;
  }

  /** Whether the batch holds `size` records. */
  get full(): boolean {
    return this.count === this.#size;
  }

  /** Whether it holds anything (records or gaps). */
  get empty(): boolean {
    return this.count === 0 && this.#gaps.length === 0;
  }

  /**
   * Adds the head record of `cursor` as the next record, after the gap lines
   * before it, and moves the cursor past it.
   */
  add(cursor: MergeSource): void {
    const block = cursor.block;
    const next = block.next;
    if (block.gapNext < block.gaps.length) this.addGaps(block.takeGaps(next));
    const count = this.count;
    const words = this.#words;
    const from = block.words;
    const w = count * RECORD_WORDS;
    const f = next * RECORD_WORDS;
    for (let i = 0; i < RECORD_WORDS; i++) words[w + i] = from[f + i];
    const local = block.streams[next];
    let stream = cursor.merged[local];
    if (stream < 0) {
      const { exchange, symbol } = cursor.origins[local];
      stream = cursor.merged[local] = this.#index.of(exchange, symbol);
    }
    this.#streams[count] = stream;
    this.count = count + 1;
    block.next = next + 1;
  }

  /** Adds gap lines `rows`, placed before the next record. */
  addGaps(rows: readonly GapRow[]): void {
    for (const row of rows) {
      const { exchange, symbol, cause, firstSeq, lastSeq, count } = row;
      this.#gaps.push({
        before: this.count,
        stream: this.#index.of(exchange, symbol),
        gap: { exchange, symbol, cause, firstSeq, lastSeq, count },
      });
    }
  }

  /** The batch so far, and starts the next (reusing the buffers). */
  take(): MergedBatch {
    const count = this.count;
    const batch = {
      records: this.#buffer.subarray(0, count * TRADE_RECORD_SIZE),
      streams: this.#streams.subarray(0, count),
      gaps: this.#gaps,
    };
    this.count = 0;
    this.#gaps = [];
    return batch;
  }
}
