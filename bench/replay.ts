/**
 * Replay through IPC with the real entrypoints: writes a 1,000,000-row
 * Binance `trades` CSV (one symbol, realistic price/qty strings, consecutive
 * ids, increasing ms times) into a temp dir, starts a spinning
 * `live --max-trades 1000000 --summary-json`, then
 * `serve --source replay --file <csv> --speed 0 --max-trades 1000000`.
 *
 *   deno run --allow-read --allow-write --allow-run --allow-env bench/replay.ts [--rounds 3]
 *
 * Prints, per round and as median (min – max): serve's trades/s (from its
 * final "stopped after …" line, flush included) and live's received, lost
 * and rate (first to last trade). Target: serve ≥ 500k trades/s.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type RingRound, ringRound, spread } from "./_process.ts";
import { writeTradeCsv } from "../tests/_trade_csv.ts";

const TRADES = 1_000_000;
const SYMBOL = "BTCUSDT";
const CAPACITY = 2_097_152;

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { rounds: { type: "string", default: "3" } },
  });
  const rounds = Number(values.rounds);
  const dir = await Deno.makeTempDir({ prefix: "marketbus_replay_bench_" });
  const prefix = `/mbreplay${Deno.pid}_`;
  const config = `${dir}/replay.toml`;
  const csv = `${dir}/${SYMBOL}-trades-2024-01-01.csv`;
  const k = (rate: number) => `${(rate / 1e3).toFixed(0)}k/s`;
  try {
    await Deno.writeTextFile(
      config,
      `[data_manager]
symbols = ["${SYMBOL}"]
[transport.ipc]
shm_path_prefix = "${prefix}"
capacity = ${CAPACITY}
[data_source]
symbols = ["${SYMBOL}"]
[data_source.ipc]
shm_path_prefix = "${prefix}"
[log]
progress_interval = "0"
`,
    );
    await writeTradeCsv(csv, TRADES);
    console.log(
      `replay: serve --source replay --speed 0 → live --wait spin, ${
        TRADES.toLocaleString("en-US")
      }-row CSV (${
        ((await Deno.stat(csv)).size / 1e6).toFixed(0)
      } MB), ring of ${
        CAPACITY.toLocaleString("en-US")
      } slots, ${rounds} rounds`,
    );
    const results: RingRound[] = [];
    for (let i = 0; i < rounds; i++) {
      const result = await ringRound(config, TRADES, {
        serve: ["--source", "replay", "--file", csv, "--speed", "0"],
      });
      results.push(result);
      console.log(
        `  round ${i + 1}: serve ${k(result.serveRate)}, live ${
          k(result.liveRate)
        }, received ${result.received}, lost ${result.lost}`,
      );
    }
    const serve = results.map((r) => r.serveRate);
    console.log(
      `serve ${spread(serve, k)}, live ${
        spread(results.map((r) => r.liveRate), k)
      }, received ${spread(results.map((r) => r.received), String)}, lost ${
        results.reduce((t, r) => t + r.lost, 0)
      }; target ≥ 500k/s: ${Math.min(...serve) >= 500_000 ? "met" : "NOT met"}`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
