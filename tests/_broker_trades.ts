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

/** One trade: ms after {@linkcode T0}, price, size, of binance BTCUSDT unless `exchange` or `symbol` says. */
export interface TestTrade {
  /** Ms after T0 (a fraction: down to the ns). */
  ms: number;
  /** Price (up to 9 decimals). */
  price: number;
  /** Size. @default {1} */
  size?: number;
  /** Symbol. @default {"BTCUSDT"} */
  symbol?: string;
  /** Exchange. @default {"binance"} */
  exchange?: string;
  /** TradeFlags bits. @default {0} */
  flags?: number;
}

/** Stream indexes per broker, by "exchange symbol" in order of first trade. */
const STREAMS = new WeakMap<PaperBroker, Map<string, number>>();

/** Feeds `trades` to `broker` in order; each (exchange, symbol) gets the next stream index at its first trade. */
export function feed(broker: PaperBroker, trades: readonly TestTrade[]): void {
  const view = new TradeView();
  let id = 0;
  let streams = STREAMS.get(broker);
  if (streams === undefined) STREAMS.set(broker, streams = new Map());
  for (const trade of trades) {
    const { ms, price, size = 1 } = trade;
    const { symbol = "BTCUSDT", exchange = "binance", flags = 0 } = trade;
    const ns = BigInt(T0) * 1_000_000n + BigInt(Math.round(ms * 1e6));
    id++;
    view.wrap(encodeMessage([{
      side: Side.Buy,
      flags,
      seq: id,
      tsEvent: ns,
      tsRecv: ns,
      priceFixed: BigInt(Math.round(price * 1e9)),
      size,
      tradeId: BigInt(1000 + id),
    }]));
    const name = `${exchange} ${symbol}`;
    let stream = streams.get(name);
    if (stream === undefined) streams.set(name, stream = streams.size);
    broker.trade(view, { exchange, symbol }, stream);
  }
}
