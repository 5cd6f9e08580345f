/**
 * Runs promcheck (tools/promcheck: the real Prometheus text parser and
 * promlint, built by `deno task promcheck:install`) on exposition text, so
 * tests check metrics with a parser rather than substrings.
 *
 * Permissions: `--allow-run`, `--allow-read` (locating the binary),
 * `--allow-env=PROMCHECK_BIN`.
 *
 * @module
 */

import { join } from "node:path";
import { PROJECT_ROOT } from "./nats_server.ts";

/** One cumulative bucket of a parsed histogram. */
export interface ParsedBucket {
  /** Upper bound; `Infinity` for the `+Inf` bucket. */
  le: number;
  /** Cumulative count. */
  count: number;
}

/** One parsed sample: `value` for counters and gauges, the rest for histograms. */
export interface ParsedMetric {
  /** Labels (without `le`). */
  labels: Record<string, string>;
  /** Value of a counter, gauge or untyped sample. */
  value?: number;
  /** Buckets of a histogram, as parsed (ending with `+Inf`). */
  buckets?: ParsedBucket[];
  /** `_sum` of a histogram. */
  sum?: number;
  /** `_count` of a histogram. */
  count?: number;
}

/** One parsed metric family. */
export interface ParsedFamily {
  /** Type as the parser names it. */
  type: "COUNTER" | "GAUGE" | "HISTOGRAM" | "UNTYPED";
  /** Help text, unescaped. */
  help: string;
  /** Its samples in text order. */
  metrics: ParsedMetric[];
}

/** A promlint finding. */
export interface LintProblem {
  /** Metric family name. */
  metric: string;
  /** What is wrong. */
  text: string;
}

/** The parsed exposition and its lint findings. */
export interface ParsedExposition {
  /** Families by name (a counter's name includes `_total`). */
  families: Record<string, ParsedFamily>;
  /** promlint findings, sorted by metric and text. */
  lint: LintProblem[];
}

/** Path of the promcheck binary: `PROMCHECK_BIN`, else `.tools/bin/promcheck`. */
export function promcheckPath(): string {
  return Deno.env.get("PROMCHECK_BIN") ??
    join(PROJECT_ROOT, ".tools", "bin", "promcheck");
}

/**
 * Parses and lints `text` with promcheck.
 *
 * @throws {Error} with the parser's message when `text` does not parse, or
 * when the binary is missing (saying how to install it).
 */
export async function checkExposition(text: string): Promise<ParsedExposition> {
  const bin = promcheckPath();
  try {
    await Deno.stat(bin);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new Error(
      `promcheck not found at ${bin}: run \`deno task promcheck:install\` (or set PROMCHECK_BIN)`,
    );
  }
  const child = new Deno.Command(bin, {
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const output = await child.output();
  const decoder = new TextDecoder();
  if (output.code !== 0) {
    throw new Error(
      `promcheck rejected the exposition (exit ${output.code}): ${
        decoder.decode(output.stderr).trim()
      }`,
    );
  }
  const parsed: ParsedExposition = JSON.parse(decoder.decode(output.stdout));
  for (const family of Object.values(parsed.families)) {
    for (const metric of family.metrics) {
      if (metric.value !== undefined) metric.value = toNumber(metric.value);
      if (metric.sum !== undefined) metric.sum = toNumber(metric.sum);
      if (metric.count !== undefined) metric.count = toNumber(metric.count);
      for (const bucket of metric.buckets ?? []) {
        bucket.le = toNumber(bucket.le);
        bucket.count = toNumber(bucket.count);
      }
    }
  }
  return parsed;
}

/** promcheck writes `+Inf`, `-Inf` and `NaN` as strings: JSON has no such numbers. */
function toNumber(value: number | string): number {
  return typeof value === "number"
    ? value
    : Number(value.replace("Inf", "Infinity"));
}
