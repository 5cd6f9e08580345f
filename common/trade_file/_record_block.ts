/**
 * The records one file of a merge has read ahead: 48-byte wire records
 * written in place (by the fast path, or encoded from a parsed row), each
 * with the file's own index of its stream, and the gap lines among them.
 *
 * @module
 */

import { encodeTrade } from "../wire/codec.ts";
import { TRADE_RECORD_SIZE } from "../wire/trade.ts";
import type { TradeOrigin } from "../wire/codec.ts";
import type { GapRow, ReplayRow } from "./_row.ts";

/** u32 words per record. */
export const RECORD_WORDS = TRADE_RECORD_SIZE / 4;

/** Records read ahead from one file, consumed from `next` to `count`. */
export class RecordBlock {
  /** The records' bytes. */
  bytes: Uint8Array;
  /** The same as u32 words (12 per record: ts_event low, high at 2, 3; ts_recv at 4, 5). */
  words: Uint32Array;
  /** The same as f64 (6 per record: size at 4). */
  floats: Float64Array;
  /** Per record, the file's index of its stream. */
  streams: Int32Array;
  /** Records written and kept. */
  count = 0;
  /** The next record to consume. */
  next = 0;
  /** Gap lines, each before record `at` (at = count: after the last, so far). */
  gaps: { at: number; row: GapRow }[] = [];
  /** The next gap line to deliver. */
  gapNext = 0;

  /** A block of room for `capacity` records (it grows as needed). */
  constructor(capacity: number) {
    this.bytes = new Uint8Array(capacity * TRADE_RECORD_SIZE);
    this.words = new Uint32Array(this.bytes.buffer);
    this.floats = new Float64Array(this.bytes.buffer);
    this.streams = new Int32Array(capacity);
  }

  /** Makes room for one more record at `count`. */
  room(): void {
    if (this.count < this.streams.length) return;
    const bytes = new Uint8Array(this.bytes.length * 2);
    bytes.set(this.bytes);
    const streams = new Int32Array(this.streams.length * 2);
    streams.set(this.streams);
    this.bytes = bytes;
    this.words = new Uint32Array(bytes.buffer);
    this.floats = new Float64Array(bytes.buffer);
    this.streams = streams;
  }

  /** Writes trade `row` of stream `stream` at `count` (kept once {@linkcode keep} is called). */
  write(row: ReplayRow, stream: number): void {
    this.room();
    encodeTrade(row, this.bytes, { offset: this.count * TRADE_RECORD_SIZE });
    this.streams[this.count] = stream;
  }

  /** Keeps the record written at `count`. */
  keep(): void {
    this.count++;
  }

  /**
   * Hands over the records and all gap lines (for another thread: their
   * buffers are transferred) and starts the block afresh.
   */
  detach(): {
    bytes: Uint8Array;
    streams: Int32Array;
    count: number;
    gaps: { at: number; row: GapRow }[];
  } {
    const { bytes, streams, count } = this;
    const gaps = this.gaps.slice(this.gapNext);
    const capacity = streams.length;
    this.bytes = new Uint8Array(capacity * TRADE_RECORD_SIZE);
    this.words = new Uint32Array(this.bytes.buffer);
    this.floats = new Float64Array(this.bytes.buffer);
    this.streams = new Int32Array(capacity);
    this.count = this.next = this.gapNext = 0;
    this.gaps = [];
    return { bytes, streams, count, gaps };
  }

  /** Takes records handed over by {@linkcode detach} after those not consumed yet (the block must be reset), and their gap lines. */
  adopt(
    bytes: Uint8Array,
    streams: Int32Array,
    count: number,
    gaps: { at: number; row: GapRow }[],
  ): void {
    this.bytes = bytes;
    this.words = new Uint32Array(
      bytes.buffer,
      bytes.byteOffset,
      bytes.byteLength / 4,
    );
    this.floats = new Float64Array(
      bytes.buffer,
      bytes.byteOffset,
      bytes.byteLength / 8,
    );
    this.streams = streams;
    this.count = count;
    this.gaps.push(...gaps);
  }

  /** Empties the block once consumed, keeping the gaps not delivered (those after the last record). */
  reset(): void {
    this.count = 0;
    this.next = 0;
    if (this.gaps.length > 0) {
      this.gaps = this.gaps.slice(this.gapNext);
      for (const gap of this.gaps) gap.at = 0;
    }
    this.gapNext = 0;
  }

  /** The gap lines before record `at` not delivered yet, now delivered (all, if `at` is undefined). */
  takeGaps(at?: number): GapRow[] {
    const gaps = this.gaps;
    const rows: GapRow[] = [];
    while (
      this.gapNext < gaps.length &&
      (at === undefined || gaps[this.gapNext].at === at)
    ) rows.push(gaps[this.gapNext++].row);
    return rows;
  }
}

/** What the merge reads of one file, parsed in this thread or in a worker. */
export interface MergeSource {
  /** Position of the file in the merge's list: the tie-break after ts_recv. */
  readonly index: number;
  /** The file. */
  readonly path: string;
  /** Its records read ahead; `block.next` is its head. */
  readonly block: RecordBlock;
  /** The (exchange, symbol) of each of the file's stream indexes. */
  readonly origins: TradeOrigin[];
  /** Per stream of the file, its index in the merge (-1: not given yet). */
  readonly merged: number[];
  /** Bytes of the file read so far (compressed, if it is). */
  readonly bytesRead: number;
  /** Whether a record is ready at `block.next`. */
  readonly ready: boolean;
  /** Reads until a record is ready or the file ended (see MergeCursor.fill). */
  fill(): Promise<void>;
  /** Stops reading the file. */
  close(): Promise<void>;
}
