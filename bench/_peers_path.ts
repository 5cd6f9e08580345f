/**
 * The full-path part of bench/peers.ts (issue 16, goal 5): `serve --rate 0`
 * → `live --wait spin` on the shared-memory ring (bench/full_path.ts's
 * round, `ringRound` of bench/_process.ts: 1 symbol, a ring of 2^23 slots,
 * the path's rate = the lower of serve's and live's) against the C ring's
 * free-running throughput (bench/c/ring.c) measured in the same round, the
 * same number of trades on both sides, interleaved round by round. Goal:
 * ours ≥ 0.8× C.
 *
 * @module
 */

import { formatRate } from "../common/runtime/format.ts";
import { buildCRing } from "./_c_ring.ts";
import { ringRound } from "./_process.ts";
import { cThroughputRound } from "./_peers_ring.ts";
import { interleave, roundsAndLoad } from "./_peers_shared.ts";
import type { PeerRow, PeersRun } from "./peers.ts";

/** Slots of our ring: the run fits, as in bench/full_path.ts. */
const CAPACITY = 1 << 23;

/** Writes the run's config (a shm prefix of its own) into a new temp dir; returns its path. */
async function writeConfig(run: PeersRun): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "marketbus_peers_path_" });
  run.tempDirs.push(dir);
  const prefix = `/mbpeerspath${Deno.pid}_`;
  run.shmPrefixes.push(prefix);
  const config = `${dir}/full_path.toml`;
  await Deno.writeTextFile(
    config,
    `[data_manager]
symbols = ["BTCUSDT"]
[transport.ipc]
shm_path_prefix = "${prefix}"
capacity = ${CAPACITY}
[data_source]
symbols = ["BTCUSDT"]
[data_source.ipc]
shm_path_prefix = "${prefix}"
[log]
progress_interval = "0"
`,
  );
  return config;
}

/** The full-path row: ours vs the C ring, interleaved. */
export async function fullPathRows(run: PeersRun): Promise<PeerRow[]> {
  const binary = await buildCRing();
  const trades = run.quick ? 1_000_000 : 5_000_000;
  const config = await writeConfig(run);
  const row: PeerRow = {
    scenario: `full path \`serve --rate 0\` → \`live --wait spin\`, 1 symbol, ${
      trades / 1e6
    } M trades/round (C: free-running ring, same trades)`,
    unit: "trades/s",
    ours: [],
    peer: "C ring (bench/c/ring.c)",
    theirs: binary ? [] : undefined,
    goal: 0.8,
  };
  console.log(
    `\nfull path: serve --rate 0 → live --wait spin (ring of ${
      CAPACITY.toLocaleString("en-US")
    } slots) vs ${binary ? `C ${binary}` : "no C ring"}; ${roundsAndLoad(run)}`,
  );
  for (let i = 0; i < run.rounds; i++) {
    const shown = await interleave(i, [
      async () => {
        const r = await ringRound(config, trades, { serve: ["--rate", "0"] });
        const path = Math.min(r.serveRate, r.liveRate);
        row.ours.push(path);
        return `marketbus ${formatRate(path)} (serve ${
          formatRate(r.serveRate)
        }, live ${formatRate(r.liveRate)}${r.lost ? `, lost ${r.lost}` : ""})`;
      },
      async () => {
        if (!binary) return "C skipped";
        const { rate, shown } = await cThroughputRound(binary, trades);
        row.theirs!.push(rate);
        return shown;
      },
    ]);
    console.log(`  round ${i + 1}, full path: ${shown.join(", ")}`);
  }
  return [row];
}
