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

/** Most trades of one stream at one (ts_event, ts_recv) remembered for the duplicate check. */
const SAME_TIME_KEPT = 64;

/**
 * The trades of each stream at its latest (ts_event, ts_recv), with the file
 * each came from: a trade at that time with the same trade id (0: unknown,
 * not compared) from a *different* file is a duplicate — the same trades
 * under two names (a recording and its gzip, overlapping files). Rows
 * repeated within one file are kept: that is the data.
 */
class DuplicateCheck {
  /** Duplicates left out. */
  count = 0;
  readonly #onDuplicate: ((path: string, first: string) => void) | undefined;
  readonly #told = new Set<string>();
  /** Each file's path by its index in the merge. */
  readonly #paths: string[] = [];
  /** Per merged stream: the ts_event and ts_recv words of its latest time. */
  readonly #times: number[][] = [];
  /** Per merged stream: [trade id low, high, file index] of each trade at that time (flat, no allocation per trade). */
  readonly #trades: number[][] = [];

  /** Tells `onDuplicate` once per pair of files. */
  constructor(onDuplicate?: (path: string, first: string) => void) {
    this.#onDuplicate = onDuplicate;
  }

  /** Whether record `at` of `words` (stream `stream`, from `source`) repeats a trade of another file; remembers it if not. */
  duplicate(
    words: Uint32Array,
    at: number,
    stream: number,
    source: MergeSource,
  ): boolean {
    let time = this.#times[stream];
    let trades = this.#trades[stream];
    if (time === undefined) {
      time = this.#times[stream] = [-1, -1, -1, -1];
      trades = this.#trades[stream] = [];
    }
    const low = words[at + 10];
    const high = words[at + 11];
    const file = source.index;
    if (
      time[0] !== words[at + 2] || time[1] !== words[at + 3] ||
      time[2] !== words[at + 4] || time[3] !== words[at + 5]
    ) {
      for (let k = 0; k < 4; k++) time[k] = words[at + 2 + k];
      trades.length = 0;
    } else {
      for (let i = 0; i < trades.length; i += 3) {
        if (
          trades[i + 2] !== file && trades[i] === low && trades[i + 1] === high
        ) {
          this.#tell(source.path, this.#paths[trades[i + 2]]);
          this.count++;
          return true;
        }
      }
    }
    if (trades.length < 3 * SAME_TIME_KEPT) {
      trades.push(low, high, file);
      this.#paths[file] ??= source.path;
    }
    return false;
  }

  /** Tells the pair (`path`, `first`) at its first duplicate. */
  #tell(path: string, first: string): void {
    const key = first + "\n" + path;
    if (this.#told.has(key)) return;
    this.#told.add(key);
    this.#onDuplicate?.(path, first);
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
  readonly #duplicates: DuplicateCheck;
  #gaps: MergedGap[] = [];

  /**
   * A batch of at most `size` records, streams indexed by `index`;
   * `onDuplicate` is told once per pair of files at the first trade of
   * `path` left out as a duplicate of one of `first`.
   */
  constructor(
    size: number,
    index: StreamIndex,
    onDuplicate?: (path: string, first: string) => void,
  ) {
    this.#duplicates = new DuplicateCheck(onDuplicate);
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

  /** Trades left out as duplicates of another file's (see DuplicateCheck). */
  get duplicates(): number {
    return this.#duplicates.count;
  }

  /** Whether it holds anything (records or gaps). */
  get empty(): boolean {
    return this.count === 0 && this.#gaps.length === 0;
  }

  /**
   * Adds the head record of `cursor` as the next record, after the gap lines
   * before it, unless it is a duplicate of another file's trade (then left
   * out and counted), and moves the cursor past it.
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
    const local = block.streams[next];
    let stream = cursor.merged[local];
    if (stream < 0) {
      const { exchange, symbol } = cursor.origins[local];
      stream = cursor.merged[local] = this.#index.of(exchange, symbol);
    }
    block.next = next + 1;
    if (this.#duplicates.duplicate(from, f, stream, cursor)) return;
    for (let i = 0; i < RECORD_WORDS; i++) words[w + i] = from[f + i];
    this.#streams[count] = stream;
    this.count = count + 1;
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
