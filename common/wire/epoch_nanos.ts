/**
 * Exact 64-bit integers in a `DataView` without bigint: nanosecond
 * timestamps built from (seconds, nanos) and safe-integer ids and prices.
 * Each 64-bit field is written and read as two little-endian u32 halves, and
 * every intermediate stays below 2^53, so nothing is rounded and nothing is
 * allocated. The functions are for hot paths: they do not check their
 * arguments beyond what their JSDoc says, so callers must meet the stated
 * preconditions.
 *
 * @module
 */

const TWO_POW_16 = 65536;
const TWO_POW_32 = 4294967296;
// Multiplying by these is exact and cheaper than dividing by a power of two.
const INV_TWO_POW_16 = 1 / TWO_POW_16;
const INV_TWO_POW_32 = 1 / TWO_POW_32;
const NANOS_PER_SECOND = 1e9;
// Largest high half of a u64 that is still a safe integer (2^21 − 1).
const MAX_SAFE_HIGH = 0x1f_ffff;

/**
 * Writes `seconds × 10^9 + nanos` as an exact little-endian u64 at byte `at`.
 *
 * Preconditions (unchecked): `seconds` is an integer from 0 to 2^33 (year
 * 2242), `nanos` an integer from 0 to 999_999_999, and `at + 8` is within the
 * view (otherwise the view throws a RangeError).
 */
export function setEpochNanos(
  view: DataView,
  at: number,
  seconds: number,
  nanos: number,
): void {
  // seconds = high × 2^16 + low, so the value is middle × 2^16 + low × 10^9
  // + nanos, with middle = high × 10^9 < 2^47. Moving middle's low 16 bits
  // into bottom (< 2^47) leaves two exact parts that split into the u32
  // halves. (`x & 0xffff` and `x >>> 0` take the low bits of a safe integer.)
  const low = seconds & 0xffff;
  const middle = (seconds - low) * INV_TWO_POW_16 * NANOS_PER_SECOND;
  const middleLow = middle & 0xffff;
  const bottom = low * NANOS_PER_SECOND + nanos + middleLow * TWO_POW_16;
  const bottomLow = bottom >>> 0;
  view.setUint32(at, bottomLow, true);
  view.setUint32(
    at + 4,
    (middle - middleLow) * INV_TWO_POW_16 +
      (bottom - bottomLow) * INV_TWO_POW_32,
    true,
  );
}

/**
 * Returns `seconds × 10^9 + nanos` minus the u64 stored at byte `at`, in
 * nanoseconds: negative when the stored time is later. Exact while the
 * difference is below 2^53 in magnitude (104 days), for any stored u64;
 * beyond that, the nearest double.
 *
 * Preconditions (unchecked): as for {@linkcode setEpochNanos}.
 */
export function nanosSince(
  view: DataView,
  at: number,
  seconds: number,
  nanos: number,
): number {
  const low = seconds & 0xffff;
  // Both sums group terms below 2^48, so each is exact, and so is the total
  // when it is below 2^53.
  const high = (seconds - low) * INV_TWO_POW_16 * NANOS_PER_SECOND -
    view.getUint32(at + 4, true) * TWO_POW_16;
  return high * TWO_POW_16 +
    (low * NANOS_PER_SECOND + nanos - view.getUint32(at, true));
}

/**
 * Writes a non-negative safe integer as a little-endian u64 at byte `at`.
 *
 * Precondition (unchecked): `value` is an integer from 0 to 2^53 − 1
 * (`Number.MAX_SAFE_INTEGER`).
 */
export function setU64(view: DataView, at: number, value: number): void {
  const low = value >>> 0;
  view.setUint32(at, low, true);
  view.setUint32(at + 4, (value - low) * INV_TWO_POW_32, true);
}

/**
 * Reads the little-endian u64 at byte `at` as a number.
 *
 * @throws {RangeError} when the value is above 2^53 − 1, where a number
 * would not be exact (read it with `getBigUint64` instead).
 */
export function getU64(view: DataView, at: number): number {
  const high = view.getUint32(at + 4, true);
  if (high > MAX_SAFE_HIGH) {
    throw new RangeError(
      `Invalid u64 ${
        view.getBigUint64(at, true)
      } at byte ${at}: expected at most 2^53 - 1 (9007199254740991) to read it as a number; use getBigUint64`,
    );
  }
  return high * TWO_POW_32 + view.getUint32(at, true);
}
