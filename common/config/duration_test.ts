// Tests of human duration strings ("500ms", "2h30m") to milliseconds and back.

import assert from "node:assert/strict";
import {
  DURATION_EXAMPLES,
  formatDuration,
  parseDuration,
} from "./duration.ts";

const accepted: [string, number][] = [
  ["500ms", 500],
  ["30s", 30_000],
  ["1h", 3_600_000],
  ["2h30m", 9_000_000],
  ["1.5h", 5_400_000],
  ["250us", 0.25],
  ["250µs", 0.25],
  ["0", 0],
  ["0s", 0],
  ["1d", 86_400_000],
  ["1m", 60_000],
  ["1h30m", 5_400_000],
  ["1m30s", 90_000],
  ["1d2h", 93_600_000],
  ["1000ns", 0.001],
  ["1s500ms", 1500],
  ["0.5s", 500],
  ["10ms", 10],
  ["007s", 7000],
];

for (const [text, ms] of accepted) {
  Deno.test(`parseDuration(${JSON.stringify(text)}) = ${ms} ms`, () => {
    assert.equal(parseDuration(text), ms);
  });
}

const rejected = [
  "1x",
  "",
  "30",
  "-1s",
  "1h 30m",
  "s",
  " 1s",
  "1s ",
  "1.s",
  ".5s",
  "1S",
  "1H",
  "1e3s",
  "h1",
  "1hh",
  "1h30",
  "+1s",
  "Infinityh",
  "NaN",
  "1,5s",
  "1 s",
];

for (const text of rejected) {
  Deno.test(`parseDuration(${JSON.stringify(text)}) is a RangeError quoting it`, () => {
    assert.throws(
      () => parseDuration(text),
      (error: unknown) =>
        error instanceof RangeError &&
        error.message.includes(`Invalid duration ${JSON.stringify(text)}`) &&
        error.message.includes(DURATION_EXAMPLES),
    );
  });
}

Deno.test("parseDuration: an infinite total is a RangeError", () => {
  const text = `${"9".repeat(400)}h`;
  assert.throws(() => parseDuration(text), RangeError);
});

Deno.test("parseDuration: a non-string is a TypeError", () => {
  assert.throws(() => parseDuration(30 as unknown as string), TypeError);
});

Deno.test("parseDuration: a failed parse does not disturb the next one", () => {
  assert.throws(() => parseDuration("1h 30m"), RangeError);
  assert.equal(parseDuration("2h30m"), 9_000_000);
});

Deno.test("formatDuration: canonical strings", () => {
  const cases: [number, string][] = [
    [0, "0s"],
    [500, "500ms"],
    [30_000, "30s"],
    [60_000, "1m"],
    [90_000, "1m30s"],
    [3_600_000, "1h"],
    [5_400_000, "1h30m"],
    [9_000_000, "2h30m"],
    [86_400_000, "24h"],
    [0.25, "250us"],
    [1.5, "1ms500us"],
    [0.001, "1us"],
    [0.000001, "1ns"],
    [123_456.789, "2m3s456ms789us"],
  ];
  for (const [ms, text] of cases) assert.equal(formatDuration(ms), text);
});

Deno.test("formatDuration: negative or non-finite is a RangeError", () => {
  for (const ms of [-1, -0.001, NaN, Infinity, -Infinity]) {
    assert.throws(
      () => formatDuration(ms),
      (error: unknown) =>
        error instanceof RangeError &&
        error.message.includes(`Invalid duration ${ms} ms`),
    );
  }
});

Deno.test("round trip: parseDuration(formatDuration(ms)) for whole ms", () => {
  for (
    const ms of [
      0,
      1,
      2,
      999,
      1000,
      59_999,
      60_000,
      3_599_999,
      5_400_000,
      86_400_000,
      7 * 86_400_000 + 1,
      365 * 86_400_000 + 123,
    ]
  ) {
    assert.equal(parseDuration(formatDuration(ms)), ms, `${ms}`);
  }
});

Deno.test("round trip: parseDuration(formatDuration(ms)) below 1 ms, to the ns", () => {
  for (const ms of [0.25, 1.5, 0.001, 0.0001, 0.000123, 3.3333, 123_456.789]) {
    const back = parseDuration(formatDuration(ms));
    // Whole nanoseconds come back up to float noise (far below 1 ns).
    assert.ok(Math.abs(back - ms) < 1e-12, `${ms} → ${back}`);
  }
});

Deno.test("round trip: formatDuration(parseDuration(text)) is canonical", () => {
  const cases: [string, string][] = [
    ["2h30m", "2h30m"],
    ["1.5h", "1h30m"],
    ["90s", "1m30s"],
    ["1d", "24h"],
    ["0", "0s"],
    ["250us", "250us"],
    ["250µs", "250us"],
    ["100ns", "100ns"],
    ["1500ms", "1s500ms"],
    ["0.5s", "500ms"],
  ];
  for (const [text, canonical] of cases) {
    assert.equal(formatDuration(parseDuration(text)), canonical, text);
    assert.equal(
      formatDuration(parseDuration(canonical)),
      canonical,
      canonical,
    );
  }
});

// formatDuration must return a string parseDuration reads back, even for
// values under half a nanosecond (every unit rounds to 0 there).
Deno.test("formatDuration: below 0.5 ns still reads back", () => {
  for (const ms of [1e-7, 4e-7, Number.MIN_VALUE]) {
    const text = formatDuration(ms);
    assert.notEqual(text, "", `formatDuration(${ms}) returned ""`);
    assert.equal(parseDuration(text), 0, `formatDuration(${ms}) = ${text}`);
  }
});
