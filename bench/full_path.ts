/**
 * The full path through `serve` and `live` (synthetic source, seq and clock
 * stamping, ring, validation, per-trade stats and latency), measured with the
 * real entrypoints: a spinning `live --summary-json` waits for the rings, then
 * `serve --rate 0 --max-trades N` publishes as fast as it can.
 *
 *   deno run --allow-read --allow-write --allow-run --allow-env bench/full_path.ts [--quick] [--baseline DIR]
 *
 * Prints, per round and as medians: serve's publish rate, live's delivery
 * rate (first to last trade) and losses. Compare with ring.ts's
 * producer → busy consumer figure (the bare ring). `--baseline DIR` runs
 * the roles of another checkout (e.g. `git worktree add DIR HEAD`) in
 * interleaved rounds too, for a before/after in one run.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { median, type RingRound, ringRound } from "./_process.ts";

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { quick: { type: "boolean" }, baseline: { type: "string" } },
  });
  const roots: Root[] = [{ name: "this checkout" }];
  if (values.baseline) {
    roots.push({ name: `baseline ${values.baseline}`, dir: values.baseline });
  }
  const trades = values.quick ? 1_000_000 : 5_000_000;
  const rounds = values.quick ? 3 : 5;
  const dir = await Deno.makeTempDir({ prefix: "marketbus_full_path_" });
  const prefix = `/mbfull${Deno.pid}_`;
  const config = `${dir}/full_path.toml`;
  await Deno.writeTextFile(
    config,
    `[data_manager]
symbols = ["BTCUSDT"]
[transport.ipc]
shm_path_prefix = "${prefix}"
capacity = ${1 << 23}
[data_source]
symbols = ["BTCUSDT"]
[data_source.ipc]
shm_path_prefix = "${prefix}"
[log]
progress_interval = "0"
`,
  );
  console.log(
    `full path: serve --rate 0 → live --wait spin, 1 symbol, ${
      trades.toLocaleString("en-US")
    } trades, ring of ${
      (1 << 23).toLocaleString("en-US")
    } slots, ${rounds} rounds`,
  );
  try {
    await scenario("live (counting, latency)", {
      config,
      trades,
      rounds,
      roots,
    });
    // The processing stage on top: 1s and 1m bars, written to a file.
    await scenario("live --bars-out (1s, 1m bars to a file)", {
      config,
      trades,
      rounds,
      roots,
      // --overwrite: every round writes the same file (refused by default).
      live: [
        "--bars",
        "1s,1m",
        "--bars-out",
        `${dir}/bars.ndjson`,
        "--overwrite",
      ],
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A checkout whose roles run: this one, or a baseline's directory. */
interface Root {
  /** How the rounds name it. */
  name: string;
  /** Its directory (absent: this checkout). */
  dir?: string;
}

/** Runs `rounds` rounds of one live variant per checkout, interleaved, and prints them and their medians. */
async function scenario(
  name: string,
  options: {
    config: string;
    trades: number;
    rounds: number;
    roots: Root[];
    live?: string[];
  },
): Promise<void> {
  console.log(name);
  const results = options.roots.map((): RingRound[] => []);
  for (let i = 0; i < options.rounds; i++) {
    // Alternate the order, so neither checkout always runs first.
    const order = options.roots.map((_, k) => k);
    if (i % 2 === 1) order.reverse();
    for (const k of order) {
      const result = await ringRound(options.config, options.trades, {
        serve: ["--rate", "0"],
        live: options.live,
        root: options.roots[k].dir,
      });
      results[k].push(result);
      const label = options.roots.length > 1 ? ` ${options.roots[k].name}` : "";
      console.log(
        `  round ${i + 1}${label}: serve ${
          (result.serveRate / 1e6).toFixed(2)
        } M/s, live ${(result.liveRate / 1e6).toFixed(2)} M/s, path ${
          (Math.min(result.serveRate, result.liveRate) / 1e6).toFixed(2)
        } M/s, received ${result.received}, lost ${result.lost}`,
      );
    }
  }
  for (const [k, root] of options.roots.entries()) {
    const label = options.roots.length > 1 ? ` ${root.name}` : "";
    console.log(`  median${label}: ${medians(results[k])}`);
  }
}

/** Medians, minimum and maximum of the rounds' rates, and their losses. */
function medians(results: RingRound[]): string {
  const serve = results.map((r) => r.serveRate / 1e6);
  const live = results.map((r) => r.liveRate / 1e6);
  const path = results.map((r) => Math.min(r.serveRate, r.liveRate) / 1e6);
  const figure = (values: number[]) =>
    `${median(values).toFixed(2)} M/s (min ${
      Math.min(...values).toFixed(2)
    }, max ${Math.max(...values).toFixed(2)})`;
  return `serve ${figure(serve)}, live ${figure(live)}, path ${
    figure(path)
  }, lost ${results.reduce((t, r) => t + r.lost, 0)}`;
}
