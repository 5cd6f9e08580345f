/**
 * The shapes of the paper broker: what a strategy submits
 * ({@linkcode OrderRequest}), what it is told ({@linkcode Fill},
 * {@linkcode Position}, {@linkcode OpenOrder}), and the {@linkcode Broker}
 * it sees as `context.broker`. Prices and money are in the quote currency
 * of the symbol (USDT for BTCUSDT), one currency for every symbol.
 *
 * @module
 */

/** Direction of an order or a fill. */
export type OrderSide = "buy" | "sell";

/** Kind of an order: `"market"` fills at the next trades' prices, `"limit"` only at its price. */
export type OrderType = "market" | "limit";

/** An order a strategy submits with {@linkcode Broker.submit}. */
export interface OrderRequest {
  /** Exchange, lower case (as trades and bars name it). */
  exchange: string;
  /** Symbol, upper case. */
  symbol: string;
  /** Buy or sell. */
  side: OrderSide;
  /** Units to trade, a positive number. */
  quantity: number;
  /**
   * Market (fills against the next trades, slippage and the taker fee) or
   * limit (fills when a trade prints at or through `price`: at the trade
   * price as a taker if it crossed the market when placed, else at `price`
   * with the maker fee).
   *
   * @default {"market"}
   */
  type?: OrderType;
  /** Limit price, positive; required for a limit order, refused for a market one. */
  price?: number;
  /** Free text carried to the order's fills (e.g. why it was placed). */
  tag?: string;
}

/** One execution of an order against one trade. */
export interface Fill {
  /** Id of the order filled. */
  orderId: string;
  /** Exchange, lower case. */
  exchange: string;
  /** Symbol, upper case. */
  symbol: string;
  /** Direction. */
  side: OrderSide;
  /** Units filled (at most the trade's size). */
  quantity: number;
  /** Fill price (slippage included). */
  price: number;
  /** Fee paid, quote currency. */
  fee: number;
  /** `"taker"` for a market order and a limit order that crossed the market, `"maker"` for a limit order that rested. */
  liquidity: "taker" | "maker";
  /** Trade time of the trade filled against, ms since the Unix epoch. */
  time: number;
  /** `ts_event` of that trade, ns since the Unix epoch. */
  tsEvent: bigint;
  /** The exchange's id of that trade. */
  tradeId: bigint;
  /** Position of the (exchange, symbol) after the fill (negative when short). */
  position: number;
  /** Realized P&L of the (exchange, symbol) after the fill, net of fees. */
  realizedPnl: number;
  /** The order's tag, when it had one. */
  tag?: string;
}

/** The position and figures of one (exchange, symbol). */
export interface Position {
  /** Exchange, lower case. */
  exchange: string;
  /** Symbol, upper case. */
  symbol: string;
  /** Units held, negative when short. */
  quantity: number;
  /** Average entry price of the open position, 0 when flat. */
  averagePrice: number;
  /** Realized P&L, net of fees. */
  realizedPnl: number;
  /** P&L of the open position marked at `lastPrice`. */
  unrealizedPnl: number;
  /** Fees paid. */
  fees: number;
  /** Price of the last trade the broker saw, 0 before the first. */
  lastPrice: number;
  /** Orders submitted. */
  orders: number;
  /** Fills (a partly filled order counts once per fill). */
  fills: number;
  /** Units bought plus units sold. */
  volume: number;
}

/** An order not yet filled in full nor cancelled. */
export interface OpenOrder {
  /** Its id. */
  id: string;
  /** Exchange, lower case. */
  exchange: string;
  /** Symbol, upper case. */
  symbol: string;
  /** Direction. */
  side: OrderSide;
  /** Market or limit. */
  type: OrderType;
  /** Units ordered. */
  quantity: number;
  /** Units filled so far. */
  filled: number;
  /** Limit price; undefined for a market order. */
  price: number | undefined;
  /** Trade time from which it can fill, ms; null until the (exchange, symbol)'s first trade. */
  fillableFrom: number | null;
  /** Its tag, when it has one. */
  tag?: string;
}

/** The broker a strategy trades with (`context.broker`): the same one in `live` and in a backtest. */
export interface Broker {
  /**
   * Places an order; returns its id (`"1"`, `"2"`, … in submission order).
   * It can fill from the next trade of its (exchange, symbol) once that
   * stream's trade clock is the latency past what it was at submission.
   *
   * @throws {TypeError} for a malformed order (a strategy bug).
   * @throws {RangeError} for a quantity or price that is not positive.
   */
  submit(order: OrderRequest): string;
  /** Cancels what is left of an open order; false when it is not open (filled, cancelled, unknown). */
  cancel(orderId: string): boolean;
  /** The position of an (exchange, symbol); flat and zero when it never traded. */
  position(exchange: string, symbol: string): Position;
  /** Open orders, oldest first, of every stream or of one exchange or (exchange, symbol). */
  openOrders(exchange?: string, symbol?: string): OpenOrder[];
  /** Cash: the starting balance plus sales minus purchases and fees. */
  readonly balance: number;
  /** Cash plus every position marked at its last trade price. */
  readonly equity: number;
}
