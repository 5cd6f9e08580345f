/**
 * What a strategy holds as `context.broker`: only the {@linkcode Broker}
 * methods of the broker behind it, so a strategy cannot feed it trades
 * (`PaperBroker.trade`) or reach anything else the runner uses.
 *
 * @module
 */

import type { Broker } from "./types.ts";

/** A {@linkcode Broker} that forwards to `broker` and exposes nothing more. */
export function brokerFacade(broker: Broker): Broker {
  return Object.freeze(
    {
      submit: (order) => broker.submit(order),
      cancel: (orderId) => broker.cancel(orderId),
      position: (exchange, symbol) => broker.position(exchange, symbol),
      openOrders: (exchange, symbol) => broker.openOrders(exchange, symbol),
      get balance() {
        return broker.balance;
      },
      get equity() {
        return broker.equity;
      },
    } satisfies Broker,
  );
}
