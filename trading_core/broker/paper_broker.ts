/**
 * The paper broker: orders a strategy submits fill against the trades that
 * follow them, in trade time, with fees, optional slippage and partial
 * fills, and it keeps positions, P&L and cash. The same broker runs in
 * `live` (paper trading) and in a backtest, so both fill alike.
 *
 * Fill model, per (exchange, symbol):
 * - An order becomes fillable at the trade time of its stream's last trade
 *   when it was submitted (an order placed before the stream's first trade:
 *   that first trade's) plus {@linkcode PaperBrokerOptions.latencyMs}, and
 *   fills against the next trades of its stream whose `ts_event` (in whole
 *   ms) is at least that. A trade never fills an order placed while it was
 *   being handled (its bars and `onTrade` come after the broker saw it).
 * - A market order fills at the trade price moved against it by
 *   {@linkcode PaperBrokerOptions.slippageBps} (a buy pays more, a sell
 *   gets less), taker fee {@linkcode PaperBrokerOptions.feeBps}.
 * - A limit buy fills when a trade prints at or below its price, a limit
 *   sell at or above it, always at the limit price (never better: it is a
 *   resting order the trade reached), maker fee
 *   {@linkcode PaperBrokerOptions.makerFeeBps}.
 * - A trade fills at most its own size, shared among the due orders oldest
 *   first: what is left waits for the next trades (one {@linkcode Fill}
 *   per trade).
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
import { Book, isCrumb } from "./_book.ts";
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
   * Called with each fill, in order, from {@linkcode PaperBroker.trade}
   * once the trade's fills are booked and it is its stream's last trade (an
   * order placed from here counts its latency from it). It should not throw
   * (a throw leaves the trade's later fills unreported).
   */
  onFill?: (fill: Fill) => void;
}

/** Basis points per unit. */
const BPS = 10_000;

function checkOption(
  name: string,
  value: number,
  min: number,
  max: number,
): number {
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

  /**
   * A broker with `options`.
   *
   * @throws {RangeError} for an option out of range: a starting balance
   * that is not a finite number, a fee or slippage outside 0..1000 bps, a
   * latency outside 0..86 400 000 ms.
   */
  constructor(options: PaperBrokerOptions = {}) {
    const balance = options.startingBalance ?? 100_000;
    this.startingBalance = checkOption(
      "startingBalance",
      balance,
      -Number.MAX_VALUE,
      Number.MAX_VALUE,
    );
    this.#balance = balance;
    this.#takerRate = checkOption("feeBps", options.feeBps ?? 10, 0, 1000) /
      BPS;
    this.#makerRate =
      checkOption("makerFeeBps", options.makerFeeBps ?? 10, 0, 1000) / BPS;
    this.#slippage =
      checkOption("slippageBps", options.slippageBps ?? 0, 0, 1000) / BPS;
    this.#latencyMs = checkOption(
      "latencyMs",
      options.latencyMs ?? 0,
      0,
      86_400_000,
    );
    this.#onFill = options.onFill;
  }

  /**
   * One trade of stream index `stream` (of `origin`), in order: fills the
   * orders of its stream that are due and that it reaches, then takes its
   * time and price as the stream's last. Costs a few ns for a stream with
   * no open order.
   */
  trade(view: TradeView, origin: TradeOrigin, stream: number): void {
    const book = this.#byStream[stream] ?? this.#attach(origin, stream);
    const time = view.tsEventMs;
    const fills = book.open.length === 0
      ? undefined
      : this.#match(book, view, time);
    book.lastTime = time;
    book.lastPrice = view.price;
    // Once the trade is the stream's last: an order onFill places counts from it.
    if (fills === undefined || this.#onFill === undefined) return;
    for (const fill of fills) this.#onFill(fill);
  }

  /** {@inheritDoc Broker.submit} */
  submit(order: OrderRequest): string {
    const id = String(this.#nextId);
    const checked = checkOrder(order, id);
    this.#nextId++;
    const book = this.#book(order.exchange, order.symbol);
    checked.due = book.lastTime + this.#latencyMs; // NaN before its first trade
    book.open.push(checked);
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
    const { open } = entry.book;
    open.splice(open.indexOf(entry.order), 1);
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
   * Fills the due orders of `book` that the selected trade reaches, oldest
   * first, up to its size; returns the fills, undefined for none.
   */
  #match(book: Book, view: TradeView, time: number): Fill[] | undefined {
    const price = view.price;
    let size = view.size;
    let fills: Fill[] | undefined;
    const { open } = book;
    if (Number.isNaN(book.lastTime)) {
      // Placed before the stream's first trade: their latency runs from it.
      for (const order of open) order.due = time + this.#latencyMs;
    }
    for (let i = 0; i < open.length && size > 0;) {
      const order = open[i];
      if (time < order.due || !reaches(order, price)) {
        i++;
        continue;
      }
      const units = Math.min(order.remaining, size);
      size -= units;
      order.remaining -= units;
      if (isCrumb(order.remaining, order.quantity)) {
        open.splice(i, 1);
        this.#open.delete(order.id);
      } else {
        i++;
      }
      (fills ??= []).push(this.#fill(book, order, units, view, time));
    }
    return fills;
  }

  /** Books `units` of `order` against the selected trade; returns the fill. */
  #fill(
    book: Book,
    order: Order,
    units: number,
    view: TradeView,
    time: number,
  ): Fill {
    const buy = order.side === "buy";
    const maker = order.type === "limit";
    const price = maker
      ? order.price
      : view.price * (buy ? 1 + this.#slippage : 1 - this.#slippage);
    const notional = units * price;
    const fee = notional * (maker ? this.#makerRate : this.#takerRate);
    this.#balance += buy ? -notional - fee : notional - fee;
    book.apply(buy ? units : -units, price, fee);
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
      time,
      tsEvent: view.tsEvent,
      tradeId: view.tradeId,
      position: book.quantity,
      realizedPnl: book.realizedPnl,
    };
    if (order.tag !== undefined) fill.tag = order.tag;
    return fill;
  }
}

/** Whether a trade at `price` reaches `order`: always for a market order, at or through the limit for a limit one. */
function reaches(order: Order, price: number): boolean {
  if (order.type === "market") return true;
  return order.side === "buy" ? price <= order.price : price >= order.price;
}
