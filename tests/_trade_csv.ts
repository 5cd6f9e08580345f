/**
 * A generated Binance `trades` CSV (no header, one symbol, realistic price
 * and quantity strings, consecutive trade ids, non-decreasing ms times), for
 * the replay benchmarks and the replay-through-the-ring tests, and the check
 * that a `live --record` of its replay holds exactly its trades.
 *
 * @module
 */

import assert from "node:assert/strict";
import { readTradeBatches } from "../common/trade_file/mod.ts";
import type { ReplayRow } from "../common/trade_file/mod.ts";
import { TradeFlags } from "../common/wire/trade.ts";

/** The first trade id of {@linkcode writeTradeCsv}'s rows. */
export const FIRST_TRADE_ID = 3355546431;

/** Writes `rows` trades of a plausible BTCUSDT day to `path`, without a header. */
export async function writeTradeCsv(path: string, rows: number): Promise<void> {
  using file = await Deno.open(path, {
    write: true,
    create: true,
    truncate: true,
  });
  const encoder = new TextEncoder();
  let cents = 4_228_358; // 42283.58
  let time = 1704067200000;
  let seed = 12345;
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
  let chunk: string[] = [];
  for (let i = 0; i < rows; i++) {
    cents += Math.round((random() - 0.5) * 4);
    time += Math.floor(random() * 3);
    const qtyUnits = 1 + Math.floor(random() * random() * 5_000_000); // 1e-8 BTC
    const price = `${Math.floor(cents / 100)}.${
      String(cents % 100).padStart(2, "0")
    }000000`;
    const qty = `${Math.floor(qtyUnits / 1e8)}.${
      String(qtyUnits % 1e8).padStart(8, "0")
    }`;
    const quote = (cents / 100 * qtyUnits / 1e8).toFixed(8);
    const maker = random() < 0.5 ? "True" : "False";
    chunk.push(
      `${FIRST_TRADE_ID + i},${price},${qty},${quote},${time},${maker},True`,
    );
    if (chunk.length === 50_000) {
      await file.write(encoder.encode(chunk.join("\n") + "\n"));
      chunk = [];
    }
  }
  if (chunk.length) await file.write(encoder.encode(chunk.join("\n") + "\n"));
}

/**
 * Asserts that NDJSON `recording` (of `live --record`, behind a replay of
 * Binance CSV `source`) holds every trade of `source`, in order, with seq
 * 1, 2, … and the replayed flag; returns the trades compared.
 */
export async function assertRecordingEqualsSource(
  recording: string,
  source: string,
): Promise<number> {
  const recorded = readTradeBatches(recording, { format: "ndjson" });
  let batch: ReplayRow[] = [];
  let at = 0;
  let count = 0;
  const next = async (): Promise<ReplayRow | undefined> => {
    while (at >= batch.length) {
      const step = await recorded.next();
      if (step.done) return undefined;
      batch = step.value;
      at = 0;
    }
    return batch[at++];
  };
  for await (
    const rows of readTradeBatches(source, { format: "binance-csv" })
  ) {
    for (const want of rows) {
      const got = await next();
      assert.ok(got, `the recording ends after ${count} trades`);
      count++;
      if (
        got.symbol !== want.symbol || got.exchange !== want.exchange ||
        got.tradeId !== want.tradeId || got.priceFixed !== want.priceFixed ||
        got.size !== want.size || got.side !== want.side ||
        got.tsEvent !== want.tsEvent || got.seq !== count ||
        (got.flags & TradeFlags.Replayed) === 0
      ) {
        const show = (v: unknown) =>
          JSON.stringify(v, (_, x) => typeof x === "bigint" ? `${x}` : x);
        assert.fail(
          `trade ${count}: recorded (line ${got.line}) ${
            show(got)
          }, source (line ${want.line}) ${show(want)}`,
        );
      }
    }
  }
  assert.equal(await next(), undefined, `the recording has more than ${count}`);
  return count;
}
