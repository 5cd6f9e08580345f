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

Deno.test("TradeClock: a stream's first trade is judged against its exchange's clock; the next trade confirms a real jump", () => {
  const clock = new TradeClock(HOUR);
  const t = 1_700_000_000_000;
  assert.equal(clock.accept(0, t, "x"), true, "the exchange's first trade");
  assert.equal(
    clock.accept(1, t + 3 * HOUR, "x"),
    false,
    "first trade 3 h ahead",
  );
  assert.equal(clock.reference(1), t, "judged against the exchange's clock");
  assert.equal(clock.clock(1), -Infinity, "the stream has no clock yet");
  assert.equal(clock.accept(1, t + 5, "x"), true, "its next, plausible, trade");
  assert.equal(clock.clock(1), t + 5);
  assert.equal(clock.outliers(1), 1);
  // A real jump: the stream's next trade confirms it.
  assert.equal(clock.accept(2, t + 3 * HOUR, "x"), false);
  assert.equal(clock.accept(2, t + 3 * HOUR + 9, "x"), true, "confirmed");
  // Another exchange has its own clock; no exchange named: accepted.
  assert.equal(clock.accept(3, t + 50 * HOUR, "y"), true);
  assert.equal(clock.accept(4, t + 90 * HOUR), true);
});
