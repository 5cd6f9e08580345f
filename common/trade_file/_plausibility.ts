/**
 * Which rows of a trade file are implausible: the checks that catch a
 * corrupted digit the row grammar cannot see. Every rule compares a row with
 * fixed bounds or with the last accepted row of the same (exchange, symbol),
 * a few comparisons per row:
 *
 * - its time is before 2000-01-01 or more than a day after the reader started;
 * - its time is before the last accepted row's (real trade files are in
 *   trade order; equal times are fine);
 * - its trade id is not above the last accepted row's (ids 0 are not
 *   compared), or above twice it plus {@linkcode ID_JUMP};
 * - its price is more than {@linkcode PRICE_FACTOR} times, or less than
 *   1/{@linkcode PRICE_FACTOR} of, the last accepted row's.
 *
 * A flagged row is not accepted, so one corrupt row does not poison the next.
 * When {@linkcode REANCHOR_AFTER} rows in a row are flagged for the same one
 * reason, their price only or their time only, and agree with each other
 * (times not going back, ids increasing, prices within the factor), the
 * last of them becomes the reference: for a price, the market jumped; for a
 * time, the accepted row was the one wrong (a trade stamped hours ahead,
 * still less than a day in the future), and the file goes on without it
 * after {@linkcode REANCHOR_AFTER} flagged rows instead of to its end.
 * Trade ids never re-anchor.
 *
 * @module
 */

import { formatPrice } from "../wire/fixed_point.ts";

/** 2000-01-01T00:00:00Z in ns since the epoch. */
export const MIN_TIME_NS = 946_684_800_000_000_000n;
/** How far after "now" a trade time may lie, ns (a day). */
export const FUTURE_SLACK_NS = 86_400_000_000_000n;
/** A price above ×this or below ÷this of the previous row's is implausible. */
export const PRICE_FACTOR = 1.5;
/** A trade id above twice the previous row's plus this is implausible. */
export const ID_JUMP = 1_000_000n;
/** Consecutive mutually consistent flagged rows after which they become the reference. */
export const REANCHOR_AFTER = 3;

// PRICE_FACTOR as the fraction 3/2, for exact bigint comparisons.
const FACTOR_NUM = 3n;
const FACTOR_DEN = 2n;

/** The fields the checks read. */
export interface CheckedRow {
  /** Exchange. */
  exchange: string;
  /** Symbol. */
  symbol: string;
  /** 1-based line. */
  line: number;
  /** Trade time, ns since the epoch. */
  tsEvent: bigint;
  /** Fixed-point price (9 decimals). */
  priceFixed: bigint;
  /** Exchange trade id. */
  tradeId: bigint;
}

interface Reference {
  line: number;
  tsEvent: bigint;
  priceFixed: bigint;
  tradeId: bigint;
}

interface SymbolState {
  /** The last accepted row. */
  accepted: Reference;
  /** The last flagged row, and how many flagged rows in a row agree up to it. */
  suspect: Reference | undefined;
  streak: number;
  /** Why the suspects were flagged: their price only, their time only, or else. */
  kind: Kind;
}

/** An ISO time for a message, or the raw ns when it is out of Date's range. */
export function isoTime(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  return Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : `${ns} ns`;
}

/** Why a time is outside [2000-01-01, `maxNs`], or undefined. */
export function timeRangeProblem(
  tsEvent: bigint,
  maxNs: bigint,
): string | undefined {
  if (tsEvent < MIN_TIME_NS) {
    return `implausible time ${isoTime(tsEvent)}: before 2000-01-01`;
  }
  if (tsEvent > maxNs) {
    return `implausible time ${
      isoTime(tsEvent)
    }: more than a day in the future`;
  }
  return undefined;
}

/** What a flagged row is flagged for: only these two may re-anchor. */
type Kind = "price" | "time" | "other";

/** Why `row`'s time is before `previous`'s, or undefined. */
function timeProblem(
  row: CheckedRow,
  previous: Reference,
): string | undefined {
  if (row.tsEvent >= previous.tsEvent) return undefined;
  return `out of time order: ${isoTime(row.tsEvent)} is before ${
    isoTime(previous.tsEvent)
  } of line ${previous.line}, the last accepted row of ${row.symbol}`;
}

/** Why `row`'s time or trade id does not follow `previous`, or undefined. */
function orderProblem(
  row: CheckedRow,
  previous: Reference,
): string | undefined {
  return timeProblem(row, previous) ?? idProblem(row, previous);
}

/** Why `row`'s trade id does not follow `previous`'s, or undefined. */
function idProblem(
  row: CheckedRow,
  previous: Reference,
): string | undefined {
  if (row.tradeId === 0n) return undefined;
  if (row.tradeId <= previous.tradeId) {
    return `trade id ${row.tradeId} is not above ${previous.tradeId} of line ${previous.line} (a repeated or reordered row)`;
  }
  if (row.tradeId > previous.tradeId * 2n + ID_JUMP) {
    return `implausible trade id ${row.tradeId}: more than twice ${previous.tradeId} of line ${previous.line} plus ${ID_JUMP}`;
  }
  return undefined;
}

/** Why `row`'s price is not plausible after `previous`'s, or undefined. */
function priceProblem(
  row: CheckedRow,
  previous: Reference,
): string | undefined {
  const price = row.priceFixed, before = previous.priceFixed;
  if (price === before) return undefined; // the common case, without products
  if (
    price * FACTOR_DEN > before * FACTOR_NUM ||
    price * FACTOR_NUM < before * FACTOR_DEN
  ) {
    return `implausible price: ${
      formatPrice(price)
    } is more than ×${PRICE_FACTOR} away from ${
      formatPrice(before)
    } of line ${previous.line}`;
  }
  return undefined;
}

/** Tracks the last accepted row per (exchange, symbol) and flags implausible rows. */
export class PlausibilityCheck {
  readonly #maxNs: bigint;
  readonly #states = new Map<string, SymbolState>();
  /** The previous row's symbol, exchange and state: most rows repeat them. */
  #lastSymbol = "";
  #lastExchange = "";
  #last: SymbolState | undefined;

  /** A check whose "now" is `nowMs` (ms since the epoch). @default Date.now() */
  constructor(nowMs: number = Date.now()) {
    this.#maxNs = BigInt(Math.floor(nowMs)) * 1_000_000n + FUTURE_SLACK_NS;
  }

  /** The latest plausible time, ns. */
  get maxNs(): bigint {
    return this.#maxNs;
  }

  /** Why `row` is implausible (then it is not accepted), or undefined (accepted). */
  check(row: CheckedRow): string | undefined {
    const range = timeRangeProblem(row.tsEvent, this.#maxNs);
    if (range !== undefined) return range;
    let state = this.#last;
    if (
      state === undefined || row.symbol !== this.#lastSymbol ||
      row.exchange !== this.#lastExchange
    ) {
      const key = row.symbol + "\0" + row.exchange;
      state = this.#states.get(key);
      this.#lastSymbol = row.symbol;
      this.#lastExchange = row.exchange;
      if (state === undefined) {
        this.#last = {
          accepted: reference(row),
          suspect: undefined,
          streak: 0,
          kind: "other",
        };
        this.#states.set(key, this.#last);
        return undefined;
      }
      this.#last = state;
    }
    const accepted = state.accepted;
    const time = timeProblem(row, accepted);
    const id = idProblem(row, accepted);
    const price = priceProblem(row, accepted);
    const problem = time ?? id ?? price;
    if (problem === undefined) {
      accepted.line = row.line;
      accepted.tsEvent = row.tsEvent;
      accepted.priceFixed = row.priceFixed;
      accepted.tradeId = row.tradeId;
      state.suspect = undefined;
      state.streak = 0;
      return undefined;
    }
    // A price jump can be the market's, a time ahead the accepted row's
    // fault: flagged rows of one such kind that agree with each other
    // re-anchor; trade ids never do.
    const kind: Kind =
      id !== undefined || (time !== undefined && price !== undefined)
        ? "other"
        : time !== undefined
        ? "time"
        : "price";
    const agrees = kind !== "other" && kind === state.kind &&
      state.suspect !== undefined &&
      orderProblem(row, state.suspect) === undefined &&
      priceProblem(row, state.suspect) === undefined;
    state.streak = agrees ? state.streak + 1 : 1;
    state.suspect = reference(row);
    state.kind = kind;
    if (kind !== "other" && state.streak >= REANCHOR_AFTER) {
      state.accepted = state.suspect;
      state.suspect = undefined;
      state.streak = 0;
      return `${problem}; the last ${REANCHOR_AFTER} rows of ${row.symbol} agree with each other, so later rows are compared with this one`;
    }
    return problem;
  }
}

function reference(row: CheckedRow): Reference {
  return {
    line: row.line,
    tsEvent: row.tsEvent,
    priceFixed: row.priceFixed,
    tradeId: row.tradeId,
  };
}
