/**
 * What the trade file parsers share: the row they produce, and how they
 * reject one.
 *
 * @module
 */

import { quoteValue } from "../config/quote.ts";
import type { TradeRecord } from "../wire/trade.ts";

/** One trade read from a file: the record's fields plus its origin and line. */
export interface ReplayRow extends TradeRecord {
  /** Absent: what tells a trade from a {@linkcode GapRow} (`type: "gap"`). */
  type?: undefined;
  /** Exchange name, lower case. */
  exchange: string;
  /** Symbol, upper case. */
  symbol: string;
  /** 1-based line number in the (decompressed) file. */
  line: number;
}

/**
 * Trades missing from one (exchange, symbol) stream of a recording, as
 * `live --record` met them: what one NDJSON gap line holds
 * (`TradeGap` of common/transport/feed.ts, without the process's stream index).
 */
export interface RecordedGap {
  /** Exchange name. */
  exchange: string;
  /** Symbol. */
  symbol: string;
  /**
   * Why they are missing: a `GapCause` ("overwritten", "evicted",
   * "producer restart", …), kept as written; later versions may add causes.
   */
  cause: string;
  /** The `seq` of the first missing trade, or null when unknown. */
  firstSeq: number | null;
  /** The `seq` of the last missing trade, or null when unknown. */
  lastSeq: number | null;
  /** How many trades are missing, or null when unknown. */
  count: number | null;
}

/** A gap line read from an NDJSON recording, in file order with the trades. */
export interface GapRow extends RecordedGap {
  /** What tells it from a {@linkcode ReplayRow}. */
  type: "gap";
  /** 1-based line number in the (decompressed) file. */
  line: number;
}

/** A row of a trade file: a trade, or a gap line of an NDJSON recording. */
export type TradeFileRow = ReplayRow | GapRow;

/** The largest u64. */
export const MAX_U64 = (1n << 64n) - 1n;
const DIGITS = /^\d+$/;

/** A value as a message quotes it (the one rule, {@linkcode quoteValue}). */
export { quoteValue as describe };

/** A row rejected by a parser; the reader adds the line number. */
export class BadRow {
  /** Why the row was rejected. */
  readonly reason: string;

  /** A rejection saying `reason`. */
  constructor(reason: string) {
    this.reason = reason;
  }
}

/** A u64 written as decimal digits; `name` is the field, for the reason. */
export function parseU64(text: string, name: string): bigint {
  if (!DIGITS.test(text)) {
    throw new BadRow(
      `invalid ${name} ${quoteValue(text)}: expected decimal digits`,
    );
  }
  const value = BigInt(text);
  if (value > MAX_U64) {
    throw new BadRow(
      `invalid ${name} ${quoteValue(text)}: expected at most 2^64 - 1`,
    );
  }
  return value;
}

/** A field parser's error (fixed_point's "Invalid price …") as a {@linkcode BadRow}. */
export function fieldError(error: unknown): BadRow {
  if (error instanceof BadRow) return error;
  const message = error instanceof Error ? error.message : String(error);
  // "Invalid price ..." from fixed_point reads as a reason once lower-cased.
  return new BadRow(message.charAt(0).toLowerCase() + message.slice(1));
}
