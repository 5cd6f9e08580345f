// Tests of the human-readable numbers of progress lines.

import assert from "node:assert/strict";
import {
  ellipsize,
  formatBytes,
  formatCount,
  formatNanos,
  formatRate,
  plainDecimal,
} from "./format.ts";

Deno.test("formatCount groups thousands and rounds to an integer", () => {
  assert.equal(formatCount(0), "0");
  assert.equal(formatCount(999), "999");
  assert.equal(formatCount(1000), "1,000");
  assert.equal(formatCount(1_234_567), "1,234,567");
  assert.equal(formatCount(300_000), "300,000");
  assert.equal(formatCount(1234.4), "1,234");
  assert.equal(formatCount(-4200), "-4,200");
});

Deno.test("formatRate: per second, k/s from 1000, M/s from a million", () => {
  assert.equal(formatRate(0), "0/s");
  assert.equal(formatRate(999), "999/s");
  assert.equal(formatRate(12.4), "12/s");
  assert.equal(formatRate(1000), "1.0k/s");
  assert.equal(formatRate(12_345), "12.3k/s");
  assert.equal(formatRate(1e6), "1.00M/s");
  assert.equal(formatRate(4_561_234), "4.56M/s");
});

Deno.test("formatBytes: B below 1 KiB, then KiB, MiB, GiB, TiB", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(512), "512 B");
  assert.equal(formatBytes(1023), "1023 B");
  assert.equal(formatBytes(1024), "1.0 KiB");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(3.2 * 1024 ** 2), "3.2 MiB");
  assert.equal(formatBytes(1.1 * 1024 ** 3), "1.1 GiB");
  assert.equal(formatBytes(2 * 1024 ** 4), "2.0 TiB");
  assert.equal(
    formatBytes(2048 * 1024 ** 4),
    "2048.0 TiB",
    "TiB is the top unit",
  );
});

Deno.test("formatNanos: ns, µs, ms, s", () => {
  assert.equal(formatNanos(0), "0ns");
  assert.equal(formatNanos(850), "850ns");
  assert.equal(formatNanos(849.6), "850ns");
  assert.equal(formatNanos(1000), "1.0µs");
  assert.equal(formatNanos(12_345), "12.3µs");
  assert.equal(formatNanos(4.1e6), "4.10ms");
  assert.equal(formatNanos(1.5e9), "1.50s");
  assert.equal(formatNanos(125e9), "125.00s");
});

Deno.test("formatRate and formatNanos move to the next unit instead of printing 1000", () => {
  assert.equal(formatRate(999_999), "1.00M/s");
  assert.equal(formatRate(999.7), "1.0k/s");
  assert.equal(formatNanos(999.7), "1.0µs");
  assert.equal(formatNanos(999_999), "1.00ms");
  assert.equal(formatNanos(999_999_999), "1.00s");
});

Deno.test("plainDecimal writes numbers without exponents, and they parse back", () => {
  const cases: [number, string][] = [
    [0.5, "0.5"],
    [1e-9, "0.000000001"],
    [1.5e-7, "0.00000015"],
    [1.5e21, "1500000000000000000000"],
    [-2.5e-7, "-0.00000025"],
    [-3e21, "-3000000000000000000000"],
  ];
  for (const [value, text] of cases) {
    assert.equal(plainDecimal(value), text);
    assert.equal(Number(plainDecimal(value)), value);
  }
});

Deno.test("ellipsize: as is up to the width, else cut with its last character an ellipsis", () => {
  assert.equal(ellipsize("0123456789", 10), "0123456789");
  assert.equal(ellipsize("0123456789abcdef", 10), "012345678…");
  assert.equal(ellipsize("abc", 1), "…");
});
