/**
 * One {@linkcode Fill} as an NDJSON line: what `live --fills-out` and a
 * backtest's `fills.ndjson` hold.
 *
 * Each line is a JSON object with the fields in this fixed order:
 * `orderId`, `exchange`, `symbol`, `side`, `quantity`, `price`, `fee`,
 * `liquidity`, `time`, `tsEvent`, `tradeId`, `position`, `realizedPnl`,
 * then `tag` when the order had one. `tsEvent` and `tradeId` are decimal
 * strings (they exceed what a JSON number holds exactly); other numbers are
 * written as JavaScript prints them, so they parse back to the same doubles.
 *
 * @module
 */

import type { Fill } from "./types.ts";

/** The fields every fill line has, in order (the first line of a file appended to must have them). */
export const FILL_LINE_FIELDS: readonly string[] = [
  "orderId",
  "exchange",
  "symbol",
  "side",
  "quantity",
  "price",
  "fee",
  "liquidity",
  "time",
  "tsEvent",
  "tradeId",
  "position",
  "realizedPnl",
];

/**
 * `fill` as one NDJSON line (without the newline), fields in the order of
 * the module documentation.
 *
 * @example
 * ```ts ignore
 * formatFillLine(fill);
 * // {"orderId":"1","exchange":"binance","symbol":"BTCUSDT","side":"buy",...,"tsEvent":"1700000000000000000",...}
 * ```
 */
export function formatFillLine(fill: Fill): string {
  return JSON.stringify({
    orderId: fill.orderId,
    exchange: fill.exchange,
    symbol: fill.symbol,
    side: fill.side,
    quantity: fill.quantity,
    price: fill.price,
    fee: fill.fee,
    liquidity: fill.liquidity,
    time: fill.time,
    tsEvent: String(fill.tsEvent),
    tradeId: String(fill.tradeId),
    position: fill.position,
    realizedPnl: fill.realizedPnl,
    tag: fill.tag,
  });
}
