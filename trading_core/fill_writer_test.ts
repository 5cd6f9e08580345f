import assert from "node:assert/strict";
import { join } from "node:path";
import { type Fill, formatFillLine } from "./broker/mod.ts";
import { FillWriter } from "./fill_writer.ts";
import { RecordFileExistsError } from "./_line_file.ts";
import { TEMP_FILE_PERMISSIONS, testNeeding } from "../tests/_permissions.ts";

/** Tests that write files: skipped, saying why, without those permissions. */
const test = testNeeding(TEMP_FILE_PERMISSIONS);

function fill(i: number): Fill {
  return {
    orderId: String(i),
    exchange: "binance",
    symbol: "BTCUSDT",
    side: i % 2 === 0 ? "buy" : "sell",
    quantity: 0.1 + 0.2,
    price: 42_000 + i,
    fee: 0.5,
    liquidity: "taker",
    time: 1_704_067_200_000 + i,
    tsEvent: 1_704_067_200_000_000_000n + BigInt(i),
    tradeId: BigInt(i),
    position: i,
    realizedPnl: -i,
  };
}

test("FillWriter: one formatFillLine line per fill; appends only to a file of fills", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "fills.ndjson");
    const writer = await FillWriter.open(path);
    writer.write(fill(1));
    writer.write(fill(2));
    writer.close();
    assert.equal(writer.lines, 2);
    const again = await FillWriter.open(path, { onExisting: "append" });
    again.write(fill(3));
    again.close();
    assert.equal(
      await Deno.readTextFile(path),
      [1, 2, 3].map((i) => formatFillLine(fill(i)) + "\n").join(""),
    );
    await assert.rejects(
      () => FillWriter.open(path),
      (error: unknown) =>
        error instanceof RecordFileExistsError &&
        error.message.startsWith(`--fills-out ${path} exists`),
    );
    const bars = join(dir, "bars.ndjson");
    await Deno.writeTextFile(bars, '{"exchange":"binance","interval":"1s"}\n');
    await assert.rejects(
      () => FillWriter.open(bars, { onExisting: "append" }),
      (error: unknown) =>
        error instanceof RecordFileExistsError &&
        /--fills-out cannot append to .*: its first line is not a fill/.test(
          error.message,
        ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
