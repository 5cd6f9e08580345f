/**
 * The `Nats-Msg-Id` of a trade message: JetStream drops a message whose id it
 * stored within the stream's duplicate window, so a publish retried after a
 * lost ack cannot store the same trades twice.
 *
 * @module
 */

import type { TradeOrigin } from "./codec.ts";

/** The id of a message holding `count` trades starting at `firstTradeId`: `binance:BTCUSDT:123456789:64`. */
export function natsMessageId(
  origin: TradeOrigin,
  firstTradeId: bigint,
  options: { count?: number } = {},
): string {
  return `${origin.exchange}:${origin.symbol}:${firstTradeId}:${
    options.count ?? 1
  }`;
}
