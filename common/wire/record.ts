/**
 * Field offsets and the record reader shared by the decoder and the view.
 *
 * @module
 */

import { priceHalvesToNumber } from "./fixed_point.ts";
import type { Side, Trade } from "./trade.ts";

/** Byte offsets of the fields inside one record. */
export const RecordOffset = {
  /** u8 wire version. */
  Version: 0,
  /** u8 aggressor side. */
  Side: 1,
  /** u16 flags. */
  Flags: 2,
  /** u32 per-symbol sequence. */
  Seq: 4,
  /** i64 exchange time, ns. */
  TsEvent: 8,
  /** i64 receive time, ns. */
  TsRecv: 16,
  /** i64 price × 10^9. */
  Price: 24,
  /** f64 size. */
  Size: 32,
  /** u64 trade id. */
  TradeId: 40,
} as const;

/** Where a message's records came from: the record itself does not carry it. */
export interface TradeOrigin {
  /** Exchange name, lower case. */
  exchange: string;
  /** Symbol, upper case. */
  symbol: string;
}

/** Reads the record at byte `at` into a standalone trade (no checks). */
export function readTrade(
  view: DataView,
  at: number,
  origin: TradeOrigin,
): Trade {
  const priceFixed = view.getBigInt64(at + RecordOffset.Price, true);
  return {
    exchange: origin.exchange,
    symbol: origin.symbol,
    side: view.getUint8(at + RecordOffset.Side) as Side,
    flags: view.getUint16(at + RecordOffset.Flags, true),
    seq: view.getUint32(at + RecordOffset.Seq, true),
    tsEvent: view.getBigInt64(at + RecordOffset.TsEvent, true),
    tsRecv: view.getBigInt64(at + RecordOffset.TsRecv, true),
    priceFixed,
    price: priceHalvesToNumber(
      view.getUint32(at + RecordOffset.Price, true),
      view.getInt32(at + RecordOffset.Price + 4, true),
    ),
    size: view.getFloat64(at + RecordOffset.Size, true),
    tradeId: view.getBigUint64(at + RecordOffset.TradeId, true),
  };
}
