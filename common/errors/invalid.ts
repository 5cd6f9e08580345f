/**
 * The project's message for a bad argument, `Invalid <name> <value>: expected
 * <what>`, so every API that checks its arguments says it the same way.
 *
 * @module
 */

/**
 * A value as it appears in an argument error: strings quoted, bigints with
 * their `n`, anything else as `String(value)` (`NaN`, `Infinity`, `undefined`).
 */
export function describeArgument(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  return typeof value === "bigint" ? `${value}n` : String(value);
}

/**
 * `Invalid <name> <value>: expected <expected>`.
 *
 * @example
 * ```ts
 * import { invalidArgument } from "./invalid.ts";
 *
 * invalidArgument("capacity", 3, "a power of two"); // 'Invalid capacity 3: expected a power of two'
 * ```
 */
export function invalidArgument(
  name: string,
  value: unknown,
  expected: string,
): string {
  return `Invalid ${name} ${describeArgument(value)}: expected ${expected}`;
}
