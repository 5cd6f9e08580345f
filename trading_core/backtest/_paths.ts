/**
 * The checks of a backtest's paths and filters before and after a run, each
 * as one line: an `--out` inside a `--data` directory, a recording given
 * twice, a run that matched no trade, an output directory that cannot be
 * made.
 *
 * @module
 */

import { relative, resolve } from "node:path";
import type { BacktestArgs } from "./cli.ts";

/** The filters of a run, for a message: `--data a --symbols X --from T`. */
export function describeFilters(args: BacktestArgs): string {
  const parts = args.data.map((path) => `--data ${path}`);
  if (args.symbols.length > 0) {
    parts.push(`--symbols ${args.symbols.join(",")}`);
  }
  if (args.exchange !== undefined) parts.push(`--exchange ${args.exchange}`);
  const iso = (ns: bigint) => new Date(Number(ns / 1_000_000n)).toISOString();
  if (args.from !== undefined) parts.push(`--from ${iso(args.from)}`);
  if (args.to !== undefined) parts.push(`--to ${iso(args.to)}`);
  return parts.join(" ");
}

/** The one-line refusal of an --out inside a --data directory (its results would be read next time), or undefined. */
export function outInsideData(args: BacktestArgs): string | undefined {
  const out = resolve(args.out);
  for (const data of args.data) {
    const inside = relative(resolve(data), out);
    if (!inside.startsWith("..") && !inside.startsWith("/")) {
      return `--out ${args.out} is inside --data ${data}: its fills.ndjson would be read as a recording next time; give an --out outside the recordings`;
    }
  }
  return undefined;
}

/** The one-line refusal of a file the --data arguments name twice (it would be read twice), or undefined. */
export async function givenTwice(
  files: readonly string[],
): Promise<string | undefined> {
  const seen = new Map<string, string>();
  for (const file of files) {
    const real = await Deno.realPath(file).catch(() => resolve(file));
    const first = seen.get(real);
    if (first !== undefined) {
      return `--data names ${first} twice (also as ${file}): each trade would be read twice; give each recording once`;
    }
    seen.set(real, file);
  }
  return undefined;
}

/** Makes `dir` (and its parents); the one-line reason it cannot, or undefined. */
export async function makeDirectory(dir: string): Promise<string | undefined> {
  try {
    await Deno.mkdir(dir, { recursive: true });
    return undefined;
  } catch (error) {
    return `Cannot write the results to ${dir}: ${
      error instanceof Deno.errors.NotCapable
        ? `run with --allow-write=${dir} (deno task backtest writes only under data/)`
        : error instanceof Error
        ? error.message
        : error
    }`;
  }
}
