/**
 * Tethered ring readers against the lossy path, with the real entrypoints,
 * in one run with the variants interleaved round by round:
 *
 * - **lossy**: `serve --rate 0` → one spinning `live` on a ring of 8 Mi
 *   slots, as `bench/full_path.ts` measures it (the ring holds every trade);
 * - **tethered, ring ≥ trades**: the same with `live --delivery tethered`
 *   (`serve --wait-readers 1`): what registering and publishing the position
 *   costs while the producer never has to wait; serve waits for the
 *   reader, which then reads each slot just after the producer wrote it;
 * - **tethered, ring ≥ trades, no `--wait-readers`**: the same started as
 *   the lossy variant is (the reader attaches a few ms after the first
 *   write and trails behind): the like-for-like comparison with lossy;
 * - **tethered, default ring**: the same on a 65,536-slot ring, so the
 *   producer runs into the reader and waits for it over and over;
 * - **replay → tethered record**: a generated 1,000,000-row Binance CSV
 *   replayed with `serve --source replay --speed 0 --wait-readers 1` into
 *   one `live --delivery tethered --record` on a 65,536-slot ring; the
 *   recording is then checked against the source, trade by trade.
 *
 *   deno run --allow-read --allow-write --allow-run --allow-env bench/tethered.ts [--quick]
 *
 * Prints each round and the medians: serve's rate, live's rate (first to
 * last trade), the path (the lower of the two), losses, and for the replay
 * the end-to-end rate (from starting serve to live's exit, the recording
 * flushed). Targets (issue 15): a tethered reader started as the lossy one
 * is ≥ 70% of the lossy path with 0 lost; the replay with 0 lost and the
 * recording equal to the source.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { median, type RingRound, ringRound, spread } from "./_process.ts";
import {
  assertRecordingEqualsSource,
  writeTradeCsv,
} from "../tests/_trade_csv.ts";

/** Rows of the replayed file. */
const REPLAY_ROWS = 1_000_000;
/** Index of the replay variant, the last one. */
const REPLAY = 4;
/** Index of the tethered variant started as the lossy one is (no --wait-readers). */
const LIKE_FOR_LIKE = 2;
/** The default ring capacity. */
const DEFAULT_CAPACITY = 65_536;
/** The ring of bench/full_path.ts: larger than any run's trades. */
const LARGE_CAPACITY = 1 << 23;

/** One way to run a round, and its results so far. */
interface Variant {
  name: string;
  config: string;
  trades: number;
  serve: string[];
  live: string[];
  results: RingRound[];
}

const M = (rate: number) => `${(rate / 1e6).toFixed(2)} M/s`;
const K = (rate: number) => `${(rate / 1e3).toFixed(0)}k/s`;

/** Writes a one-symbol config of ring `capacity` under a prefix of its own; returns its path. */
async function writeConfig(
  dir: string,
  name: string,
  capacity: number,
): Promise<string> {
  const path = `${dir}/${name}.toml`;
  const prefix = `/mbteth${Deno.pid}${name}_`;
  await Deno.writeTextFile(
    path,
    `[data_manager]
symbols = ["BTCUSDT"]
[transport.ipc]
shm_path_prefix = "${prefix}"
capacity = ${capacity}
[data_source]
symbols = ["BTCUSDT"]
[data_source.ipc]
shm_path_prefix = "${prefix}"
[log]
progress_interval = "0"
`,
  );
  return path;
}

/** The path rate of a round: the lower of serve's and live's. */
function pathRate(round: RingRound): number {
  return Math.min(round.serveRate, round.liveRate);
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { quick: { type: "boolean" } },
  });
  const trades = values.quick ? 1_000_000 : 5_000_000;
  const rounds = values.quick ? 3 : 5;
  const dir = await Deno.makeTempDir({ prefix: "marketbus_tethered_" });
  try {
    const large = await writeConfig(dir, "large", LARGE_CAPACITY);
    const small = await writeConfig(dir, "small", DEFAULT_CAPACITY);
    const csv = `${dir}/BTCUSDT-trades-2024-01-01.csv`;
    await writeTradeCsv(csv, REPLAY_ROWS);
    const tethered = ["--delivery", "tethered"];
    const wait = ["--wait-readers", "1"];
    const variants: Variant[] = [
      {
        name: `lossy, ${LARGE_CAPACITY.toLocaleString("en-US")} slots`,
        config: large,
        trades,
        serve: ["--rate", "0"],
        live: [],
        results: [],
      },
      {
        name: `tethered, ${LARGE_CAPACITY.toLocaleString("en-US")} slots`,
        config: large,
        trades,
        serve: ["--rate", "0", ...wait],
        live: tethered,
        results: [],
      },
      {
        // As the lossy variant starts: serve does not wait, so the reader
        // attaches a few ms after the first write and trails behind rather
        // than reading each slot just after the producer wrote it.
        name: `tethered, ${
          LARGE_CAPACITY.toLocaleString("en-US")
        } slots, no --wait-readers`,
        config: large,
        trades,
        serve: ["--rate", "0"],
        live: tethered,
        results: [],
      },
      {
        name: `tethered, ${DEFAULT_CAPACITY.toLocaleString("en-US")} slots`,
        config: small,
        trades,
        serve: ["--rate", "0", ...wait],
        live: tethered,
        results: [],
      },
      {
        name: `replay --speed 0 → tethered --record, ${
          DEFAULT_CAPACITY.toLocaleString("en-US")
        } slots`,
        config: small,
        trades: REPLAY_ROWS,
        serve: ["--source", "replay", "--file", csv, "--speed", "0", ...wait],
        live: [...tethered, "--record", `${dir}/recording.ndjson`],
        results: [],
      },
    ];
    console.log(
      `tethered readers: serve → one live --wait spin, 1 symbol, ${
        trades.toLocaleString("en-US")
      } trades (the replay ${
        REPLAY_ROWS.toLocaleString("en-US")
      } CSV rows), ${rounds} rounds, variants interleaved`,
    );
    for (let i = 0; i < rounds; i++) {
      for (const variant of variants) {
        await Deno.remove(`${dir}/recording.ndjson`).catch(() => {});
        const result = await ringRound(variant.config, variant.trades, {
          serve: variant.serve,
          live: variant.live,
        });
        variant.results.push(result);
        let checked = "";
        if (variant.live.includes("--record")) {
          const compared = await assertRecordingEqualsSource(
            `${dir}/recording.ndjson`,
            csv,
          );
          checked = `, recording = source (${compared} trades)`;
        }
        console.log(
          `  round ${i + 1}, ${variant.name}: serve ${
            M(result.serveRate)
          }, live ${M(result.liveRate)}, path ${
            M(pathRate(result))
          }, end to end ${
            M(variant.trades / result.wallMs * 1000)
          }, received ${result.received}, lost ${result.lost}${checked}`,
        );
      }
    }
    report(variants);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The medians of each variant, and the ratios and targets. */
function report(variants: readonly Variant[]): void {
  console.log("medians (min – max):");
  const paths = variants.map((v) => v.results.map(pathRate));
  for (const [i, variant] of variants.entries()) {
    const { results } = variant;
    const format = i === REPLAY ? K : M;
    console.log(
      `  ${variant.name}: serve ${
        spread(results.map((r) => r.serveRate), format)
      }, live ${spread(results.map((r) => r.liveRate), format)}, path ${
        spread(paths[i], format)
      }, end to end ${
        spread(
          results.map((r) => variant.trades / r.wallMs * 1000),
          format,
        )
      }, lost ${results.reduce((t, r) => t + r.lost, 0)}`,
    );
  }
  const lossy = median(paths[0]);
  for (let i = 1; i < REPLAY; i++) {
    const ratio = median(paths[i]) / lossy;
    const lost = variants[i].results.reduce((t, r) => t + r.lost, 0);
    // The target compares the policies started alike (docs/benchmarks.md):
    // the variants with --wait-readers measure the reader's start as well.
    const target = i === LIKE_FOR_LIKE
      ? `; target ≥ 70% with 0 lost: ${
        ratio >= 0.7 && lost === 0 ? "met" : "NOT met"
      }`
      : "";
    console.log(
      `  ${variants[i].name} / lossy: ${
        (ratio * 100).toFixed(0)
      }%, lost ${lost}${target}`,
    );
  }
  const replayLost = variants[REPLAY].results.reduce((t, r) => t + r.lost, 0);
  console.log(
    `  replay → tethered --record: lost ${replayLost}, recording = source in every round; target 0 lost: ${
      replayLost === 0 ? "met" : "NOT met"
    }`,
  );
}
