// Tests of exact fixed-point prices and strict size parsing.

import assert from "node:assert/strict";
import vectors from "./testdata/wire_vectors.json" with { type: "json" };
import {
  checkPriceFixed,
  checkSize,
  formatPrice,
  MAX_PRICE_FIXED,
  parsePrice,
  parseSize,
  PRICE_DECIMALS,
  PRICE_SCALE,
  priceFromNumber,
  priceHalvesToNumber,
  priceToNumber,
} from "./fixed_point.ts";
import { assertThrowsWith } from "../../tests/_assert_throws.ts";

/** The two 32-bit halves of an i64, as a record reader sees them. */
function halves(fixed: bigint): [low: number, high: number] {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigInt64(0, fixed, true);
  return [view.getUint32(0, true), view.getInt32(4, true)];
}

Deno.test("constants: 9 decimals, scale 10^9, max = i64 max", () => {
  assert.equal(PRICE_DECIMALS, 9);
  assert.equal(PRICE_SCALE, 1_000_000_000n);
  assert.equal(MAX_PRICE_FIXED, 9223372036854775807n);
});

// ---------------------------------------------------------------- parsePrice

const exactPrices: [string, bigint][] = [
  ["67123.45000000", 67123450000000n],
  ["67123.45", 67123450000000n],
  ["0.00000123", 1230n],
  ["1", 1_000_000_000n],
  ["007.50", 7_500_000_000n],
  ["0.1", 100_000_000n],
  ["0.000000001", 1n],
  ["1.123456789", 1_123_456_789n],
  ["1.123456789000", 1_123_456_789n],
  ["1.1234567890000000000000", 1_123_456_789n],
  ["67000", 67_000_000_000_000n],
  ["0000000000000000000000001", 1_000_000_000n],
  ["9223372036.854775807", 9223372036854775807n],
  ["9223372036.8547758070", 9223372036854775807n],
  ["9223372036.854775806", 9223372036854775806n],
];

for (const [text, fixed] of exactPrices) {
  Deno.test(`parsePrice(${JSON.stringify(text)}) = ${fixed}n`, () => {
    assert.equal(parsePrice(text), fixed);
  });
}

/** Bad price strings; every one is a RangeError quoting the string. */
const badPrices = [
  "1.1234567891", // a 10th decimal that is not zero
  "0.0000000001",
  "1.0000000000001",
  "9223372036.854775808", // i64 max + 1
  "9223372036.854775807001",
  "9223372037",
  "99999999999999999999999999",
  "",
  " 1",
  "1 ",
  "1\n",
  "1e5",
  "1E5",
  "-1",
  "0",
  "0.000",
  "0.0000000000",
  "00",
  "NaN",
  "Infinity",
  "1.",
  ".5",
  "+1",
  "1,5",
  "1_000",
  "0x10",
  "1.2.3",
  "\uff11", // full-width digit one
  "\u0661", // Arabic-Indic digit one
];

for (const text of badPrices) {
  Deno.test(`parsePrice(${JSON.stringify(text)}) is a RangeError`, () => {
    assertThrowsWith(
      () => parsePrice(text),
      RangeError,
      `Invalid price ${JSON.stringify(text)}`,
    );
  });
}

Deno.test("parsePrice: error messages say why", () => {
  assertThrowsWith(
    () => parsePrice("1.1234567891"),
    RangeError,
    "more than 9 decimal places",
  );
  assertThrowsWith(
    () => parsePrice("9223372036.854775808"),
    RangeError,
    "exceeds the largest storable price 9223372036.854775807",
  );
  assertThrowsWith(() => parsePrice("0"), RangeError, "greater than 0");
  assertThrowsWith(
    () => parsePrice("1e5"),
    RangeError,
    "expected a positive decimal string",
  );
});

Deno.test("parsePrice: a non-string is a TypeError", () => {
  for (const value of [1, 1n, null, undefined]) {
    assert.throws(() => parsePrice(value as unknown as string), TypeError);
  }
});

// ---------------------------------------------------------------- formatPrice

Deno.test("formatPrice: canonical form without trailing zeros", () => {
  const cases: [bigint, string][] = [
    [67123450000000n, "67123.45"],
    [1230n, "0.00000123"],
    [1n, "0.000000001"],
    [1_000_000_000n, "1"],
    [10_000_000_000n, "10"],
    [67_000_000_000_000n, "67000"],
    [7_500_000_000n, "7.5"],
    [1_123_456_789n, "1.123456789"],
    [100_000_000n, "0.1"],
    [MAX_PRICE_FIXED, "9223372036.854775807"],
  ];
  for (const [fixed, text] of cases) {
    assert.equal(formatPrice(fixed), text);
    assert.equal(parsePrice(text), fixed, "canonical form parses back");
  }
});

Deno.test("formatPrice: minDecimals pads with zeros but never truncates", () => {
  assert.equal(
    formatPrice(67123450000000n, { minDecimals: 8 }),
    "67123.45000000",
  );
  assert.equal(formatPrice(67123450000000n, { minDecimals: 0 }), "67123.45");
  assert.equal(formatPrice(67123450000000n, { minDecimals: 2 }), "67123.45");
  assert.equal(formatPrice(1_000_000_000n, { minDecimals: 1 }), "1.0");
  assert.equal(
    formatPrice(1_000_000_000n, { minDecimals: 9 }),
    "1.000000000",
  );
  assert.equal(formatPrice(1230n, { minDecimals: 2 }), "0.00000123");
  assert.equal(formatPrice(1230n, { minDecimals: 9 }), "0.000001230");
});

Deno.test("formatPrice: bad minDecimals or price is a RangeError", () => {
  for (const minDecimals of [-1, 10, 1.5, NaN]) {
    assertThrowsWith(
      () => formatPrice(1n, { minDecimals }),
      RangeError,
      `Invalid minDecimals ${minDecimals}`,
    );
  }
  for (const fixed of [0n, -1n, MAX_PRICE_FIXED + 1n]) {
    assertThrowsWith(
      () => formatPrice(fixed),
      RangeError,
      `Invalid price ${fixed}`,
    );
  }
});

Deno.test("parsePrice/formatPrice: round trips on the wire vectors", () => {
  for (const v of vectors) {
    for (const r of v.records) {
      assert.equal(formatPrice(parsePrice(r.price)), r.price);
      assert.equal(parsePrice(r.price).toString(), r.price_fixed);
    }
  }
});

Deno.test("parsePrice/formatPrice: round trips every step of 10^-9 near edges", () => {
  const starts = [1n, 999_999_990n, 67123449999990n, MAX_PRICE_FIXED - 20n];
  for (const start of starts) {
    for (let fixed = start; fixed < start + 20n; fixed++) {
      const text = formatPrice(fixed);
      assert.equal(parsePrice(text), fixed, text);
      assert.doesNotMatch(text, /\.$|\.\d*0$/, "no trailing zero or dot");
      assert.equal(
        parsePrice(formatPrice(fixed, { minDecimals: 9 })),
        fixed,
      );
    }
  }
});

Deno.test("checkPriceFixed: accepts 1..i64 max, rejects others", () => {
  assert.equal(checkPriceFixed(1n), 1n);
  assert.equal(checkPriceFixed(MAX_PRICE_FIXED), MAX_PRICE_FIXED);
  for (const fixed of [0n, -1n, MAX_PRICE_FIXED + 1n]) {
    assertThrowsWith(() => checkPriceFixed(fixed), RangeError, `${fixed}`);
  }
  assert.throws(() => checkPriceFixed(1 as unknown as bigint), TypeError);
});

// ---------------------------------------------------------------- to number

Deno.test("priceToNumber and priceHalvesToNumber agree", () => {
  const values: bigint[] = [
    1n,
    1230n,
    67123450000000n,
    0xffff_ffffn,
    1n << 32n,
    (1n << 32n) + 1n,
    (1n << 53n) - 1n,
    1n << 53n,
    (1n << 53n) + 1n,
    MAX_PRICE_FIXED - 1n,
    MAX_PRICE_FIXED,
    ...vectors.flatMap((v) => v.records.map((r) => BigInt(r.price_fixed))),
  ];
  // Deterministic pseudo-random values over the whole range.
  let state = 0x2545f4914f6cdd1dn;
  for (let i = 0; i < 2000; i++) {
    state = (state * 6364136223846793005n + 1442695040888963407n) &
      ((1n << 64n) - 1n);
    const fixed = (state >> 1n) >> BigInt(i % 60);
    if (fixed > 0n) values.push(fixed);
  }
  for (const fixed of values) {
    const [low, high] = halves(fixed);
    assert.equal(
      priceHalvesToNumber(low, high),
      priceToNumber(fixed),
      `${fixed}`,
    );
  }
});

Deno.test("priceToNumber: the nearest double for prices below 2^53 × 10^-9", () => {
  assert.equal(priceToNumber(67123450000000n), 67123.45);
  assert.equal(priceToNumber(1230n), 0.00000123);
  assert.equal(priceToNumber(1n), 1e-9);
  assert.equal(priceToNumber(1_000_000_000n), 1);
  for (let fixed = (1n << 53n) - 1000n; fixed <= 1n << 53n; fixed++) {
    assert.equal(priceToNumber(fixed), Number(formatPrice(fixed)), `${fixed}`);
  }
});

// Above 2^53 fixed (prices > 9007199.254740992, e.g. BTC in KRW or IDR) the
// conversion must round once, not twice (i64 → double, then the quotient).
Deno.test("priceToNumber: the nearest double for large prices", () => {
  for (
    const text of [
      "10000000.000000001",
      "10000000.000000005",
      "6993485523.954112873",
    ]
  ) {
    const fixed = parsePrice(text);
    assert.equal(priceToNumber(fixed), Number(text), `priceToNumber ${text}`);
    const [low, high] = halves(fixed);
    assert.equal(
      priceHalvesToNumber(low, high),
      Number(text),
      `priceHalvesToNumber ${text}`,
    );
  }
});

// ---------------------------------------------------------------- from number

Deno.test("priceFromNumber: rounds to the nearest 10^-9", () => {
  const cases: [number, bigint][] = [
    [67123.45, 67123450000000n],
    [0.1, 100_000_000n],
    [0.00000123, 1230n],
    [1e-9, 1n],
    [6e-10, 1n], // rounds up to the smallest price
    [1.2345678914, 1_234_567_891n],
    [1.2345678916, 1_234_567_892n],
    [1, 1_000_000_000n],
    [9223372036.854774, 9223372036854774475n], // largest double below the max
  ];
  for (const [value, fixed] of cases) {
    assert.equal(priceFromNumber(value), fixed, `${value}`);
  }
});

Deno.test("priceFromNumber: round trips with priceToNumber", () => {
  for (
    const text of [
      "67123.45",
      "0.00000123",
      "3456.78",
      "245.1",
      "1234567.123456789",
    ]
  ) {
    const fixed = parsePrice(text);
    assert.equal(priceFromNumber(priceToNumber(fixed)), fixed, text);
  }
});

Deno.test("priceFromNumber: rejections are RangeErrors naming the value", () => {
  for (
    const value of [
      NaN,
      Infinity,
      -Infinity,
      0,
      -0.5,
      -1,
      4e-10, // rounds to 0
      9223372036.854776, // the double nearest the max is above it
      1e20,
      Number.MAX_VALUE,
    ]
  ) {
    assertThrowsWith(
      () => priceFromNumber(value),
      RangeError,
      `Invalid price ${value}`,
    );
  }
  assert.throws(
    () => priceFromNumber("1" as unknown as number),
    TypeError,
  );
});

// ---------------------------------------------------------------- sizes

Deno.test("parseSize: plain positive decimals", () => {
  const cases: [string, number][] = [
    ["0.00100000", 0.001],
    ["1", 1],
    ["1250000", 1250000],
    ["007.5", 7.5],
    ["0.0015", 0.0015],
    ["123.456", 123.456],
  ];
  for (const [text, size] of cases) assert.equal(parseSize(text), size, text);
});

Deno.test("parseSize: strict, every rejection is a RangeError quoting the text", () => {
  for (
    const text of [
      "",
      "0x10",
      " 1",
      "1 ",
      "1e3",
      "-1",
      "+1",
      "0",
      "0.000",
      "NaN",
      "Infinity",
      "1.",
      ".5",
      "1,5",
      "0b1",
      "9".repeat(400), // finite digits, infinite as a double
    ]
  ) {
    assertThrowsWith(
      () => parseSize(text),
      RangeError,
      `Invalid size ${JSON.stringify(text)}`,
    );
  }
  assert.throws(() => parseSize(1 as unknown as string), TypeError);
});

Deno.test("checkSize: finite and greater than 0", () => {
  assert.equal(checkSize(Number.MIN_VALUE), Number.MIN_VALUE);
  assert.equal(checkSize(Number.MAX_VALUE), Number.MAX_VALUE);
  for (const size of [0, -0, -1, NaN, Infinity, -Infinity]) {
    assertThrowsWith(() => checkSize(size), RangeError, `Invalid size ${size}`);
  }
  assert.throws(() => checkSize(1n as unknown as number), TypeError);
});
