/**
 * How a message quotes a value it refuses, so every "Invalid … <value>: …"
 * line writes it the same way: the config loader's problems, the trade file
 * readers' bad rows.
 *
 * @module
 */

/** TOML's spelling of a number JSON cannot write (JSON would say `null`). */
function nonFinite(value: number): string {
  return Number.isNaN(value) ? "nan" : value > 0 ? "inf" : "-inf";
}

/**
 * Renders a value the way a user wrote it: JSON (strings in double quotes,
 * lists and tables as JSON), with TOML's `inf` and `nan` for non-finite
 * numbers, a date as its ISO string and a bigint as its digits.
 *
 * @example
 * ```ts
 * import { quoteValue } from "./quote.ts";
 *
 * quoteValue("BTC USDT"); // '"BTC USDT"'
 * quoteValue([1, Infinity]); // "[1,inf]"
 * ```
 */
export function quoteValue(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "bigint") return `${value}`;
  if (typeof value === "number" && !Number.isFinite(value)) {
    return nonFinite(value);
  }
  // Inside lists and tables: a marked string, unquoted once written.
  const mark = (_key: string, inner: unknown) =>
    typeof inner === "number" && !Number.isFinite(inner)
      ? `\0${nonFinite(inner)}\0`
      : inner;
  try {
    return (JSON.stringify(value, mark) ?? String(value))
      .replace(/"\\u0000(-?inf|nan)\\u0000"/g, "$1");
  } catch {
    return String(value);
  }
}

/**
 * The allowed values of a key or option, each quoted, the last after "or":
 * `"auto", "binance-csv" or "ndjson"`.
 */
export function quoteChoices(values: readonly string[]): string {
  const quoted = values.map((value) => JSON.stringify(value));
  return quoted.length < 2
    ? quoted.join("")
    : `${quoted.slice(0, -1).join(", ")} or ${quoted[quoted.length - 1]}`;
}
