/**
 * The paper broker: orders a strategy submits fill against the trades that
 * follow them, in trade time, with fees, optional slippage and partial
 * fills, and it keeps positions, P&L and cash. The same broker runs in
 * `live` (paper trading) and in a backtest, so both fill alike.
 *
 * Fill model, per (exchange, symbol):
 * - Each stream has a trade clock (ms, to the ns): the latest `ts_event`
 *   seen, never going back on a late trade. A trade flagged `Redelivered`
 *   or `Snapshot` is ignored. It trusts the times it is given: in `live`
 *   and a backtest, `TradeProcessing` keeps clock outliers (a trade more
 *   than `trading_core.bars.max_clock_jump` ahead of its stream) from it.
 * - An order becomes fillable at its stream's clock when it was submitted
 *   (an order placed before the stream's first trade: that trade's) plus
 *   {@linkcode PaperBrokerOptions.latencyMs}, and fills against the next
 *   trades of its stream while the clock is at least that. A trade never
 *   fills an order placed while it was being handled (from `onFill`, its
 *   bars or `onTrade`).
 * - A market order fills at the trade price moved against it by
 *   {@linkcode PaperBrokerOptions.slippageBps} (a buy pays more, a sell
 *   gets less), taker fee {@linkcode PaperBrokerOptions.feeBps}.
 * - A limit buy fills when a trade prints at or below its price, a limit
 *   sell at or above it. If the first due trade it meets fills it (the
 *   order crossed the market when placed), it is a taker: it
 *   fills at the trade price with slippage, never worse than its limit,
 *   taker fee. Once it has rested (a due trade went by, or it filled in
 *   part) it fills at its limit price (never better: a resting order the
 *   trade reached), maker fee {@linkcode PaperBrokerOptions.makerFeeBps}.
 * - A trade fills at most its own size, shared among the due orders it
 *   reaches in price-time priority: next is always the oldest of the oldest
 *   market order, the highest buy limit it reaches and the lowest sell
 *   limit it reaches (oldest first within a price). What is left waits for
 *   the next trades (one {@linkcode Fill} per order and trade). A trade
 *   costs O(fills + log n) of the stream's n open orders, and
 *   {@linkcode PaperBrokerOptions.maxOpenOrders} bounds n. Quantities are floats compared with a tolerance
 *   (`CRUMB`, 1e-9) relative to the order or the trade: an order
 *   whose remainder would be under a crumb of it fills in full, and a
 *   trade's leftover under a crumb of its size fills nothing (no dust).
 * - Each fill is booked, then reported to `onFill`, one at a time: it sees
 *   the broker as of that fill.
 * - Fees are in basis points of the notional (units × fill price).
 *   Positions keep an average entry price; reducing or flipping one
 *   realizes (fill price − average) × units closed. Unrealized P&L is
 *   marked at the stream's last trade price. Cash starts at
 *   {@linkcode PaperBrokerOptions.startingBalance}, in the quote currency
 *   every symbol is taken to share; there is no margin check (cash and
 *   positions may go negative).
 *
 * Deterministic: no wall clock, no randomness; the same trades and the same
 * orders give the same fills.
 *
 * @module
 */

import type { TradeOrigin } from "../../common/wire/codec.ts";
import type { TradeView } from "../../common/wire/trade_view.ts";
import { BROKER_LIMITS } from "../../common/config/broker_limits.ts";
import { TradeFlags } from "../../common/wire/trade.ts";
import { Book, CRUMB, isCrumb } from "./_book.ts";
import { checkOrder, type Order } from "./_order.ts";
import type {
  Broker,
  Fill,
  OpenOrder,
  OrderRequest,
  Position,
} from "./types.ts";

/** Options of {@linkcode PaperBroker}. */
export interface PaperBrokerOptions {
  /**
   * Cash at the start, quote currency (`trading_core.broker.starting_balance`).
   *
   * @default {100000}
   */
  startingBalance?: number;
  /**
   * Taker fee of market orders, basis points of the notional
   * (`trading_core.broker.fee_bps`; 10 = 0.1 %).
   *
   * @default {10}
   */
  feeBps?: number;
  /**
   * Maker fee of limit orders, basis points of the notional
   * (`trading_core.broker.maker_fee_bps`).
   *
   * @default {10}
   */
  makerFeeBps?: number;
  /**
   * How far a market order's fill price is moved against it from the trade
   * price, basis points (`trading_core.broker.slippage_bps`).
   *
   * @default {0}
   */
  slippageBps?: number;
  /**
   * Trade time from submission until an order can fill, ms
   * (`trading_core.broker.latency`).
   *
   * @default {0}
   */
  latencyMs?: number;
  /**
   * Open orders at most: a submit past it throws a RangeError (a strategy
   * bug; `trading_core.broker.max_open_orders`).
   *
   * @default {10000}
   */
  maxOpenOrders?: number;
  /**
   * Called with each fill, in order, from {@linkcode PaperBroker.trade} as
   * soon as it is booked (the broker's state is as of that fill; the trade
   * is already its stream's last, so an order placed from here counts its
   * latency from it and fills from the next trade on). It should not throw
   * (a throw leaves the trade's later fills unmade).
   */
  onFill?: (fill: Fill) => void;
}

/** Basis points per unit. */
const BPS = 10_000;

/** Trades the broker never fills against: repeats of a delivered trade and snapshots of stored ones. */
const NOT_FILLING = TradeFlags.Redelivered | TradeFlags.Snapshot;

/** `name` of `options`, or its default; a RangeError when outside {@linkcode BROKER_LIMITS}. */
function setting(
  options: PaperBrokerOptions,
  name: keyof typeof BROKER_LIMITS,
): number {
  const { fallback, min, max } = BROKER_LIMITS[name];
  const value = options[name] ?? fallback;
  if (!(typeof value === "number" && value >= min && value <= max)) {
    throw new RangeError(
      `Invalid broker ${name} ${value}: expected a number from ${min} to ${max}`,
    );
  }
  return value;
}

/** An open order and the book it waits in. */
interface Entry {
  order: Order;
  book: Book;
}

/**
 * A simulated broker fed with every trade, filling the orders strategies
 * submit as the module documentation describes.
 *
 * @example A market buy filled by the next trade
 * ```ts ignore
 * const broker = new PaperBroker({ feeBps: 10, onFill: (fill) => console.log(fill) });
 * broker.trade(view, { exchange: "binance", symbol: "BTCUSDT" }, 0);
 * broker.submit({ exchange: "binance", symbol: "BTCUSDT", side: "buy", quantity: 0.1 });
 * broker.trade(view.select(1), { exchange: "binance", symbol: "BTCUSDT" }, 0); // fills
 * ```
 */
export class PaperBroker implements Broker {
  /** Cash at the start. */
  readonly startingBalance: number;
  readonly #takerRate: number;
  readonly #makerRate: number;
  readonly #slippage: number;
  readonly #latencyMs: number;
  readonly #maxOpenOrders: number;
  readonly #onFill: ((fill: Fill) => void) | undefined;
  #balance: number;
  /** Books in order of their first trade or order. */
  readonly #books: Book[] = [];
  readonly #byName = new Map<string, Book>();
  /** Books by the caller's stream index. */
  readonly #byStream: (Book | undefined)[] = [];
  /** Open orders by id, oldest first. */
  readonly #open = new Map<string, Entry>();
  #nextId = 1;
  #orders = 0;
  #fills = 0;
  #fees = 0;
  /** Trades handled (flagged ones aside): the number of the current one. */
  #trades = 0;

  /**
   * A broker with `options`.
   *
   * @throws {RangeError} for an option outside its range of
   * {@linkcode BROKER_LIMITS} (the one `[trading_core.broker]` checks).
   */
  constructor(options: PaperBrokerOptions = {}) {
    this.startingBalance = setting(options, "startingBalance");
    this.#balance = this.startingBalance;
    this.#takerRate = setting(options, "feeBps") / BPS;
    this.#makerRate = setting(options, "makerFeeBps") / BPS;
    this.#slippage = setting(options, "slippageBps") / BPS;
    this.#latencyMs = setting(options, "latencyMs");
    this.#maxOpenOrders = setting(options, "maxOpenOrders");
    this.#onFill = options.onFill;
  }

  /**
   * One trade of stream index `stream` (of `origin`), in order: moves its
   * stream's clock and last price, then fills the orders of its stream that
   * are due and that it reaches, reporting each fill as it is booked. A
   * trade flagged `Redelivered` or `Snapshot` changes nothing. Costs a few
   * ns for a stream with no open order.
   */
  trade(view: TradeView, origin: TradeOrigin, stream: number): void {
    const book = this.#byStream[stream] ?? this.#attach(origin, stream);
    if ((view.flags & NOT_FILLING) !== 0) return;
    this.#trades++;
    const first = Number.isNaN(book.clock);
    book.tick(view.tsEventMsFractional);
    book.lastPrice = view.price;
    const resting = book.resting;
    if (resting.size === 0) return;
    if (first) {
      // Placed before the stream's first trade: their latency runs from it.
      const due = book.clock + this.#latencyMs;
      resting.forEachPending((order) => order.due = due);
    }
    resting.release(book.clock, this.#trades);
    this.#match(book, view);
  }

  /** {@inheritDoc Broker.submit} */
  submit(order: OrderRequest): string {
    if (this.#open.size >= this.#maxOpenOrders) {
      throw new RangeError(
        `Too many open orders: ${this.#open.size} are open, the limit ` +
          `trading_core.broker.max_open_orders (--max-open-orders) is ` +
          `${this.#maxOpenOrders}; cancel some before submitting more, or raise it`,
      );
    }
    const id = String(this.#nextId);
    const checked = checkOrder(order, id);
    this.#nextId++;
    const book = this.#book(order.exchange, order.symbol);
    checked.due = book.clock + this.#latencyMs; // NaN before its first trade
    checked.since = this.#trades;
    book.resting.add(checked);
    book.orders++;
    this.#orders++;
    this.#open.set(id, { order: checked, book });
    return id;
  }

  /** {@inheritDoc Broker.cancel} */
  cancel(orderId: string): boolean {
    const entry = this.#open.get(orderId);
    if (entry === undefined) return false;
    this.#open.delete(orderId);
    entry.book.resting.finish(entry.order);
    return true;
  }

  /** {@inheritDoc Broker.position} */
  position(exchange: string, symbol: string): Position {
    return (this.#byName.get(`${exchange} ${symbol}`) ??
      new Book(exchange, symbol)).position();
  }

  /** {@inheritDoc Broker.openOrders} */
  openOrders(exchange?: string, symbol?: string): OpenOrder[] {
    const orders: OpenOrder[] = [];
    for (const { order, book } of this.#open.values()) {
      if (exchange !== undefined && book.exchange !== exchange) continue;
      if (symbol !== undefined && book.symbol !== symbol) continue;
      const open: OpenOrder = {
        id: order.id,
        exchange: book.exchange,
        symbol: book.symbol,
        side: order.side,
        type: order.type,
        quantity: order.quantity,
        filled: order.quantity - order.remaining,
        price: order.type === "limit" ? order.price : undefined,
        fillableFrom: Number.isNaN(order.due) ? null : order.due,
      };
      if (order.tag !== undefined) open.tag = order.tag;
      orders.push(open);
    }
    return orders;
  }

  /** {@inheritDoc Broker.balance} */
  get balance(): number {
    return this.#balance;
  }

  /** {@inheritDoc Broker.equity} */
  get equity(): number {
    let equity = this.#balance;
    for (const book of this.#books) equity += book.quantity * book.lastPrice;
    return equity;
  }

  /** Every (exchange, symbol) traded or ordered, in order of its first trade or order. */
  positions(): Position[] {
    return this.#books.map((book) => book.position());
  }

  /** Orders submitted. */
  get orders(): number {
    return this.#orders;
  }

  /** Fills. */
  get fills(): number {
    return this.#fills;
  }

  /** Fees paid. */
  get fees(): number {
    return this.#fees;
  }

  /** Realized P&L of every (exchange, symbol), net of fees. */
  get realizedPnl(): number {
    let sum = 0;
    for (const book of this.#books) sum += book.realizedPnl;
    return sum;
  }

  /** Unrealized P&L of every open position at its last price. */
  get unrealizedPnl(): number {
    let sum = 0;
    for (const book of this.#books) sum += book.unrealizedPnl;
    return sum;
  }

  /** The book of (exchange, symbol), made on first use. */
  #book(exchange: string, symbol: string): Book {
    const name = `${exchange} ${symbol}`;
    let book = this.#byName.get(name);
    if (book === undefined) {
      book = new Book(exchange, symbol);
      this.#byName.set(name, book);
      this.#books.push(book);
    }
    return book;
  }

  #attach(origin: TradeOrigin, stream: number): Book {
    const book = this.#book(origin.exchange, origin.symbol);
    this.#byStream[stream] = book;
    return book;
  }

  /**
   * Fills the due orders of `book` that the selected trade reaches, in the
   * order `RestingOrders.next` gives, up to its size, booking and
   * reporting one fill at a time (so `onFill` sees the state as of its
   * fill; an order it places is handled from the next trade on, one it
   * cancels is skipped).
   */
  #match(book: Book, view: TradeView): void {
    const price = view.price;
    let size = view.size;
    const dust = CRUMB * size;
    while (size > dust) {
      const order = book.resting.next(price);
      if (order === undefined) break;
      let units = Math.min(order.remaining, size);
      if (isCrumb(order.remaining - units, order.quantity)) {
        units = order.remaining;
      }
      size -= units;
      order.remaining -= units;
      if (order.remaining === 0) {
        book.resting.finish(order);
        this.#open.delete(order.id);
      }
      const fill = this.#fill(book, order, units, view);
      order.rested = true;
      this.#onFill?.(fill);
    }
  }

  /**
   * Books `units` of `order` against the selected trade; returns the fill.
   * A market order, and a limit order that has not rested (it crossed the
   * market), take the trade price moved against them by the slippage (a
   * limit order no worse than its limit), with the taker fee; a limit order
   * that rested (filled in part, or due before this trade) fills at its
   * limit with the maker fee.
   */
  #fill(book: Book, order: Order, units: number, view: TradeView): Fill {
    const buy = order.side === "buy";
    const maker = order.type === "limit" &&
      (order.rested || order.dueTrade !== this.#trades);
    let price = maker
      ? order.price
      : view.price * (buy ? 1 + this.#slippage : 1 - this.#slippage);
    if (!maker && order.type === "limit") {
      price = buy ? Math.min(price, order.price) : Math.max(price, order.price);
    }
    const notional = units * price;
    const fee = notional * (maker ? this.#makerRate : this.#takerRate);
    this.#balance += buy ? -notional - fee : notional - fee;
    book.apply({
      size: buy ? units : -units,
      price,
      fee,
      orderQuantity: order.quantity,
    });
    this.#fills++;
    this.#fees += fee;
    const fill: Fill = {
      orderId: order.id,
      exchange: book.exchange,
      symbol: book.symbol,
      side: order.side,
      quantity: units,
      price,
      fee,
      liquidity: maker ? "maker" : "taker",
      time: view.tsEventMs,
      tsEvent: view.tsEvent,
      tradeId: view.tradeId,
      position: book.quantity,
      realizedPnl: book.realizedPnl,
    };
    if (order.tag !== undefined) fill.tag = order.tag;
    return fill;
  }
}
