/**
 * Human durations: `"500ms"`, `"30s"`, `"1h"`, `"2h30m"`, `"1.5h"`.
 *
 * @module
 */

// Sub-millisecond units divide (100ns = 100 / 1e6 ms exactly as a double would say 0.0001).
const UNIT_MS: Record<string, number> = {
  ns: -1e6,
  us: -1e3,
  "µs": -1e3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/y;

/** The accepted forms, for error messages. */
export const DURATION_EXAMPLES = `e.g. "500ms", "30s", "1h", "2h30m"`;

/**
 * Parses a duration string to milliseconds (fractional below 1 ms). Units:
 * ns, us (µs), ms, s, m, h, d; parts add up (`"1h30m"`); `"0"` is zero.
 *
 * @throws {RangeError} quoting the text when it is not a duration.
 *
 * @example
 * ```ts
 * import { parseDuration } from "@marketbus/marketbus";
 *
 * parseDuration("1h30m"); // 5_400_000
 * parseDuration("250us"); // 0.25
 * parseDuration("0"); // 0
 * ```
 */
export function parseDuration(text: string): number {
  if (typeof text !== "string") {
    throw new TypeError(
      `Invalid duration ${
        String(text)
      }: expected a string, ${DURATION_EXAMPLES}`,
    );
  }
  if (text === "0") return 0;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const start = PART.lastIndex;
    const match = PART.exec(text);
    if (match === null || match.index !== start) {
      throw new RangeError(
        `Invalid duration ${
          JSON.stringify(text)
        }: expected ${DURATION_EXAMPLES}`,
      );
    }
    const unit = UNIT_MS[match[2]];
    const value = Number(match[1]);
    total += unit < 0 ? value / -unit : value * unit;
  }
  if (text.length === 0 || !Number.isFinite(total)) {
    throw new RangeError(
      `Invalid duration ${JSON.stringify(text)}: expected ${DURATION_EXAMPLES}`,
    );
  }
  return total;
}

/** Formats milliseconds as a duration string that {@linkcode parseDuration} reads back (`5400000` → `"1h30m"`). */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) {
    throw new RangeError(
      `Invalid duration ${ms} ms: expected a finite number >= 0`,
    );
  }
  if (ms === 0) return "0s";
  let rest = Math.round(ms * 1e6); // integer nanoseconds
  let out = "";
  for (
    const [unit, size] of [
      ["h", 3_600_000e6],
      ["m", 60_000e6],
      ["s", 1000e6],
      ["ms", 1e6],
      ["us", 1e3],
      ["ns", 1],
    ] as const
  ) {
    const count = Math.floor(rest / size);
    if (count > 0) {
      out += `${count}${unit}`;
      rest -= count * size;
    }
  }
  return out === "" ? "0s" : out; // below half a nanosecond
}
