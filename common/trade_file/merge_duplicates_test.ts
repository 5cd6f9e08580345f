// The same trades under two names (a recording and its gzip, a copy) are
// merged once: the copy's trades are left out, counted, and told once per
// pair of files; rows repeated within one file are kept.

import assert from "node:assert/strict";
import { Side, type Trade } from "../wire/trade.ts";
import {
  TEMP_FILE_PERMISSIONS,
  testNeeding,
} from "../../tests/_permissions.ts";
import { gzipBytes } from "../../tests/_fuzz.ts";
import { formatNdjsonTrade, TradeFileMerger } from "./mod.ts";

const test = testNeeding(TEMP_FILE_PERMISSIONS);
const T0 = 1_704_067_200_000_000_000n; // 2024-01-01

/** A trade of `symbol` at T0 + `ms` ms, trade id `id`. */
function trade(symbol: string, ms: number, id: number): Trade {
  const tsEvent = T0 + BigInt(ms) * 1_000_000n;
  return {
    exchange: "binance",
    symbol,
    side: Side.Buy,
    flags: 0,
    seq: id,
    tsEvent,
    tsRecv: tsEvent,
    priceFixed: 100_000_000_000n,
    price: 100,
    size: 1,
    tradeId: BigInt(id),
  };
}

/** Merges `paths` (workers 0 and 2): trade ids in order, duplicates, pairs told. */
async function merge(paths: string[], workers: number) {
  const told: string[] = [];
  const merger = await TradeFileMerger.open(paths, {
    workers,
    // A repeated row is a bad row under the plausibility check; the
    // merge's own rule keeps it.
    plausibility: false,
    onDuplicate: (path, first) => told.push(`${first} ${path}`),
  });
  const ids: string[] = [];
  for await (const batch of merger) {
    const view = new DataView(batch.records.buffer, batch.records.byteOffset);
    for (let i = 0; i < batch.streams.length; i++) {
      ids.push(
        merger.streams[batch.streams[i]].symbol + ":" +
          view.getBigUint64(i * 48 + 40, true),
      );
    }
  }
  return { ids, duplicates: merger.duplicates, told };
}

test("a file and its gzip copy give each trade once, counted and told once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "marketbus_dup_" });
  try {
    // Two trades at the same time (ids 2 and 3), a repeated row within the
    // file (id 4 twice, kept), two symbols interleaved.
    const trades = [
      trade("BTCUSDT", 1, 1),
      trade("BTCUSDT", 2, 2),
      trade("BTCUSDT", 2, 3),
      trade("ETHUSDT", 2, 9),
      trade("BTCUSDT", 3, 4),
      trade("BTCUSDT", 3, 4),
      trade("BTCUSDT", 5, 5),
    ];
    const text = trades.map((t) => formatNdjsonTrade(t) + "\n").join("");
    await Deno.writeTextFile(`${dir}/base.ndjson`, text);
    await Deno.writeFile(
      `${dir}/base.ndjson.gz`,
      await gzipBytes(new TextEncoder().encode(text)),
    );
    const once = trades.map((t) => `${t.symbol}:${t.tradeId}`);
    for (const workers of [0, 2]) {
      const result = await merge([dir], workers);
      assert.deepEqual(result.ids, once, `workers ${workers}`);
      assert.equal(result.duplicates, trades.length);
      assert.deepEqual(result.told, [
        `${dir}/base.ndjson ${dir}/base.ndjson.gz`,
      ]);
    }
    // One file alone: nothing left out, the repeated row kept.
    const alone = await merge([`${dir}/base.ndjson`], 0);
    assert.deepEqual(alone.ids, once);
    assert.equal(alone.duplicates, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
