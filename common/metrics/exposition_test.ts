// Tests of the text exposition renderer: the exact text of a small case,
// escaping and number spelling, a larger rendering read back by the real
// Prometheus parser (promcheck) with promlint's verdict, and every refusal.

import assert from "node:assert/strict";
import {
  PROMCHECK_PERMISSIONS,
  testNeeding,
} from "../../tests/_permissions.ts";
import { checkExposition } from "../../tests/promcheck.ts";
import { assertThrowsWith } from "../../tests/_assert_throws.ts";
import {
  formatValue,
  type MetricFamily,
  renderExposition,
} from "./exposition.ts";

/** A test that runs promcheck: skipped, saying why, without its permissions. */
const test = testNeeding(PROMCHECK_PERMISSIONS);

Deno.test("renders counters, gauges and histograms exactly", () => {
  const text = renderExposition([
    {
      name: "bus_trades_total",
      help: "Trades seen.",
      type: "counter",
      samples: [
        { labels: { exchange: "binance", symbol: "BTCUSDT" }, value: 12 },
        { labels: { exchange: "binance", symbol: "ETHUSDT" }, value: 3 },
      ],
    },
    { name: "bus_up", help: "Up.", type: "gauge", samples: [{ value: 1 }] },
    {
      name: "bus_lag_seconds",
      help: "Lag.",
      type: "histogram",
      samples: [{
        labels: { role: "live" },
        buckets: [{ le: 0.001, count: 2 }, { le: 1, count: 5 }],
        sum: 1.25,
        count: 6,
      }, {
        buckets: [{ le: 0.001, count: 0 }],
        sum: 0,
        count: 0,
      }],
    },
  ]);
  assert.equal(
    text,
    `# HELP bus_trades_total Trades seen.
# TYPE bus_trades_total counter
bus_trades_total{exchange="binance",symbol="BTCUSDT"} 12
bus_trades_total{exchange="binance",symbol="ETHUSDT"} 3
# HELP bus_up Up.
# TYPE bus_up gauge
bus_up 1
# HELP bus_lag_seconds Lag.
# TYPE bus_lag_seconds histogram
bus_lag_seconds_bucket{role="live",le="0.001"} 2
bus_lag_seconds_bucket{role="live",le="1"} 5
bus_lag_seconds_bucket{role="live",le="+Inf"} 6
bus_lag_seconds_sum{role="live"} 1.25
bus_lag_seconds_count{role="live"} 6
bus_lag_seconds_bucket{le="0.001"} 0
bus_lag_seconds_bucket{le="+Inf"} 0
bus_lag_seconds_sum 0
bus_lag_seconds_count 0
`,
  );
});

Deno.test("escapes help text and label values", () => {
  const text = renderExposition([{
    name: "bus_info",
    help: 'a \\ b\nc "q"',
    type: "gauge",
    samples: [{ labels: { path: 'C:\\x\n"y"' }, value: 1 }],
  }]);
  assert.equal(
    text,
    `# HELP bus_info a \\\\ b\\nc "q"
# TYPE bus_info gauge
bus_info{path="C:\\\\x\\n\\"y\\""} 1
`,
  );
});

Deno.test("spells numbers as Prometheus does", () => {
  const cases: [number, string][] = [
    [0, "0"],
    [-0, "0"],
    [42, "42"],
    [-7, "-7"],
    [1e6, "1000000"],
    [2 ** 53, "9007199254740992"],
    [0.1, "0.1"],
    [1 / 3, "0.3333333333333333"],
    [1e-7, "1e-7"],
    [1e21, "1e+21"],
    [Infinity, "+Inf"],
    [-Infinity, "-Inf"],
    [NaN, "NaN"],
  ];
  for (const [value, expected] of cases) {
    assert.equal(formatValue(value), expected, `formatValue(${value})`);
  }
});

/** Families with every feature, the parser's view of which is checked below. */
const RICH: MetricFamily[] = [
  {
    name: "marketbus_trades_published_total",
    help: "Trades published, by exchange and symbol.",
    type: "counter",
    samples: [
      { labels: { exchange: "binance", symbol: "BTCUSDT" }, value: 9_007_199 },
      { labels: { exchange: "binance", symbol: 'odd "sym"\\\n' }, value: 0 },
    ],
  },
  {
    name: "marketbus_ring_fill_ratio",
    help: "Ring fill,\nas a ratio \\ 1.",
    type: "gauge",
    samples: [
      { labels: { ring: "a" }, value: 0.123456789012345 },
      { labels: { ring: "b" }, value: Infinity },
      { labels: { ring: "c" }, value: -Infinity },
      { labels: { ring: "d" }, value: NaN },
      { labels: { ring: "e" }, value: 1e-300 },
      { labels: { ring: "f" }, value: -2.5e21 },
    ],
  },
  {
    name: "marketbus_consume_latency_seconds",
    help: "Publish to consume latency.",
    type: "histogram",
    samples: [
      {
        labels: { symbol: "BTCUSDT" },
        buckets: [
          { le: 1e-7, count: 0 },
          { le: 2.5e-6, count: 10 },
          { le: 0.001, count: 990 },
          { le: 10, count: 999 },
        ],
        sum: 0.123456789,
        count: 1000,
      },
      { buckets: [{ le: 1, count: 1 }], sum: 0.5, count: 1 },
    ],
  },
];

test("the Prometheus parser reads back what was rendered, lint-clean", async () => {
  const parsed = await checkExposition(renderExposition(RICH));
  assert.deepEqual(parsed.lint, []);
  assert.deepEqual(Object.keys(parsed.families).sort(), [
    "marketbus_consume_latency_seconds",
    "marketbus_ring_fill_ratio",
    "marketbus_trades_published_total",
  ]);
  const counter = parsed.families.marketbus_trades_published_total;
  assert.equal(counter.type, "COUNTER");
  assert.equal(counter.help, "Trades published, by exchange and symbol.");
  assert.deepEqual(counter.metrics, [
    { labels: { exchange: "binance", symbol: "BTCUSDT" }, value: 9_007_199 },
    { labels: { exchange: "binance", symbol: 'odd "sym"\\\n' }, value: 0 },
  ]);
  const gauge = parsed.families.marketbus_ring_fill_ratio;
  assert.equal(gauge.type, "GAUGE");
  assert.equal(gauge.help, "Ring fill,\nas a ratio \\ 1.");
  // deepEqual treats NaN as equal to NaN.
  assert.deepEqual(
    gauge.metrics,
    RICH[1].samples as { labels: Record<string, string>; value: number }[],
  );
  const histogram = parsed.families.marketbus_consume_latency_seconds;
  assert.equal(histogram.type, "HISTOGRAM");
  assert.deepEqual(histogram.metrics, [
    {
      labels: { symbol: "BTCUSDT" },
      buckets: [
        { le: 1e-7, count: 0 },
        { le: 2.5e-6, count: 10 },
        { le: 0.001, count: 990 },
        { le: 10, count: 999 },
        { le: Infinity, count: 1000 },
      ],
      sum: 0.123456789,
      count: 1000,
    },
    {
      labels: {},
      buckets: [{ le: 1, count: 1 }, { le: Infinity, count: 1 }],
      sum: 0.5,
      count: 1,
    },
  ]);
});

test("promlint flags badly named metrics", async () => {
  const parsed = await checkExposition(renderExposition([
    {
      name: "bus_queue_count_total",
      help: "A gauge named like a counter.",
      type: "gauge",
      samples: [{ value: 1 }],
    },
    {
      name: "bus_latency_milliseconds",
      help: "Latency in ms.",
      type: "gauge",
      samples: [{ value: 1.5 }],
    },
  ]));
  assert.deepEqual(parsed.lint, [
    {
      metric: "bus_latency_milliseconds",
      text: 'use base unit "seconds" instead of "milliseconds"',
    },
    {
      metric: "bus_queue_count_total",
      text: 'non-counter metrics should not have "_total" suffix',
    },
  ]);
});

test("the parser rejects malformed text with its message", async () => {
  await assert.rejects(
    () => checkExposition("bus_up one\n"),
    /promcheck rejected the exposition \(exit 1\): .*line 1: expected float as value, got "one"/,
  );
});

function family(overrides: Partial<MetricFamily>): MetricFamily {
  return {
    name: "bus_x",
    help: "x",
    type: "gauge",
    samples: [{ value: 1 }],
    ...overrides,
  } as MetricFamily;
}

Deno.test("invalid names, labels and counters are refused", () => {
  for (const name of ["", "1bus", "bus-x", "bus x", "bus.x", "büs"]) {
    assertThrowsWith(
      () => renderExposition([family({ name })]),
      TypeError,
      `Invalid metric name "${name}"`,
      "expected [a-zA-Z_:][a-zA-Z0-9_:]*",
    );
  }
  assertThrowsWith(
    () => renderExposition([family({ name: "bus_trades", type: "counter" })]),
    TypeError,
    'Invalid counter name "bus_trades"',
    'ending in "_total"',
  );
  for (const label of ["", "1a", "a-b", "__name__", "__x"]) {
    assertThrowsWith(
      () =>
        renderExposition([
          family({ samples: [{ labels: { [label]: "v" }, value: 1 }] }),
        ]),
      TypeError,
      `Invalid label name "${label}" of "bus_x"`,
    );
  }
  assertThrowsWith(
    () =>
      renderExposition([family({
        name: "bus_h",
        type: "histogram",
        samples: [{ labels: { le: "1" }, buckets: [], sum: 0, count: 0 }],
      })]),
    TypeError,
    'Invalid label name "le" of histogram "bus_h"',
  );
});

Deno.test("a family name used twice is refused, naming it", () => {
  assertThrowsWith(
    () => renderExposition([family({}), family({ name: "bus_y" }), family({})]),
    TypeError,
    'Duplicate metric family "bus_x" (families #0 and #2)',
  );
});

Deno.test("a label set repeated within a family is refused", () => {
  assertThrowsWith(
    () =>
      renderExposition([family({
        samples: [{ labels: { a: "1" }, value: 1 }, {
          labels: { a: "1" },
          value: 2,
        }],
      })]),
    TypeError,
    'Duplicate sample of "bus_x" with labels {a="1"}',
  );
});

Deno.test("malformed histogram buckets are refused", () => {
  const histogram = (
    buckets: { le: number; count: number }[],
    count: number,
  ) =>
  () =>
    renderExposition([family({
      name: "bus_h",
      type: "histogram",
      samples: [{ buckets, sum: 0, count }],
    })]);
  assertThrowsWith(
    histogram([{ le: Infinity, count: 1 }], 1),
    TypeError,
    "Invalid bucket le=Infinity",
    "the +Inf bucket is rendered from count",
  );
  assertThrowsWith(
    histogram([{ le: 1, count: 1 }, { le: 1, count: 1 }], 1),
    TypeError,
    "Invalid bucket le=1",
    "after le=1: expected ascending bounds",
  );
  assertThrowsWith(
    histogram([{ le: 1, count: 2 }, { le: 2, count: 1 }], 2),
    TypeError,
    "Invalid bucket count 1",
    "at le=2: expected cumulative counts (>= 2)",
  );
  assertThrowsWith(
    histogram([{ le: 1, count: -1 }], 0),
    TypeError,
    "Invalid bucket count -1",
  );
  assertThrowsWith(
    histogram([{ le: 1, count: 3 }], 2),
    TypeError,
    "Invalid count 2",
    "at least the last bucket's 3",
  );
});
