// The k-way merge of trade files: order with ties across files, files ending
// early or empty, from/to, filters, gap lines in place, bad rows in both
// modes, directories, a file going back in time, and bounded read-ahead.

import assert from "node:assert/strict";
import { RecordOffset } from "../wire/codec.ts";
import { Side, type Trade, TRADE_RECORD_SIZE } from "../wire/trade.ts";
import {
  TEMP_FILE_PERMISSIONS,
  testNeeding,
} from "../../tests/_permissions.ts";
import {
  CSV_HEADER,
  formatCsvTrade,
  formatNdjsonGap,
  formatNdjsonTrade,
  type MergeTradeFilesOptions,
  type RecordedGap,
  TradeFileMerger,
  TradeFileReadError,
  TradeFileRowError,
} from "./mod.ts";

const test = testNeeding(TEMP_FILE_PERMISSIONS);
const T0 = 1_704_067_200_000_000_000n; // 2024-01-01

/** A trade of `symbol` at T0 + `ms` ms (tsRecv + `recv` ns), seq and id `seq`. */
function trade(
  symbol: string,
  ms: number,
  seq: number,
  options: { recv?: number; exchange?: string } = {},
): Trade {
  const tsEvent = T0 + BigInt(ms) * 1_000_000n;
  return {
    exchange: options.exchange ?? "binance",
    symbol,
    side: Side.Buy,
    flags: 0,
    seq,
    tsEvent,
    tsRecv: tsEvent + BigInt(options.recv ?? 0),
    priceFixed: 100_000_000_000n,
    price: 100,
    size: 1,
    tradeId: BigInt(seq),
  };
}

/** One merged record, as tests compare them. */
type Out =
  & Record<"symbol" | "exchange", string>
  & Record<"ms" | "recv" | "seq", number>;

/** Writes `files` (name → text) into a new temp dir and returns its path. */
async function tempDir(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "marketbus_merge_" });
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${name}`, text);
  }
  return dir;
}

/** NDJSON text of `lines` (trades or gaps). */
function ndjson(lines: (Trade | RecordedGap)[]): string {
  return lines.map((line) =>
    ("cause" in line ? formatNdjsonGap(line) : formatNdjsonTrade(line)) + "\n"
  ).join("");
}

/** Merges `paths`; returns the records and, in order, "gap <symbol> <cause>" markers. */
async function merge(
  paths: string[],
  options: MergeTradeFilesOptions = {},
): Promise<(Out | string)[]> {
  const merger = await TradeFileMerger.open(paths, options);
  const out: (Out | string)[] = [];
  try {
    for await (const batch of merger) {
      const { buffer, byteOffset } = batch.records;
      const view = new DataView(buffer, byteOffset);
      const count = batch.records.byteLength / TRADE_RECORD_SIZE;
      assert.equal(batch.streams.length, count);
      let g = 0;
      for (let i = 0; i <= count; i++) {
        for (; g < batch.gaps.length && batch.gaps[g].before === i; g++) {
          const { gap, stream } = batch.gaps[g];
          assert.equal(merger.streams[stream].symbol, gap.symbol);
          out.push(`gap ${gap.symbol} ${gap.cause}`);
        }
        if (i === count) break;
        const at = i * TRADE_RECORD_SIZE;
        const tsEvent = view.getBigInt64(at + RecordOffset.TsEvent, true);
        const tsRecv = view.getBigInt64(at + RecordOffset.TsRecv, true);
        const origin = merger.streams[batch.streams[i]];
        out.push({
          symbol: origin.symbol,
          exchange: origin.exchange,
          ms: Number((tsEvent - T0) / 1_000_000n),
          recv: Number(tsRecv - tsEvent),
          seq: view.getUint32(at + RecordOffset.Seq, true),
        });
      }
      assert.equal(g, batch.gaps.length);
    }
  } finally {
    await merger.close();
  }
  return out;
}

/** "SYMBOL@ms#seq" of each record (and the gap markers), for compact asserts. */
function short(out: (Out | string)[]): string[] {
  return out.map((o) =>
    typeof o === "string" ? o : `${o.symbol}@${o.ms}#${o.seq}`
  );
}

test("TradeFileMerger merges by ts_event, then ts_recv, then file order; a file ending early and an empty file change nothing", async () => {
  const dir = await tempDir({
    "a.ndjson": ndjson([
      trade("AAA", 1, 1),
      trade("AAA", 5, 2, { recv: 9 }), // same ts_event as B's: ts_recv decides (B first)
      trade("AAA", 7, 3), // same (ts_event, ts_recv) as B's: file order decides (A first)
      trade("AAA", 9, 4),
    ]),
    "b.ndjson": ndjson([
      trade("BBB", 0, 1),
      trade("BBB", 5, 2, { recv: 1 }),
      trade("BBB", 7, 3),
    ]), // ends early
    "c.ndjson": "",
    "d.ndjson": ndjson([trade("CCC", 7, 1), trade("CCC", 20, 2)]),
  });
  try {
    const files = ["a", "b", "c", "d"].map((name) => `${dir}/${name}.ndjson`);
    assert.deepEqual(short(await merge(files)), [
      "BBB@0#1",
      "AAA@1#1",
      "BBB@5#2",
      "AAA@5#2",
      "AAA@7#3",
      "BBB@7#3",
      "CCC@7#1",
      "AAA@9#4",
      "CCC@20#2",
    ]);
    // File order is the position in the list: reversed, the ties reverse.
    assert.deepEqual(
      short(await merge(files.toReversed())).slice(4, 7),
      ["CCC@7#1", "BBB@7#3", "AAA@7#3"],
    );
    // Small batches, and parsing in this thread or in workers, give the same stream.
    for (const workers of [0, 1, 2]) {
      assert.deepEqual(
        short(await merge(files, { batchSize: 2, workers })),
        short(await merge(files)),
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("TradeFileMerger merges a Binance CSV with NDJSON, gzip too, streams indexed in order of appearance", async () => {
  const csv = [
    CSV_HEADER,
    ...[2, 4, 6].map((ms, i) => formatCsvTrade(trade("ETHUSDT", ms, 0 + i))),
  ].join("\n") + "\n";
  const dir = await tempDir({
    "x.ndjson": ndjson([trade("BTCUSDT", 1, 1), trade("BTCUSDT", 4, 2)]),
  });
  try {
    const gz = new Response(
      new Blob([csv]).stream().pipeThrough(new CompressionStream("gzip")),
    );
    await Deno.writeFile(
      `${dir}/ETHUSDT-trades-2024-01-01.csv.gz`,
      new Uint8Array(await gz.arrayBuffer()),
    );
    const merger = await TradeFileMerger.open([dir]);
    await merger.close();
    // Directory entries in name order.
    assert.deepEqual(merger.files.map((f) => f.slice(dir.length + 1)), [
      "ETHUSDT-trades-2024-01-01.csv.gz",
      "x.ndjson",
    ]);
    const out = await merge([dir]);
    assert.deepEqual(short(out), [
      "BTCUSDT@1#1",
      "ETHUSDT@2#0",
      "ETHUSDT@4#0", // ties with BTCUSDT@4: the CSV is first in the directory
      "BTCUSDT@4#2",
      "ETHUSDT@6#0",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("TradeFileMerger keeps from (inclusive) to (exclusive) and the symbols and exchanges asked for", async () => {
  const dir = await tempDir({
    "a.ndjson": ndjson([
      trade("AAA", 1, 1),
      trade("AAA", 2, 2),
      trade("BBB", 3, 1),
      trade("AAA", 3, 3, { exchange: "kraken" }),
      trade("AAA", 4, 4),
    ]),
  });
  try {
    const file = [`${dir}/a.ndjson`];
    const ms = (n: number) => T0 + BigInt(n) * 1_000_000n;
    assert.deepEqual(
      short(await merge(file, { from: ms(2), to: ms(4) })),
      ["AAA@2#2", "BBB@3#1", "AAA@3#3"],
    );
    assert.deepEqual(short(await merge(file, { symbols: ["BBB"] })), [
      "BBB@3#1",
    ]);
    const kraken = await merge(file, { exchanges: ["kraken"] });
    assert.deepEqual(kraken, [{
      symbol: "AAA",
      exchange: "kraken",
      ms: 3,
      recv: 0,
      seq: 3,
    }]);
    assert.deepEqual(await merge(file, { symbols: ["ZZZ"] }), []);
    await assert.rejects(
      () => TradeFileMerger.open(file, { from: ms(4), to: ms(4) }),
      RangeError,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const GAP = (symbol: string, cause: string): RecordedGap => ({
  exchange: "binance",
  symbol,
  cause,
  firstSeq: null,
  lastSeq: null,
  count: null,
});

test("TradeFileMerger delivers gap lines where they are in their file: just before its next trade, or after its last", async () => {
  const dir = await tempDir({
    "a.ndjson": ndjson([
      GAP("AAA", "first"),
      trade("AAA", 1, 1),
      trade("AAA", 5, 2),
      GAP("AAA", "middle"),
      trade("AAA", 8, 5),
      GAP("AAA", "end"),
    ]),
    "b.ndjson": ndjson([
      trade("BBB", 2, 1),
      trade("BBB", 6, 2),
      trade("BBB", 9, 3),
    ]),
    "c.ndjson": ndjson([GAP("CCC", "only")]),
  });
  try {
    const files = ["a", "b", "c"].map((name) => `${dir}/${name}.ndjson`);
    assert.deepEqual(short(await merge(files)), [
      "gap CCC only",
      "gap AAA first",
      "AAA@1#1",
      "BBB@2#1",
      "AAA@5#2",
      "BBB@6#2",
      "gap AAA middle",
      "AAA@8#5",
      "gap AAA end",
      "BBB@9#3",
    ]);
    // Batches of 1: a gap still comes right before its trade.
    assert.deepEqual(
      short(await merge(files, { batchSize: 1 })),
      short(await merge(files)),
    );
    // Gaps of streams filtered out, or before a trade out of the range, are left out.
    assert.deepEqual(short(await merge(files, { symbols: ["BBB"] })), [
      "BBB@2#1",
      "BBB@6#2",
      "BBB@9#3",
    ]);
    assert.deepEqual(
      short(await merge(files.slice(0, 1), { to: T0 + 6_000_000n })),
      ["gap AAA first", "AAA@1#1", "AAA@5#2"],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("TradeFileMerger: a bad row stops the merge naming file:line after what came before it, or is skipped and told", async () => {
  const good = ndjson([trade("AAA", 1, 1)]);
  const dir = await tempDir({
    "a.ndjson": good + '{"exchange":"binance"}\n' +
      ndjson([trade("AAA", 3, 3)]),
    "b.ndjson": ndjson([trade("BBB", 2, 1), trade("BBB", 4, 2)]),
  });
  try {
    const files = [`${dir}/a.ndjson`, `${dir}/b.ndjson`];
    const merger = await TradeFileMerger.open(files);
    const seen: number[] = [];
    let error: unknown;
    try {
      for await (const batch of merger) seen.push(batch.streams.length);
    } catch (caught) {
      error = caught;
    } finally {
      await merger.close();
    }
    assert.ok(error instanceof TradeFileRowError);
    assert.equal(error.path, files[0]);
    assert.equal(error.line, 2);
    assert.match(error.message, /a\.ndjson:2: invalid symbol/);
    assert.deepEqual(seen, [1]); // AAA@1 merged before A's next row was read
    const bad: string[] = [];
    const out = await merge(files, {
      onError: "skip",
      onBadRow: (path, line, reason) =>
        bad.push(`${path.slice(dir.length + 1)}:${line}: ${reason}`),
    });
    assert.deepEqual(short(out), ["AAA@1#1", "BBB@2#1", "AAA@3#3", "BBB@4#2"]);
    assert.deepEqual(bad, [
      "a.ndjson:2: invalid symbol undefined: expected a non-empty string",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("TradeFileMerger names a missing file, a directory without trade files, and a CSV of unknown symbol", async () => {
  const dir = await tempDir({ "notes.txt": "x", "trades.csv": "1,2,3\n" });
  try {
    await assert.rejects(
      () => TradeFileMerger.open([`${dir}/missing.ndjson`]),
      (error) =>
        error instanceof TradeFileReadError &&
        error.message.includes("missing.ndjson") &&
        error.message.includes("no such file"),
    );
    await Deno.remove(`${dir}/trades.csv`);
    await assert.rejects(
      () => TradeFileMerger.open([dir]),
      (error) =>
        error instanceof TradeFileReadError &&
        /holds no trade file \(expected names ending \.csv/.test(error.message),
    );
    await Deno.writeTextFile(
      `${dir}/trades.csv`,
      "1,2,3,6,1704067200000,True\n",
    );
    // Found by the file's parser, in this thread or in a worker: the same error.
    for (const workers of [0, 1]) {
      await assert.rejects(
        () => TradeFileMerger.open([dir], { workers }),
        (error) =>
          error instanceof TradeFileReadError &&
          error.path === `${dir}/trades.csv` &&
          error.message ===
            `Cannot read trade file "${dir}/trades.csv": line 1 is a Binance CSV row, and its symbol is unknown: expected a symbol option or a name like "BTCUSDT-trades-2024-01-01.csv"`,
      );
    }
    await assert.rejects(() => TradeFileMerger.open([]), TypeError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("TradeFileMerger without plausibility merges a file going back in time by its current row, and tells it once per file with the line", async () => {
  const dir = await tempDir({
    "a.ndjson": ndjson([
      trade("AAA", 5, 1),
      trade("CCC", 4, 9), // another symbol earlier: not told
      trade("AAA", 2, 2), // back in time: line 3
      trade("AAA", 1, 3), // again: not told twice
      trade("AAA", 8, 4),
    ]),
    "b.ndjson": ndjson([trade("BBB", 3, 1), trade("BBB", 6, 2)]),
  });
  try {
    const files = [`${dir}/a.ndjson`, `${dir}/b.ndjson`];
    const told: string[] = [];
    const out = await merge(files, {
      plausibility: false, // with it, a step back in time is a bad row
      onOutOfOrder: (path, line) =>
        told.push(`${path.slice(dir.length + 1)}:${line}`),
    });
    assert.deepEqual(short(out), [
      "BBB@3#1",
      "AAA@5#1",
      "CCC@4#9",
      "AAA@2#2",
      "AAA@1#3",
      "BBB@6#2",
      "AAA@8#4",
    ]);
    assert.deepEqual(told, ["a.ndjson:3"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("TradeFileMerger reads ahead a bounded amount per file: 40 files of 20,000 rows each read two chunks ahead at most in this thread, three blocks of records in a worker", async () => {
  const FILES = 40;
  const ROWS = 20_000;
  const dir = await Deno.makeTempDir({ prefix: "marketbus_merge_" });
  try {
    for (let f = 0; f < FILES; f++) {
      const lines: string[] = [];
      for (let i = 0; i < ROWS; i++) {
        lines.push(formatNdjsonTrade(trade(`S${f}`, i * FILES + f, i)));
      }
      await Deno.writeTextFile(
        `${dir}/f${String(f).padStart(2, "0")}.ndjson`,
        lines.join("\n") + "\n",
      );
    }
    for (const workers of [0, 2]) {
      let read = 0;
      const merger = await TradeFileMerger.open([dir], {
        batchSize: 1000,
        workers,
        onProgress: (bytes) => read = bytes,
      });
      let records = 0;
      let maxAhead = 0;
      let last = -1n;
      try {
        for await (const batch of merger) {
          const view = new DataView(
            batch.records.buffer,
            batch.records.byteOffset,
          );
          for (let i = 0; i < batch.streams.length; i++) {
            const ts = view.getBigInt64(
              i * TRADE_RECORD_SIZE + RecordOffset.TsEvent,
              true,
            );
            assert.ok(ts > last);
            last = ts;
          }
          records += batch.streams.length;
          // Interleaved evenly, each file has given records/FILES rows: what
          // was read beyond that is the read-ahead.
          const consumed = (records / (FILES * ROWS)) * merger.totalBytes;
          maxAhead = Math.max(maxAhead, read - consumed);
        }
      } finally {
        await merger.close();
      }
      assert.equal(records, FILES * ROWS);
      assert.equal(read, merger.totalBytes);
      // Each file is several MB; at most the chunk parsed and the one read
      // meanwhile are ahead in this thread; a worker holds up to three blocks
      // of REMOTE_BLOCK_RECORDS records per file (one taken, two asked for).
      const fileBytes = merger.totalBytes / FILES;
      assert.ok(fileBytes > 3_000_000);
      const rowBytes = fileBytes / ROWS;
      const bound = workers === 0
        ? 256 * 1024
        : 3 * 4096 * rowBytes + 256 * 1024;
      assert.ok(
        maxAhead < FILES * bound && maxAhead < merger.totalBytes / 4,
        `workers ${workers}: read ahead ${maxAhead} bytes of ${merger.totalBytes}`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("TradeFileMerger closes its files and workers when the consumer stops early (the test's sanitizers see no leak)", async () => {
  const lines: Trade[] = [];
  for (let i = 0; i < 20_000; i++) lines.push(trade("AAA", i, i));
  const dir = await tempDir({
    "a.ndjson": ndjson(lines),
    "b.ndjson": ndjson(lines.map((t) => ({ ...t, symbol: "BBB" }))),
  });
  try {
    for (const workers of [0, 1]) {
      const merger = await TradeFileMerger.open([dir], {
        workers,
        batchSize: 100,
      });
      for await (const batch of merger) {
        assert.equal(batch.streams.length, 100);
        break;
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
