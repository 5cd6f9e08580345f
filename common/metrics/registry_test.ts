// Tests of the registry and its family helpers: collectors rendered in
// registration order on every scrape, counter/gauge shorthands, latency
// histograms converted from ns to seconds (read back by promcheck), and the
// build-info family.

import assert from "node:assert/strict";
import meta from "../../deno.json" with { type: "json" };
import {
  PROMCHECK_PERMISSIONS,
  testNeeding,
} from "../../tests/_permissions.ts";
import { checkExposition } from "../../tests/promcheck.ts";
import { assertThrowsWith } from "../../tests/_assert_throws.ts";
import { LatencyHistogram } from "./latency_histogram.ts";
import { renderExposition } from "./exposition.ts";
import {
  buildInfo,
  counter,
  DEFAULT_LATENCY_BUCKETS_SECONDS,
  gauge,
  latencyFamily,
  MetricsRegistry,
} from "./registry.ts";

/** A test that runs promcheck: skipped, saying why, without its permissions. */
const test = testNeeding(PROMCHECK_PERMISSIONS);

Deno.test("collectors run on every render, in registration order", () => {
  const registry = new MetricsRegistry();
  let trades = 0;
  registry.register(() => [
    counter({ name: "bus_trades_total", help: "Trades." }, trades),
  ]);
  registry.register(() => [
    gauge({ name: "bus_symbols", help: "Symbols." }, [
      { labels: { exchange: "a" }, value: 2 },
      { labels: { exchange: "b" }, value: 3 },
    ]),
    gauge({ name: "bus_up", help: "Up." }, 1),
  ]);
  const expected = (n: number) =>
    `# HELP bus_trades_total Trades.
# TYPE bus_trades_total counter
bus_trades_total ${n}
# HELP bus_symbols Symbols.
# TYPE bus_symbols gauge
bus_symbols{exchange="a"} 2
bus_symbols{exchange="b"} 3
# HELP bus_up Up.
# TYPE bus_up gauge
bus_up 1
`;
  assert.equal(registry.render(), expected(0));
  trades = 17;
  assert.equal(registry.render(), expected(17));
  assert.equal(new MetricsRegistry().render(), "");
});

Deno.test("render propagates a collector's error and refuses duplicate families", () => {
  const failing = new MetricsRegistry();
  failing.register(() => {
    throw new Error("ring closed");
  });
  assert.throws(() => failing.render(), { message: "ring closed" });
  const twice = new MetricsRegistry();
  const collect = () => [gauge({ name: "bus_up", help: "Up." }, 1)];
  twice.register(collect);
  twice.register(collect);
  assertThrowsWith(
    () => twice.render(),
    TypeError,
    'Duplicate metric family "bus_up"',
  );
});

test("latencyFamily converts ns histograms to seconds", async () => {
  const fast = new LatencyHistogram();
  for (const ns of [50, 99, 100, 40_000, 40_000, 3e9]) fast.record(ns);
  const empty = new LatencyHistogram();
  const family = latencyFamily(
    { name: "bus_latency_seconds", help: "Latency." },
    [
      { labels: { symbol: "BTCUSDT" }, histogram: fast },
      { labels: { symbol: "ETHUSDT" }, histogram: empty },
    ],
    { bucketsSeconds: [1e-7, 5e-5, 1, 5] },
  );
  const registry = new MetricsRegistry();
  registry.register(() => [family]);
  const parsed = await checkExposition(registry.render());
  assert.deepEqual(parsed.lint, []);
  assert.deepEqual(parsed.families.bus_latency_seconds.metrics, [
    {
      labels: { symbol: "BTCUSDT" },
      buckets: [
        // 50 and 99 ns; 100 ns is in bucket [100, 102), which straddles
        // the bound so counts as above it (within ~3 %).
        { le: 1e-7, count: 2 },
        { le: 5e-5, count: 5 },
        { le: 1, count: 5 },
        { le: 5, count: 6 },
        { le: Infinity, count: 6 },
      ],
      sum: (50 + 99 + 100 + 80_000 + 3e9) / 1e9,
      count: 6,
    },
    {
      labels: { symbol: "ETHUSDT" },
      buckets: [
        { le: 1e-7, count: 0 },
        { le: 5e-5, count: 0 },
        { le: 1, count: 0 },
        { le: 5, count: 0 },
        { le: Infinity, count: 0 },
      ],
      sum: 0,
      count: 0,
    },
  ]);
});

test("latencyFamily's default buckets run from 100 ns to 10 s", async () => {
  const histogram = new LatencyHistogram();
  for (let ns = 1; ns < 2e10; ns *= 1.1) histogram.record(Math.round(ns));
  const family = latencyFamily(
    { name: "bus_latency_seconds", help: "Latency." },
    [{ histogram }],
  );
  const parsed = await checkExposition(renderExposition([family]));
  const [metric] = parsed.families.bus_latency_seconds.metrics;
  assert.deepEqual(
    metric.buckets!.map((bucket) => bucket.le),
    [...DEFAULT_LATENCY_BUCKETS_SECONDS, Infinity],
  );
  assert.equal(DEFAULT_LATENCY_BUCKETS_SECONDS[0], 1e-7);
  assert.equal(DEFAULT_LATENCY_BUCKETS_SECONDS.at(-1), 10);
  const counts = metric.buckets!.map((bucket) => bucket.count);
  for (let i = 1; i < counts.length; i++) {
    assert.ok(counts[i] >= counts[i - 1], `bucket ${i} not cumulative`);
  }
  assert.equal(counts.at(-1), histogram.count);
  assert.ok(
    counts.at(-2)! < histogram.count,
    "samples above 10 s only in +Inf",
  );
});

Deno.test("latencyFamily refuses a name without _seconds and bad bounds", () => {
  assertThrowsWith(
    () => latencyFamily({ name: "bus_latency_ns", help: "x" }, []),
    TypeError,
    'Invalid latency metric name "bus_latency_ns"',
    'ending in "_seconds"',
  );
  for (const bounds of [[0], [-1], [1, 1], [2, 1], [1, Infinity], [NaN]]) {
    assertThrowsWith(
      () =>
        latencyFamily({ name: "bus_seconds", help: "x" }, [], {
          bucketsSeconds: bounds,
        }),
      RangeError,
      "Invalid latency bucket",
      "expected positive, finite, ascending seconds",
    );
  }
});

test("buildInfo labels the role, version and runtime", async () => {
  const registry = new MetricsRegistry();
  registry.register(() => [buildInfo("live")]);
  const parsed = await checkExposition(registry.render());
  assert.deepEqual(parsed.lint, []);
  const family = parsed.families.marketbus_build_info;
  assert.equal(family.type, "GAUGE");
  assert.deepEqual(family.metrics, [{
    labels: {
      role: "live",
      version: meta.version,
      deno: Deno.version.deno,
      v8: Deno.version.v8,
      typescript: Deno.version.typescript,
    },
    value: 1,
  }]);
});
