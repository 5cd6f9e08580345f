// Parity with `serve --source replay`: a backtest (the merger) keeps and
// rejects the rows that replay's reader (readRowBatches with replay's
// options) keeps and rejects, with the same reasons, whether a row took the
// merger's fast path or its line parser, in this thread or in a worker; and
// a CSV's time unit is picked the same way (from its first plausible time).

import assert from "node:assert/strict";
import {
  TEMP_FILE_PERMISSIONS,
  testNeeding,
} from "../../tests/_permissions.ts";
import { readRowBatches, TradeFileMerger } from "./mod.ts";

const test = testNeeding(TEMP_FILE_PERMISSIONS);

/** The reviewer's dirty CSV: a price ×2.4 away (line 2, flagged, so line 3's id 2 follows id 1), a time in 1999 (4). */
const DIRTY_CSV = [
  "1,42000.5,0.001,42.0005,1704067200000,True,True",
  "2,99000.5,0.001,99.0005,1704067200001,True,True",
  "2,42000.5,0.001,42.0005,1704067200002,True,True",
  "4,42000.5,0.001,42.0005,946684799000,True,True",
];

/** The same trades as the project's NDJSON, canonical (fast path) or spaced (line parser). */
function ndjson(spaced: boolean): string[] {
  return DIRTY_CSV.map((row) => {
    const [id, price, size, , time] = row.split(",");
    const ns = `${time}000000`;
    const line =
      `{"exchange":"binance","symbol":"BTCUSDT","seq":${id},"tsEvent":"${ns}","tsRecv":"${ns}","price":"${price}","size":"${size}","side":"sell","flags":0,"tradeId":"${id}"}`;
    return spaced ? line.replaceAll(",", ", ") : line;
  });
}

/** Kept trades (line: time ns) and bad rows (line: reason), as replay's reader gives them. */
async function replayed(path: string): Promise<string[]> {
  const out: string[] = [];
  for await (
    const rows of readRowBatches(path, {
      onError: "skip",
      plausibility: true, // data_manager/replay/source.ts
      onBadRow: (line, reason) => out.push(`bad ${line}: ${reason}`),
    })
  ) {
    for (const row of rows) {
      if (row.type !== "gap") out.push(`trade ${row.tsEvent}`);
    }
  }
  return out;
}

/** The same through the merger (its default plausibility), by `workers` workers. */
async function merged(path: string, workers: number): Promise<string[]> {
  const out: string[] = [];
  const merger = await TradeFileMerger.open([path], {
    onError: "skip",
    workers,
    onBadRow: (_, line, reason) => out.push(`bad ${line}: ${reason}`),
  });
  try {
    for await (const batch of merger) {
      const view = new DataView(batch.records.buffer, batch.records.byteOffset);
      for (let i = 0; i < batch.streams.length; i++) {
        out.push(`trade ${view.getBigInt64(i * 48 + 8, true)}`);
      }
    }
  } finally {
    await merger.close();
  }
  return out;
}

for (
  const [name, file, lines] of [
    ["a CSV", "BTCUSDT-trades-2024-01-01.csv", DIRTY_CSV],
    [
      "a CSV whose first time is implausible",
      "BTCUSDT-trades-2024-01-02.csv",
      [DIRTY_CSV[3], ...DIRTY_CSV.slice(0, 3)],
    ],
    ["a canonical NDJSON (fast path)", "fast.ndjson", ndjson(false)],
    ["a spaced NDJSON (line parser)", "slow.ndjson", ndjson(true)],
  ] as const
) {
  test(`merge parity with replay: ${name} with implausible rows keeps and flags the same rows`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "marketbus_parity_" });
    try {
      const path = `${dir}/${file}`;
      await Deno.writeTextFile(path, lines.join("\n") + "\n");
      const expected = await replayed(path);
      assert.equal(expected.filter((x) => x.startsWith("bad")).length, 2);
      assert.deepEqual(await merged(path, 0), expected);
      assert.deepEqual(await merged(path, 1), expected);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
