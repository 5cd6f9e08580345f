/**
 * The plan of a {@linkcode BinanceTradeStream} before anything connects: its
 * checked options and symbols, and the connections the symbols are split
 * over, each with its combined-stream URL.
 *
 * @module
 */

import { describeArgument, invalidArgument } from "../../common/errors/mod.ts";

import {
  checkBinanceEndpoint,
  DEFAULT_BINANCE_ENDPOINT,
  DEFAULT_SILENCE_TIMEOUT_MS,
} from "../../common/config/binance_endpoint.ts";
import { checkSymbolList } from "../../common/config/symbols.ts";
import type { BinanceTimeUnit } from "./trade_event.ts";

/**
 * Streams one connection may carry. Binance: "A single connection can listen
 * to a maximum of 1024 streams." (Binance Spot API docs, "WebSocket Streams",
 * General WSS information.)
 */
export const BINANCE_MAX_STREAMS_PER_CONNECTION = 1024;

/** Binance stream names go into the URL's path: letters, digits, "_" or "-". */
const BINANCE_SYMBOL = /^[A-Za-z0-9_-]+$/;

function checkPositive(name: string, value: number, integer: boolean): number {
  if (
    typeof value !== "number" || !(value > 0) || value === Infinity ||
    (integer && !Number.isInteger(value))
  ) {
    throw new RangeError(
      invalidArgument(
        name,
        value,
        integer ? "an integer greater than 0" : "a finite number > 0",
      ),
    );
  }
  return value;
}

/**
 * Each symbol's index by its upper-cased name, once `symbols` are checked:
 * a non-empty array of distinct symbols by the one rule
 * ({@linkcode checkSymbolList}), each in Binance's stream-name alphabet.
 *
 * @throws {TypeError} when `symbols` is not an array.
 * @throws {RangeError} naming the first bad or repeated symbol.
 */
export function indexSymbols(symbols: readonly string[]): Map<string, number> {
  if (!Array.isArray(symbols)) {
    throw new TypeError(
      invalidArgument("symbols", symbols, "an array of symbols"),
    );
  }
  if (symbols.length === 0) {
    throw new RangeError("Invalid symbols []: expected at least one symbol");
  }
  const check = checkSymbolList(symbols, {
    alphabet: {
      pattern: BINANCE_SYMBOL,
      expected: `expected letters, digits, "_" or "-"`,
    },
  });
  const [problem] = check.problems;
  if (problem !== undefined) {
    const { index, repeats } = problem;
    const where = repeats === undefined
      ? `symbols[${index}]`
      : `symbols[${index}] repeats symbols[${repeats}]`;
    throw new RangeError(
      `Invalid symbol ${
        describeArgument(problem.value)
      }: ${problem.expected} (${where})`,
    );
  }
  return new Map(check.symbols.map((symbol, index) => [symbol, index]));
}

/** The stream's settings as given (see `BinanceTradeStreamOptions` for each). */
export interface StreamSettingsInput {
  /** Base URL, `ws://` or `wss://`. */
  endpoint?: string;
  /** Most streams per connection. */
  maxStreamsPerConnection?: number;
  /** First reconnect delay before jitter, ms. */
  initialBackoffMs?: number;
  /** Longest reconnect delay, ms. */
  maxBackoffMs?: number;
  /** Unit of trade times. */
  timeUnit?: BinanceTimeUnit;
  /** Least time between two log lines of one invalid-frame reason, ms. */
  logIntervalMs?: number;
  /** Silence watchdog, ms; 0 = off. */
  silenceTimeoutMs?: number;
}

/** The stream's checked settings, defaults filled in. */
export type StreamSettings = Required<StreamSettingsInput>;

/**
 * Fills in the defaults and checks every setting.
 *
 * @throws {RangeError} naming the option that is out of range.
 */
export function checkSettings(input: StreamSettingsInput): StreamSettings {
  const {
    endpoint = DEFAULT_BINANCE_ENDPOINT,
    maxStreamsPerConnection = BINANCE_MAX_STREAMS_PER_CONNECTION,
    initialBackoffMs = 500,
    maxBackoffMs = 30_000,
    timeUnit = "millisecond",
    logIntervalMs = 10_000,
    silenceTimeoutMs = DEFAULT_SILENCE_TIMEOUT_MS,
  } = input;
  checkPositive("maxStreamsPerConnection", maxStreamsPerConnection, true);
  checkPositive("initialBackoffMs", initialBackoffMs, false);
  checkPositive("maxBackoffMs", maxBackoffMs, false);
  if (maxBackoffMs < initialBackoffMs) {
    throw new RangeError(
      invalidArgument(
        "maxBackoffMs",
        maxBackoffMs,
        `at least initialBackoffMs (${initialBackoffMs})`,
      ),
    );
  }
  checkPositive("logIntervalMs", logIntervalMs, false);
  if (silenceTimeoutMs !== 0) {
    checkPositive("silenceTimeoutMs", silenceTimeoutMs, false);
  }
  if (timeUnit !== "millisecond" && timeUnit !== "microsecond") {
    throw new RangeError(
      invalidArgument("timeUnit", timeUnit, '"millisecond" or "microsecond"'),
    );
  }
  return {
    endpoint: checkBinanceEndpoint(endpoint),
    maxStreamsPerConnection,
    initialBackoffMs,
    maxBackoffMs,
    timeUnit,
    logIntervalMs,
    silenceTimeoutMs,
  };
}

/** One planned connection: its URL and the indexes of the symbols it carries. */
export interface PlannedConnection {
  /** The full combined-stream URL. */
  url: string;
  /** Indexes of its symbols. */
  symbolIndexes: number[];
}

/** Splits `symbols` over connections of at most `maxStreamsPerConnection` streams each. */
export function planConnections(
  symbols: readonly string[],
  settings: StreamSettings,
): PlannedConnection[] {
  const { endpoint, maxStreamsPerConnection, timeUnit } = settings;
  const unit = timeUnit === "microsecond" ? "&timeUnit=MICROSECOND" : "";
  const plans: PlannedConnection[] = [];
  for (let at = 0; at < symbols.length; at += maxStreamsPerConnection) {
    const symbolIndexes = symbols.slice(at, at + maxStreamsPerConnection)
      .map((_, i) => at + i);
    const streams = symbolIndexes
      .map((i) => `${symbols[i].toLowerCase()}@trade`)
      .join("/");
    plans.push({
      url: `${endpoint}/stream?streams=${streams}${unit}`,
      symbolIndexes,
    });
  }
  return plans;
}
