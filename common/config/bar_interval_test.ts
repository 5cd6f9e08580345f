import assert from "node:assert/strict";
import { assertThrowsWith } from "../../tests/_assert_throws.ts";
import { parseBarInterval } from "./bar_interval.ts";

Deno.test("parseBarInterval: durations that divide a day, in ms", () => {
  const cases: [string, number][] = [
    ["100ms", 100],
    ["1s", 1000],
    ["5s", 5000],
    ["1m", 60_000],
    ["15m", 900_000],
    ["1h", 3_600_000],
    ["1d", 86_400_000],
    ["1m30s", 90_000],
    ["1ms", 1],
  ];
  for (const [text, ms] of cases) {
    assert.equal(parseBarInterval(text), ms, text);
  }
});

Deno.test("parseBarInterval: errors quote the value and say what is expected", () => {
  assertThrowsWith(
    () => parseBarInterval("1x"),
    RangeError,
    `Invalid interval "1x": expected e.g. "100ms", "1s"`,
  );
  assertThrowsWith(
    () => parseBarInterval(""),
    RangeError,
    `Invalid interval ""`,
  );
  for (const [text, ms] of [["7s", 7000], ["2d", 172_800_000], ["0", 0]]) {
    assertThrowsWith(
      () => parseBarInterval(String(text)),
      RangeError,
      `Invalid interval "${text}" (${ms} ms): expected a whole number of ms that divides a day`,
    );
  }
  assertThrowsWith(
    () => parseBarInterval("500us"),
    RangeError,
    `Invalid interval "500us" (0.5 ms): expected a whole number of ms`,
  );
  assertThrowsWith(
    // deno-lint-ignore no-explicit-any
    () => parseBarInterval(1000 as any),
    TypeError,
    "Invalid interval 1000: expected a string",
  );
});
