/**
 * Metric families and their rendering in the Prometheus text exposition
 * format, version 0.0.4: `# HELP` and `# TYPE` lines, escaped label values,
 * Prometheus number spelling, classic histograms with cumulative buckets.
 * Everything is validated at render time, so a bad collector fails the scrape
 * with a message naming the metric instead of serving unparsable text.
 *
 * @module
 */

/** Kind of a metric family. */
export type MetricType = "counter" | "gauge" | "histogram";

/** Label names to values of one sample. */
export type Labels = Record<string, string>;

/** One value of a counter or gauge. */
export interface Sample {
  /** Labels of the sample; none by default. */
  labels?: Labels;
  /** The value. */
  value: number;
}

/** One cumulative bucket of a histogram sample. */
export interface HistogramBucket {
  /** Upper bound (inclusive), finite: the `le="+Inf"` bucket is rendered from `count`. */
  le: number;
  /** Observations at or below `le`. */
  count: number;
}

/** One histogram of a histogram family. */
export interface HistogramSample {
  /** Labels of the histogram (never `le`); none by default. */
  labels?: Labels;
  /** Cumulative buckets by ascending `le`. */
  buckets: readonly HistogramBucket[];
  /** Sum of the observations. */
  sum: number;
  /** Number of observations. */
  count: number;
}

/** A counter (name ending in `_total`) or gauge family. */
export interface ScalarFamily {
  /** Metric name. */
  name: string;
  /** Help text (any characters). */
  help: string;
  /** `"counter"` or `"gauge"`. */
  type: "counter" | "gauge";
  /** Its samples, each with a distinct label set. */
  samples: readonly Sample[];
}

/** A histogram family. */
export interface HistogramFamily {
  /** Metric name (the base of `_bucket`, `_sum` and `_count`). */
  name: string;
  /** Help text (any characters). */
  help: string;
  /** `"histogram"`. */
  type: "histogram";
  /** Its histograms, each with a distinct label set. */
  samples: readonly HistogramSample[];
}

/** A named metric with its help, type and samples: one HELP/TYPE block. */
export type MetricFamily = ScalarFamily | HistogramFamily;

/** Media type of {@linkcode renderExposition}'s output. */
export const EXPOSITION_CONTENT_TYPE =
  "text/plain; version=0.0.4; charset=utf-8";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Renders `families` in registration order as Prometheus text format 0.0.4.
 *
 * @throws {TypeError} on an invalid metric or label name, a counter not named
 * `*_total`, a family name used twice, a label set repeated within a family,
 * or histogram buckets that are not ascending, finite and cumulative.
 */
export function renderExposition(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  const seen = new Map<string, number>();
  families.forEach((family, index) => {
    const first = seen.get(family.name);
    if (first !== undefined) {
      throw new TypeError(
        `Duplicate metric family "${family.name}" (families #${first} and #${index}): expected each name from one collector only`,
      );
    }
    seen.set(family.name, index);
    renderFamily(family, lines);
  });
  lines.push("");
  return lines.join("\n");
}

/** The Prometheus spelling of `value`: `+Inf`, `-Inf`, `NaN`, else the shortest round-trip form. */
export function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value); // "NaN", integers plainly, floats round-trip
}

function renderFamily(family: MetricFamily, lines: string[]): void {
  const { name, type } = family;
  if (!METRIC_NAME.test(name)) {
    throw new TypeError(
      `Invalid metric name "${name}": expected [a-zA-Z_:][a-zA-Z0-9_:]*`,
    );
  }
  if (type === "counter" && !name.endsWith("_total")) {
    throw new TypeError(
      `Invalid counter name "${name}": expected a name ending in "_total"`,
    );
  }
  lines.push(
    `# HELP ${name} ${escapeHelp(family.help)}`,
    `# TYPE ${name} ${type}`,
  );
  const labelSets = new Set<string>();
  for (const sample of family.samples) {
    const labels = renderLabels(name, sample.labels, type === "histogram");
    if (labelSets.has(labels)) {
      throw new TypeError(
        `Duplicate sample of "${name}" with labels {${labels}}: expected distinct label sets`,
      );
    }
    labelSets.add(labels);
    if (type === "histogram") {
      renderHistogram(name, labels, sample as HistogramSample, lines);
    } else {
      lines.push(
        `${name}${braced(labels)} ${formatValue((sample as Sample).value)}`,
      );
    }
  }
}

function renderHistogram(
  name: string,
  labels: string,
  sample: HistogramSample,
  lines: string[],
): void {
  const prefix = labels === "" ? "" : `${labels},`;
  let previous: HistogramBucket | undefined;
  for (const bucket of sample.buckets) {
    if (!Number.isFinite(bucket.le)) {
      throw new TypeError(
        `Invalid bucket le=${bucket.le} of "${name}"{${labels}}: expected a finite bound (the +Inf bucket is rendered from count)`,
      );
    }
    if (previous !== undefined && !(bucket.le > previous.le)) {
      throw new TypeError(
        `Invalid bucket le=${bucket.le} of "${name}"{${labels}} after le=${previous.le}: expected ascending bounds`,
      );
    }
    if (!(bucket.count >= (previous?.count ?? 0))) {
      throw new TypeError(
        `Invalid bucket count ${bucket.count} of "${name}"{${labels}} at le=${bucket.le}: expected cumulative counts (>= ${
          previous?.count ?? 0
        })`,
      );
    }
    lines.push(
      `${name}_bucket{${prefix}le="${formatValue(bucket.le)}"} ${
        formatValue(bucket.count)
      }`,
    );
    previous = bucket;
  }
  if (!(sample.count >= (previous?.count ?? 0))) {
    throw new TypeError(
      `Invalid count ${sample.count} of "${name}"{${labels}}: expected at least the last bucket's ${previous?.count}`,
    );
  }
  const count = formatValue(sample.count);
  lines.push(
    `${name}_bucket{${prefix}le="+Inf"} ${count}`,
    `${name}_sum${braced(labels)} ${formatValue(sample.sum)}`,
    `${name}_count${braced(labels)} ${count}`,
  );
}

/** `name="value",...` of `labels` (no braces), validated. */
function renderLabels(
  metric: string,
  labels: Labels | undefined,
  histogram: boolean,
): string {
  if (labels === undefined) return "";
  const parts: string[] = [];
  for (const [label, value] of Object.entries(labels)) {
    if (!LABEL_NAME.test(label) || label.startsWith("__")) {
      throw new TypeError(
        `Invalid label name "${label}" of "${metric}": expected [a-zA-Z_][a-zA-Z0-9_]* not starting with "__"`,
      );
    }
    if (histogram && label === "le") {
      throw new TypeError(
        `Invalid label name "le" of histogram "${metric}": expected a name other than "le" (reserved for buckets)`,
      );
    }
    parts.push(`${label}="${escapeLabelValue(value)}"`);
  }
  return parts.join(",");
}

function braced(labels: string): string {
  return labels === "" ? "" : `{${labels}}`;
}

function escapeHelp(help: string): string {
  return help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

function escapeLabelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll(
    "\n",
    "\\n",
  );
}
