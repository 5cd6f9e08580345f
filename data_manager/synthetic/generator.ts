/**
 * A deterministic synthetic trade source: per-symbol random-walk prices,
 * written straight into wire-format records, paced by a rate and bursts.
 *
 * ```ts
 * import { TRADE_RECORD_SIZE } from "../../common/wire/trade.ts";
 *
 * const source = new SyntheticGenerator(["BTCUSDT", "ETHUSDT"], { rate: 1000 });
 * const view = new DataView(new ArrayBuffer(TRADE_RECORD_SIZE));
 * for (let n = source.due(performance.now()); n > 0; n--) {
 *   const ms = Date.now();
 *   const symbol = source.next(view, 0, Math.floor(ms / 1000), (ms % 1000) * 1e6);
 *   // publish view's 48 bytes as a trade of source.symbols[symbol]
 * }
 * await new Promise((wake) => setTimeout(wake, source.nextDueInMs(performance.now())));
 * ```
 *
 * @module
 */

import { invalidArgument } from "../../common/errors/mod.ts";

import { RecordOffset } from "../../common/wire/codec.ts";
import { setEpochNanos, setU64 } from "../../common/wire/mod.ts";
import {
  Side,
  TRADE_RECORD_SIZE,
  TradeFlags,
  WIRE_VERSION,
} from "../../common/wire/trade.ts";

/** Trades that {@linkcode SyntheticGenerator.due} grants per call when `rate` is 0. */
export const UNPACED_CHUNK = 4096;

/** The most symbols one source can draw from. */
export const MAX_SYNTHETIC_SYMBOLS = 65536;

/** Options of {@linkcode SyntheticGenerator}. */
export interface SyntheticGeneratorOptions {
  /** Seed of the pseudo-random generator, a u32 (default 1). */
  seed?: number;
  /** Trades per second over all symbols; 0 (the default) = as fast as possible. */
  rate?: number;
  /** Extra trades due at the end of each burst interval (default 0; needs `rate` > 0). */
  burstSize?: number;
  /** Milliseconds between bursts (default 1000). */
  burstIntervalMs?: number;
  /** Trades to produce before stopping; 0 (the default) = until a trade id would pass 2^53 − 1. */
  maxTrades?: number;
  /** Trade id of each symbol's first trade; ids then go up by 1 per symbol (default 1). */
  firstTradeId?: number;
}

// Each trade moves its symbol's price by −7..+7 ticks (σ ≈ 4 ticks), and a
// start price is 10^6..10^7 ticks, so a price wanders by roughly 0.05–0.5%
// per million trades of its symbol.
const MAX_STEP_TICKS = 7; // also the bit mask of a step's 3 bits
const MIN_START_TICKS = 1e6;
// Sizes are mantissa × 10^exponent / 10^4: 0.0001 to 99.9, ≤ 3 digits.
const SIZE_MANTISSAS = 999;
const SIZE_POWERS = new Float64Array([1, 10, 100, 1000]);
const SIZE_SCALE = 10_000;
const KNOWN_START_PRICES: readonly (readonly [string, number])[] = [
  ["BTC", 60_000e9],
  ["ETH", 3_000e9],
  ["SOL", 150e9],
];
// Version, side 0 and the synthetic flag as the record's first u32.
const HEADER = WIRE_VERSION | (TradeFlags.Synthetic << 16);
const TWO_POW_32 = 4294967296;

/** Returns `value` when it is a number that passes `valid`, else throws. */
function checkNumber(
  name: string,
  value: unknown,
  valid: (value: number) => boolean,
  expected: string,
): number {
  if (typeof value !== "number") {
    throw new TypeError(invalidArgument(name, value, expected));
  }
  if (!valid(value)) {
    throw new RangeError(invalidArgument(name, value, expected));
  }
  return value;
}

function isNonNegativeInteger(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

/**
 * The generator's own check of its `symbols` argument, not config's
 * `checkSymbolList`: the symbols it gets from a config were checked there
 * already, and as a class it takes any distinct non-empty names and keeps
 * them as given (case-sensitive, e.g. "btc-usd" beside "BTC-USD"), where the
 * config rule upper-cases them and refuses subject-breaking characters.
 */
function checkSymbols(symbols: readonly string[]): readonly string[] {
  if (!Array.isArray(symbols)) {
    throw new TypeError(
      invalidArgument("symbols", symbols, "an array of symbols"),
    );
  }
  if (symbols.length === 0 || symbols.length > MAX_SYNTHETIC_SYMBOLS) {
    throw new RangeError(
      `Invalid symbols: ${symbols.length} given, expected 1 to ${MAX_SYNTHETIC_SYMBOLS}`,
    );
  }
  const seen = new Map<string, number>();
  symbols.forEach((symbol: unknown, index) => {
    const expected = `a non-empty string (symbols[${index}])`;
    if (typeof symbol !== "string") {
      throw new TypeError(invalidArgument("symbol", symbol, expected));
    }
    if (symbol === "") {
      throw new RangeError(invalidArgument("symbol", symbol, expected));
    }
    const first = seen.get(symbol);
    if (first !== undefined) {
      throw new RangeError(
        invalidArgument(
          "symbol",
          symbol,
          `each symbol once (symbols[${index}] repeats symbols[${first}])`,
        ),
      );
    }
    seen.set(symbol, index);
  });
  return Object.freeze([...symbols]);
}

/** FNV-1a over the UTF-16 code units of `text`. */
function hash(text: string): number {
  let h = 0x811c_9dc5;
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x0100_0193);
  }
  return h >>> 0;
}

/** Start price × 10^9: BTC*, ETH*, SOL* near their usual levels, else 1..1000 from the name. */
function startPrice(symbol: string): number {
  const upper = symbol.toUpperCase();
  const known = KNOWN_START_PRICES.find(([prefix]) => upper.startsWith(prefix));
  return known?.[1] ?? (1000 + hash(upper) % 999_001) * 1e6;
}

/** The power of ten that makes `price` 10^6..10^7 ticks. */
function tickFor(price: number): number {
  let tick = 1;
  while (tick * MIN_START_TICKS * 10 <= price) tick *= 10;
  return tick;
}

/**
 * Generates synthetic trades for a fixed set of symbols. The sequence of
 * (symbol, side, price, size, trade id) depends only on the seed, the
 * symbols and `firstTradeId`, never on timing; {@linkcode due} paces it.
 * Writing a record ({@linkcode next}) allocates nothing.
 */
export class SyntheticGenerator {
  readonly #symbols: readonly string[];
  // Per symbol: price × 10^9 and tick × 10^9 (integers below 2^53), next id.
  readonly #prices: Float64Array;
  readonly #ticks: Float64Array;
  readonly #tradeIds: Float64Array;
  // symbols / 2^32: a u32 draw times this, floored, is a uniform index.
  readonly #symbolScale: number;
  readonly #rate: number;
  readonly #burstSize: number;
  readonly #burstIntervalMs: number;
  // Trades before stopping: maxTrades, or as many as keep every id ≤ 2^53 − 1.
  readonly #limit: number;
  #state: number;
  #produced = 0;
  // The time of the last record as a u64's little-endian u32 halves, and
  // what it was computed from: callers pass the same clock reading to
  // several records in a row, and ts_event = ts_recv.
  readonly #scratch = new DataView(new ArrayBuffer(8));
  #stampLow = 0;
  #stampHigh = 0;
  #stampSeconds = NaN;
  #stampNanos = NaN;
  #startMs = NaN;

  /**
   * Creates a source for `symbols` (1 to {@linkcode MAX_SYNTHETIC_SYMBOLS} distinct,
   * non-empty names).
   *
   * @throws {TypeError} when an argument has the wrong type.
   * @throws {RangeError} naming the option or symbol that is out of range.
   */
  constructor(
    symbols: readonly string[],
    options: SyntheticGeneratorOptions = {},
  ) {
    this.#symbols = checkSymbols(symbols);
    if (typeof options !== "object" || options === null) {
      throw new TypeError(
        invalidArgument(
          "options",
          options,
          "an object of SyntheticGeneratorOptions",
        ),
      );
    }
    const {
      seed = 1,
      rate = 0,
      burstSize = 0,
      burstIntervalMs = 1000,
      firstTradeId = 1,
      maxTrades = 0,
    } = options;
    checkNumber(
      "seed",
      seed,
      (value) => isNonNegativeInteger(value) && value < TWO_POW_32,
      "an integer from 0 to 4294967295 (a u32)",
    );
    this.#rate = checkNumber(
      "rate",
      rate,
      (value) => value >= 0 && value < Infinity,
      "a finite number ≥ 0 (trades per second over all symbols, 0 = as fast as possible)",
    );
    this.#burstSize = checkNumber(
      "burstSize",
      burstSize,
      (value) => isNonNegativeInteger(value) && (value === 0 || rate > 0),
      rate > 0
        ? "an integer ≥ 0 (extra trades at each burst interval)"
        : "0 while rate is 0 (which already means as fast as possible)",
    );
    this.#burstIntervalMs = checkNumber(
      "burstIntervalMs",
      burstIntervalMs,
      (value) => value > 0 && value < Infinity,
      "a finite number > 0 (milliseconds between bursts)",
    );
    checkNumber(
      "firstTradeId",
      firstTradeId,
      isNonNegativeInteger,
      `an integer from 0 to ${Number.MAX_SAFE_INTEGER}`,
    );
    const mostTrades = Number.MAX_SAFE_INTEGER - firstTradeId + 1;
    checkNumber(
      "maxTrades",
      maxTrades,
      (value) => isNonNegativeInteger(value) && value <= mostTrades,
      `an integer from 0 to ${mostTrades} (0 = unlimited; trade ids from firstTradeId ${firstTradeId} must stay ≤ 2^53 - 1)`,
    );
    this.#limit = maxTrades === 0 ? mostTrades : maxTrades;
    this.#state = seed | 0;
    const count = this.#symbols.length;
    this.#symbolScale = count / TWO_POW_32;
    this.#prices = new Float64Array(count);
    this.#ticks = new Float64Array(count);
    this.#tradeIds = new Float64Array(count).fill(firstTradeId);
    this.#symbols.forEach((symbol, index) => {
      const price = startPrice(symbol);
      const tick = tickFor(price);
      this.#ticks[index] = tick;
      this.#prices[index] = Math.round(price / tick) * tick;
    });
  }

  /** The symbols, in the order of the indexes {@linkcode next} returns. */
  get symbols(): readonly string[] {
    return this.#symbols;
  }

  /** Trades written so far. */
  get produced(): number {
    return this.#produced;
  }

  /** Whether `maxTrades` trades (or, unlimited, all ids up to 2^53 − 1) were written: {@linkcode next} then returns -1. */
  get done(): boolean {
    return this.#produced >= this.#limit;
  }

  /**
   * Writes the next trade into the record at byte `at` of `target` and
   * returns its symbol's index, or -1 once `maxTrades` trades were written.
   * Every field but seq is written (the publisher stamps seq; its word is
   * left as it was): the synthetic flag, and `ts_event` = `ts_recv` =
   * `recvSeconds` s + `recvNanos` ns since the epoch. Allocates nothing.
   *
   * Preconditions (unchecked): the time meets those of
   * {@linkcode setEpochNanos}.
   *
   * @throws {RangeError} when the record does not fit at `at`; nothing is
   * written and the sequence does not advance.
   */
  next(
    target: DataView,
    at: number,
    recvSeconds: number,
    recvNanos: number,
  ): number {
    if (this.#produced >= this.#limit) return -1;
    if (
      !(Number.isInteger(at) && at >= 0 &&
        at + TRADE_RECORD_SIZE <= target.byteLength)
    ) {
      throw new RangeError(
        `Invalid offset ${at}: expected an integer from 0 to ${
          target.byteLength - TRADE_RECORD_SIZE
        } (room for a ${TRADE_RECORD_SIZE}-byte record in ${target.byteLength} bytes)`,
      );
    }
    const symbol = Math.floor(this.#random() * this.#symbolScale);
    const bits = this.#random();
    // Bit 0: side; bit 1: step sign; bits 2..4: step; 5..6: size exponent;
    // 7..31: size mantissa.
    const step = ((bits >>> 2) & MAX_STEP_TICKS) * ((bits & 2) - 1);
    const tick = this.#ticks[symbol];
    let price = this.#prices[symbol] + step * tick;
    if (price <= 0 || price > Number.MAX_SAFE_INTEGER) price -= 2 * step * tick;
    this.#prices[symbol] = price;
    const size = (1 + (bits >>> 7) % SIZE_MANTISSAS) *
      SIZE_POWERS[(bits >>> 5) & 3] / SIZE_SCALE;
    const tradeId = this.#tradeIds[symbol];
    this.#tradeIds[symbol] = tradeId + 1;
    // Side.Sell is Side.Buy + 1.
    target.setUint32(at, HEADER | ((Side.Buy + (bits & 1)) << 8), true);
    if (recvSeconds !== this.#stampSeconds || recvNanos !== this.#stampNanos) {
      this.#restamp(recvSeconds, recvNanos);
    }
    const low = this.#stampLow;
    const high = this.#stampHigh;
    target.setUint32(at + RecordOffset.TsEvent, low, true);
    target.setUint32(at + RecordOffset.TsEvent + 4, high, true);
    target.setUint32(at + RecordOffset.TsRecv, low, true);
    target.setUint32(at + RecordOffset.TsRecv + 4, high, true);
    setU64(target, at + RecordOffset.Price, price);
    target.setFloat64(at + RecordOffset.Size, size, true);
    setU64(target, at + RecordOffset.TradeId, tradeId);
    this.#produced++;
    return symbol;
  }

  /**
   * Returns how many trades are due by monotonic time `nowMs` (e.g.
   * `performance.now()`): `floor(rate × elapsed)` plus `burstSize` per burst
   * interval completed, capped by `maxTrades`, minus those already produced.
   * Computed from the start, so late calls catch up and nothing drifts. With
   * rate 0, up to {@linkcode UNPACED_CHUNK} per call. The first call of this
   * or {@linkcode nextDueInMs} fixes the start time.
   *
   * @throws {RangeError} when `nowMs` is not a finite number.
   */
  due(nowMs: number): number {
    const elapsed = this.#elapsed(nowMs);
    const allowed = this.#rate === 0
      ? this.#produced + UNPACED_CHUNK
      : this.#allowed(elapsed);
    return Math.max(0, Math.min(allowed, this.#limit) - this.#produced);
  }

  /**
   * Returns the milliseconds from `nowMs` until the next trade is due (at
   * most 1 µs late, never early: `due(nowMs + wait)` is at least 1), 0 when
   * {@linkcode due} would return more than 0, `Infinity` once done.
   *
   * @throws {RangeError} when `nowMs` is not a finite number.
   */
  nextDueInMs(nowMs: number): number {
    const elapsed = this.#elapsed(nowMs);
    if (this.done) return Infinity;
    const wanted = this.#produced + 1;
    if (this.#rate === 0 || this.#allowed(elapsed) >= wanted) return 0;
    const wait = this.#dueAt(wanted) - elapsed;
    // Float rounding can leave `nowMs + wait` a hair short of due: 1 µs more.
    return this.#allowed(nowMs + wait - this.#startMs) < wanted
      ? wait + 0.001
      : wait;
  }

  /** Milliseconds since the start, which the first call fixes at `nowMs`. */
  #elapsed(nowMs: number): number {
    checkNumber(
      "nowMs",
      nowMs,
      Number.isFinite,
      "a finite monotonic time in milliseconds (e.g. performance.now())",
    );
    if (Number.isNaN(this.#startMs)) this.#startMs = nowMs;
    return nowMs - this.#startMs;
  }

  /** Trades allowed `elapsed` ms after the start (rate > 0, not capped). */
  #allowed(elapsed: number): number {
    return Math.floor(this.#rate * elapsed / 1000) +
      this.#burstSize * Math.floor(elapsed / this.#burstIntervalMs);
  }

  /** The earliest ms after the start at which `count` trades are allowed (rate > 0). */
  #dueAt(count: number): number {
    const interval = this.#burstIntervalMs;
    const burst = this.#burstSize;
    // Up to t ms, at most t × (rate / 1000 + burst / interval) are allowed,
    // so none of the intervals before this one can reach `count` (one less
    // for rounding).
    const first = Math.floor(
      count / (this.#rate * interval / 1000 + burst),
    );
    // In interval k, allowed(t) = floor(rate × t / 1000) + k × burst.
    for (let k = Math.max(0, first - 1);; k++) {
      const at = Math.max(
        k * interval,
        (count - k * burst) * 1000 / this.#rate,
      );
      if (at < (k + 1) * interval) return at;
    }
  }

  /** Computes the u64 halves of `seconds` s + `nanos` ns for the records to come. */
  #restamp(seconds: number, nanos: number): void {
    const scratch = this.#scratch;
    setEpochNanos(scratch, 0, seconds, nanos);
    this.#stampLow = scratch.getUint32(0, true);
    this.#stampHigh = scratch.getUint32(4, true);
    this.#stampSeconds = seconds;
    this.#stampNanos = nanos;
  }

  /** The next u32 of the mulberry32 generator. */
  #random(): number {
    const state = this.#state = (this.#state + 0x6d2b_79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
}
