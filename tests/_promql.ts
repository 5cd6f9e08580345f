/**
 * PromQL as the monitoring tests read it, without a PromQL parser: the
 * metric names an expression selects (recording rules resolved or expanded
 * to their expressions), Prometheus durations, and an expression's range
 * windows, listed or scaled.
 *
 * @module
 */

/** Prometheus's own series the rules and dashboard may use besides the roles'. */
export const PROMETHEUS_OWN: ReadonlySet<string> = new Set(["up", "ALERTS"]);

const KEYWORDS = new Set([
  "and",
  "or",
  "unless",
  "bool",
  "inf",
  "nan",
  "Inf",
  "NaN",
]);

/**
 * The metric names (and recording-rule names) an expression selects:
 * identifiers outside strings, label matchers, ranges and grouping clauses
 * that are not functions, aggregations or keywords.
 */
export function promqlNames(expr: string): string[] {
  const text = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(
      /\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g,
      " ",
    )
    .replace(/\boffset\s+-?[\w.]+/g, " ");
  const names = new Set<string>();
  for (
    const match of text.matchAll(/(?<![\w:.$])([a-zA-Z_:][\w:]*)(\s*\()?/g)
  ) {
    if (match[2] === undefined && !KEYWORDS.has(match[1])) names.add(match[1]);
  }
  return [...names].sort();
}

/**
 * The names `expr` uses, with every recording rule of `recorded` replaced by
 * the names of its own expression (recursively).
 */
export function resolvedNames(
  expr: string,
  recorded: ReadonlyMap<string, string>,
): string[] {
  const names = new Set<string>();
  const visit = (text: string, seen: Set<string>) => {
    for (const name of promqlNames(text)) {
      const inner = recorded.get(name);
      if (inner === undefined) names.add(name);
      else if (!seen.has(name)) visit(inner, new Set([...seen, name]));
    }
  };
  visit(expr, new Set());
  return [...names].sort();
}

/**
 * `expr` with every recording rule of `recorded` (and its selector) replaced
 * by its own expression in parentheses, recursively: what it computes from
 * the roles' series.
 */
export function expandRules(
  expr: string,
  recorded: ReadonlyMap<string, string>,
): string {
  return expr.replace(
    /(?<![\w:.$"])([a-zA-Z_:][\w:]*)(\{[^}]*\})?/g,
    (all, name: string) => {
      const inner = recorded.get(name);
      return inner === undefined ? all : `(${expandRules(inner, recorded)})`;
    },
  );
}

const UNITS_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};

/** A Prometheus duration (`5s`, `1m30s`, `500ms`) in ms; throws a RangeError naming it otherwise. */
export function durationMs(text: string): number {
  const parts = [...text.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) {
    throw new RangeError(
      `Invalid duration "${text}": expected e.g. "30s", "1m30s", "500ms"`,
    );
  }
  return parts.reduce((ms, [, n, unit]) => ms + Number(n) * UNITS_MS[unit], 0);
}

/** `ms` as a Prometheus duration (whole seconds when it is one). */
export function formatDuration(ms: number): string {
  const whole = Math.round(ms);
  return whole % 1000 === 0 ? `${whole / 1000}s` : `${whole}ms`;
}

/** The range windows of `expr` (`[1m]`, a subquery's range), as written. */
export function rangeWindows(expr: string): string[] {
  return [...expr.matchAll(/\[([^\]:]+)(?::[^\]]*)?\]/g)].map((m) =>
    m[1].trim()
  );
}

/** `expr` with every range window that is a duration multiplied by `factor`. */
export function scaleWindows(expr: string, factor: number): string {
  return expr.replace(
    /\[([^\]:$]+)((?::[^\]]*)?)\]/g,
    (_, range: string, rest: string) =>
      `[${formatDuration(durationMs(range.trim()) * factor)}${rest}]`,
  );
}
