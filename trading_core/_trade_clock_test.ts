import assert from "node:assert/strict";
import { TradeClock } from "./_trade_clock.ts";

const HOUR = 3_600_000;

Deno.test("TradeClock: the first trade is accepted; a jump past maxJumpMs is an outlier unless the stream's next trade confirms it; each stream on its own", () => {
  const clock = new TradeClock(HOUR);
  assert.equal(clock.clock(0), -Infinity);
  assert.equal(clock.accept(0, 1_000), true, "first trade");
  assert.equal(clock.accept(0, 1_000 + HOUR), true, "exactly maxJumpMs");
  const at = 1_000 + HOUR;
  assert.equal(clock.accept(0, at + HOUR + 1), false, "outlier");
  assert.equal(clock.accept(0, at + 10), true, "back to normal");
  assert.equal(clock.accept(0, at + 5 * HOUR), false, "outlier again");
  assert.equal(clock.accept(0, at + 9 * HOUR), false, "too far from it");
  assert.equal(clock.accept(0, at + 9 * HOUR + 5), true, "confirmed");
  assert.equal(clock.clock(0), at + 9 * HOUR + 5);
  assert.equal(clock.outliers(0), 3);
  assert.equal(clock.accept(0, 0), true, "older trades are accepted");
  assert.equal(clock.clock(0), at + 9 * HOUR + 5, "and move nothing back");
  // Stream 5, never seen before: its own first trade.
  assert.equal(clock.accept(5, 7), true);
  assert.equal(clock.outliers(5), 0);
  assert.equal(clock.outliers(99), 0);
  assert.throws(() => new TradeClock(0), RangeError);
});
