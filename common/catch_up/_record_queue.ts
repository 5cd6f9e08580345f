/**
 * The live trades of one stream held while its history is replayed: a
 * bounded FIFO of 48-byte records, copied out of the live feed's view and
 * handed back, in order, through a {@linkcode TradeView}. Full, it drops
 * its oldest record: the seam then needs the history to reach further (see
 * docs/nats.md, "Catch-up then live").
 *
 * @module
 */

import { RecordOffset } from "../wire/record.ts";
import { TRADE_RECORD_SIZE } from "../wire/trade.ts";
import { TradeView } from "../wire/trade_view.ts";

/** Records held at first; the buffer doubles up to the queue's limit. */
const INITIAL_RECORDS = 1024;

/** A bounded FIFO of trade records; see the module documentation. */
export class RecordQueue {
  readonly #max: number;
  #buffer: Uint8Array;
  #words: DataView;
  /** Index (in records) of the oldest record. */
  #head = 0;
  #count = 0;
  #dropped = 0;

  /** A queue of at most `max` records (a power of two). */
  constructor(max: number) {
    if (!(Number.isInteger(max) && max >= 1 && (max & (max - 1)) === 0)) {
      throw new RangeError(
        `Invalid queue size ${max}: expected a power of two`,
      );
    }
    this.#max = max;
    this.#buffer = new Uint8Array(
      Math.min(max, INITIAL_RECORDS) * TRADE_RECORD_SIZE,
    );
    this.#words = new DataView(this.#buffer.buffer);
  }

  /** Records held. */
  get size(): number {
    return this.#count;
  }

  /** Records dropped (oldest first) because the queue was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** The `seq` of the oldest record held (the queue must not be empty). */
  get headSeq(): number {
    return this.#words.getUint32(
      this.#head * TRADE_RECORD_SIZE + RecordOffset.Seq,
      true,
    );
  }

  /** The `ts_recv` of the oldest record held (the queue must not be empty). */
  get headTsRecv(): bigint {
    return this.#words.getBigInt64(
      this.#head * TRADE_RECORD_SIZE + RecordOffset.TsRecv,
      true,
    );
  }

  /** Copies the record `view` has selected in, dropping the oldest when full. */
  push(view: TradeView): void {
    let slots = this.#buffer.length / TRADE_RECORD_SIZE;
    if (this.#count === slots) {
      if (slots < this.#max) {
        this.#grow(slots * 2);
        slots *= 2;
      } else {
        this.#head = (this.#head + 1) & (slots - 1);
        this.#count--;
        this.#dropped++;
      }
    }
    const at = (this.#head + this.#count) & (slots - 1);
    view.copyRecord(this.#buffer, at * TRADE_RECORD_SIZE);
    this.#count++;
  }

  /** Drops the oldest record (the queue must not be empty). */
  shift(): void {
    this.#head = (this.#head + 1) &
      (this.#buffer.length / TRADE_RECORD_SIZE - 1);
    this.#count--;
  }

  /** Drops the oldest records received before `since` (`ts_recv` ns). */
  shiftBefore(since: bigint): void {
    while (this.#count > 0 && this.headTsRecv < since) this.shift();
  }

  /**
   * Drops the oldest records at or before `seq` (u32, wrapping); with `at`,
   * those received before `at` (`ts_recv` ns) too, and at `at` only when at
   * or before `seq` (a cut by time where `seq`s of other runs may repeat).
   */
  shiftThrough(seq: number, at?: bigint): void {
    while (this.#count > 0) {
      const through = ((this.headSeq - seq) | 0) <= 0;
      const ts = at === undefined ? undefined : this.headTsRecv;
      if (ts === undefined ? !through : ts > at! || (ts === at && !through)) {
        return;
      }
      this.shift();
    }
  }

  /** Empties the queue. */
  clear(): void {
    this.#head = 0;
    this.#count = 0;
  }

  /**
   * Hands every record held, oldest first, to `each` (selected in a view
   * valid during the call), then empties the queue.
   */
  drain(each: (view: TradeView) => void): void {
    if (this.#count === 0) return;
    const slots = this.#buffer.length / TRADE_RECORD_SIZE;
    const first = Math.min(this.#count, slots - this.#head);
    const parts: [number, number][] = [[this.#head, first]];
    if (first < this.#count) parts.push([0, this.#count - first]);
    this.clear();
    const view = new TradeView();
    for (const [from, count] of parts) {
      const start = from * TRADE_RECORD_SIZE;
      view.wrap(
        this.#buffer.subarray(start, start + count * TRADE_RECORD_SIZE),
      );
      for (let i = 0; i < count; i++) each(view.select(i));
    }
  }

  #grow(slots: number): void {
    const bigger = new Uint8Array(slots * TRADE_RECORD_SIZE);
    const old = this.#buffer;
    const oldSlots = old.length / TRADE_RECORD_SIZE;
    // Unroll the ring: the oldest record first.
    const tail = (oldSlots - this.#head) * TRADE_RECORD_SIZE;
    bigger.set(old.subarray(this.#head * TRADE_RECORD_SIZE), 0);
    bigger.set(old.subarray(0, this.#head * TRADE_RECORD_SIZE), tail);
    this.#buffer = bigger;
    this.#words = new DataView(bigger.buffer);
    this.#head = 0;
  }
}
