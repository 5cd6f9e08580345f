/**
 * Bar intervals (`"1s"`, `"1m"`): durations that are a whole number of
 * milliseconds and divide a day, so bars align to UTC boundaries.
 *
 * @module
 */

import { parseDuration } from "./duration.ts";

const DAY_MS = 86_400_000;

/** The accepted forms, for error messages. */
export const BAR_INTERVAL_EXAMPLES = `e.g. "1s", "5s", "1m", "15m", "1h"`;

/**
 * Parses a bar interval to milliseconds.
 *
 * @throws {RangeError} quoting the text when it is not a duration, not a
 * whole number of ms, or does not divide a day evenly (`"7s"`).
 */
export function parseBarInterval(text: string): number {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch {
    throw new RangeError(
      `Invalid bar interval ${
        JSON.stringify(text)
      }: expected a duration, ${BAR_INTERVAL_EXAMPLES}`,
    );
  }
  if (!Number.isInteger(ms) || ms < 1 || DAY_MS % ms !== 0) {
    throw new RangeError(
      `Invalid bar interval ${
        JSON.stringify(text)
      }: expected a whole number of ms that divides a day, ${BAR_INTERVAL_EXAMPLES}`,
    );
  }
  return ms;
}
