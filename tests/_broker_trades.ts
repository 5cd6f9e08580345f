/**
 * Test helper of the broker's tests: trades fed one by one to a
 * {@linkcode PaperBroker}, by (exchange, symbol) stream.
 *
 * @module
 */

import { encodeMessage } from "../common/wire/codec.ts";
import { Side } from "../common/wire/trade.ts";
import { TradeView } from "../common/wire/trade_view.ts";
import type { PaperBroker } from "../trading_core/broker/mod.ts";

/** 2024-01-01T00:00:00Z, ms. */
export const T0 = 1_704_067_200_000;

/** One trade: ms after {@linkcode T0}, price, size; stream 0 (binance BTCUSDT) unless `symbol` says. */
export interface TestTrade {
  /** Ms after T0. */
  ms: number;
  /** Price (up to 9 decimals). */
  price: number;
  /** Size. @default {1} */
  size?: number;
  /** Symbol on binance. @default {"BTCUSDT"} */
  symbol?: string;
}

/** The symbols tests trade, each its stream index. */
const SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"];

/** Feeds `trades` to `broker` in order; stream index = the symbol's place in BTCUSDT, ETHUSDT, SOLUSDT. */
export function feed(broker: PaperBroker, trades: readonly TestTrade[]): void {
  const view = new TradeView();
  let id = 0;
  for (const { ms, price, size = 1, symbol = "BTCUSDT" } of trades) {
    id++;
    view.wrap(encodeMessage([{
      side: Side.Buy,
      flags: 0,
      seq: id,
      tsEvent: BigInt(T0 + ms) * 1_000_000n,
      tsRecv: BigInt(T0 + ms) * 1_000_000n,
      priceFixed: BigInt(Math.round(price * 1e9)),
      size,
      tradeId: BigInt(1000 + id),
    }]));
    broker.trade(
      view,
      { exchange: "binance", symbol },
      SYMBOLS.indexOf(symbol),
    );
  }
}
