/**
 * The project's NDJSON export (schema v1, described in trade_file.ts): one
 * line per trade, and a gap line where a recording misses trades, parsed and
 * formatted.
 *
 * @module
 */

import { formatPrice, parsePrice, parseSize } from "../wire/fixed_point.ts";
import { plainDecimal } from "../runtime/format.ts";
import type { Side, Trade } from "../wire/trade.ts";
import {
  BadRow,
  describe,
  fieldError,
  type GapRow,
  parseU64,
  type RecordedGap,
  type ReplayRow,
  type TradeFileRow,
} from "./_row.ts";

const MAX_U32 = 0xffff_ffff;
/** The side names of an NDJSON trade, by {@linkcode Side} value (the merge's fast path reads the same). */
export const SIDE_NAMES = ["unknown", "buy", "sell"] as const;

function nonEmptyString(object: Record<string, unknown>, key: string): string {
  const value = object[key];
  if (typeof value !== "string" || value === "") {
    throw new BadRow(
      `invalid ${key} ${describe(value)}: expected a non-empty string`,
    );
  }
  return value;
}

function u64String(object: Record<string, unknown>, key: string): bigint {
  const value = object[key];
  if (typeof value !== "string") {
    throw new BadRow(
      `invalid ${key} ${describe(value)}: expected a string of decimal digits`,
    );
  }
  return parseU64(value, key);
}

function integerIn(
  object: Record<string, unknown>,
  key: string,
  max: number,
): number {
  const value = object[key];
  if (value === undefined) return 0;
  if (
    !Number.isInteger(value) || (value as number) < 0 || value as number > max
  ) {
    throw new BadRow(
      `invalid ${key} ${describe(value)}: expected an integer from 0 to ${max}`,
    );
  }
  return value as number;
}

/** An optional integer from `min` to `max`: null when absent or null. */
function nullableIntegerIn(
  object: Record<string, unknown>,
  key: string,
  range: { min: number; max: number },
): number | null {
  const value = object[key];
  if (value === undefined || value === null) return null;
  const { min, max } = range;
  if (
    !Number.isInteger(value) || (value as number) < min ||
    value as number > max
  ) {
    throw new BadRow(
      `invalid ${key} ${
        describe(value)
      }: expected an integer from ${min} to ${max}, or null (unknown)`,
    );
  }
  return value as number;
}

const SEQ_RANGE = { min: 0, max: MAX_U32 };
const COUNT_RANGE = { min: 1, max: Number.MAX_SAFE_INTEGER };

/** The rest of a gap line (`"type":"gap"`), as a {@linkcode GapRow}. */
function parseGap(fields: Record<string, unknown>, line: number): GapRow {
  return {
    type: "gap",
    exchange: nonEmptyString(fields, "exchange"),
    symbol: nonEmptyString(fields, "symbol"),
    line,
    cause: nonEmptyString(fields, "cause"),
    firstSeq: nullableIntegerIn(fields, "firstSeq", SEQ_RANGE),
    lastSeq: nullableIntegerIn(fields, "lastSeq", SEQ_RANGE),
    count: nullableIntegerIn(fields, "count", COUNT_RANGE),
  };
}

/**
 * Parses one line of the NDJSON export: a trade, or a gap line
 * (`"type":"gap"`). Any other `type` is a bad row.
 */
export function parseNdjson(text: string, line: number): TradeFileRow {
  let object: unknown;
  try {
    object = JSON.parse(text);
  } catch (error) {
    throw new BadRow(
      `not JSON (${error instanceof Error ? error.message : error})`,
    );
  }
  if (typeof object !== "object" || object === null || Array.isArray(object)) {
    throw new BadRow(`${describe(text.slice(0, 40))} is not a JSON object`);
  }
  const fields = object as Record<string, unknown>;
  const type = fields.type;
  if (type !== undefined && type !== "trade") {
    if (type === "gap") {
      try {
        return parseGap(fields, line);
      } catch (error) {
        throw error instanceof BadRow
          ? new BadRow(`gap line: ${error.reason}`)
          : error;
      }
    }
    throw new BadRow(
      `unknown type ${
        describe(type)
      }: expected "gap" (a gap line), or "trade" or none (a trade)`,
    );
  }
  return parseTrade(fields, line);
}

/** The rest of a trade line. */
function parseTrade(fields: Record<string, unknown>, line: number): ReplayRow {
  const exchange = nonEmptyString(fields, "exchange");
  const symbol = nonEmptyString(fields, "symbol");
  const tsEvent = u64String(fields, "tsEvent");
  const tsRecv = fields.tsRecv === undefined
    ? tsEvent
    : u64String(fields, "tsRecv");
  let priceFixed: bigint;
  let size: number;
  try {
    priceFixed = parsePrice(fields.price as string);
    size = parseSize(fields.size as string);
  } catch (error) {
    throw fieldError(error);
  }
  const side = SIDE_NAMES.indexOf(fields.side as typeof SIDE_NAMES[number]);
  if (side < 0) {
    throw new BadRow(
      `invalid side ${
        describe(fields.side)
      }: expected "buy", "sell" or "unknown"`,
    );
  }
  return {
    exchange,
    symbol,
    line,
    side: side as Side,
    flags: integerIn(fields, "flags", 0xffff),
    seq: integerIn(fields, "seq", MAX_U32),
    tsEvent,
    tsRecv,
    priceFixed,
    size,
    tradeId: u64String(fields, "tradeId"),
  };
}

/**
 * Formats a trade as one line of the NDJSON export (without the newline), as
 * trade_file.ts describes; `readTradeFile` reads it back exactly.
 */
export function formatNdjsonTrade(trade: Trade): string {
  return JSON.stringify({
    exchange: trade.exchange,
    symbol: trade.symbol,
    seq: trade.seq,
    tsEvent: trade.tsEvent.toString(),
    tsRecv: trade.tsRecv.toString(),
    price: formatPrice(trade.priceFixed),
    size: plainDecimal(trade.size),
    side: SIDE_NAMES[trade.side] ?? "unknown",
    flags: trade.flags,
    tradeId: trade.tradeId.toString(),
  });
}

/**
 * Formats a gap as one gap line of the NDJSON export (without the newline),
 * as trade_file.ts describes: null where unknown, seqs modulo 2^32 as the wire
 * format numbers them. `readRowBatches` reads it back as a {@linkcode GapRow}.
 */
export function formatNdjsonGap(gap: RecordedGap): string {
  const { firstSeq, lastSeq } = gap;
  return JSON.stringify({
    type: "gap",
    exchange: gap.exchange,
    symbol: gap.symbol,
    cause: gap.cause,
    firstSeq: firstSeq === null ? null : firstSeq >>> 0,
    lastSeq: lastSeq === null ? null : lastSeq >>> 0,
    count: gap.count,
  });
}
