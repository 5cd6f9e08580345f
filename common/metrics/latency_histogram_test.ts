// Tests of the latency histogram: percentiles against the exact ones of a
// sorted array, the exact range, negative samples, merge, reset, empty, and
// invalid percentiles.

import assert from "node:assert/strict";
import { assertThrowsWith } from "../../tests/_assert_throws.ts";
import { LatencyHistogram, latencyMark } from "./latency_histogram.ts";

/** The log-linear buckets are 1/32 of a power of two wide: within 3.2 % of exact. */
const TOLERANCE = 0.032;

const PERCENTILES = [0, 1, 10, 25, 50, 75, 90, 99, 99.9, 100];

/** mulberry32: reproducible random u32s. */
function random(seed: number): () => number {
  let state = seed | 0;
  return () => {
    state = (state + 0x6d2b_79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** The percentile by the histogram's rank rule, from sorted samples. */
function exactPercentile(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

function histogramOf(samples: readonly number[]): LatencyHistogram {
  const histogram = new LatencyHistogram();
  for (const sample of samples) histogram.record(sample);
  return histogram;
}

Deno.test("percentiles of random latencies are within 3.2% of the exact ones", () => {
  const next = random(7);
  // Integer ns spread log-uniformly from 1 ns to ~17 min (2^40 ns).
  const samples = Array.from(
    { length: 100_000 },
    () => Math.floor(2 ** (next() * 40)),
  );
  const histogram = histogramOf(samples);
  const sorted = [...samples].sort((a, b) => a - b);
  assert.equal(histogram.count, samples.length);
  for (const p of PERCENTILES) {
    const exact = exactPercentile(sorted, p);
    const estimate = histogram.percentile(p);
    assert.ok(
      Math.abs(estimate - exact) <= exact * TOLERANCE,
      `p${p}: ${estimate} vs exact ${exact}`,
    );
  }
  assert.equal(histogram.summary().max, sorted.at(-1), "max is exact");
});

Deno.test("percentiles of microsecond latencies with a slow tail are within 3.2%", () => {
  const next = random(11);
  const samples = Array.from({ length: 50_000 }, () => {
    const base = 20_000 + Math.floor(next() * 60_000); // 20-80 µs
    return next() < 0.01 ? base * 100 : base; // 1% around 2-8 ms
  });
  const histogram = histogramOf(samples);
  const sorted = [...samples].sort((a, b) => a - b);
  const summary = histogram.summary();
  const pairs: [string, number, number][] = [
    ["p50", summary.p50, 50],
    ["p90", summary.p90, 90],
    ["p99", summary.p99, 99],
    ["p999", summary.p999, 99.9],
  ];
  for (const [name, estimate, p] of pairs) {
    const exact = exactPercentile(sorted, p);
    assert.ok(
      Math.abs(estimate - exact) <= exact * TOLERANCE,
      `${name}: ${estimate} vs exact ${exact}`,
    );
  }
});

Deno.test("values below 64 ns are counted exactly", () => {
  const samples = Array.from({ length: 64 }, (_, i) => i);
  const histogram = histogramOf(samples);
  for (let rank = 1; rank <= 64; rank++) {
    // The smallest percentile whose rank is `rank`.
    assert.equal(histogram.percentile((rank / 64) * 100), rank - 1);
  }
  assert.equal(histogram.percentile(0), 0);
  const one = histogramOf([37, 37, 37, 5]);
  assert.equal(one.percentile(25), 5);
  assert.equal(one.percentile(50), 37);
  assert.equal(one.percentile(100), 37);
});

Deno.test("a percentile never exceeds the largest sample", () => {
  const histogram = histogramOf([1_000_001]);
  for (const p of PERCENTILES) {
    assert.ok(histogram.percentile(p) <= 1_000_001);
    assert.ok(histogram.percentile(p) >= 1_000_001 * (1 - TOLERANCE));
  }
});

Deno.test("negative samples count as 0 and in `negative`", () => {
  const histogram = histogramOf([-5, -1e9, 100]);
  const summary = histogram.summary();
  assert.equal(summary.count, 3);
  assert.equal(summary.negative, 2);
  assert.equal(summary.max, 100);
  assert.equal(histogram.percentile(50), 0);
  assert.equal(histogramOf([-3]).summary().max, 0);
});

Deno.test("merge adds every sample of the other histogram", () => {
  const next = random(3);
  const a = Array.from({ length: 5000 }, () => Math.floor(next() * 1e6));
  const b = Array.from({ length: 3000 }, () => Math.floor(next() * 1e9));
  const merged = histogramOf(a);
  const other = histogramOf([...b, -7]);
  merged.merge(other);
  const both = histogramOf([...a, ...b, -7]);
  assert.deepEqual(merged.summary(), both.summary());
  for (const p of PERCENTILES) {
    assert.equal(merged.percentile(p), both.percentile(p));
  }
  assert.equal(other.count, 3001, "merge must not change the other histogram");
});

Deno.test("reset forgets every sample", () => {
  const histogram = histogramOf([5, 5000, -1, 5e9]);
  histogram.reset();
  assert.deepEqual(histogram.summary(), new LatencyHistogram().summary());
  histogram.record(42);
  assert.deepEqual(histogram.summary(), histogramOf([42]).summary());
});

Deno.test("an empty histogram reports zeros", () => {
  const histogram = new LatencyHistogram();
  assert.equal(histogram.count, 0);
  assert.equal(histogram.percentile(50), 0);
  assert.deepEqual(histogram.summary(), {
    count: 0,
    p50: 0,
    p90: 0,
    p99: 0,
    p999: 0,
    max: 0,
    negative: 0,
  });
});

Deno.test("percentiles outside 0..100 are refused", () => {
  const histogram = histogramOf([1, 2, 3]);
  for (const p of [-1, 100.5, Number.NaN, Infinity]) {
    assertThrowsWith(
      () => histogram.percentile(p),
      RangeError,
      `Invalid percentile ${p}`,
      "expected 0 to 100",
    );
  }
});

Deno.test("sum adds the samples, negative ones as 0; merge and reset keep it right", () => {
  const histogram = histogramOf([5, 1_000, 2.5e9, -40]);
  assert.equal(histogram.sum, 5 + 1_000 + 2.5e9);
  histogram.merge(histogramOf([7, 70]));
  assert.equal(histogram.sum, 5 + 1_000 + 2.5e9 + 77);
  histogram.reset();
  assert.equal(histogram.sum, 0);
  assert.equal(new LatencyHistogram().sum, 0);
});

Deno.test("intervalPercentile measures only the samples since the mark, within 3.2% of the exact ones", () => {
  const next = random(19);
  // A slow start (~100 ms), then a fast interval (~1-50 µs): since the
  // start, p99 is the slow start's; over the interval, the fast samples'.
  const slow = Array.from({ length: 5_000 }, () => 1e8 + next() * 1e8);
  const fast = Array.from(
    { length: 20_000 },
    () => Math.floor(1_000 + next() ** 3 * 49_000),
  );
  const histogram = histogramOf(slow);
  const marks = PERCENTILES.map(() => latencyMark());
  for (const [i, p] of PERCENTILES.entries()) {
    assert.equal(
      histogram.intervalPercentile(marks[i], p),
      histogram.percentile(p),
      `p${p}: a fresh mark measures from the start`,
    );
  }
  for (const sample of fast) histogram.record(sample);
  const sorted = [...fast].sort((a, b) => a - b);
  for (const [i, p] of PERCENTILES.entries()) {
    const exact = exactPercentile(sorted, p);
    const interval = histogram.intervalPercentile(marks[i], p);
    assert.ok(
      Math.abs(interval - exact) <= exact * TOLERANCE,
      `p${p}: ${interval} vs exact ${exact}`,
    );
  }
  assert.ok(histogram.percentile(99) >= 1e8, "since the start: the slow ones");
  assert.equal(
    histogram.intervalPercentile(marks[0], 99),
    0,
    "no sample since",
  );
  histogram.record(7);
  assert.equal(histogram.intervalPercentile(marks[0], 50), 7, "the next one");
  assert.equal(marks[0].count, histogram.count);
});

Deno.test("intervalPercentile after a reset measures from the reset; bad percentiles are refused", () => {
  const histogram = histogramOf([5_000, 6_000, 7_000]);
  const mark = latencyMark();
  histogram.intervalPercentile(mark, 50);
  histogram.reset();
  for (const sample of [40, 40, 40, 40, 10]) histogram.record(sample); // more than before
  assert.equal(histogram.intervalPercentile(mark, 0), 10);
  histogram.record(41);
  assert.equal(histogram.intervalPercentile(mark, 99), 41);
  for (const p of [-1, 101, Number.NaN]) {
    assertThrowsWith(
      () => histogram.intervalPercentile(mark, p),
      RangeError,
      `Invalid percentile ${p}`,
      "expected 0 to 100",
    );
  }
});

Deno.test("countAtOrBelow is exact below 64 ns", () => {
  // Twice each of 0..63, plus larger samples that must never be counted.
  const samples = Array.from({ length: 128 }, (_, i) => i >> 1);
  const histogram = histogramOf([...samples, 64, 1_000, 5e9]);
  for (let bound = 0; bound < 64; bound++) {
    assert.equal(
      histogram.countAtOrBelow(bound),
      2 * (bound + 1),
      `<= ${bound}`,
    );
  }
  assert.equal(histogram.countAtOrBelow(10.9), 22, "a fractional bound: <= 10");
  assert.equal(histogram.countAtOrBelow(-1), 0);
  assert.equal(histogram.countAtOrBelow(5e9), 131, "from the max up: all");
  assert.equal(histogram.countAtOrBelow(Infinity), 131);
  assert.equal(
    histogramOf([-5]).countAtOrBelow(0),
    1,
    "negative samples are 0",
  );
});

Deno.test("countAtOrBelow is within bucket precision above 64 ns and monotonic", () => {
  const next = random(5);
  const samples = Array.from(
    { length: 20_000 },
    () => Math.floor(2 ** (6 + next() * 34)), // 64 ns to 2^40 ns
  );
  const histogram = histogramOf(samples);
  const sorted = [...samples].sort((a, b) => a - b);
  /** Samples <= bound, exactly. */
  const exact = (bound: number) => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid] <= bound) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  let previous = 0;
  for (let i = 0; i <= 2_000; i++) {
    const bound = Math.floor(2 ** (6 + i * 34 / 2_000));
    const count = histogram.countAtOrBelow(bound);
    // Never counts a sample above the bound; counts all <= 32/33 of it.
    assert.ok(count <= exact(bound), `<= ${bound}: ${count} > ${exact(bound)}`);
    const floor = exact(Math.floor(bound * 32 / 33));
    assert.ok(count >= floor, `<= ${bound}: ${count} < ${floor}`);
    assert.ok(count >= previous, `not monotonic at ${bound}`);
    previous = count;
  }
  // A bound at the top of a bucket counts the whole bucket: [64, 66) here.
  const edge = histogramOf([64, 65, 66, 1e6]);
  assert.equal(edge.countAtOrBelow(64), 0, "bucket [64, 66) straddles 64");
  assert.equal(edge.countAtOrBelow(65), 2);
  assert.equal(edge.countAtOrBelow(66), 2, "bucket [66, 68) straddles 66");
  assert.equal(edge.countAtOrBelow(1e6), 4);
  assert.equal(edge.countAtOrBelow(1e6 - 1), 3);
});

Deno.test("countAtOrBelow beyond 2^40 ns counts nothing of the open last bucket", () => {
  const histogram = histogramOf([10, 2 ** 41, 2 ** 42]);
  assert.equal(histogram.countAtOrBelow(2 ** 41), 1);
  assert.equal(histogram.countAtOrBelow(2 ** 42 - 1), 1);
  assert.equal(histogram.countAtOrBelow(2 ** 42), 3);
});

Deno.test("countAtOrBelow refuses NaN", () => {
  assertThrowsWith(
    () => histogramOf([1]).countAtOrBelow(Number.NaN),
    RangeError,
    "Invalid bound NaN",
  );
});
