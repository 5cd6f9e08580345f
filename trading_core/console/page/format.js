// The live console's number and time formats (en-US whatever the viewer's
// locale, times in UTC), shared by its modules.

/** Whether `v` is a finite number. */
export const finite = (v) => typeof v === "number" && Number.isFinite(v);

/** Whole numbers: 12,345. */
export const INTEGER = new Intl.NumberFormat("en-US", {
  maximumFractionDigits: 0,
});
/** Rates: 1,234.5. */
export const RATE = new Intl.NumberFormat("en-US", {
  maximumFractionDigits: 1,
});
/** Prices and sizes: up to 8 decimals. */
export const PRICE = new Intl.NumberFormat("en-US", {
  maximumFractionDigits: 8,
});

/**
 * Nanoseconds as ns, µs, ms or s, exactly as live's log lines write them
 * (common/runtime/format.ts; page_format_test.ts checks they agree).
 */
export const formatNanos = (ns) => {
  if (!finite(ns)) return "—";
  // Thresholds sit where rounding would print "1000ns" or "1000.0µs".
  if (ns < 999.5) return `${Math.round(ns)}ns`;
  if (ns < 999_950) return `${(ns / 1e3).toFixed(1)}µs`;
  if (ns < 999_995_000) return `${(ns / 1e6).toFixed(2)}ms`;
  return `${(ns / 1e9).toFixed(2)}s`;
};

/** How a table field's raw value reads ("" or null: unknown, "—"). */
export const formatField = (field, v) => {
  if (v === null || v === undefined || v === "") return "—";
  switch (field) {
    case "rate":
      return finite(v) ? RATE.format(v) : "—";
    case "last":
      return finite(v) ? PRICE.format(v) : "—";
    case "p50":
    case "p99":
      return formatNanos(v);
    case "caught_up":
      return v === true ? "yes" : v === false ? "no" : "—";
    case "exchange":
    case "symbol":
    case "state":
      return String(v);
    default:
      return finite(v) ? INTEGER.format(v) : "—";
  }
};

const pad = (n, width = 2) => String(n).padStart(width, "0");

/** A time in ms since the epoch as HH:MM:SS.mmm, UTC. */
export const clock = (ms) => {
  const d = new Date(ms);
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${
    pad(d.getUTCSeconds())
  }.${pad(d.getUTCMilliseconds(), 3)}`;
};
