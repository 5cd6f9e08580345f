/**
 * Merge rate of trade files, the read path of a backtest: a seeded
 * 1,000,000-trade, 3-symbol recording (tests/_recording.ts) as 3 Binance
 * CSVs with ms times, as 3 with µs times (Binance's since 2025) and as one
 * NDJSON file, written to a temporary directory, merged
 * whole per iteration by {@linkcode TradeFileMerger}, parsed in this thread
 * or in a worker. Rows per second = 1,000,000 / the time per iteration.
 * `deno bench --allow-read --allow-write common/trade_file/merge_bench.ts`
 * (without write permission the benchmarks are ignored).
 *
 * @module
 */

import { writeRecording } from "../../tests/_recording.ts";
import { TradeFileMerger } from "./mod.ts";

/** Trades in each recording. */
const TRADES = 1_000_000;
const canWrite =
  Deno.permissions.querySync({ name: "write" }).state === "granted";
const dir = canWrite ? Deno.makeTempDirSync() : "";
let written: Promise<void> | undefined;

/** Writes both recordings once. */
function writeFiles(): Promise<void> {
  written ??= (async () => {
    await Deno.mkdir(`${dir}/csv`);
    await Deno.mkdir(`${dir}/csv_us`);
    await Deno.mkdir(`${dir}/ndjson`);
    await writeRecording(`${dir}/csv`, { trades: TRADES, format: "csv" });
    await writeRecording(`${dir}/csv_us`, {
      trades: TRADES,
      format: "csv",
      csvTime: "us",
    });
    await writeRecording(`${dir}/ndjson`, { trades: TRADES, format: "ndjson" });
  })();
  return written;
}

/** Merges `path` whole; throws unless every trade came out. */
async function mergeAll(path: string, workers: number): Promise<void> {
  await writeFiles();
  const merger = await TradeFileMerger.open([path], { workers });
  let count = 0;
  try {
    for await (const batch of merger) count += batch.streams.length;
  } finally {
    await merger.close();
  }
  if (count !== TRADES) throw new Error(`merged ${count} of ${TRADES}`);
}

for (const workers of [0, 1]) {
  const where = workers === 0 ? "in this thread" : "in a worker";
  Deno.bench({
    name: `merge 3 Binance CSVs, 1,000,000 trades, parsed ${where}`,
    group: "3 CSVs",
    baseline: workers === 0,
    ignore: !canWrite,
    n: 5,
    warmup: 1,
    fn: async () => await mergeAll(`${dir}/csv`, workers),
  });
  Deno.bench({
    name:
      `merge 3 Binance CSVs with µs times, 1,000,000 trades, parsed ${where}`,
    group: "3 CSVs, µs",
    baseline: workers === 0,
    ignore: !canWrite,
    n: 5,
    warmup: 1,
    fn: async () => await mergeAll(`${dir}/csv_us`, workers),
  });
  Deno.bench({
    name: `merge one NDJSON recording, 1,000,000 trades, parsed ${where}`,
    group: "NDJSON",
    baseline: workers === 0,
    ignore: !canWrite,
    n: 5,
    warmup: 1,
    fn: async () => await mergeAll(`${dir}/ndjson`, workers),
  });
}

globalThis.addEventListener("unload", () => {
  if (canWrite) Deno.removeSync(dir, { recursive: true });
});
