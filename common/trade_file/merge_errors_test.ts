// The merger's errors and reports, the same in this thread and with
// workers: a read error names the line reached, an error crossing from a
// worker keeps its class, and bad rows are told in merge order whatever the
// workers' timing, so that logs and reports are reproducible.

import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import {
  TEMP_FILE_PERMISSIONS,
  testNeeding,
} from "../../tests/_permissions.ts";
import { deserializeError, serializeError } from "./_merge_protocol.ts";
import {
  CSV_HEADER,
  TradeFileMerger,
  TradeFileReadError,
  TradeFileRowError,
} from "./mod.ts";

const test = testNeeding(TEMP_FILE_PERMISSIONS);

/** CSV rows `first`..`first + count - 1`, every `badEvery`-th with a bad price. */
function csvRows(first: number, count: number, badEvery = 0): string {
  const lines = [CSV_HEADER];
  for (let i = first; i < first + count; i++) {
    const price = badEvery > 0 && i % badEvery === 0 ? "x" : "100.5";
    lines.push(`${i},${price},2,201,${1704067200000 + i},True,True`);
  }
  return lines.join("\n") + "\n";
}

/** Merges `paths` whole with `options`; the trades read, and the error if one stopped it. */
async function merge(
  paths: string[],
  options: Parameters<typeof TradeFileMerger.open>[1],
): Promise<[number, unknown]> {
  let count = 0;
  let merger: TradeFileMerger | undefined;
  try {
    merger = await TradeFileMerger.open(paths, options);
    for await (const batch of merger) count += batch.streams.length;
    return [count, undefined];
  } catch (error) {
    return [count, error];
  } finally {
    await merger?.close();
  }
}

test("merge: a truncated gzip's read error names the line reached, not a chunk before", async () => {
  const dir = await Deno.makeTempDir({ prefix: "marketbus_merge_errors_" });
  try {
    const gz = gzipSync(csvRows(1, 300_000));
    const path = `${dir}/BTCUSDT-trades-2024-01-01.csv.gz`;
    await Deno.writeFile(path, gz.subarray(0, gz.length - 1000));
    for (const workers of [0, 1]) {
      const [count, error] = await merge([path], { workers });
      assert.ok(error instanceof TradeFileReadError, String(error));
      assert.ok(count > 250_000, `${count}`);
      // The header is line 1: trade n is line n + 1.
      assert.ok(
        error.line !== undefined && error.line >= count + 1,
        `${error.message}, after ${count} trades (workers ${workers})`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("merge: errors cross from a worker with their class (TypeError, RangeError, TradeFile*)", () => {
  for (
    const error of [
      new TypeError("Invalid x"),
      new RangeError("Invalid y"),
      new TradeFileRowError("a.csv", 3, "bad price"),
      new TradeFileReadError("a.csv", "no such file", { line: 7 }),
    ]
  ) {
    const crossed = deserializeError(serializeError(error));
    assert.equal(crossed.constructor, error.constructor);
    assert.equal(crossed.message, error.message);
  }
  const row = deserializeError(
    serializeError(new TradeFileRowError("a.csv", 3, "bad price")),
  ) as TradeFileRowError;
  assert.deepEqual([row.path, row.line, row.reason], ["a.csv", 3, "bad price"]);
});

test("merge: bad rows are told in the same order run after run with workers, and as in this thread", async () => {
  const dir = await Deno.makeTempDir({ prefix: "marketbus_merge_errors_" });
  try {
    const paths = ["AAA", "BBB", "CCC"].map((symbol) =>
      `${dir}/${symbol}USDT-trades-2024-01-01.csv`
    );
    for (const path of paths) {
      await Deno.writeTextFile(path, csvRows(1, 60_000, 5000));
    }
    const order = async (workers: number): Promise<string> => {
      const told: string[] = [];
      const [count, error] = await merge(paths, {
        workers,
        onError: "skip",
        onBadRow: (path, line) =>
          told.push(`${path.slice(dir.length + 1, dir.length + 2)}${line}`),
      });
      assert.equal(error, undefined);
      assert.equal(count, 3 * (60_000 - 12));
      return told.join(" ");
    };
    const runs = [await order(2), await order(2), await order(2)];
    assert.equal(runs[0].split(" ").length, 36);
    assert.equal(runs[1], runs[0]);
    assert.equal(runs[2], runs[0]);
    assert.equal(await order(3), runs[0]);
    assert.equal(await order(0), runs[0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
