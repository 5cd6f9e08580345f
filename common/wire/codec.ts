/**
 * Encoder and decoder for trade messages: 1..N back-to-back 48-byte records
 * of one symbol (wire format v1, little-endian; see docs/wire_format.md).
 *
 * @module
 */

import { checkPriceFixed, checkSize } from "./fixed_point.ts";
import { readTrade, RecordOffset, type TradeOrigin } from "./record.ts";
import {
  type Trade,
  TRADE_RECORD_SIZE,
  type TradeRecord,
  WIRE_VERSION,
} from "./trade.ts";

export { RecordOffset, type TradeOrigin };

/** Options for placing records inside a caller's buffer. */
export interface BufferOptions {
  /**
   * Byte offset in the buffer where the first record starts.
   *
   * @default {0}
   */
  offset?: number;
}

/** A received message or record that does not follow the wire format. */
export class WireFormatError extends Error {
  /** Index of the offending record, when one record is at fault. */
  readonly recordIndex: number | undefined;

  /** Creates the error; `recordIndex` names the offending record. */
  constructor(message: string, recordIndex?: number) {
    super(message);
    this.name = "WireFormatError";
    this.recordIndex = recordIndex;
  }
}

const MAX_I64 = (1n << 63n) - 1n;
const MAX_U64 = (1n << 64n) - 1n;
const MAX_U32 = 0xffff_ffff;

let cachedBytes: Uint8Array | undefined;
let cachedView: DataView | undefined;

/** A DataView over exactly `bytes`, reused while the caller keeps passing the same array. */
function viewOf(bytes: Uint8Array): DataView {
  // A resizable buffer can change an array's length: rebuild then too.
  if (bytes !== cachedBytes || cachedView!.byteLength !== bytes.byteLength) {
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError(
        `Invalid buffer ${
          Object.prototype.toString.call(bytes)
        }: expected a Uint8Array`,
      );
    }
    cachedView = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    cachedBytes = bytes;
  }
  return cachedView!;
}

/**
 * Returns how many records a received message holds.
 *
 * @throws {WireFormatError} when its length is not a positive multiple of 48.
 */
export function recordCount(message: Uint8Array): number {
  const length = message.byteLength;
  if (length === 0 || length % TRADE_RECORD_SIZE !== 0) {
    throw new WireFormatError(
      `Invalid trade message: ${length} bytes received, expected a positive multiple of ${TRADE_RECORD_SIZE}`,
    );
  }
  return length / TRADE_RECORD_SIZE;
}

function checkOffset(target: Uint8Array, offset: number, needed: number) {
  if (!Number.isInteger(offset) || offset < 0) {
    throw new RangeError(
      `Invalid offset ${offset}: expected a non-negative integer`,
    );
  }
  if (offset + needed > target.byteLength) {
    throw new RangeError(
      `Buffer too small: ${needed} bytes needed at offset ${offset}, buffer holds ${target.byteLength}`,
    );
  }
}

function checkBigInt(
  value: bigint,
  max: bigint,
  field: string,
  expected: string,
): void {
  if (typeof value !== "bigint" || value < 0n || value > max) {
    throw new RangeError(
      `Invalid trade ${field} ${String(value)}: expected ${expected}`,
    );
  }
}

/**
 * Checks every field of a record against what v1 can store.
 *
 * @throws {RangeError} naming the first field that is out of range.
 */
export function checkTradeRecord(record: TradeRecord): void {
  const { side, flags, seq } = record;
  if (side !== 0 && side !== 1 && side !== 2) {
    throw new RangeError(
      `Invalid trade side ${
        String(side)
      }: expected 0 (unknown), 1 (buy) or 2 (sell)`,
    );
  }
  if (!Number.isInteger(flags) || flags < 0 || flags > 0xffff) {
    throw new RangeError(
      `Invalid trade flags ${
        String(flags)
      }: expected an integer from 0 to 65535`,
    );
  }
  if (!Number.isInteger(seq) || seq < 0 || seq > MAX_U32) {
    throw new RangeError(
      `Invalid trade seq ${
        String(seq)
      }: expected an integer from 0 to 4294967295`,
    );
  }
  checkBigInt(
    record.tsEvent,
    MAX_I64,
    "tsEvent",
    "ns since the epoch as a non-negative i64 bigint",
  );
  checkBigInt(
    record.tsRecv,
    MAX_I64,
    "tsRecv",
    "ns since the epoch as a non-negative i64 bigint",
  );
  checkPriceFixed(record.priceFixed);
  checkSize(record.size);
  checkBigInt(record.tradeId, MAX_U64, "tradeId", "a u64 bigint");
}

function writeRecord(view: DataView, at: number, record: TradeRecord): void {
  view.setUint8(at + RecordOffset.Version, WIRE_VERSION);
  view.setUint8(at + RecordOffset.Side, record.side);
  view.setUint16(at + RecordOffset.Flags, record.flags, true);
  view.setUint32(at + RecordOffset.Seq, record.seq, true);
  view.setBigInt64(at + RecordOffset.TsEvent, record.tsEvent, true);
  view.setBigInt64(at + RecordOffset.TsRecv, record.tsRecv, true);
  view.setBigInt64(at + RecordOffset.Price, record.priceFixed, true);
  view.setFloat64(at + RecordOffset.Size, record.size, true);
  view.setBigUint64(at + RecordOffset.TradeId, record.tradeId, true);
}

/**
 * Encodes one trade into a caller's buffer (no allocation) and returns the
 * number of bytes written (48).
 *
 * @throws {RangeError} when a field is out of range or the buffer is too small.
 *
 * @example Two trades of one symbol into one reused buffer
 * ```ts
 * import {
 *   encodeTrade,
 *   parsePrice,
 *   Side,
 *   TRADE_RECORD_SIZE,
 * } from "@marketbus/marketbus";
 *
 * const message = new Uint8Array(2 * TRADE_RECORD_SIZE);
 * const first = {
 *   side: Side.Sell, flags: 0, seq: 7,
 *   tsEvent: 1_700_000_000_000_000_000n, tsRecv: 1_700_000_000_000_100_000n,
 *   priceFixed: parsePrice("67123.45"), size: 0.5, tradeId: 42n,
 * };
 * encodeTrade(first, message); // 48
 * encodeTrade({ ...first, seq: 8, tradeId: 43n }, message, {
 *   offset: TRADE_RECORD_SIZE,
 * });
 * ```
 */
export function encodeTrade(
  record: TradeRecord,
  target: Uint8Array,
  options: BufferOptions = {},
): number {
  const offset = options.offset ?? 0;
  const view = viewOf(target);
  checkOffset(target, offset, TRADE_RECORD_SIZE);
  checkTradeRecord(record);
  writeRecord(view, offset, record);
  return TRADE_RECORD_SIZE;
}

/**
 * Encodes trades back to back into a caller's buffer (no allocation) and
 * returns the number of bytes written. Nothing is written when any record is
 * invalid.
 *
 * @throws {RangeError} when a field is out of range or the buffer is too small.
 */
export function encodeTrades(
  records: readonly TradeRecord[],
  target: Uint8Array,
  options: BufferOptions = {},
): number {
  const offset = options.offset ?? 0;
  const view = viewOf(target);
  const length = records.length * TRADE_RECORD_SIZE;
  checkOffset(target, offset, length);
  for (let i = 0; i < records.length; i++) checkTradeRecord(records[i]);
  for (let i = 0; i < records.length; i++) {
    writeRecord(view, offset + i * TRADE_RECORD_SIZE, records[i]);
  }
  return length;
}

/** Encodes trades into a new message (allocates; for cold paths and tests). */
export function encodeMessage(records: readonly TradeRecord[]): Uint8Array {
  if (records.length === 0) {
    throw new RangeError(
      "Invalid trade message: 0 records given, expected at least 1",
    );
  }
  const message = new Uint8Array(records.length * TRADE_RECORD_SIZE);
  encodeTrades(records, message);
  return message;
}

/** Throws the WireFormatError of the record at byte offset `at`. */
function recordError(at: number, what: string): never {
  const index = at / TRADE_RECORD_SIZE;
  throw new WireFormatError(
    `Invalid trade record ${index} (byte offset ${at}): ${what}`,
    index,
  );
}

/**
 * Checks the record at byte `at` of a received message.
 *
 * @throws {WireFormatError} naming the record and the field at fault.
 */
export function checkRecordBytes(view: DataView, at: number): void {
  const version = view.getUint8(at + RecordOffset.Version);
  if (version !== WIRE_VERSION) {
    recordError(at, `wire version ${version}, expected ${WIRE_VERSION}`);
  }
  const side = view.getUint8(at + RecordOffset.Side);
  if (side > 2) recordError(at, `side ${side}, expected 0, 1 or 2`);
  const priceHigh = view.getInt32(at + RecordOffset.Price + 4, true);
  const priceLow = view.getUint32(at + RecordOffset.Price, true);
  if (priceHigh < 0 || (priceHigh === 0 && priceLow === 0)) {
    recordError(
      at,
      `price ${
        view.getBigInt64(at + RecordOffset.Price, true)
      } (fixed point), expected greater than 0`,
    );
  }
  const size = view.getFloat64(at + RecordOffset.Size, true);
  if (!(size > 0) || size === Infinity) {
    recordError(at, `size ${size}, expected a finite number greater than 0`);
  }
  if (view.getInt32(at + RecordOffset.TsEvent + 4, true) < 0) {
    recordError(
      at,
      `tsEvent ${
        view.getBigInt64(at + RecordOffset.TsEvent, true)
      }, expected >= 0`,
    );
  }
  if (view.getInt32(at + RecordOffset.TsRecv + 4, true) < 0) {
    recordError(
      at,
      `tsRecv ${
        view.getBigInt64(at + RecordOffset.TsRecv, true)
      }, expected >= 0`,
    );
  }
}

/**
 * Checks a whole received message: its length and every record.
 * Returns the record count.
 *
 * @throws {WireFormatError} describing the first problem found.
 */
export function checkMessage(message: Uint8Array): number {
  const count = recordCount(message);
  const view = viewOf(message);
  for (let i = 0; i < count; i++) checkRecordBytes(view, i * TRADE_RECORD_SIZE);
  return count;
}

/**
 * The last record of a stored message, after checking the whole message
 * (its length and every record, as {@linkcode checkMessage}): the latest
 * trade it holds. A view of the record's 48 bytes in `message`, not a copy.
 *
 * @example The seq of a stream's latest trade
 * ```ts
 * const view = new TradeView();
 * view.wrap(lastRecord(stored.data));
 * console.log(view.seq, view.tradeId);
 * ```
 *
 * @throws {WireFormatError} describing the first problem found.
 */
export function lastRecord(message: Uint8Array): Uint8Array {
  const end = checkMessage(message) * TRADE_RECORD_SIZE;
  return message.subarray(end - TRADE_RECORD_SIZE, end);
}

/**
 * Decodes record `index` (default 0) of a received message.
 *
 * @throws {WireFormatError} when the message or that record is malformed.
 * @throws {RangeError} when `index` is outside the message.
 */
export function decodeTrade(
  message: Uint8Array,
  origin: TradeOrigin,
  options: {
    /**
     * Which record of the message to decode.
     *
     * @default {0}
     */
    index?: number;
  } = {},
): Trade {
  const count = recordCount(message);
  const index = options.index ?? 0;
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new RangeError(
      `Invalid record index ${index}: the message holds ${count} record(s)`,
    );
  }
  const view = viewOf(message);
  const at = index * TRADE_RECORD_SIZE;
  checkRecordBytes(view, at);
  return readTrade(view, at, origin);
}

/**
 * Decodes every record of a received message. The whole message is checked
 * first, so a bad record never yields a partial result.
 *
 * @throws {WireFormatError} when the message or any record is malformed.
 *
 * @example A message received on a trade subject (the record does not name its symbol)
 * ```ts
 * import { decodeTrades, parseTradeSubject } from "@marketbus/marketbus";
 *
 * function onMessage(subject: string, data: Uint8Array): void {
 *   const origin = parseTradeSubject(subject); // { exchange, symbol }
 *   for (const trade of decodeTrades(data, origin)) {
 *     console.log(trade.symbol, trade.price, trade.size);
 *   }
 * }
 * ```
 */
export function decodeTrades(
  message: Uint8Array,
  origin: TradeOrigin,
): Trade[] {
  const count = checkMessage(message);
  const view = viewOf(message);
  const trades = new Array<Trade>(count);
  for (let i = 0; i < count; i++) {
    trades[i] = readTrade(view, i * TRADE_RECORD_SIZE, origin);
  }
  return trades;
}
