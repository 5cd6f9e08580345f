/**
 * Parse rate of recorded trade files, the start of the replay path: a
 * 1,000,000-row Binance CSV (plain and gzipped) and the same trades as
 * NDJSON, written to a temporary directory, then read whole per iteration.
 * Rows per second = 1,000,000 / the time per iteration. The "as serve"
 * cases read as `serve --source replay` does: plausibility checks on, and a
 * gzipped file decompressed to its end once before its rows are read.
 * `deno bench --allow-read --allow-write common/trade_file/trade_file_bench.ts`
 * (without write permission the benchmarks are ignored).
 *
 * @module
 */

import { Side, type Trade } from "../wire/trade.ts";
import {
  formatNdjsonTrade,
  readTradeBatches,
  readTradeFile,
  type ReadTradeFileOptions,
} from "./trade_file.ts";

/** Rows in each generated file. */
const ROWS = 1_000_000;
const canWrite =
  Deno.permissions.querySync({ name: "write" }).state === "granted";
const dir = canWrite ? Deno.makeTempDirSync() : "";
const csvPath = `${dir}/BTCUSDT-trades-2024-01-01.csv`;
const gzipPath = `${csvPath}.gz`;
const ndjsonPath = `${dir}/capture.ndjson`;

/** Writes the three files: realistic prices (2 decimals), repeats of price and time. */
async function writeFiles(): Promise<void> {
  const csv: string[] = [
    "id,price,qty,quote_qty,time,is_buyer_maker,is_best_match",
  ];
  const ndjson: string[] = [];
  let cents = 4_228_358;
  let ms = 1_704_067_200_000;
  let state = 7;
  for (let i = 0; i < ROWS; i++) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    if ((state & 3) === 0) cents += ((state >>> 2) & 7) - 3;
    if ((state & 12) === 0) ms += (state >>> 4) & 15;
    const price = `${Math.floor(cents / 100)}.${
      String(cents % 100).padStart(2, "0")
    }000000`;
    const qty = `0.${String(1 + (state >>> 8) % 99_999).padStart(8, "0")}`;
    const maker = (state & 16) === 0;
    csv.push(
      `${3_355_546_431 + i},${price},${qty},${
        (Number(price) * Number(qty)).toFixed(8)
      },${ms},${maker ? "True" : "False"},True`,
    );
    if (ndjson.length < ROWS) {
      const trade: Trade = {
        exchange: "binance",
        symbol: "BTCUSDT",
        seq: i + 1,
        side: maker ? Side.Sell : Side.Buy,
        flags: 0,
        tsEvent: BigInt(ms) * 1_000_000n,
        tsRecv: BigInt(ms) * 1_000_000n + 1_500_000n,
        priceFixed: BigInt(cents) * 10_000_000n,
        price: cents / 100,
        size: Number(qty),
        tradeId: BigInt(3_355_546_431 + i),
      };
      ndjson.push(formatNdjsonTrade(trade));
    }
  }
  const text = csv.join("\n") + "\n";
  await Deno.writeTextFile(csvPath, text);
  await Deno.writeTextFile(ndjsonPath, ndjson.join("\n") + "\n");
  const gzipped = await new Response(
    new Blob([text]).stream().pipeThrough(new CompressionStream("gzip")),
  ).arrayBuffer();
  await Deno.writeFile(gzipPath, new Uint8Array(gzipped));
}

if (canWrite) {
  await writeFiles();
  globalThis.addEventListener("unload", () => {
    Deno.removeSync(dir, { recursive: true });
  });
}

let sink = 0;

async function countBatches(
  path: string,
  options: ReadTradeFileOptions = {},
): Promise<void> {
  let count = 0;
  for await (const rows of readTradeBatches(path, options)) {
    count += rows.length;
  }
  if (count !== ROWS) throw new Error(`Read ${count} rows, expected ${ROWS}`);
  sink += count;
}

async function countRows(path: string): Promise<void> {
  let count = 0;
  for await (const _ of readTradeFile(path)) count++;
  if (count !== ROWS) throw new Error(`Read ${count} rows, expected ${ROWS}`);
  sink += count;
}

const common = { ignore: !canWrite, n: 5, warmup: 1 };

Deno.bench({
  ...common,
  name: "readTradeBatches: 1,000,000-row Binance CSV",
  baseline: true,
  fn: async () => await countBatches(csvPath),
});

Deno.bench({
  ...common,
  name: "readTradeFile (per row): 1,000,000-row Binance CSV",
  fn: async () => await countRows(csvPath),
});

Deno.bench({
  ...common,
  name: "readTradeBatches: 1,000,000-row Binance CSV, gzipped",
  fn: async () => await countBatches(gzipPath),
});

Deno.bench({
  ...common,
  name: "readTradeBatches: 1,000,000-row NDJSON export",
  fn: async () => await countBatches(ndjsonPath),
});

// As serve reads: plausibility checks on; a gzip verified to its end first.
const asServe: ReadTradeFileOptions = {
  plausibility: true,
  exchange: "binance",
};

Deno.bench({
  ...common,
  name: "readTradeBatches, as serve (plausibility): 1,000,000-row Binance CSV",
  fn: async () => await countBatches(csvPath, asServe),
});

Deno.bench({
  ...common,
  name:
    "readTradeBatches, as serve (gzip verified first, plausibility): 1,000,000-row Binance CSV, gzipped",
  fn: async () => await countBatches(gzipPath, asServe),
});

Deno.bench({
  ...common,
  name:
    "readTradeBatches, as serve (plausibility): 1,000,000-row NDJSON export",
  fn: async () => await countBatches(ndjsonPath, asServe),
});

globalThis.addEventListener("unload", () => {
  if (Number.isNaN(sink)) console.log(sink);
});
