// What backoff learns of a feed's rhythm (ArrivalGaps): the gap, the spin
// window around the next arrival and its budget, robustness to stalls,
// merged arrivals and late wake-ups. Arithmetic on given times only.

import assert from "node:assert/strict";
import { ArrivalGaps, DEFAULT_SPIN_BUDGET } from "./_arrival_gaps.ts";

/** Feeds `count` arrivals `gapMs` apart from `startMs`; returns the last time. */
function regular(
  gaps: ArrivalGaps,
  count: number,
  gapMs: number,
  startMs = 1000,
): number {
  let now = startMs;
  for (let i = 0; i < count; i++) {
    gaps.arrived(now);
    if (i < count - 1) now += gapMs;
  }
  return now;
}

function near(actual: number, expected: number, tolerance: number): void {
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${actual} is not within ${tolerance} of ${expected}`,
  );
}

Deno.test("no window until a few gaps are learned", () => {
  const gaps = new ArrivalGaps();
  regular(gaps, 4, 0.2);
  assert.ok(Number.isNaN(gaps.spinFrom) && Number.isNaN(gaps.spinTo));
  gaps.arrived(1000.8);
  assert.ok(gaps.spinTo > gaps.spinFrom);
});

Deno.test("a regular feed gets a window around the next arrival, within the budget", () => {
  const gaps = new ArrivalGaps();
  const last = regular(gaps, 50, 0.2);
  near(gaps.meanGapMs, 0.2, 1e-9);
  const expected = last + 0.2;
  assert.ok(gaps.spinFrom < expected && expected < gaps.spinTo);
  assert.ok(gaps.spinTo - gaps.spinFrom <= DEFAULT_SPIN_BUDGET.share * 0.2);
  assert.equal(gaps.wakeAt, gaps.spinFrom, "no lateness learned yet");
});

Deno.test("a slow feed spins at most the largest window per arrival", () => {
  const gaps = new ArrivalGaps();
  regular(gaps, 20, 1000);
  assert.ok(gaps.spinTo - gaps.wakeAt <= DEFAULT_SPIN_BUDGET.maxWindowMs);
  const off = new ArrivalGaps({ share: 1, maxWindowMs: 0 });
  regular(off, 20, 0.2);
  assert.ok(Number.isNaN(off.spinTo), "a zero window turns windows off");
});

Deno.test("wake-up lateness is spun through, bounded, and taken from the budget", () => {
  const gaps = new ArrivalGaps();
  for (let i = 0; i < 100; i++) gaps.wokeLate(10, 10.01);
  near(gaps.latenessMs, 0.01, 1e-6);
  let last = regular(gaps, 50, 0.2);
  near(gaps.spinFrom - gaps.wakeAt, 0.01, 1e-6);
  assert.ok(
    gaps.spinTo - gaps.wakeAt <= 0.2 * DEFAULT_SPIN_BUDGET.share + 1e-9,
  );
  // A wake-up the machine delayed by 50 ms counts as the largest window.
  for (let i = 0; i < 100; i++) gaps.wokeLate(10, 60);
  near(gaps.latenessMs, DEFAULT_SPIN_BUDGET.maxWindowMs, 1e-6);
  last += 0.2;
  gaps.arrived(last);
  assert.ok(
    gaps.spinTo - gaps.wakeAt <= 0.2 * DEFAULT_SPIN_BUDGET.share + 1e-9,
  );
  assert.ok(
    gaps.spinFrom - gaps.wakeAt <= 0.2 * DEFAULT_SPIN_BUDGET.share / 2 + 1e-9,
    "lead ≤ half the cap",
  );
});

Deno.test("trades merged into one arrival count as their gaps", () => {
  const gaps = new ArrivalGaps();
  let now = regular(gaps, 20, 0.2);
  for (let i = 0; i < 20; i++) {
    now += 0.4;
    gaps.arrived(now, 2);
  }
  near(gaps.meanGapMs, 0.2, 1e-9);
});

Deno.test("one stall does not move the mean far", () => {
  const gaps = new ArrivalGaps();
  const last = regular(gaps, 50, 0.2);
  gaps.arrived(last + 5); // a 5 ms pause: ignored
  near(gaps.meanGapMs, 0.2, 1e-9);
  gaps.arrived(last + 5.3); // 0.3 ms: clipped
  assert.ok(gaps.meanGapMs < 0.2 + 0.3 / 8);
});

Deno.test("a rhythm that changes for good is learned afresh", () => {
  const gaps = new ArrivalGaps();
  const last = regular(gaps, 50, 0.2);
  regular(gaps, 30, 10, last + 10);
  near(gaps.meanGapMs, 10, 0.01);
  assert.ok(gaps.spinTo > gaps.spinFrom);
});

Deno.test("a late arrival moves the next expected time by a quarter of its lateness", () => {
  const gaps = new ArrivalGaps();
  const last = regular(gaps, 50, 0.2);
  const width = gaps.spinTo - gaps.spinFrom;
  const center = gaps.spinFrom + (gaps.spinTo - gaps.spinFrom) / 2;
  gaps.arrived(last + 0.2 + 0.04); // 40 µs late (say, woken by the producer)
  const next = gaps.spinFrom + (gaps.spinTo - gaps.spinFrom) / 2;
  // The window widens with the deviation; its middle moves ~ 0.2 + 0.01.
  near(next - center, 0.2 + 0.01, 0.006 + width);
  assert.ok(next - center < 0.2 + 0.04, "not the whole lateness");
});

Deno.test("a trade found after a nap is a miss, taken as come in the middle of the nap", () => {
  const gaps = new ArrivalGaps();
  const last = regular(gaps, 50, 0.2);
  const hitRate = gaps.hitRate;
  const center = (gaps.spinFrom + gaps.spinTo) / 2;
  // Napped from 50 µs before the expected time, found 10 µs after it.
  gaps.arrived(last + 0.21, 1, last + 0.15);
  assert.ok(gaps.hitRate < hitRate, "a nap's catch is no hit");
  const next = (gaps.spinFrom + gaps.spinTo) / 2;
  // The middle of the nap is 20 µs early: a quarter of that moves the window.
  near(next - center, 0.2 - 0.005, 0.003);
});

Deno.test("windows that catch nothing stop, but for a probe every 16 arrivals", () => {
  const gaps = new ArrivalGaps();
  let now = regular(gaps, 50, 0.2);
  let windows = 0;
  // Arrivals alternate 0.1 and 0.3 ms apart: never in a window around 0.2.
  for (let i = 0; i < 320; i++) {
    now += i % 2 === 0 ? 0.1 : 0.3;
    gaps.arrived(now);
    if (i >= 160 && !Number.isNaN(gaps.spinTo)) windows++;
  }
  assert.ok(gaps.hitRate < 0.1, `hit rate ${gaps.hitRate}`);
  assert.ok(windows <= 160 / 16 + 1, `${windows} windows in 160 arrivals`);
  // The rhythm comes back: the probes notice and windows resume.
  regular(gaps, 100, 0.2, now + 0.2);
  assert.ok(gaps.hitRate >= 0.1 && gaps.spinTo > gaps.spinFrom);
});

Deno.test("an invalid budget is a RangeError naming it", () => {
  assert.throws(
    () => new ArrivalGaps({ share: 0, maxWindowMs: 0.1 }),
    (error: Error) =>
      error instanceof RangeError && /share 0/.test(error.message),
  );
  assert.throws(
    () => new ArrivalGaps({ share: 0.2, maxWindowMs: -1 }),
    RangeError,
  );
});
