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
  /** Exchange name, lower case. */
  exchange: string;
  /** Symbol, upper case. */
  symbol: string;
  /** 1-based line number in the (decompressed) file. */
  line: number;
}

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
