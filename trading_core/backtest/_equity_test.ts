import assert from "node:assert/strict";
import { EquityCurve } from "./_equity.ts";
import { EquitySampler } from "./_sampler.ts";
import { Thinned } from "./_thinned.ts";

/** Population Sharpe of `returns`, by the book. */
function sharpeOf(returns: number[]): number {
  const mean = returns.reduce((a, b) => a + b, 0) / returns.length;
  const variance = returns.reduce((a, r) => a + (r - mean) ** 2, 0) /
    returns.length;
  return mean / Math.sqrt(variance);
}

Deno.test("EquityCurve: drawdown from the running peak, its ratio at that peak, Sharpe of per-sample returns, exposure", () => {
  const curve = new EquityCurve(100);
  const series = [[110, 0], [99, 5], [121, 5], [108.9, 0]];
  series.forEach(([equity, gross], i) =>
    curve.sample({ time: 1000 * (i + 1), equity, gross })
  );
  const figures = curve.figures();
  assert.equal(figures.samples, 4);
  // Peaks 100, 110, 121: falls of 11 (from 110) and 12.1 (from 121).
  assert.ok(Math.abs(figures.maxDrawdown - 12.1) < 1e-9);
  assert.ok(Math.abs(figures.maxDrawdownRatio - 0.1) < 1e-12);
  const returns = [0.1, 99 / 110 - 1, 121 / 99 - 1, 108.9 / 121 - 1];
  assert.ok(Math.abs(figures.sharpe! - sharpeOf(returns)) < 1e-12);
  assert.equal(figures.exposure, 0.5);
  assert.equal(figures.maxGrossExposure, 5);
  assert.deepEqual(
    curve.points().map((p) => [p.time, p.equity, +p.drawdown.toFixed(9)]),
    [[1000, 110, 0], [2000, 99, 11], [3000, 121, 0], [4000, 108.9, 12.1]],
  );
});

Deno.test("EquityCurve: a repeated sample counts as that many samples with returns of 0 after the first", () => {
  const once = new EquityCurve(1000);
  const repeated = new EquityCurve(1000);
  const steps: [number, number, number][] = [[1010, 1, 1], [990, 4, 2], [
    1005,
    3,
    0,
  ], [1001, 1, 3]];
  let time = 0;
  for (const [equity, repeat, gross] of steps) {
    repeated.sample({ time: time + 1000, equity, gross }, repeat, 1000);
    for (let k = 0; k < repeat; k++) {
      time += 1000;
      once.sample({ time, equity, gross });
    }
  }
  const a = once.figures();
  const b = repeated.figures();
  assert.equal(b.samples, a.samples);
  assert.equal(b.exposure, a.exposure);
  assert.equal(b.maxDrawdown, a.maxDrawdown);
  assert.ok(Math.abs(b.sharpe! - a.sharpe!) < 1e-12, `${a.sharpe} ${b.sharpe}`);
  // The curve keeps the first and the last of a repeated run.
  assert.deepEqual(repeated.points().map((p) => p.time), [
    1000,
    2000,
    5000,
    6000,
    8000,
    9000,
  ]);
});

Deno.test("EquityCurve: Sharpe is null with fewer than 2 returns or none varying; no samples: zeros", () => {
  assert.deepEqual(new EquityCurve(100).figures(), {
    samples: 0,
    maxDrawdown: 0,
    maxDrawdownRatio: 0,
    sharpe: null,
    exposure: 0,
    maxGrossExposure: 0,
    minEquity: 100,
    equityBelowZeroAt: null,
  });
  const one = new EquityCurve(100);
  one.sample({ time: 1, equity: 101, gross: 0 });
  assert.equal(one.figures().sharpe, null);
  const flat = new EquityCurve(100);
  flat.sample({ time: 1, equity: 100, gross: 0 }, 50, 1);
  assert.equal(flat.figures().sharpe, null);
  assert.equal(flat.figures().samples, 50);
});

Deno.test("EquityCurve: the curve is thinned to maxPoints and still ends with the last sample", () => {
  const curve = new EquityCurve(100, { maxPoints: 4 });
  for (let i = 1; i <= 10; i++) {
    curve.sample({ time: i, equity: 100 + i, gross: 0 });
  }
  const times = curve.points().map((p) => p.time);
  assert.deepEqual(times, [1, 5, 9, 10]);
});

Deno.test("Thinned: keeps the items whose push index is a multiple of a doubling stride", () => {
  const list = new Thinned<number>(3);
  for (let i = 0; i < 9; i++) list.push(i);
  assert.deepEqual(list.items, [0, 4, 8]);
  assert.equal(list.pushed, 9);
  assert.throws(() => new Thinned(1), RangeError);
});

Deno.test("EquitySampler: a sample at each interval end a trade passes, repeated over whole empty intervals; finish samples the open one", () => {
  const samples: [number, number, number][] = [];
  const curve = {
    sample(s: { time: number; equity: number }, repeat = 1) {
      samples.push([s.time, s.equity, repeat]);
    },
  } as unknown as EquityCurve;
  const source = {
    equity: 100,
    positions: () => [{ quantity: -2, lastPrice: 3 }],
  };
  const sampler = new EquitySampler(curve, source, 1000);
  sampler.before(500); // opens [0, 1000)
  sampler.before(999);
  assert.deepEqual(samples, []);
  source.equity = 101;
  sampler.before(1000); // ends [0, 1000)
  source.equity = 102;
  sampler.before(4500); // ends [1000, 2000), [2000, 3000), [3000, 4000)
  source.equity = 103;
  sampler.finish(); // [4000, 5000)
  assert.deepEqual(samples, [[1000, 101, 1], [2000, 102, 3], [5000, 103, 1]]);
});

Deno.test("EquityCurve: the lowest equity, and when it first went below zero", () => {
  const curve = new EquityCurve(100);
  for (const [time, equity] of [[1, 50], [2, -5], [3, -20], [4, 10]]) {
    curve.sample({ time, equity, gross: 0 });
  }
  const figures = curve.figures();
  assert.equal(figures.minEquity, -20);
  assert.equal(figures.equityBelowZeroAt, 2);
  assert.ok(figures.maxDrawdownRatio > 1); // 120 from a peak of 100
});
