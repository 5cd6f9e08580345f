/**
 * Bar intervals (`"1s"`, `"1m"`): durations of a whole number of
 * milliseconds that divide a day, so bars align to UTC boundaries.
 *
 * @module
 */

import { parseDuration } from "./duration.ts";

const DAY_MS = 86_400_000;
/** The accepted forms, for error messages. */
export const BAR_INTERVAL_EXAMPLES =
  `e.g. "100ms", "1s", "5s", "1m", "15m", "1h", "1d"`;

/**
 * Parses a bar interval to ms: a duration (`"1s"`, `"1m"`, `"1h"`, …) of a
 * whole number of ms that divides a day, so bars align to UTC boundaries.
 *
 * @throws {TypeError} when `text` is not a string.
 * @throws {RangeError} quoting `text` when it is not such a duration.
 *
 * @example
 * ```ts
 * import { parseBarInterval } from "@marketbus/marketbus";
 *
 * parseBarInterval("1m"); // 60_000
 * parseBarInterval("250ms"); // 250
 * // parseBarInterval("7s") throws: 7 s does not divide a day
 * ```
 */
export function parseBarInterval(text: string): number {
  if (typeof text !== "string") {
    throw new TypeError(
      `Invalid interval ${
        String(text)
      }: expected a string, ${BAR_INTERVAL_EXAMPLES}`,
    );
  }
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (error) {
    throw new RangeError(
      `Invalid interval ${
        JSON.stringify(text)
      }: expected ${BAR_INTERVAL_EXAMPLES}`,
      { cause: error },
    );
  }
  if (!(Number.isInteger(ms) && ms >= 1 && DAY_MS % ms === 0)) {
    throw new RangeError(
      `Invalid interval ${
        JSON.stringify(text)
      } (${ms} ms): expected a whole number of ms that divides a day (86400000 ms), ${BAR_INTERVAL_EXAMPLES}`,
    );
  }
  return ms;
}
