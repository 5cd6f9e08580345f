/**
 * A zero-copy flyweight over the records of a received message, for
 * consumers that read a few fields of many trades.
 *
 * @module
 */

import { checkMessage } from "./codec.ts";
import { nanosSince } from "./epoch_nanos.ts";
import { priceHalvesToNumber } from "./fixed_point.ts";
import { readTrade, RecordOffset, type TradeOrigin } from "./record.ts";
import { type Side, type Trade, TRADE_RECORD_SIZE } from "./trade.ts";

const EMPTY = new DataView(new ArrayBuffer(0));

/**
 * Reads fields straight from the message bytes: one object serves every
 * record, so reading allocates nothing except the bigint getters.
 *
 * @example The notional of a message, without decoding its trades
 * ```ts
 * import { TradeView } from "@marketbus/marketbus";
 *
 * const view = new TradeView();
 *
 * function notional(message: Uint8Array): number {
 *   const count = view.wrap(message);
 *   let total = 0;
 *   for (let i = 0; i < count; i++) {
 *     view.select(i);
 *     total += view.price * view.size;
 *   }
 *   return total;
 * }
 * ```
 */
export class TradeView {
  #view: DataView = EMPTY;
  #bytes: Uint8Array = new Uint8Array(0);
  #count = 0;
  #at = 0;

  /**
   * Points the view at a received message after checking its length and
   * every record, selects record 0 and returns the record count.
   *
   * @throws {WireFormatError} when the message is malformed; the view then
   * holds no records.
   */
  wrap(message: Uint8Array): number {
    this.#count = 0;
    this.#at = 0;
    this.#view = EMPTY;
    this.#bytes = message;
    const count = checkMessage(message);
    this.#view = new DataView(
      message.buffer,
      message.byteOffset,
      message.byteLength,
    );
    this.#count = count;
    return count;
  }

  /** Number of records in the wrapped message. */
  get count(): number {
    return this.#count;
  }

  /** Index of the selected record. */
  get index(): number {
    return this.#at / TRADE_RECORD_SIZE;
  }

  /**
   * Selects record `index` and returns this view.
   *
   * @throws {RangeError} when `index` is outside the message.
   */
  select(index: number): this {
    if (!(index >= 0 && index < this.#count && Number.isInteger(index))) {
      throw new RangeError(
        `Invalid record index ${index}: the message holds ${this.#count} record(s)`,
      );
    }
    this.#at = index * TRADE_RECORD_SIZE;
    return this;
  }

  /**
   * Copies the selected record's bytes into `into` at byte `offset` (to
   * keep it without decoding it). (Positional arguments: it runs per trade.)
   */
  copyRecord(into: Uint8Array, offset: number): void {
    const bytes = this.#bytes;
    const at = this.#at;
    for (let i = 0; i < TRADE_RECORD_SIZE; i++) {
      into[offset + i] = bytes[at + i];
    }
  }

  /** Aggressor side of the selected record. */
  get side(): Side {
    return this.#view.getUint8(this.#at + RecordOffset.Side) as Side;
  }

  /** Flags of the selected record. */
  get flags(): number {
    return this.#view.getUint16(this.#at + RecordOffset.Flags, true);
  }

  /** Per-symbol sequence of the selected record. */
  get seq(): number {
    return this.#view.getUint32(this.#at + RecordOffset.Seq, true);
  }

  /** Exchange time of the selected record, ns since the epoch. */
  get tsEvent(): bigint {
    return this.#view.getBigInt64(this.#at + RecordOffset.TsEvent, true);
  }

  /**
   * Exchange time of the selected record in whole ms since the epoch,
   * `floor(tsEvent / 10^6)` exactly, without a bigint: the i64 is
   * `high × 2^32 + low` and 2^32 = 4294 × 10^6 + 967_296, so the result is
   * `high × 4294 + floor((high × 967_296 + low) / 10^6)`, where the dividend
   * stays below 2^52 and the division's floor is exact. Exact for every
   * time the wire holds (a non-negative i64; `wrap` rejects negative ones).
   */
  get tsEventMs(): number {
    const at = this.#at + RecordOffset.TsEvent;
    const high = this.#view.getUint32(at + 4, true);
    const rest = high * 967_296 + this.#view.getUint32(at, true);
    return high * 4294 + Math.floor(rest / 1e6);
  }

  /**
   * Exchange time of the selected record in ms since the epoch with its
   * sub-ms part as a fraction (to about 0.25 µs for current times), without
   * a bigint; a whole-ms time is exactly {@linkcode tsEventMs}.
   */
  get tsEventMsFractional(): number {
    const at = this.#at + RecordOffset.TsEvent;
    const high = this.#view.getUint32(at + 4, true);
    const rest = high * 967_296 + this.#view.getUint32(at, true);
    return high * 4294 + rest / 1e6;
  }

  /** Receive time of the selected record, ns since the epoch. */
  get tsRecv(): bigint {
    return this.#view.getBigInt64(this.#at + RecordOffset.TsRecv, true);
  }

  /** Price of the selected record as a double (no bigint allocated). */
  get price(): number {
    const at = this.#at + RecordOffset.Price;
    return priceHalvesToNumber(
      this.#view.getUint32(at, true),
      this.#view.getInt32(at + 4, true),
    );
  }

  /**
   * Nanoseconds from the selected record's receive time to the wall-clock
   * time `seconds` + `nanos` (no bigint allocated; exact below 2^53 ns).
   */
  recvAgeNanos(seconds: number, nanos: number): number {
    return nanosSince(
      this.#view,
      this.#at + RecordOffset.TsRecv,
      seconds,
      nanos,
    );
  }

  /** Exact fixed-point price (× 10^9) of the selected record. */
  get priceFixed(): bigint {
    return this.#view.getBigInt64(this.#at + RecordOffset.Price, true);
  }

  /** Size of the selected record. */
  get size(): number {
    return this.#view.getFloat64(this.#at + RecordOffset.Size, true);
  }

  /** Trade id of the selected record. */
  get tradeId(): bigint {
    return this.#view.getBigUint64(this.#at + RecordOffset.TradeId, true);
  }

  /** Copies the selected record into a standalone {@linkcode Trade}. */
  toTrade(origin: TradeOrigin): Trade {
    return readTrade(this.#view, this.#at, origin);
  }
}
