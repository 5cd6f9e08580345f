/**
 * The event helper the exchanges share.
 *
 * @module
 */

import type { ExchangeEvent } from "./exchange.ts";

/** An event about `channel`'s symbol, its message prefixed with the symbol. */
export function symbolEvent(
  channel: { readonly symbol: string },
  kind: ExchangeEvent["kind"],
  message: string,
): ExchangeEvent {
  return {
    kind,
    symbol: channel.symbol,
    message: `${channel.symbol}: ${message}`,
  };
}
