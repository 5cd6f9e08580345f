/**
 * Binance `trades` CSV rows, parsed strictly (see trade_file.ts): the time
 * unit detected from the magnitude, quote_qty checked against price × qty;
 * and formatted, as `live --record-format csv` writes them.
 *
 * @module
 */

import { formatPrice, parsePrice, parseSize } from "../wire/fixed_point.ts";
import { plainDecimal as decimalText } from "../runtime/format.ts";
import { Side, type Trade } from "../wire/trade.ts";
import { MIN_TIME_NS } from "./_plausibility.ts";
import {
  BadRow,
  describe,
  fieldError,
  MAX_U64,
  parseU64,
  type ReplayRow,
} from "./_row.ts";

/** The unit of a CSV's times, detected from the first row's magnitude. */
export type TimeUnit = "s" | "ms" | "µs" | "ns";

/** The unit a time of this magnitude has: s below 10^11, ms below 10^14, µs below 10^17, else ns. */
export function timeUnitOf(time: bigint): TimeUnit {
  if (time < 100_000_000_000n) return "s";
  if (time < 100_000_000_000_000n) return "ms";
  return time < 100_000_000_000_000_000n ? "µs" : "ns";
}

/** ns per unit. */
const NS_PER: Record<TimeUnit, bigint> = {
  s: 1_000_000_000n,
  ms: 1_000_000n,
  "µs": 1_000n,
  ns: 1n,
};
/** Unit names for messages. */
export const TIME_UNIT_NAMES: Record<TimeUnit, string> = {
  s: "seconds",
  ms: "milliseconds",
  "µs": "microseconds",
  ns: "nanoseconds",
};
/** 10^0 … 10^22, the powers of ten a double holds exactly. */
export const EXACT_POWERS_OF_TEN = Array.from(
  { length: 23 },
  (_, i) => 10 ** i,
);
/** quote_qty may differ from price × qty by this much (8-decimal rounding)… */
export const QUOTE_ABSOLUTE_TOLERANCE = 2e-8;
/** …plus this fraction of it (binary floating point). */
export const QUOTE_RELATIVE_TOLERANCE = 1e-10;

/** Whether digits `text` start with a needless 0 ("07", "042.5"; not "0" or "0.5"). */
function leadingZero(text: string): boolean {
  return text.charCodeAt(0) === 48 && text.length > 1 &&
    text.charCodeAt(1) !== 46;
}

/**
 * The value of `text` when it is a plain decimal (digits, optionally a point
 * and digits, no needless leading zero), else NaN: one pass over the
 * characters instead of a regular expression and `Number`. The value is
 * `Number(text)`'s: up to 2^53 digits-as-integer over at most 10^22, a
 * quotient of two exact doubles, is rounded once as `Number` rounds the
 * decimal; longer texts are left to `Number`.
 */
function plainDecimal(text: string): number {
  const length = text.length;
  let digits = 0;
  let i = 0;
  for (; i < length; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) break;
    digits = digits * 10 + digit;
  }
  if (i === 0 || (i > 1 && text.charCodeAt(0) === 48)) return NaN;
  let decimals = 0;
  if (i < length) {
    if (text.charCodeAt(i) !== 46 || i === length - 1) return NaN;
    for (i++; i < length; i++, decimals++) {
      const digit = text.charCodeAt(i) - 48;
      if (digit < 0 || digit > 9) return NaN;
      digits = digits * 10 + digit;
    }
  }
  return digits <= Number.MAX_SAFE_INTEGER && decimals <= 22
    ? digits / EXACT_POWERS_OF_TEN[decimals]
    : Number(text);
}

/** A bad row for a number Binance would not write (sign, exponent, leading zero). */
function notPlain(text: string, name: string): BadRow {
  return new BadRow(
    `invalid ${name} ${
      describe(text)
    }: expected a plain decimal such as "42283.58000000" (no sign, exponent or leading zero)`,
  );
}

/** A u64 without a leading zero. */
function plainInteger(text: string, name: string): bigint {
  const value = parseU64(text, name);
  if (leadingZero(text)) {
    throw new BadRow(
      `invalid ${name} ${
        describe(text)
      }: expected decimal digits without a leading zero`,
    );
  }
  return value;
}

/** The words of a CSV boolean (the merge's fast path reads the same). */
export const BOOL_WORDS: ReadonlyMap<string, boolean> = new Map([
  ["True", true],
  ["true", true],
  ["False", false],
  ["false", false],
]);

/** `True`/`true` or `False`/`false`, else a bad row. */
function bool(text: string, name: string): boolean {
  const value = BOOL_WORDS.get(text);
  if (value !== undefined) return value;
  throw new BadRow(
    `invalid ${name} ${describe(text)}: expected True or False${
      name === "is_buyer_maker" ? " (or empty: side unknown)" : ""
    }`,
  );
}

/** A bad row unless quote_qty (`fields[3]`) is price × qty, within the tolerances above. */
function checkQuote(fields: string[], price: number, size: number): void {
  const quote = plainDecimal(fields[3]);
  if (Number.isNaN(quote)) throw notPlain(fields[3], "quote_qty");
  const product = price * size;
  if (
    Math.abs(quote - product) >
      QUOTE_ABSOLUTE_TOLERANCE + QUOTE_RELATIVE_TOLERANCE * product
  ) {
    throw new BadRow(
      `quote_qty ${fields[3]} is not price × qty (${fields[1]} × ${
        fields[2]
      } = ${product}): a corrupt row, or a 4th column that is not quote_qty`,
    );
  }
}

/**
 * Parses Binance CSV rows strictly (field count, number syntax, quote_qty =
 * price × qty, one time unit for the file), caching repeated price and time
 * strings.
 */
export class CsvParser {
  readonly #exchange: string;
  readonly #symbol: string;
  readonly #onTimeUnit: ((unit: TimeUnit, line: number) => void) | undefined;
  readonly #maxNs: bigint | undefined;
  /** Fields per row: from the header, else 6 or 7. */
  #fields = 0;
  /** Whether the 4th column is quote_qty (checked against price × qty). */
  #quote = true;
  #scale = 0n;
  #unit: TimeUnit | undefined;
  #priceText = "";
  #priceFixed = 0n;
  #price = 0;
  #timeText = "";
  #tsEvent = 0n;

  /** A parser of the rows of `symbol` on `exchange`. */
  constructor(
    exchange: string,
    symbol: string,
    options: {
      onTimeUnit?: (unit: TimeUnit, line: number) => void;
      /** When set, the unit is taken only from a time between 2000 and this (ns). */
      maxNs?: bigint;
    } = {},
  ) {
    this.#exchange = exchange;
    this.#symbol = symbol;
    this.#onTimeUnit = options.onTimeUnit;
    this.#maxNs = options.maxNs;
  }

  /** Whether `text`, the file's first line, is a header; if so, takes its column count and names. */
  isHeader(text: string): boolean {
    const names = text.split(",").map((name) => name.trim().toLowerCase());
    if (names[0] !== "id" && names[0] !== "trade_id") return false;
    if (names.length === 6 || names.length === 7) this.#fields = names.length;
    this.#quote = names[3] === "quote_qty" || names[3] === "quoteqty";
    return true;
  }

  /** The time unit the file's times turned out to be in, once known. */
  get unit(): TimeUnit | undefined {
    return this.#unit;
  }

  /** ns per unit of the file's times, once known (else 0). */
  get nsPerUnit(): number {
    return Number(this.#scale);
  }

  /** Fields per row the header set (0 without a header: 6 or 7). */
  get fields(): number {
    return this.#fields;
  }

  /** Whether the 4th column is quote_qty, checked against price × qty. */
  get checksQuote(): boolean {
    return this.#quote;
  }

  /** The exchange of the rows. */
  get exchange(): string {
    return this.#exchange;
  }

  /** The symbol of the rows. */
  get symbol(): string {
    return this.#symbol;
  }

  /** Parses row `text` (line `line` of the file) into a trade row, or throws saying why not. */
  parse(text: string, line: number): ReplayRow {
    const fields = text.split(",");
    const count = fields.length;
    if (
      this.#fields === 0 ? count !== 7 && count !== 6 : count !== this.#fields
    ) {
      throw new BadRow(
        `${count} fields found, expected ${
          this.#fields === 0 ? "6 or 7" : this.#fields
        } (id, price, qty, quote_qty, time, is_buyer_maker[, is_best_match])`,
      );
    }
    const tradeId = plainInteger(fields[0], "trade id");
    // Repeated prices and times (most rows) are taken from the cache.
    if (fields[1] !== this.#priceText) this.#readPrice(fields[1]);
    const priceFixed = this.#priceFixed;
    let size: number;
    try {
      size = parseSize(fields[2]);
    } catch (error) {
      throw fieldError(error);
    }
    if (leadingZero(fields[2])) throw notPlain(fields[2], "qty");
    if (this.#quote) checkQuote(fields, this.#price, size);
    if (fields[4] !== this.#timeText) this.#readTime(fields[4], line);
    const tsEvent = this.#tsEvent;
    // Empty: a trade of unknown side, as `live --record-format csv` writes it.
    const side = fields[5] === ""
      ? Side.Unknown
      : bool(fields[5], "is_buyer_maker")
      ? Side.Sell
      : Side.Buy;
    if (count === 7) bool(fields[6], "is_best_match");
    return {
      exchange: this.#exchange,
      symbol: this.#symbol,
      line,
      side,
      flags: 0,
      seq: 0,
      tsEvent,
      tsRecv: tsEvent,
      priceFixed,
      size,
      tradeId,
    };
  }

  /** Parses price `text` into the cache (left as it was when `text` is bad). */
  #readPrice(text: string): void {
    let priceFixed: bigint;
    try {
      priceFixed = parsePrice(text);
    } catch (error) {
      throw fieldError(error);
    }
    if (leadingZero(text)) throw notPlain(text, "price");
    this.#priceText = text;
    this.#priceFixed = priceFixed;
    this.#price = Number(text);
  }

  /**
   * Parses time `text` into the cache (left as it was when `text` is bad),
   * taking the file's unit from the first plausible time.
   */
  #readTime(text: string, line: number): void {
    const time = plainInteger(text, "time");
    if (time === 0n) {
      throw new BadRow(`invalid time "0": expected a time since the epoch`);
    }
    let scale = this.#scale;
    if (scale === 0n) {
      const unit = timeUnitOf(time);
      scale = NS_PER[unit];
      const ns = time * scale;
      // A time implausible in its own unit does not decide the file's.
      if (
        this.#maxNs === undefined ||
        (ns >= MIN_TIME_NS && ns <= this.#maxNs)
      ) {
        this.#scale = scale;
        this.#unit = unit;
        this.#onTimeUnit?.(unit, line);
      }
    }
    const tsEvent = time * scale;
    if (tsEvent > MAX_U64) {
      throw new BadRow(
        `invalid time ${describe(text)}: beyond the u64 ns range${
          this.#unit === undefined
            ? ""
            : ` in ${TIME_UNIT_NAMES[this.#unit]}, this file's unit`
        }`,
      );
    }
    this.#timeText = text;
    this.#tsEvent = tsEvent;
  }
}

/** Header line of a Binance `trades` CSV as {@linkcode formatCsvTrade} writes it (its columns). */
export const CSV_HEADER =
  "id,price,qty,quote_qty,time,is_buyer_maker,is_best_match";

/**
 * One trade as a row of Binance's `trades` CSV (without the newline), under
 * {@linkcode CSV_HEADER}: time cut to the ms, and an empty `is_buyer_maker`
 * for a trade of unknown side, which the reader reads back as unknown. A
 * `TradeView` serves as well as a {@linkcode Trade}.
 */
export function formatCsvTrade(
  trade: Pick<
    Trade,
    "tradeId" | "priceFixed" | "price" | "size" | "tsEvent" | "side"
  >,
): string {
  const price = formatPrice(trade.priceFixed);
  const size = trade.size;
  const side = trade.side;
  const maker = side === Side.Sell ? "True" : side === Side.Buy ? "False" : "";
  return `${trade.tradeId},${price},${decimalText(size)},${
    decimalText(trade.price * size)
  },${trade.tsEvent / NS_PER.ms},${maker},True`;
}
