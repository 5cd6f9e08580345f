import assert from "node:assert/strict";
import { parseBarInterval } from "./bar_interval.ts";

Deno.test("parseBarInterval reads whole-ms intervals that divide a day", () => {
  assert.equal(parseBarInterval("1ms"), 1);
  assert.equal(parseBarInterval("100ms"), 100);
  assert.equal(parseBarInterval("1s"), 1000);
  assert.equal(parseBarInterval("15m"), 900_000);
  assert.equal(parseBarInterval("1h"), 3_600_000);
  assert.equal(parseBarInterval("1d"), 86_400_000);
});

Deno.test("parseBarInterval refuses what cannot align to UTC days", () => {
  for (const text of ["7s", "0", "500us", "2d", "1x", "", "1.5ms"]) {
    assert.throws(
      () => parseBarInterval(text),
      (error: Error) =>
        error instanceof RangeError &&
        error.message.startsWith(
          `Invalid bar interval ${JSON.stringify(text)}`,
        ),
      text,
    );
  }
});
