/**
 * Numbers as text: human-readable counts, rates, byte sizes and nanosecond
 * latencies for progress lines, and plain decimals for the files marketbus
 * writes.
 *
 * @module
 */

const COUNT = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** `1234567` → `"1,234,567"`. */
export function formatCount(value: number): string {
  return COUNT.format(value);
}

/** `noun` for a count of `value`: as is for 1, else with an `s` (`"1 symbol"`, `"2 symbols"`). */
export function plural(value: number, noun: string): string {
  return value === 1 ? noun : `${noun}s`;
}

/** Events per second: `"12.3k/s"`, `"4.56M/s"`. */
export function formatRate(perSecond: number): string {
  // Thresholds sit where rounding would print "1000.0k".
  if (perSecond >= 999_950) return `${(perSecond / 1e6).toFixed(2)}M/s`;
  if (perSecond >= 999.5) return `${(perSecond / 1e3).toFixed(1)}k/s`;
  return `${perSecond.toFixed(0)}/s`;
}

/** `text` cut to `width` characters, its last one "…" when it was longer. */
export function ellipsize(text: string, width: number): string {
  return text.length <= width
    ? text
    : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/** Bytes: `"512 B"`, `"1.5 KiB"`, `"3.2 MiB"`, `"1.1 GiB"`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** Nanoseconds: `"850ns"`, `"12.3µs"`, `"4.10ms"`, `"1.50s"`. */
export function formatNanos(nanos: number): string {
  // Thresholds sit where rounding would print "1000ns" or "1000.0µs".
  if (nanos < 999.5) return `${Math.round(nanos)}ns`;
  if (nanos < 999_950) return `${(nanos / 1e3).toFixed(1)}µs`;
  if (nanos < 999_995_000) return `${(nanos / 1e6).toFixed(2)}ms`;
  return `${(nanos / 1e9).toFixed(2)}s`;
}

/**
 * A number as a plain decimal (no exponent) that parses back to the same
 * number: `1e-7` → `"0.0000001"`, `1.5e21` → `"1500000000000000000000"`.
 */
export function plainDecimal(value: number): string {
  const text = String(value);
  const e = text.indexOf("e");
  if (e < 0) return text;
  const sign = value < 0 ? "-" : "";
  const exponent = Number(text.slice(e + 1));
  const mantissa = text.slice(sign.length, e);
  const dot = mantissa.indexOf(".");
  const digits = mantissa.replace(".", "");
  const point = (dot < 0 ? mantissa.length : dot) + exponent;
  if (point <= 0) return `${sign}0.${"0".repeat(-point)}${digits}`;
  return sign + digits.padEnd(point, "0");
}
