// The merge fast path's CSV time: s, ms, µs (Binance's unit since 2025) and
// ns times are all read on the fast path, exactly, and what a record cannot
// hold is left to the line parser.

import assert from "node:assert/strict";
import { scanTime, U64 } from "./_fast_fields.ts";

/** scanTime over `text` (then a comma) in unit `nsPerUnit`: the ns it read, or undefined when it gave up. */
function time(text: string, nsPerUnit: number): bigint | undefined {
  const bytes = new TextEncoder().encode(text + ",");
  const stop = scanTime(bytes, 0, bytes.length, nsPerUnit);
  if (stop < 0) return undefined;
  assert.equal(stop, text.length);
  return BigInt(U64.hi) * 2n ** 32n + BigInt(U64.lo);
}

Deno.test("scanTime: s, ms, µs and ns times are read on the fast path, exactly", () => {
  assert.equal(time("1735689600", 1e9), 1735689600_000000000n);
  assert.equal(time("1735689600123", 1e6), 1735689600123_000000n);
  assert.equal(time("1735689600123456", 1e3), 1735689600123456_000n);
  assert.equal(time("1735689600123456789", 1), 1735689600123456789n);
  assert.equal(time("9007199254740993", 1), 9007199254740993n); // 2^53 + 1
});

Deno.test("scanTime: leading zeros, 0, and times near or beyond 2^63 ns are left to the line parser", () => {
  assert.equal(time("0", 1e3), undefined);
  assert.equal(time("01735689600123", 1e6), undefined);
  assert.equal(time("9223372036854775807", 1), undefined);
  assert.equal(time("9223372036854776", 1e3), undefined);
  assert.equal(time("18446744073709551615", 1), undefined);
  assert.equal(time("123456789012345678901", 1), undefined);
  assert.equal(time("", 1e3), undefined);
});
