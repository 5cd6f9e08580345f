/**
 * A worked example strategy: a simple-moving-average crossover on the bar
 * closes of one interval, trading on paper.
 *
 * Per (exchange, symbol) (the same symbol on two exchanges is two books),
 * when the fast average of the last `fast` closes crosses above
 * the slow average of the last `slow` closes, it buys enough to be long
 * `quantity`; when it crosses below, it sells enough to be short `quantity`
 * (long/short, always in the market after the first crossover). A cross
 * counts when the previous bar's fast average was at or below (above) the
 * slow one and this bar's is strictly above (below); no order is placed
 * before both averages have a previous value. Empty bars count with their
 * close, which is the previous close. Orders fill at the bar's close, less
 * `feePerUnit` per unit traded (taken from realized P&L); unrealized P&L is
 * marked at the last trade price (the last close before the first trade).
 * `onGap` counts the gaps of each (exchange, symbol) (trades missing, e.g.
 * a reader the ring lapped): its summary at exit names them, since the
 * averages then ran over bars with `complete: false`.
 *
 * Run it with `deno task live --strategy strategies/ma_crossover.ts`. It
 * imports project modules with `import type` only: a strategy may read only
 * the files `deno task live` allows (see strategies/README.md).
 *
 * @module
 */

import type {
  Bar,
  Strategy,
  StrategyContext,
  Trade,
  TradeGap,
} from "../mod.ts";

/** Options of {@linkcode createMaCrossover}. */
export interface MaCrossoverOptions {
  /** Bar interval whose closes are averaged (default `"1s"`). */
  interval?: string;
  /** Bars in the fast average (default 5). */
  fast?: number;
  /** Bars in the slow average (default 20), more than `fast`. */
  slow?: number;
  /** Size of the long or short position taken (default 1). */
  quantity?: number;
  /** Fee per unit traded, in quote currency (default 0). */
  feePerUnit?: number;
}

/** One paper order, filled in full at the bar's close. */
export interface PaperOrder {
  /** Exchange, lower case. */
  exchange: string;
  /** Symbol, upper case. */
  symbol: string;
  /** Direction. */
  side: "BUY" | "SELL";
  /** Units traded, positive. */
  quantity: number;
  /** Fill price: the bar's close. */
  price: number;
  /** End of the bar that triggered the order, ms since the Unix epoch. */
  time: number;
  /** Fee paid. */
  fee: number;
  /** Position after the fill (negative when short). */
  position: number;
  /** Realized P&L of the (exchange, symbol) after the fill, net of fees. */
  realizedPnl: number;
}

/** The paper position of one (exchange, symbol). */
export interface PaperPosition {
  /** Exchange, lower case. */
  exchange: string;
  /** Symbol, upper case. */
  symbol: string;
  /** Units held, negative when short. */
  position: number;
  /** Average entry price of the position (0 when flat). */
  averagePrice: number;
  /** Realized P&L, net of fees. */
  realizedPnl: number;
  /** P&L of the open position at `markPrice`. */
  unrealizedPnl: number;
  /** Last trade price, or the last close before the first trade. */
  markPrice: number;
  /** Fees paid. */
  fees: number;
  /** Orders placed. */
  orders: number;
}

/** The state of one (exchange, symbol). */
interface Book {
  exchange: string;
  symbol: string;
  /** The last `slow` closes, a ring. */
  closes: Float64Array;
  /** Closes seen (saturates at `slow` for the averages). */
  count: number;
  /** fast − slow average of the previous bar; NaN before both exist. */
  previousSpread: number;
  position: number;
  averagePrice: number;
  realizedPnl: number;
  fees: number;
  markPrice: number;
  /** Whether a trade has set `markPrice` (bars then no longer do). */
  marked: boolean;
  orders: number;
  /** Gaps delivered (trades missing). */
  gaps: number;
}

function checkCount(name: string, value: number): void {
  if (!(Number.isInteger(value) && value > 0)) {
    throw new RangeError(
      `Invalid ${name} ${value}: expected a positive whole number of bars`,
    );
  }
}

/** `+1.50`, `-2`; a flat position prints as `0`, zero P&L as `+0.00`. */
function signed(value: number, digits?: number): string {
  const text = digits === undefined ? String(value) : value.toFixed(digits);
  return text.startsWith("-") || (value === 0 && digits === undefined)
    ? text
    : `+${text}`;
}

/** Simple-moving-average crossover on paper; see the module documentation. */
export class MaCrossover implements Strategy {
  /** Every paper order, oldest first. */
  readonly orders: PaperOrder[] = [];
  #interval: string;
  #fast: number;
  #slow: number;
  #quantity: number;
  #feePerUnit: number;
  /** Books by exchange, then symbol. */
  #books = new Map<string, Map<string, Book>>();
  /** Books in order of their first trade, bar or gap. */
  #order: Book[] = [];

  /**
   * A strategy with the given options.
   *
   * @throws {RangeError} when an option is out of range.
   * @throws {TypeError} when `interval` is not a non-empty string.
   */
  constructor(options: MaCrossoverOptions = {}) {
    const {
      interval = "1s",
      fast = 5,
      slow = 20,
      quantity = 1,
      feePerUnit = 0,
    } = options;
    if (typeof interval !== "string" || interval === "") {
      throw new TypeError(
        `Invalid interval ${
          JSON.stringify(interval)
        }: expected a configured bar interval, e.g. "1s"`,
      );
    }
    checkCount("fast", fast);
    checkCount("slow", slow);
    if (fast >= slow) {
      throw new RangeError(
        `Invalid averages: fast ${fast} must be less than slow ${slow}`,
      );
    }
    if (!(Number.isFinite(quantity) && quantity > 0)) {
      throw new RangeError(
        `Invalid quantity ${quantity}: expected a positive number`,
      );
    }
    if (!(Number.isFinite(feePerUnit) && feePerUnit >= 0)) {
      throw new RangeError(
        `Invalid feePerUnit ${feePerUnit}: expected a number >= 0`,
      );
    }
    this.#interval = interval;
    this.#fast = fast;
    this.#slow = slow;
    this.#quantity = quantity;
    this.#feePerUnit = feePerUnit;
  }

  /**
   * Logs the settings.
   *
   * @throws {Error} when live builds no bars of the strategy's interval.
   */
  onStart(context: StrategyContext): void {
    if (!context.intervals.includes(this.#interval)) {
      throw new Error(
        `ma_crossover needs bars of interval "${this.#interval}" but live builds ${
          context.intervals.length === 0
            ? "none"
            : context.intervals.map((i) => `"${i}"`).join(", ")
        }: configure that interval or pass createMaCrossover({ interval })`,
      );
    }
    const exchange = context.exchange === "*"
      ? "every exchange"
      : context.exchange;
    const symbols = context.symbols.length === 0
      ? "every symbol"
      : context.symbols.join(", ");
    context.log.info(
      `ma_crossover on ${exchange} ${symbols}: SMA ${this.#fast}/${this.#slow} of ${this.#interval} closes, quantity ${this.#quantity}, fee ${this.#feePerUnit}/unit (paper)`,
    );
  }

  /** Marks the (exchange, symbol)'s position at the trade price. */
  onTrade(trade: Trade): void {
    const book = this.#book(trade.exchange, trade.symbol);
    book.markPrice = trade.price;
    book.marked = true;
  }

  /** Updates the averages and trades a crossover at the bar's close. */
  onBar(bar: Bar, context: StrategyContext): void {
    if (bar.interval !== this.#interval) return;
    const book = this.#book(bar.exchange, bar.symbol);
    if (!book.marked) book.markPrice = bar.close;
    const slow = this.#slow;
    book.closes[book.count % slow] = bar.close;
    book.count++;
    if (book.count < slow) return;
    const spread = this.#average(book, this.#fast) -
      this.#average(book, slow);
    const previous = book.previousSpread;
    book.previousSpread = spread;
    if (previous <= 0 && spread > 0) {
      this.#fill(book, bar, this.#quantity - book.position, context);
    } else if (previous >= 0 && spread < 0) {
      this.#fill(book, bar, -this.#quantity - book.position, context);
    }
  }

  /** Counts a gap of the (exchange, symbol): its bars around it are incomplete. */
  onGap(gap: TradeGap): void {
    this.#book(gap.exchange, gap.symbol).gaps++;
  }

  /** Logs one summary line per (exchange, symbol), naming its gaps if any. */
  onStop(context: StrategyContext): void {
    const positions = this.positions();
    if (positions.length === 0) {
      context.log.info(`ma_crossover: no trades or bars received`);
    }
    for (const [i, p] of positions.entries()) {
      const gaps = this.#order[i].gaps;
      context.log.info(
        `ma_crossover ${p.exchange} ${p.symbol}: position ${
          signed(p.position)
        } @ ${p.averagePrice}, realized P&L ${
          signed(p.realizedPnl, 2)
        }, unrealized ${signed(p.unrealizedPnl, 2)} at ${p.markPrice}, fees ${
          p.fees.toFixed(2)
        }, orders ${p.orders}${gaps > 0 ? `, gaps ${gaps}` : ""}`,
      );
    }
  }

  /** The paper position of every (exchange, symbol) seen, in order of its first trade, bar or gap. */
  positions(): PaperPosition[] {
    return this.#order.map((book) => ({
      exchange: book.exchange,
      symbol: book.symbol,
      position: book.position,
      averagePrice: book.averagePrice,
      realizedPnl: book.realizedPnl,
      unrealizedPnl: this.#unrealized(book),
      markPrice: book.markPrice,
      fees: book.fees,
      orders: book.orders,
    }));
  }

  #book(exchange: string, symbol: string): Book {
    let books = this.#books.get(exchange);
    if (books === undefined) this.#books.set(exchange, books = new Map());
    let book = books.get(symbol);
    if (book === undefined) {
      book = {
        exchange,
        symbol,
        closes: new Float64Array(this.#slow),
        count: 0,
        previousSpread: NaN,
        position: 0,
        averagePrice: 0,
        realizedPnl: 0,
        fees: 0,
        markPrice: 0,
        marked: false,
        orders: 0,
        gaps: 0,
      };
      books.set(symbol, book);
      this.#order.push(book);
    }
    return book;
  }

  /** Mean of the newest `length` closes. */
  #average(book: Book, length: number): number {
    const slow = this.#slow;
    let sum = 0;
    for (let i = book.count - length; i < book.count; i++) {
      sum += book.closes[i % slow];
    }
    return sum / length;
  }

  #unrealized(book: Book): number {
    return book.position === 0
      ? 0
      : (book.markPrice - book.averagePrice) * book.position;
  }

  /** Trades `delta` units (signed) at the bar's close. */
  #fill(book: Book, bar: Bar, delta: number, context: StrategyContext): void {
    if (delta === 0) return;
    const price = bar.close;
    const old = book.position;
    const size = Math.abs(delta);
    if (old === 0 || Math.sign(old) === Math.sign(delta)) {
      book.averagePrice = (book.averagePrice * Math.abs(old) + price * size) /
        (Math.abs(old) + size);
    } else {
      const closed = Math.min(size, Math.abs(old));
      book.realizedPnl += (price - book.averagePrice) * closed * Math.sign(old);
      if (size > Math.abs(old)) book.averagePrice = price;
      else if (size === Math.abs(old)) book.averagePrice = 0;
    }
    const fee = size * this.#feePerUnit;
    book.position = old + delta;
    book.realizedPnl -= fee;
    book.fees += fee;
    book.orders++;
    const side = delta > 0 ? "BUY" : "SELL";
    this.orders.push({
      exchange: bar.exchange,
      symbol: bar.symbol,
      side,
      quantity: size,
      price,
      time: bar.end,
      fee,
      position: book.position,
      realizedPnl: book.realizedPnl,
    });
    context.log.info(
      `paper ${side} ${size} ${bar.exchange} ${bar.symbol} @ ${price} (position ${
        signed(book.position)
      }, realized P&L ${signed(book.realizedPnl, 2)}, unrealized ${
        signed(this.#unrealized(book), 2)
      })`,
    );
  }
}

/**
 * A moving-average crossover strategy.
 *
 * @throws {RangeError} when an option is out of range.
 */
export function createMaCrossover(options?: MaCrossoverOptions): MaCrossover {
  return new MaCrossover(options);
}

/** The strategy `deno task live --strategy strategies/ma_crossover.ts` runs. */
export default createMaCrossover();
