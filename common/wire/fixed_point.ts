/**
 * Exact decimal prices as 64-bit fixed-point integers (value × 10^9), and
 * strict parsing of decimal quantities.
 *
 * @module
 */

import { describeArgument } from "../errors/mod.ts";

/** Number of decimal places kept by the fixed-point price. */
export const PRICE_DECIMALS = 9;

/** The fixed-point scale: 10^9. */
export const PRICE_SCALE = 1_000_000_000n;

/** The largest fixed-point price a record can hold (i64 max). */
export const MAX_PRICE_FIXED = (1n << 63n) - 1n;

const DECIMAL = /^(\d+)(?:\.(\d+))?$/;
const SCALE_NUMBER = 1e9;
const TWO_POW_32 = 4294967296;
// High halves below 2^21 keep the i64 under 2^53, where it is exact as a double.
const HIGH_EXACT = 1 << 21;

/**
 * Parses an exchange's decimal price string (e.g. `"67123.45000000"`) to the
 * exact fixed-point integer, without passing through a float.
 *
 * @throws {RangeError} when the string is not a plain positive decimal, has
 * non-zero digits beyond 9 decimal places, or exceeds the i64 range.
 *
 * @example Exact where floats are not
 * ```ts
 * import { formatPrice, parsePrice } from "@marketbus/marketbus";
 *
 * parsePrice("67123.45000000"); // 67123450000000n (price × 10^9)
 * parsePrice("0.1") + parsePrice("0.2") === parsePrice("0.3"); // true
 * formatPrice(parsePrice("0.10000000")); // "0.1"
 * ```
 */
export function parsePrice(text: string): bigint {
  if (typeof text !== "string") {
    throw new TypeError(
      `Invalid price ${describeArgument(text)}: expected a decimal string`,
    );
  }
  const match = DECIMAL.exec(text);
  if (match === null) {
    throw new RangeError(
      `Invalid price ${
        describeArgument(text)
      }: expected a positive decimal string such as "67123.45"`,
    );
  }
  const whole = match[1];
  let fraction = match[2] ?? "";
  if (fraction.length > PRICE_DECIMALS) {
    if (/[^0]/.test(fraction.slice(PRICE_DECIMALS))) {
      throw new RangeError(
        `Invalid price ${
          describeArgument(text)
        }: more than ${PRICE_DECIMALS} decimal places cannot be stored exactly`,
      );
    }
    fraction = fraction.slice(0, PRICE_DECIMALS);
  }
  const fixed = BigInt(whole + fraction.padEnd(PRICE_DECIMALS, "0"));
  return checkPriceFixed(fixed, text);
}

/**
 * Checks that a fixed-point price is positive and fits in an i64.
 *
 * @throws {RangeError} naming the value otherwise.
 */
export function checkPriceFixed(fixed: bigint, shown: unknown = fixed): bigint {
  if (typeof fixed !== "bigint") {
    throw new TypeError(
      `Invalid fixed-point price ${describeArgument(shown)}: expected a bigint`,
    );
  }
  if (fixed <= 0n) {
    throw new RangeError(
      `Invalid price ${
        describeArgument(shown)
      }: expected a price greater than 0`,
    );
  }
  if (fixed > MAX_PRICE_FIXED) {
    throw new RangeError(
      `Invalid price ${
        describeArgument(shown)
      }: exceeds the largest storable price 9223372036.854775807`,
    );
  }
  return fixed;
}

/**
 * Formats a fixed-point price as its canonical decimal string: no trailing
 * zeros, no trailing dot (`67123450000000n` → `"67123.45"`), unless
 * `minDecimals` asks for zero padding (`{ minDecimals: 8 }` → `"67123.45000000"`).
 */
export function formatPrice(
  fixed: bigint,
  options: {
    /**
     * Fewest decimal places shown, padded with zeros (0 to 9).
     *
     * @default {0}
     */
    minDecimals?: number;
  } = {},
): string {
  checkPriceFixed(fixed);
  const minDecimals = options.minDecimals ?? 0;
  if (
    !Number.isInteger(minDecimals) || minDecimals < 0 ||
    minDecimals > PRICE_DECIMALS
  ) {
    throw new RangeError(
      `Invalid minDecimals ${minDecimals}: expected an integer from 0 to ${PRICE_DECIMALS}`,
    );
  }
  return decimalString(fixed, minDecimals);
}

function decimalString(fixed: bigint, minDecimals: number): string {
  const whole = fixed / PRICE_SCALE;
  let fraction = (fixed % PRICE_SCALE).toString().padStart(PRICE_DECIMALS, "0");
  let end = fraction.length;
  while (end > minDecimals && fraction.charCodeAt(end - 1) === 48) end--;
  fraction = fraction.slice(0, end);
  return fraction.length === 0 ? whole.toString() : `${whole}.${fraction}`;
}

const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);

/** Converts a fixed-point price to the nearest double. */
export function priceToNumber(fixed: bigint): number {
  // Below 2^53 the integer is exact and one division rounds once; above it,
  // parsing the decimal string is the correctly rounded conversion.
  return fixed <= MAX_EXACT && fixed >= -MAX_EXACT
    ? Number(fixed) / SCALE_NUMBER
    : Number(decimalString(fixed < 0n ? -fixed : fixed, 0)) *
      (fixed < 0n ? -1 : 1);
}

/**
 * Converts a price held as two 32-bit halves of the i64 (as read from a
 * record) to a double, without allocating a bigint.
 */
export function priceHalvesToNumber(low: number, high: number): number {
  if (high >= 0 && high < HIGH_EXACT) {
    return (high * TWO_POW_32 + low) / SCALE_NUMBER;
  }
  return priceToNumber((BigInt(high) << 32n) + BigInt(low));
}

/**
 * Converts a float price to fixed point, rounded to the nearest 10^-9. Use
 * {@linkcode parsePrice} for exchange strings: it is exact.
 *
 * @throws {RangeError} for NaN, infinities, zero, negative or too large values.
 */
export function priceFromNumber(value: number): bigint {
  if (typeof value !== "number") {
    throw new TypeError(
      `Invalid price ${describeArgument(value)}: expected a number`,
    );
  }
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(
      `Invalid price ${
        describeArgument(value)
      }: expected a finite number greater than 0`,
    );
  }
  if (value >= 9223372036.854775807) {
    throw new RangeError(
      `Invalid price ${value}: exceeds the largest storable price 9223372036.854775807`,
    );
  }
  // toFixed is exact decimal rounding of the double, so no float error is added.
  return checkPriceFixed(
    BigInt(value.toFixed(PRICE_DECIMALS).replace(".", "")),
    value,
  );
}

/**
 * Parses an exchange's decimal quantity string (e.g. `"0.00100000"`) to a
 * number, strictly: `Number()` would turn `""` into 0 and `"0x10"` into 16.
 *
 * @throws {RangeError} when the string is not a plain decimal greater than 0.
 */
export function parseSize(text: string): number {
  if (typeof text !== "string") {
    throw new TypeError(
      `Invalid size ${describeArgument(text)}: expected a decimal string`,
    );
  }
  if (!DECIMAL.test(text)) {
    throw new RangeError(
      `Invalid size ${
        describeArgument(text)
      }: expected a positive decimal string such as "0.015"`,
    );
  }
  return checkSize(Number(text), text);
}

/**
 * Checks that a size is a finite number greater than 0.
 *
 * @throws {RangeError} naming the value otherwise.
 */
export function checkSize(size: number, shown: unknown = size): number {
  if (typeof size !== "number") {
    throw new TypeError(
      `Invalid size ${describeArgument(shown)}: expected a number`,
    );
  }
  if (!(size > 0) || size === Infinity) {
    throw new RangeError(
      `Invalid size ${
        describeArgument(shown)
      }: expected a finite number greater than 0`,
    );
  }
  return size;
}
