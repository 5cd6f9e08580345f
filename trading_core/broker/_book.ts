/**
 * The book of one (exchange, symbol) in the paper broker: its open orders,
 * its last trade, and the accounting of its position (average price,
 * realized P&L on a reduce or a flip).
 *
 * @module
 */

import type { Order } from "./_order.ts";
import type { Position } from "./types.ts";

/**
 * Relative size under which a remainder counts as zero: float sums of
 * partial fills (0.1 + 0.2) leave crumbs that must not stay open.
 */
const CRUMB = 1e-9;

/** The state of one (exchange, symbol). */
export class Book {
  /** Exchange, lower case. */
  readonly exchange: string;
  /** Symbol, upper case. */
  readonly symbol: string;
  /** Open orders, oldest first. */
  readonly open: Order[] = [];
  /** Trade time (ms) of its last trade, NaN before the first. */
  lastTime = NaN;
  /** Price of its last trade, 0 before the first. */
  lastPrice = 0;
  /** Units held, negative when short. */
  quantity = 0;
  /** Average entry price, 0 when flat. */
  averagePrice = 0;
  /** Realized P&L, net of fees. */
  realizedPnl = 0;
  /** Fees paid. */
  fees = 0;
  /** Orders submitted. */
  orders = 0;
  /** Fills. */
  fills = 0;
  /** Units bought plus sold. */
  volume = 0;

  /** The book of `exchange` `symbol`. */
  constructor(exchange: string, symbol: string) {
    this.exchange = exchange;
    this.symbol = symbol;
  }

  /** Books a fill of `size` units (negative: sold) at `price` with `fee`. */
  apply(size: number, price: number, fee: number): void {
    const old = this.quantity;
    const units = Math.abs(size);
    if (old === 0 || Math.sign(old) === Math.sign(size)) {
      this.averagePrice = (this.averagePrice * Math.abs(old) + price * units) /
        (Math.abs(old) + units);
    } else {
      const closed = Math.min(units, Math.abs(old));
      this.realizedPnl += (price - this.averagePrice) * closed * Math.sign(old);
      if (units > Math.abs(old)) this.averagePrice = price;
    }
    let next = old + size;
    if (Math.abs(next) <= CRUMB * Math.max(Math.abs(old), units)) next = 0;
    if (next === 0) this.averagePrice = 0;
    this.quantity = next;
    this.realizedPnl -= fee;
    this.fees += fee;
    this.fills++;
    this.volume += units;
  }

  /** P&L of the open position at the last price. */
  get unrealizedPnl(): number {
    return this.quantity === 0
      ? 0
      : (this.lastPrice - this.averagePrice) * this.quantity;
  }

  /** Its figures as a {@linkcode Position}. */
  position(): Position {
    return {
      exchange: this.exchange,
      symbol: this.symbol,
      quantity: this.quantity,
      averagePrice: this.averagePrice,
      realizedPnl: this.realizedPnl,
      unrealizedPnl: this.unrealizedPnl,
      fees: this.fees,
      lastPrice: this.lastPrice,
      orders: this.orders,
      fills: this.fills,
      volume: this.volume,
    };
  }
}

/** Whether `remaining` of an order of `quantity` is a float crumb (the order is done). */
export function isCrumb(remaining: number, quantity: number): boolean {
  return remaining <= CRUMB * quantity;
}
