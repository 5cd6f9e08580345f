/**
 * Cost of `LatencyHistogram.record`, the per-trade hot path of latency
 * tracking: exact-range values, log-linear values and a realistic mix.
 * `deno bench common/metrics/latency_histogram_bench.ts`.
 *
 * @module
 */

import { LatencyHistogram } from "./latency_histogram.ts";

const SAMPLES = 1024; // a power of two: index with a mask
const mixed = new Float64Array(SAMPLES);
for (let i = 0; i < SAMPLES; i++) {
  // 20 ns to ~20 ms, log-uniform, deterministic.
  mixed[i] = Math.floor(20 * 2 ** ((i * 0.6180339887) % 1 * 20));
}
const histogram = new LatencyHistogram();
let i = 0;

Deno.bench("record: small values (exact range)", { group: "record" }, () => {
  histogram.record(i++ & 63);
});

Deno.bench("record: 2-80 µs", { group: "record", baseline: true }, () => {
  histogram.record(2_000 + (i++ & 0xffff));
});

Deno.bench("record: 20 ns-20 ms mix", { group: "record" }, () => {
  histogram.record(mixed[i++ & (SAMPLES - 1)]);
});
