// Tests of human byte sizes (byte_size.ts). Needs no permissions.

import assert from "node:assert/strict";
import { parseByteSize } from "./byte_size.ts";

const EXPECTED =
  `expected a whole number of bytes, e.g. 1048576, "512KiB", "64MiB", "1GB"`;

Deno.test("parseByteSize: plain numbers", () => {
  assert.equal(parseByteSize(0), 0);
  assert.equal(parseByteSize(1048576), 1048576);
  assert.equal(parseByteSize(Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);
  assert.equal(parseByteSize("0"), 0);
  assert.equal(parseByteSize("1048576"), 1048576);
});

Deno.test("parseByteSize: decimal units are powers of 1000", () => {
  assert.equal(parseByteSize("1B"), 1);
  assert.equal(parseByteSize("1KB"), 1e3);
  assert.equal(parseByteSize("1MB"), 1e6);
  assert.equal(parseByteSize("1GB"), 1e9);
  assert.equal(parseByteSize("1TB"), 1e12);
});

Deno.test("parseByteSize: binary units are powers of 1024", () => {
  assert.equal(parseByteSize("1KiB"), 1024);
  assert.equal(parseByteSize("512KiB"), 524288);
  assert.equal(parseByteSize("64MiB"), 67108864);
  assert.equal(parseByteSize("10GiB"), 10737418240);
  assert.equal(parseByteSize("2TiB"), 2 * 2 ** 40);
});

Deno.test("parseByteSize: units are case-insensitive and may follow a space", () => {
  assert.equal(parseByteSize("64mib"), 67108864);
  assert.equal(parseByteSize("64 MiB"), 67108864);
  assert.equal(parseByteSize("5 kb"), 5000);
  assert.equal(parseByteSize("7b"), 7);
});

Deno.test("parseByteSize: fractions that make whole bytes", () => {
  assert.equal(parseByteSize("1.5KiB"), 1536);
  assert.equal(parseByteSize("0.5GiB"), 536870912);
  assert.equal(parseByteSize("1.5MB"), 1500000);
  assert.equal(parseByteSize("2.25KB"), 2250);
});

// Regression: the number and the unit are multiplied in binary floating point, so
// some exact decimal sizes land just off a whole number and are rejected
// (1.001 * 1000 = 1000.9999999999999).
Deno.test("parseByteSize: exact decimal sizes are not lost to floating point", () => {
  assert.equal(parseByteSize("1.001KB"), 1001);
  assert.equal(parseByteSize("2.007KB"), 2007);
});

Deno.test("parseByteSize: rejects fractions of a byte", () => {
  for (const value of ["1.5", "1.5B", "0.1KiB", 1.5, 0.5]) {
    assert.throws(() => parseByteSize(value), RangeError);
  }
});

Deno.test("parseByteSize: rejects negatives, non-numbers and unknown units", () => {
  for (
    const value of [
      -1,
      "-1",
      "-1KB",
      "",
      " ",
      "KB",
      "1e3",
      "0x10",
      " 5",
      "5XB",
      "5 kilobytes",
      "5K",
      "5M",
      "1,000",
      "5constructor",
      "5__proto__",
      Number.NaN,
      Infinity,
      2 ** 53,
    ]
  ) {
    assert.throws(() => parseByteSize(value), RangeError, String(value));
  }
});

Deno.test("parseByteSize: rejects sizes beyond 2^53 - 1 bytes", () => {
  assert.throws(() => parseByteSize("9000TiB"), RangeError);
  assert.throws(() => parseByteSize("99999999999999999"), RangeError);
});

Deno.test("parseByteSize: the error quotes the value and says what was expected", () => {
  assert.throws(() => parseByteSize("64 MeB"), {
    name: "RangeError",
    message: `Invalid byte size "64 MeB": ${EXPECTED}`,
  });
  assert.throws(() => parseByteSize(-5), {
    name: "RangeError",
    message: `Invalid byte size -5: ${EXPECTED}`,
  });
});
