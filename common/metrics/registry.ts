/**
 * A metrics registry that collects at scrape time: each registered collector
 * turns counters the hot paths already keep into metric families, so nothing
 * is recorded per trade. Helpers build counter, gauge, latency (from a
 * {@linkcode LatencyHistogram}) and build-info families.
 *
 * @module
 */

import meta from "../../deno.json" with { type: "json" };
import type { LatencyHistogram } from "./latency_histogram.ts";
import {
  type HistogramFamily,
  type Labels,
  type MetricFamily,
  renderExposition,
  type Sample,
  type ScalarFamily,
} from "./exposition.ts";

/** Returns the current metric families; called on every scrape. */
export type Collector = () => readonly MetricFamily[];

/** Name and help text of a metric. */
export interface MetricInfo {
  /** Metric name, e.g. `marketbus_trades_total`. */
  name: string;
  /** Help text. */
  help: string;
}

/** One labelled latency histogram of {@linkcode latencyFamily}. */
export interface LatencyRow {
  /** Labels of the histogram; none by default. */
  labels?: Labels;
  /** Latencies in ns. */
  histogram: LatencyHistogram;
}

/** Options of {@linkcode latencyFamily}. */
export interface LatencyFamilyOptions {
  /** Bucket bounds in seconds, ascending; default {@linkcode DEFAULT_LATENCY_BUCKETS_SECONDS}. */
  bucketsSeconds?: readonly number[];
}

/** Latency buckets from 100 ns to 10 s, 1-2.5-5 per decade, in seconds. */
// deno-fmt-ignore
export const DEFAULT_LATENCY_BUCKETS_SECONDS: readonly number[] = [
  1e-7, 2.5e-7, 5e-7,
  1e-6, 2.5e-6, 5e-6,
  1e-5, 2.5e-5, 5e-5,
  1e-4, 2.5e-4, 5e-4,
  1e-3, 2.5e-3, 5e-3,
  1e-2, 2.5e-2, 5e-2,
  0.1, 0.25, 0.5,
  1, 2.5, 5, 10,
];

/** Collectors of metric families, rendered together on each scrape. */
export class MetricsRegistry {
  #collectors: Collector[] = [];

  /** Adds `collect`; its families are rendered after those of earlier collectors. */
  register(collect: Collector): void {
    this.#collectors.push(collect);
  }

  /**
   * Calls every collector and renders their families as Prometheus text.
   *
   * @throws whatever a collector throws; {@linkcode TypeError} as
   * {@linkcode renderExposition} does.
   */
  render(): string {
    return renderExposition(this.#collectors.flatMap((collect) => collect()));
  }
}

/** A counter family (`info.name` must end in `_total`); a number is one unlabelled sample. */
export function counter(
  info: MetricInfo,
  samples: number | readonly Sample[],
): ScalarFamily {
  return { ...info, type: "counter", samples: samplesOf(samples) };
}

/** A gauge family; a number is one unlabelled sample. */
export function gauge(
  info: MetricInfo,
  samples: number | readonly Sample[],
): ScalarFamily {
  return { ...info, type: "gauge", samples: samplesOf(samples) };
}

function samplesOf(samples: number | readonly Sample[]): readonly Sample[] {
  return typeof samples === "number" ? [{ value: samples }] : samples;
}

/**
 * A histogram family in seconds from latency histograms in ns. Bucket counts
 * come from {@linkcode LatencyHistogram.countAtOrBelow} (within ~3 %, never
 * over-counting); `_sum` and `_count` are exact.
 *
 * @throws {TypeError} when `info.name` does not end in `_seconds`.
 * @throws {RangeError} when the bounds are not positive, finite and ascending.
 */
export function latencyFamily(
  info: MetricInfo,
  rows: readonly LatencyRow[],
  options: LatencyFamilyOptions = {},
): HistogramFamily {
  if (!info.name.endsWith("_seconds")) {
    throw new TypeError(
      `Invalid latency metric name "${info.name}": expected a name ending in "_seconds"`,
    );
  }
  const bounds = options.bucketsSeconds ?? DEFAULT_LATENCY_BUCKETS_SECONDS;
  bounds.forEach((le, i) => {
    if (!(Number.isFinite(le) && le > 0 && (i === 0 || le > bounds[i - 1]))) {
      throw new RangeError(
        `Invalid latency bucket ${le} at index ${i} of "${info.name}": expected positive, finite, ascending seconds`,
      );
    }
  });
  return {
    ...info,
    type: "histogram",
    samples: rows.map(({ labels, histogram }) => ({
      labels,
      // Whole ns: 1e-7 * 1e9 is not exactly 100.
      buckets: bounds.map((le) => ({
        le,
        count: histogram.countAtOrBelow(Math.round(le * 1e9)),
      })),
      sum: histogram.sum / 1e9,
      count: histogram.count,
    })),
  };
}

/** `marketbus_build_info{role, version, deno, v8, typescript} 1`. */
export function buildInfo(role: string): ScalarFamily {
  return gauge({
    name: "marketbus_build_info",
    help:
      "Build of this process: marketbus version, role and runtime versions; always 1.",
  }, [{
    labels: {
      role,
      version: meta.version,
      deno: Deno.version.deno,
      v8: Deno.version.v8,
      typescript: Deno.version.typescript,
    },
    value: 1,
  }]);
}
