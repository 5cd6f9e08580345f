/**
 * Field parsers over bytes for the merge's fast path: each reads one field of
 * a trade line in its plainest form, with the value the string parsers
 * (_csv.ts, _ndjson.ts, fixed_point.ts) give for the same text, and refuses
 * (NaN, -1 or false) anything else (signs, exponents, long or huge numbers,
 * escapes, non-ASCII), which the line's string parser then reads, with its
 * error when it is bad. 64-bit values come as two u32 halves in
 * {@linkcode U64}: no bigint per row.
 *
 * @module
 */

import { EXACT_POWERS_OF_TEN } from "./_csv.ts";

/** The halves of the last 64-bit value parsed (an out-parameter, reused). */
export const U64 = { hi: 0, lo: 0 };

const TWO_32 = 4294967296;
/** Above this a u64 text is left to the string parser (near 2^64, rounding could matter). */
const U64_FAST_MAX = 18446744073709000000;
/** Above this an i64 product is left to the string parser (near 2^63). */
const I64_FAST_MAX = 9223372036854000000;
/** 2^53: integers below it are exact doubles. */
const EXACT_MAX = 9007199254740992;

/** The digit at `bytes[i]`, or -1. */
function digitAt(bytes: Uint8Array, i: number): number {
  const digit = bytes[i] - 48;
  return digit >= 0 && digit <= 9 ? digit : -1;
}

/**
 * Reads the decimal digits from `at` (before `end`) into {@linkcode U64} in
 * one pass and returns the index after them; -1 when there is none, more
 * than 20, a needless leading zero (under `strict`, which allows "0" alone)
 * or a value near 2^64.
 */
export function scanU64(
  bytes: Uint8Array,
  at: number,
  end: number,
  strict: boolean,
): number {
  const exactEnd = Math.min(end, at + 15);
  let i = at;
  let high = 0;
  for (; i < exactEnd; i++) {
    const digit = bytes[i] - 48;
    if (digit < 0 || digit > 9) break;
    high = high * 10 + digit;
  }
  if (i === at || (strict && i - at > 1 && bytes[at] === 48)) return -1;
  if (i === exactEnd) { // 15 digits so far: up to 5 more
    let low = 0;
    let scale = 1;
    for (; i < end; i++) {
      const digit = bytes[i] - 48;
      if (digit < 0 || digit > 9) break;
      if (scale === 100_000) return -1;
      low = low * 10 + digit;
      scale *= 10;
    }
    if (scale > 1) return setProduct(high, scale, low, U64_FAST_MAX) ? i : -1;
  }
  const hi = Math.floor(high / TWO_32); // below 10^15: exact
  U64.hi = hi;
  U64.lo = high - hi * TWO_32;
  return i;
}

/**
 * Sets {@linkcode U64} to `high` × `scale` + `low` (integers, `high` below
 * 2^53, `scale` below 2^31, `low` below `scale`); false when that is above
 * `max`. The low half is exact in 32-bit arithmetic; the high half is the
 * double's (off by less than 2^12) rounded to where the low half puts it.
 */
function setProduct(
  high: number,
  scale: number,
  low: number,
  max: number,
): boolean {
  const value = high * scale + low;
  if (value > max) return false;
  const lo = (Math.imul(high % TWO_32, scale) + low) >>> 0;
  U64.hi = Math.round((value - lo) / TWO_32);
  U64.lo = lo;
  return true;
}

/**
 * Reads a CSV time from `at` (digits without a leading zero, not 0, s, ms,
 * µs or ns: up to 19 digits) times `nsPerUnit` into {@linkcode U64} and
 * returns the index after its digits; -1 when the text is not that or the
 * product is near or above 2^63.
 */
export function scanTime(
  bytes: Uint8Array,
  at: number,
  end: number,
  nsPerUnit: number,
): number {
  if (bytes[at] === 48) return -1;
  const stop = scanU64(bytes, at, end, true);
  if (stop < 0) return -1;
  const time = U64.hi * TWO_32 + U64.lo; // exact below 2^53
  if (nsPerUnit === 1) return time <= I64_FAST_MAX ? stop : -1;
  if (time >= EXACT_MAX) return -1; // times a unit above 1 ns: beyond 2^63
  return setProduct(time, nsPerUnit, 0, I64_FAST_MAX) ? stop : -1;
}

/**
 * A price `bytes[start, end)` × 10^9, exact: digits (at most 6 before the
 * point, no needless leading zero if `strict`), optionally a point and 1 to
 * 9 digits, above 0; else -1.
 */
export function priceFixed(
  bytes: Uint8Array,
  start: number,
  end: number,
  strict: boolean,
): number {
  let i = start;
  let whole = 0;
  for (; i < end; i++) {
    const digit = digitAt(bytes, i);
    if (digit < 0) break;
    whole = whole * 10 + digit;
  }
  const wholeDigits = i - start;
  if (wholeDigits === 0 || wholeDigits > 6) return -1;
  if (strict && wholeDigits > 1 && bytes[start] === 48) return -1;
  let fraction = 0;
  let decimals = 0;
  if (i < end) {
    if (bytes[i] !== 46 || i === end - 1 || end - i - 1 > 9) return -1;
    for (i++; i < end; i++, decimals++) {
      const digit = digitAt(bytes, i);
      if (digit < 0) return -1;
      fraction = fraction * 10 + digit;
    }
  }
  const fixed = whole * 1_000_000_000 +
    fraction * EXACT_POWERS_OF_TEN[9 - decimals];
  return fixed > 0 ? fixed : -1;
}

/**
 * A plain decimal `bytes[start, end)` (digits, optionally a point and
 * digits; at most 15 digits; no needless leading zero if `strict`) as
 * `Number` reads it (an integer below 2^53 over an exact power of ten,
 * rounded once); else NaN.
 */
export function decimal(
  bytes: Uint8Array,
  start: number,
  end: number,
  strict: boolean,
): number {
  let i = start;
  let digits = 0;
  for (; i < end; i++) {
    const digit = digitAt(bytes, i);
    if (digit < 0) break;
    digits = digits * 10 + digit;
  }
  const wholeDigits = i - start;
  if (wholeDigits === 0) return NaN;
  if (strict && wholeDigits > 1 && bytes[start] === 48) return NaN;
  let decimals = 0;
  if (i < end) {
    if (bytes[i] !== 46 || i === end - 1) return NaN;
    for (i++; i < end; i++, decimals++) {
      const digit = digitAt(bytes, i);
      if (digit < 0) return NaN;
      digits = digits * 10 + digit;
    }
  }
  if (wholeDigits + decimals > 15) return NaN;
  return digits / EXACT_POWERS_OF_TEN[decimals];
}

/**
 * A JSON integer `bytes[start, end)` from 0 to `max` (below 2^32), written
 * plainly ("0", or digits without a leading zero); else -1.
 */
export function smallInteger(
  bytes: Uint8Array,
  start: number,
  end: number,
  max: number,
): number {
  const length = end - start;
  if (length < 1 || length > 10 || (length > 1 && bytes[start] === 48)) {
    return -1;
  }
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = digitAt(bytes, i);
    if (digit < 0) return -1;
    value = value * 10 + digit;
  }
  return value <= max ? value : -1;
}

/**
 * The end of a JSON string's content starting at `start` (the index of its
 * closing quote, before `end`), when it is plain printable ASCII (no
 * escape); else -1.
 */
export function plainStringEnd(
  bytes: Uint8Array,
  start: number,
  end: number,
): number {
  for (let i = start; i < end; i++) {
    const byte = bytes[i];
    if (byte === 0x22) return i;
    if (byte < 0x20 || byte > 0x7e || byte === 0x5c) return -1;
  }
  return -1;
}

/** Whether `bytes[at, end)` starts with `literal`. */
export function startsWith(
  bytes: Uint8Array,
  at: number,
  end: number,
  literal: Uint8Array,
): boolean {
  if (at + literal.length > end) return false;
  for (let i = 0; i < literal.length; i++) {
    if (bytes[at + i] !== literal[i]) return false;
  }
  return true;
}
