/**
 * The samples of a Prometheus text exposition (0.0.4), read without the
 * promcheck binary: for tests and benches that only need figures from a
 * role's `/metrics` (tests/_metrics_scrape.ts `scrape` parses and lints
 * with the real Prometheus parser when the format itself is under test).
 *
 * @module
 */

/** One sample line: its metric name, labels (unescaped) and value. */
export interface Sample {
  /** Metric name, e.g. `marketbus_trades_received_total`. */
  name: string;
  /** Label values by name. */
  labels: Record<string, string>;
  /** The value (`+Inf`, `-Inf` and `NaN` included). */
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** A sample value or `le` bound as a number: `+Inf`/`-Inf` too. */
export function number(text: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  return Number(text);
}

/** The samples of exposition `text` (comments and blank lines skipped). */
export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    const found = LINE.exec(line);
    if (!found) continue;
    const [, name, labelText = "", value] = found;
    const labels: Record<string, string> = {};
    for (const [, key, raw] of labelText.matchAll(LABEL)) {
      labels[key] = raw.replace(
        /\\(.)/g,
        (_, c: string) => c === "n" ? "\n" : c,
      );
    }
    samples.push({ name, labels, value: number(value) });
  }
  return samples;
}

/** `GET http://127.0.0.1:PORT/metrics`, parsed by {@linkcode parseSamples}; throws unless 200. */
export async function fetchSamples(port: number): Promise<Sample[]> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await response.text();
  if (response.status !== 200) {
    throw new Error(`/metrics on ${port}: ${response.status} ${text}`);
  }
  return parseSamples(text);
}
