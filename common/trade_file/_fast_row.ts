/**
 * The merge's fast path: a trade line in the exact form the project writes
 * it (formatNdjsonTrade's key order, no spaces, ASCII) or a plain Binance
 * CSV row, parsed from bytes straight into a wire record, with no string or
 * object per row. A line in any other form — or bad — is not handled here
 * (false), and its string parser reads it, with the same rules and errors as
 * every reader (_row_parser.ts).
 *
 * @module
 */

import type { CsvParser } from "./_csv.ts";
import {
  BOOL_WORDS,
  QUOTE_ABSOLUTE_TOLERANCE,
  QUOTE_RELATIVE_TOLERANCE,
} from "./_csv.ts";
import {
  decimal,
  plainStringEnd,
  priceFixed,
  scanTime,
  scanU64,
  smallInteger,
  startsWith,
  U64,
} from "./_fast_fields.ts";
import { formatNdjsonTrade, SIDE_NAMES } from "./_ndjson.ts";
import { RECORD_WORDS, type RecordBlock } from "./_record_block.ts";
import { Side, WIRE_VERSION } from "../wire/trade.ts";

const TWO_32 = 4294967296;
const MAX_I64_HIGH = 0x7fffffff;
const MAX_U32 = 0xffffffff;
const encode = (text: string) => new TextEncoder().encode(text);

/**
 * The bytes before each value of a trade line as formatNdjsonTrade writes
 * it (`{"exchange":"`, `","symbol":"`, …), by key: derived from the
 * formatter's output for a sample, so the fast path follows its key order
 * and quoting (a line of another form goes to the line parser).
 */
function keyLiterals(): Map<string, Uint8Array> {
  const sample = formatNdjsonTrade({
    exchange: "X",
    symbol: "Y",
    seq: 1,
    tsEvent: 2n,
    tsRecv: 3n,
    priceFixed: 4_000_000_000n,
    price: 4,
    size: 5,
    side: Side.Buy,
    flags: 6,
    tradeId: 7n,
  });
  const literals = new Map<string, Uint8Array>();
  let text = "";
  let quoted = false;
  for (const [key, value] of Object.entries(JSON.parse(sample))) {
    const literal = (text === "" ? "{" : quoted ? '",' : ",") +
      JSON.stringify(key) + ":" + (typeof value === "string" ? '"' : "");
    quoted = typeof value === "string";
    literals.set(key, encode(literal));
    text += literal + String(value);
  }
  if (text + (quoted ? '"}' : "}") !== sample) {
    throw new Error(`fast path: unexpected trade line form ${sample}`);
  }
  return literals;
}
const KEYS = keyLiterals();
const EXCHANGE = KEYS.get("exchange")!;
const SYMBOL = KEYS.get("symbol")!;
const SEQ = KEYS.get("seq")!;
const TS_EVENT = KEYS.get("tsEvent")!;
const TS_RECV = KEYS.get("tsRecv")!;
const PRICE = KEYS.get("price")!;
const SIZE = KEYS.get("size")!;
const SIDE = KEYS.get("side")!;
const FLAGS = KEYS.get("flags")!;
const TRADE_ID = KEYS.get("tradeId")!;

/** Resolves a line's (exchange, symbol) bytes to the file's stream index. */
export interface StreamLookup {
  /** The index of the stream whose names are `bytes[exchangeStart, exchangeEnd)` and `bytes[symbolStart, symbolEnd)` (ASCII). */
  find(
    bytes: Uint8Array,
    exchangeStart: number,
    exchangeEnd: number,
    symbolStart: number,
    symbolEnd: number,
  ): number;
}

/** The index after the decimal digits from `at` (at most `end`). */
function digitsEnd(bytes: Uint8Array, at: number, end: number): number {
  while (at < end && bytes[at] >= 48 && bytes[at] <= 57) at++;
  return at;
}

/** Writes the price of `fixed` (an exact integer below 2^53) into words `w + 6, 7`. */
function setPrice(words: Uint32Array, w: number, fixed: number): void {
  const hi = Math.floor(fixed / TWO_32);
  words[w + 6] = fixed - hi * TWO_32;
  words[w + 7] = hi;
}

/** The NDJSON side names' bytes, by side value. */
const SIDE_BYTES = SIDE_NAMES.map(encode);

/** Parses the side word `bytes[start, end)` of an NDJSON trade: 0, 1, 2, or -1. */
function sideOf(bytes: Uint8Array, start: number, end: number): number {
  for (let side = 0; side < SIDE_BYTES.length; side++) {
    const name = SIDE_BYTES[side];
    if (name.length === end - start && startsWith(bytes, start, end, name)) {
      return side;
    }
  }
  return -1;
}

/**
 * The index of the `\n` ending the line at `end`, `end + 1` (after a `\r`),
 * or -1 when neither follows.
 */
function newlineAt(bytes: Uint8Array, end: number, limit: number): number {
  if (end < limit && bytes[end] === 10) return end;
  return end + 1 < limit && bytes[end] === 13 && bytes[end + 1] === 10
    ? end + 1
    : -1;
}

/**
 * Writes the NDJSON trade line at `bytes[start…]` at the block's `count` (not
 * kept yet), when it has exactly formatNdjsonTrade's form, valid values that
 * a record holds, and ends with a `\n` (or `\r\n`) before `limit`: returns
 * the index of that `\n`; else -1 (nothing to keep).
 */
export function fastNdjson(
  bytes: Uint8Array,
  start: number,
  limit: number,
  block: RecordBlock,
  streams: StreamLookup,
): number {
  const end = limit;
  if (!startsWith(bytes, start, end, EXCHANGE)) return -1;
  const exchangeStart = start + EXCHANGE.length;
  const exchangeEnd = plainStringEnd(bytes, exchangeStart, end);
  if (
    exchangeEnd <= exchangeStart ||
    !startsWith(bytes, exchangeEnd, end, SYMBOL)
  ) return -1;
  const symbolStart = exchangeEnd + SYMBOL.length;
  const symbolEnd = plainStringEnd(bytes, symbolStart, end);
  if (symbolEnd <= symbolStart || !startsWith(bytes, symbolEnd, end, SEQ)) {
    return -1;
  }
  let at = symbolEnd + SEQ.length;
  let stop = digitsEnd(bytes, at, end);
  const seq = smallInteger(bytes, at, stop, MAX_U32);
  if (seq < 0 || !startsWith(bytes, stop, end, TS_EVENT)) return -1;
  block.room();
  const words = block.words;
  const w = block.count * RECORD_WORDS;
  at = stop + TS_EVENT.length;
  stop = scanU64(bytes, at, end, false);
  if (stop < 0 || U64.hi > MAX_I64_HIGH) return -1;
  words[w + 2] = U64.lo;
  words[w + 3] = U64.hi;
  if (!startsWith(bytes, stop, end, TS_RECV)) return -1;
  at = stop + TS_RECV.length;
  stop = scanU64(bytes, at, end, false);
  if (stop < 0 || U64.hi > MAX_I64_HIGH) return -1;
  words[w + 4] = U64.lo;
  words[w + 5] = U64.hi;
  if (!startsWith(bytes, stop, end, PRICE)) return -1;
  at = stop + PRICE.length;
  stop = quoteAt(bytes, at, end);
  const fixed = priceFixed(bytes, at, stop, false);
  if (fixed < 0 || !startsWith(bytes, stop, end, SIZE)) return -1;
  setPrice(words, w, fixed);
  at = stop + SIZE.length;
  stop = quoteAt(bytes, at, end);
  const size = decimal(bytes, at, stop, false);
  if (!(size > 0) || !startsWith(bytes, stop, end, SIDE)) return -1;
  block.floats[w / 2 + 4] = size;
  at = stop + SIDE.length;
  stop = quoteAt(bytes, at, end);
  const side = sideOf(bytes, at, stop);
  if (side < 0 || !startsWith(bytes, stop, end, FLAGS)) return -1;
  at = stop + FLAGS.length;
  stop = digitsEnd(bytes, at, end);
  const flags = smallInteger(bytes, at, stop, 0xffff);
  if (flags < 0 || !startsWith(bytes, stop, end, TRADE_ID)) return -1;
  at = stop + TRADE_ID.length;
  stop = scanU64(bytes, at, end, false);
  // The line ends with the id's closing quote and the object's brace.
  if (
    stop < 0 || stop + 2 > end || bytes[stop] !== 0x22 ||
    bytes[stop + 1] !== 0x7d
  ) return -1;
  const newline = newlineAt(bytes, stop + 2, limit);
  if (newline < 0) return -1;
  words[w + 10] = U64.lo;
  words[w + 11] = U64.hi;
  words[w] = WIRE_VERSION | (side << 8) | (flags << 16);
  words[w + 1] = seq;
  block.streams[block.count] = streams.find(
    bytes,
    exchangeStart,
    exchangeEnd,
    symbolStart,
    symbolEnd,
  );
  return newline;
}

/** The index of the next `"` from `at` (a string value's end), or `end`; a control byte (a newline) stops it too. */
function quoteAt(bytes: Uint8Array, at: number, end: number): number {
  while (at < end && bytes[at] !== 0x22 && bytes[at] >= 0x20) at++;
  return at;
}

/** The index of the next comma, `\r` or `\n` from `at`, or `end`. */
function fieldEnd(bytes: Uint8Array, at: number, end: number): number {
  while (at < end) {
    const byte = bytes[at];
    if (byte === 0x2c || byte === 10 || byte === 13) return at;
    at++;
  }
  return at;
}

/** The CSV boolean words' bytes and values. */
const BOOLS = [...BOOL_WORDS].map(([word, value]) => ({
  bytes: encode(word),
  value: value ? 1 : 0,
}));

/** 1 for a true word of {@linkcode BOOL_WORDS}, 0 for a false one, -1 otherwise. */
function bool(bytes: Uint8Array, start: number, end: number): number {
  for (const { bytes: word, value } of BOOLS) {
    if (word.length === end - start && startsWith(bytes, start, end, word)) {
      return value;
    }
  }
  return -1;
}

/**
 * Writes the Binance CSV row at `bytes[start…]` at the block's `count` (not
 * kept yet) as a record of `stream`, as `csv` would read it once it knows
 * the file's time unit, when every field is plain and valid and the row
 * ends with a `\n` (or `\r\n`) before `limit`: returns the index of that
 * `\n`; else -1.
 */
export function fastCsv(
  bytes: Uint8Array,
  start: number,
  limit: number,
  block: RecordBlock,
  csv: CsvParser,
  stream: number,
): number {
  const nsPerUnit = csv.nsPerUnit;
  if (nsPerUnit === 0) return -1;
  const end = limit;
  block.room();
  const words = block.words;
  const w = block.count * RECORD_WORDS;
  let stop = scanU64(bytes, start, end, true);
  if (stop < 0 || bytes[stop] !== 0x2c) return -1;
  words[w + 10] = U64.lo;
  words[w + 11] = U64.hi;
  let at = stop + 1;
  stop = fieldEnd(bytes, at, end);
  const fixed = priceFixed(bytes, at, stop, true);
  if (fixed < 0 || bytes[stop] !== 0x2c) return -1;
  setPrice(words, w, fixed);
  at = stop + 1;
  stop = fieldEnd(bytes, at, end);
  const size = decimal(bytes, at, stop, true);
  if (!(size > 0) || bytes[stop] !== 0x2c) return -1;
  block.floats[w / 2 + 4] = size;
  at = stop + 1;
  stop = fieldEnd(bytes, at, end);
  if (bytes[stop] !== 0x2c) return -1;
  if (csv.checksQuote) {
    const quote = decimal(bytes, at, stop, true);
    const product = (fixed / 1_000_000_000) * size;
    if (
      !(Math.abs(quote - product) <=
        QUOTE_ABSOLUTE_TOLERANCE + QUOTE_RELATIVE_TOLERANCE * product)
    ) return -1;
  }
  at = stop + 1;
  stop = scanTime(bytes, at, end, nsPerUnit);
  if (stop < 0 || bytes[stop] !== 0x2c) return -1;
  words[w + 2] = words[w + 4] = U64.lo;
  words[w + 3] = words[w + 5] = U64.hi;
  at = stop + 1;
  stop = fieldEnd(bytes, at, end);
  const maker = stop === at ? -2 : bool(bytes, at, stop);
  if (maker === -1 || stop >= end) return -1;
  let fields = 6;
  if (bytes[stop] === 0x2c) {
    at = stop + 1;
    stop = fieldEnd(bytes, at, end);
    if (bool(bytes, at, stop) < 0) return -1;
    fields = 7;
  }
  const newline = newlineAt(bytes, stop, limit);
  const expected = csv.fields;
  if (
    newline < 0 ||
    (expected === 0 ? fields !== 6 && fields !== 7 : fields !== expected)
  ) return -1;
  const side = maker === -2 ? Side.Unknown : maker === 1 ? Side.Sell : Side.Buy;
  words[w] = WIRE_VERSION | (side << 8);
  words[w + 1] = 0;
  block.streams[block.count] = stream;
  return newline;
}
