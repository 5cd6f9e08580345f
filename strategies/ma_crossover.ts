/**
 * A worked example strategy: a simple-moving-average crossover on the bar
 * closes of one interval, trading on the paper broker (`context.broker`).
 *
 * Per (exchange, symbol) (the same symbol on two exchanges is two books),
 * when the fast average of the last `fast` closes crosses above
 * the slow average of the last `slow` closes, it places a market order
 * to be long `quantity`; when it crosses below, one to be short `quantity`
 * (long/short, always in the market after the first crossover). The order
 * size counts the position and what open orders will still add. A cross
 * counts when the previous bar's fast average was at or below (above) the
 * slow one and this bar's is strictly above (below); no order is placed
 * before both averages have a previous value. Empty bars count with their
 * close, which is the previous close.
 *
 * It keeps no accounting of its own: the broker fills the orders against
 * the trades that follow (fees, slippage and latency as configured in
 * `[trading_core.broker]`), `onFill` logs each fill (debug level), and the summary at
 * exit reads each position from the broker. `onGap` counts the gaps of each
 * (exchange, symbol) (trades missing, e.g. a reader the ring lapped): its
 * summary names them, since the averages then ran over bars with
 * `complete: false`. The same code runs in `live` and in a backtest.
 *
 * Run it with `deno task live --strategy strategies/ma_crossover.ts`. It
 * imports project modules with `import type` only: a strategy may read only
 * the files `deno task live` allows (see strategies/README.md).
 *
 * @module
 */

import type { Bar, Fill, Strategy, StrategyContext, TradeGap } from "../mod.ts";

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
}

/** The averages of one (exchange, symbol). */
interface Book {
  exchange: string;
  symbol: string;
  /** The last `slow` closes, a ring. */
  closes: Float64Array;
  /** Closes seen (saturates at `slow` for the averages). */
  count: number;
  /** fast − slow average of the previous bar; NaN before both exist. */
  previousSpread: number;
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

/** `value` to 12 significant digits: `0.006199999999999928` → `0.0062`. */
function rounded(value: number): number {
  return Number(value.toPrecision(12));
}

/** `+1.50`, `-2`; a flat position prints as `0`, zero P&L as `+0.00`. */
function signed(value: number, digits?: number): string {
  const text = digits === undefined ? String(value) : value.toFixed(digits);
  return text.startsWith("-") || (value === 0 && digits === undefined)
    ? text
    : `+${text}`;
}

/** Simple-moving-average crossover on the paper broker; see the module documentation. */
export class MaCrossover implements Strategy {
  #interval: string;
  #fast: number;
  #slow: number;
  #quantity: number;
  /** Books by exchange, then symbol. */
  #books = new Map<string, Map<string, Book>>();
  /** Books in order of their first bar or gap. */
  #order: Book[] = [];

  /**
   * A strategy with the given options.
   *
   * @throws {RangeError} when an option is out of range.
   * @throws {TypeError} when `interval` is not a non-empty string.
   */
  constructor(options: MaCrossoverOptions = {}) {
    const { interval = "1s", fast = 5, slow = 20, quantity = 1 } = options;
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
    this.#interval = interval;
    this.#fast = fast;
    this.#slow = slow;
    this.#quantity = quantity;
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
      `ma_crossover on ${exchange} ${symbols}: SMA ${this.#fast}/${this.#slow} of ${this.#interval} closes, quantity ${this.#quantity}, market orders on the paper broker (balance ${context.broker.balance})`,
    );
  }

  /** Nothing to do per trade: the broker marks positions itself. */
  onTrade(): void {}

  /** Updates the averages and orders on a crossover. */
  onBar(bar: Bar, context: StrategyContext): void {
    if (bar.interval !== this.#interval) return;
    const book = this.#book(bar.exchange, bar.symbol);
    const slow = this.#slow;
    book.closes[book.count % slow] = bar.close;
    book.count++;
    if (book.count < slow) return;
    const spread = this.#average(book, this.#fast) -
      this.#average(book, slow);
    const previous = book.previousSpread;
    book.previousSpread = spread;
    if (previous <= 0 && spread > 0) {
      this.#target(book, this.#quantity, "cross up", context);
    } else if (previous >= 0 && spread < 0) {
      this.#target(book, -this.#quantity, "cross down", context);
    }
  }

  /**
   * Logs a fill of one of its orders at debug level (a backtest makes
   * thousands; the summary at stop counts them per symbol), quantities
   * rounded to 12 significant digits (no float dust from partial fills).
   */
  onFill(fill: Fill, context: StrategyContext): void {
    context.log.debug(
      `paper ${fill.side.toUpperCase()} ${
        rounded(fill.quantity)
      } ${fill.exchange} ${fill.symbol} @ ${fill.price} (${fill.tag}; order ${fill.orderId}, fee ${
        fill.fee.toFixed(2)
      }, position ${signed(rounded(fill.position))}, realized P&L ${
        signed(fill.realizedPnl, 2)
      })`,
    );
  }

  /** Counts a gap of the (exchange, symbol): its bars around it are incomplete. */
  onGap(gap: TradeGap): void {
    this.#book(gap.exchange, gap.symbol).gaps++;
  }

  /** Logs one summary line per (exchange, symbol), from the broker, naming its gaps if any. */
  onStop(context: StrategyContext): void {
    if (this.#order.length === 0) {
      context.log.info(`ma_crossover: no bars received`);
    }
    for (const book of this.#order) {
      const p = context.broker.position(book.exchange, book.symbol);
      context.log.info(
        `ma_crossover ${p.exchange} ${p.symbol}: position ${
          signed(rounded(p.quantity))
        } @ ${p.averagePrice}, realized P&L ${
          signed(p.realizedPnl, 2)
        }, unrealized ${signed(p.unrealizedPnl, 2)} at ${p.lastPrice}, fees ${
          p.fees.toFixed(2)
        }, orders ${p.orders}, fills ${p.fills}${
          book.gaps > 0 ? `, gaps ${book.gaps}` : ""
        }`,
      );
    }
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

  /** Orders what takes the (exchange, symbol) to `target` units, counting its open orders. */
  #target(
    book: Book,
    target: number,
    tag: string,
    context: StrategyContext,
  ): void {
    const { broker } = context;
    const { exchange, symbol } = book;
    let exposure = broker.position(exchange, symbol).quantity;
    for (const order of broker.openOrders(exchange, symbol)) {
      const left = order.quantity - order.filled;
      exposure += order.side === "buy" ? left : -left;
    }
    const delta = target - exposure;
    // A float leftover of partial fills (0.7 + 0.2 + 0.1) is on target: no dust order.
    if (Math.abs(delta) <= 1e-9 * this.#quantity) return;
    broker.submit({
      exchange,
      symbol,
      side: delta > 0 ? "buy" : "sell",
      quantity: Math.abs(delta),
      tag,
    });
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
