// A `to` bound stops reading a file once it is past it, when the file is
// known to be sorted (a Binance CSV checked for plausibility, where a trade
// before the previous one is a bad row); any other file is read whole.

import assert from "node:assert/strict";
import {
  TEMP_FILE_PERMISSIONS,
  testNeeding,
} from "../../tests/_permissions.ts";
import {
  CSV_HEADER,
  type MergeTradeFilesOptions,
  TradeFileMerger,
} from "./mod.ts";

const test = testNeeding(TEMP_FILE_PERMISSIONS);
const T0_MS = 1704067200000;
const ROWS = 300_000;

/** Merges `path` with `options`: trades kept and the bytes read of the total. */
async function merge(
  path: string,
  options: MergeTradeFilesOptions,
): Promise<{ trades: number; read: number; total: number }> {
  let read = 0;
  let trades = 0;
  const merger = await TradeFileMerger.open([path], {
    ...options,
    onProgress: (bytes) => read = bytes,
  });
  try {
    for await (const batch of merger) trades += batch.streams.length;
  } finally {
    await merger.close();
  }
  return { trades, read, total: merger.totalBytes };
}

test("merge: a sorted CSV is read up to `to` only; unchecked or NDJSON files are read whole", async () => {
  const dir = await Deno.makeTempDir({ prefix: "marketbus_merge_range_" });
  try {
    const lines = [CSV_HEADER];
    for (let i = 0; i < ROWS; i++) {
      lines.push(`${i + 1},100.5,2,201,${T0_MS + i},True,True`);
    }
    const csv = `${dir}/BTCUSDT-trades-2024-01-01.csv`;
    await Deno.writeTextFile(csv, lines.join("\n") + "\n");
    const to = BigInt(T0_MS + 1000) * 1_000_000n;
    for (const workers of [0, 1]) {
      const sorted = await merge(csv, { to, workers });
      assert.equal(sorted.trades, 1000);
      assert.ok(sorted.read < sorted.total / 4, JSON.stringify(sorted));
      const unchecked = await merge(csv, { to, workers, plausibility: false });
      assert.equal(unchecked.trades, 1000);
      assert.equal(unchecked.read, unchecked.total);
    }
    const ndjson = `${dir}/recording.ndjson`;
    await Deno.writeTextFile(
      ndjson,
      lines.slice(1, 100_001).map((row, i) => {
        const ns = `${row.split(",")[4]}000000`;
        return `{"exchange":"binance","symbol":"BTCUSDT","seq":${i},"tsEvent":"${ns}","tsRecv":"${ns}","price":"100.5","size":"2","side":"buy","flags":0,"tradeId":"${
          i + 1
        }"}`;
      }).join("\n") + "\n",
    );
    const whole = await merge(ndjson, { to, workers: 0 });
    assert.equal(whole.trades, 1000);
    assert.equal(whole.read, whole.total);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
