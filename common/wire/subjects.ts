/**
 * NATS subjects for trades: `{prefix}.{exchange}.{SYMBOL}.trades`.
 *
 * @module
 */

import type { TradeOrigin } from "./codec.ts";

/** The default subject prefix. */
export const DEFAULT_SUBJECT_PREFIX = "market";

/** The last token of every trade subject. */
export const TRADES_TOKEN = "trades";

/** Options shared by the subject helpers. */
export interface SubjectOptions {
  /**
   * Leading token(s) of every subject; may contain dots (`"prod.market"`).
   *
   * @default {"market"}
   */
  prefix?: string;
}

// Empty, or holding a separator, a wildcard, whitespace or a control character.
// deno-lint-ignore no-control-regex
const BAD_TOKEN = /^$|[.*>\s\x00-\x1f\x7f]/;

/**
 * Checks one subject token and returns it.
 *
 * @throws {RangeError} naming the token when it is empty or holds `.`, `*`,
 * `>`, whitespace or a control character.
 */
export function checkToken(token: string, what = "token"): string {
  if (typeof token !== "string") {
    throw new TypeError(`Invalid ${what} ${String(token)}: expected a string`);
  }
  if (BAD_TOKEN.test(token)) {
    throw new RangeError(
      `Invalid ${what} ${
        JSON.stringify(token)
      }: expected a non-empty subject token without ".", "*", ">", whitespace or control characters`,
    );
  }
  return token;
}

/** Checks and lower-cases an exchange name. */
export function normalizeExchange(exchange: string): string {
  return checkToken(exchange, "exchange").toLowerCase();
}

/** Checks and upper-cases a symbol. */
export function normalizeSymbol(symbol: string): string {
  return checkToken(symbol, "symbol").toUpperCase();
}

/**
 * Checks a subject prefix (one or more dot-separated tokens) and returns it.
 *
 * @throws {RangeError} naming the prefix and its bad token.
 */
export function checkPrefix(prefix: string): string {
  if (typeof prefix !== "string") {
    throw new TypeError(
      `Invalid subject prefix ${String(prefix)}: expected a string`,
    );
  }
  if (prefix.split(".").some((token) => BAD_TOKEN.test(token))) {
    throw new RangeError(
      `Invalid subject prefix ${
        JSON.stringify(prefix)
      }: expected non-empty dot-separated tokens without "*", ">", whitespace or control characters`,
    );
  }
  return prefix;
}

/**
 * Builds the subject of one symbol's trades (`market.binance.BTCUSDT.trades`).
 *
 * @throws {RangeError} when the exchange, symbol or prefix cannot be a
 * subject token.
 *
 * @example Exchanges are lower-cased, symbols upper-cased
 * ```ts
 * import { tradeSubject } from "@marketbus/marketbus";
 *
 * tradeSubject("Binance", "btcusdt"); // "market.binance.BTCUSDT.trades"
 * tradeSubject("binance", "BTCUSDT", { prefix: "prod.market" });
 * // "prod.market.binance.BTCUSDT.trades"
 * ```
 */
export function tradeSubject(
  exchange: string,
  symbol: string,
  options: SubjectOptions = {},
): string {
  const prefix = checkPrefix(options.prefix ?? DEFAULT_SUBJECT_PREFIX);
  return `${prefix}.${normalizeExchange(exchange)}.${
    normalizeSymbol(symbol)
  }.${TRADES_TOKEN}`;
}

/**
 * Parses a trade subject into its exchange and symbol.
 *
 * @throws {RangeError} when the subject does not have the form
 * `{prefix}.{exchange}.{SYMBOL}.trades` with canonical case.
 *
 * @example
 * ```ts
 * import { parseTradeSubject } from "@marketbus/marketbus";
 *
 * parseTradeSubject("market.binance.BTCUSDT.trades");
 * // { exchange: "binance", symbol: "BTCUSDT" }
 * parseTradeSubject("prod.market.kraken.XBTUSD.trades", { prefix: "prod.market" });
 * // { exchange: "kraken", symbol: "XBTUSD" }
 * ```
 */
export function parseTradeSubject(
  subject: string,
  options: SubjectOptions = {},
): TradeOrigin {
  const prefix = options.prefix ?? DEFAULT_SUBJECT_PREFIX;
  const tokens = typeof subject === "string" && subject.startsWith(`${prefix}.`)
    ? subject.slice(prefix.length + 1).split(".")
    : [];
  if (tokens.length !== 3 || tokens[2] !== TRADES_TOKEN) {
    throw new RangeError(
      `Invalid trade subject ${
        JSON.stringify(subject)
      }: expected "${prefix}.{exchange}.{SYMBOL}.${TRADES_TOKEN}"`,
    );
  }
  const [exchange, symbol] = tokens;
  if (
    normalizeExchange(exchange) !== exchange ||
    normalizeSymbol(symbol) !== symbol
  ) {
    throw new RangeError(
      `Invalid trade subject ${
        JSON.stringify(subject)
      }: expected a lower-case exchange and an upper-case symbol`,
    );
  }
  return { exchange, symbol };
}

/** What a subscription filter selects; a missing exchange or symbol matches all. */
export interface TradeFilterOptions extends SubjectOptions {
  /** One exchange, or every exchange when absent. */
  exchange?: string;
  /** One symbol, or every symbol when absent. */
  symbol?: string;
}

/**
 * Builds a subscription filter: one symbol (`market.binance.BTCUSDT.trades`),
 * all symbols of an exchange (`market.binance.*.trades`), one symbol across
 * exchanges (`market.*.BTCUSDT.trades`) or everything (`market.*.*.trades`).
 */
export function tradeFilter(options: TradeFilterOptions = {}): string {
  const prefix = checkPrefix(options.prefix ?? DEFAULT_SUBJECT_PREFIX);
  const exchange = options.exchange === undefined
    ? "*"
    : normalizeExchange(options.exchange);
  const symbol = options.symbol === undefined
    ? "*"
    : normalizeSymbol(options.symbol);
  return `${prefix}.${exchange}.${symbol}.${TRADES_TOKEN}`;
}

/**
 * Builds the filters for a set of symbols on one exchange (or all exchanges):
 * one subject per symbol, or the all-symbol wildcard when `symbols` is empty.
 * Duplicates are removed.
 *
 * @example
 * ```ts
 * import { tradeFilters } from "@marketbus/marketbus";
 *
 * tradeFilters(["btcusdt", "BTCUSDT", "ETHUSDT"], { exchange: "binance" });
 * // ["market.binance.BTCUSDT.trades", "market.binance.ETHUSDT.trades"]
 * tradeFilters([]); // ["market.*.*.trades"]
 * ```
 */
export function tradeFilters(
  symbols: readonly string[],
  options: Omit<TradeFilterOptions, "symbol"> = {},
): string[] {
  if (symbols.length === 0) return [tradeFilter(options)];
  return [
    ...new Set(symbols.map((symbol) => tradeFilter({ ...options, symbol }))),
  ];
}

/** Options of {@linkcode streamSubjects}. */
export interface StreamSubjectsOptions extends SubjectOptions {
  /** The one exchange the stream captures (`stream_per_exchange`); absent: every exchange. */
  exchange?: string;
}

/**
 * The subjects a stream must capture: `{prefix}.>`, or `{prefix}.{exchange}.>`
 * for the stream of one exchange.
 */
export function streamSubjects(options: StreamSubjectsOptions = {}): string[] {
  const prefix = checkPrefix(options.prefix ?? DEFAULT_SUBJECT_PREFIX);
  return options.exchange === undefined
    ? [`${prefix}.>`]
    : [`${prefix}.${normalizeExchange(options.exchange)}.>`];
}

/**
 * The stream of one exchange (`stream_per_exchange`): `{stream}_{EXCHANGE}`,
 * the exchange upper-cased (`MARKET_DATA_BINANCE`). Also names a durable
 * consumer's per-exchange part (`{durable}_{EXCHANGE}`). The caller checks
 * the result is a valid JetStream name.
 */
export function exchangeStreamName(stream: string, exchange: string): string {
  return `${stream}_${normalizeExchange(exchange).toUpperCase()}`;
}
