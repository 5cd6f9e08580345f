/**
 * The book of one (exchange, symbol) in the paper broker: its open orders,
 * its last trade, and the accounting of its position (average price,
 * realized P&L on a reduce or a flip).
 *
 * @module
 */

import { RestingOrders } from "./_resting.ts";
import type { Position } from "./types.ts";

/**
 * Relative size under which a remainder counts as zero: float sums of
 * partial fills (0.1 + 0.2) leave crumbs that must not stay open.
 */
export const CRUMB = 1e-9;

/**
 * Relative size (of the order that fills) under which a position counts as
 * flat: float error of summed fills, far below any real remainder.
 */
const POSITION_CRUMB = 1e-12;

/** A fill to book: units (negative: sold), price, fee, and the size of its order (the scale of a float crumb). */
export interface BookedFill {
  /** Units, negative when sold. */
  size: number;
  /** Fill price. */
  price: number;
  /** Fee paid. */
  fee: number;
  /** Units of the order it fills: a position left under a crumb of it is flat. */
  orderQuantity: number;
}

/** The state of one (exchange, symbol). */
export class Book {
  /** Exchange, lower case. */
  readonly exchange: string;
  /** Symbol, upper case. */
  readonly symbol: string;
  /** Open orders. */
  readonly resting: RestingOrders = new RestingOrders();
  /**
   * The stream's trade clock, ms (fractional: ns precision to about
   * 0.25 µs), NaN before its first trade: the latest trade time seen, never
   * going back on a late trade. It trusts the times it is given: in `live`
   * and a backtest, TradeProcessing keeps clock outliers (a trade far ahead
   * of its stream, `trading_core.bars.max_clock_jump`) from the broker.
   */
  clock = NaN;
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

  /** Moves the clock to a trade at `time` (ms): the latest time seen. */
  tick(time: number): void {
    if (!(time <= this.clock)) this.clock = time;
  }

  /** Books `fill`. */
  apply(fill: BookedFill): void {
    const { size, price, fee } = fill;
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
    if (Math.abs(next) <= POSITION_CRUMB * fill.orderQuantity) next = 0;
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
