import assert from "node:assert/strict";
import { join } from "node:path";
import { encodeMessage } from "../common/wire/codec.ts";
import { Side, TradeFlags, type TradeRecord } from "../common/wire/trade.ts";
import { TradeView } from "../common/wire/trade_view.ts";
import type { TradeGap } from "../common/transport/feed.ts";
import {
  CSV_HEADER,
  readRowBatches,
  readTradeFile,
  type ReplayRow,
  type TradeFileRow,
} from "../common/trade_file/trade_file.ts";
import { TEMP_FILE_PERMISSIONS, testNeeding } from "../tests/_permissions.ts";
import { RecordFileError, TradeRecorder } from "./recorder.ts";

/** Tests that write files: skipped, saying why, without those permissions. */
const test = {
  tempFiles: testNeeding(TEMP_FILE_PERMISSIONS),
  writing: testNeeding([{ name: "write" }]),
};

const ORIGIN = { exchange: "binance", symbol: "BTCUSDT" };

/** Awkward values on purpose: sub-cent prices, tiny and huge sizes, ids beyond 2^53, unknown side. */
function records(count: number): TradeRecord[] {
  const prices = [
    42283_580000000n,
    1n,
    9_223_372_036_854775807n,
    67123_450000001n,
    100_000000000n,
  ];
  const sizes = [0.0012, 1e-9, 123456789.5, 3, 0.1 + 0.2];
  return Array.from({ length: count }, (_, i) => ({
    side: [Side.Buy, Side.Sell, Side.Unknown][i % 3] as Side,
    flags: i % 5 === 0 ? TradeFlags.Synthetic | TradeFlags.Reconnect : 0,
    seq: i + 1,
    tsEvent: 1_704_067_200_123_456_789n + BigInt(i) * 1_000_001n,
    tsRecv: 1_704_067_200_125_000_000n + BigInt(i) * 999_999n,
    priceFixed: prices[i % prices.length],
    size: sizes[i % sizes.length],
    tradeId: 18_446_744_073_709_551_615n - BigInt(i),
  }));
}

/** Records `trades` through a TradeView, as the exchange callback would. */
function recordAll(recorder: TradeRecorder, trades: TradeRecord[]): void {
  const view = new TradeView();
  // Several messages of up to 7 records each.
  for (let start = 0; start < trades.length; start += 7) {
    const count = view.wrap(encodeMessage(trades.slice(start, start + 7)));
    for (let i = 0; i < count; i++) recorder.record(view.select(i), ORIGIN);
  }
}

async function readAll(
  path: string,
  options: Parameters<typeof readTradeFile>[1],
): Promise<ReplayRow[]> {
  const rows: ReplayRow[] = [];
  for await (const row of readTradeFile(path, options)) rows.push(row);
  return rows;
}

test.tempFiles("TradeRecorder ndjson: reads back as identical records (exact prices, seq, tsRecv, flags, ids)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "rec.ndjson");
    const trades = records(5000);
    // A small chunk, so many writes happen before close.
    const recorder = await TradeRecorder.open(path, { chunkChars: 4096 });
    recordAll(recorder, trades);
    assert.equal(recorder.lines, trades.length);
    assert.ok(recorder.bytes > 0, "nothing written before close");
    recorder.close();
    recorder.close(); // idempotent
    assert.ok(recorder.closed);
    const text = await Deno.readTextFile(path);
    assert.equal(recorder.bytes, new TextEncoder().encode(text).length);
    assert.equal(text.split("\n").length - 1, trades.length);
    const rows = await readAll(path, { format: "ndjson" });
    assert.deepEqual(
      rows,
      trades.map((trade, i) => ({ ...ORIGIN, line: i + 1, ...trade })),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test.tempFiles("TradeRecorder csv: Binance layout readable as binance-csv with identical ids, prices, sizes, sides", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "BTCUSDT-trades-2024-01-01.csv");
    // Binance CSV has no unknown side: buys and sells only.
    const trades = records(3000).map((trade, i) => ({
      ...trade,
      side: i % 2 === 0 ? Side.Buy : Side.Sell,
    }));
    const recorder = await TradeRecorder.open(path, {
      format: "csv",
      selection: { exchange: "binance", symbols: ["BTCUSDT"] },
      chunkChars: 1000,
    });
    recordAll(recorder, trades);
    recordAll(recorder, [trades[0]].map((t) => t)); // same symbol: kept
    recorder.close();
    const text = await Deno.readTextFile(path);
    assert.ok(text.startsWith(`${CSV_HEADER}\n`), text.slice(0, 100));
    const rows = await readAll(path, { format: "binance-csv" });
    const expected = [...trades, trades[0]];
    assert.equal(rows.length, expected.length);
    rows.forEach((row, i) => {
      const trade = expected[i];
      assert.equal(row.symbol, "BTCUSDT");
      assert.equal(row.exchange, "binance");
      assert.equal(row.tradeId, trade.tradeId, `row ${i}`);
      assert.equal(row.priceFixed, trade.priceFixed, `row ${i}`);
      assert.equal(row.size, trade.size, `row ${i}`);
      assert.equal(row.side, trade.side, `row ${i}`);
      // Cut to the ms: the layout's resolution.
      assert.equal(row.tsEvent, trade.tsEvent / 1_000_000n * 1_000_000n);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test.tempFiles("TradeRecorder csv: refuses a selection of several streams, skips a second one met later", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "x.csv");
    const open = (exchange: string | undefined, symbols: string[]) =>
      TradeRecorder.open(path, {
        format: "csv",
        selection: { exchange, symbols },
      });
    await assert.rejects(
      open("binance", ["A", "B"]),
      /csv holds one \(exchange, symbol\)'s trades .* reads 2 symbols \(A, B\)/,
    );
    await assert.rejects(
      open(undefined, ["A"]),
      /reads every exchange: pass one --exchange and one --symbols, or record ndjson$/,
    );
    await assert.rejects(open("binance", []), /reads every symbol:/);
    (await open("binance", ["A"])).close();
    // The header-only file just made, appended to: the header stays once.
    const recorder = await TradeRecorder.open(path, {
      format: "csv",
      onExisting: "append",
    });
    const view = new TradeView();
    view.wrap(encodeMessage(records(2).map((t) => ({ ...t, side: 1 }))));
    recorder.record(view.select(0), ORIGIN);
    recorder.record(view.select(1), { exchange: "binance", symbol: "ETHUSDT" });
    recorder.close();
    assert.equal(recorder.lines, 1);
    assert.equal(recorder.skipped, 1);
    assert.throws(() => recorder.record(view, ORIGIN), /closed/);
    assert.equal(
      (await Deno.readTextFile(path)).split("\n").length,
      3, // header, one row, final newline
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test.tempFiles("TradeRecorder: the same symbol on two exchanges: ndjson keeps each trade's exchange, csv holds the first (exchange, symbol) and skips the other", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const audx = { exchange: "audx", symbol: "AUDA" };
    const audy = { exchange: "audy", symbol: "AUDA" };
    const view = new TradeView();
    const count = view.wrap(
      encodeMessage(records(6).map((t) => ({ ...t, side: Side.Buy }))),
    );
    const origin = (i: number) => i % 3 === 2 ? audy : audx;
    const ndjson = join(dir, "both.ndjson");
    const csv = join(dir, "AUDA-trades-2024-01-01.csv");
    const lines = await TradeRecorder.open(ndjson);
    const rows = await TradeRecorder.open(csv, { format: "csv" });
    for (let i = 0; i < count; i++) {
      lines.record(view.select(i), origin(i));
      rows.record(view, origin(i));
    }
    lines.close();
    rows.close();
    const recorded = await readAll(ndjson, { format: "ndjson" });
    assert.deepEqual(
      recorded.map((row) => [row.exchange, row.symbol, row.seq]),
      [1, 2, 3, 4, 5, 6].map((seq) => [origin(seq - 1).exchange, "AUDA", seq]),
    );
    assert.equal(rows.lines, 4);
    assert.equal(rows.skipped, 2);
    assert.deepEqual(rows.stream, audx);
    assert.equal(lines.stream, undefined, "ndjson holds every stream");
    const csvRows = await readAll(csv, { format: "binance-csv" });
    assert.equal(csvRows.length, 4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test.tempFiles("TradeRecorder: an empty recording is an empty file; bad format is a TypeError", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "empty.ndjson");
    await Deno.writeTextFile(path, "old contents\n");
    const recorder = await TradeRecorder.open(path, {
      onExisting: "overwrite",
    });
    recorder.close();
    assert.equal(await Deno.readTextFile(path), "");
    await assert.rejects(
      // deno-lint-ignore no-explicit-any
      TradeRecorder.open(path, { format: "xml" as any }),
      TypeError,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "TradeRecorder: without write permission, says which --allow-write",
  permissions: { write: false },
  async fn() {
    await assert.rejects(
      TradeRecorder.open("/tmp/never-written.ndjson"),
      (error: unknown) => {
        assert.ok(error instanceof RecordFileError);
        assert.equal(
          error.message,
          "--record needs write permission for /tmp/never-written.ndjson: run with --allow-write=/tmp/never-written.ndjson",
        );
        return true;
      },
    );
  },
});

test.writing("TradeRecorder: an unwritable directory is a RecordFileError", async () => {
  await assert.rejects(
    TradeRecorder.open("/nonexistent-dir-marketbus/rec.ndjson"),
    (error: unknown) =>
      error instanceof RecordFileError &&
      /--record cannot open \/nonexistent-dir-marketbus\/rec\.ndjson/.test(
        error.message,
      ),
  );
});

const GAP: TradeGap = {
  exchange: "binance",
  symbol: "BTCUSDT",
  stream: 0,
  cause: "overwritten",
  firstSeq: 3,
  lastSeq: 6,
  count: 4,
};

test.tempFiles("TradeRecorder ndjson: gap lines in order between the trades, read back as gap rows; a recording that starts with one can be appended to", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "gaps.ndjson");
    const trades = records(10);
    const restart: TradeGap = {
      ...GAP,
      cause: "producer restart",
      firstSeq: null,
      lastSeq: null,
      count: null,
    };
    const first = await TradeRecorder.open(path, { chunkChars: 64 });
    first.gap(restart); // before any trade
    recordAll(first, trades.slice(0, 2));
    first.gap(GAP);
    recordAll(first, trades.slice(6));
    first.close();
    assert.equal(first.gaps, 2);
    assert.equal(first.lines, 8);
    assert.throws(() => first.gap(GAP), /closed/);
    const notices: string[] = [];
    const second = await TradeRecorder.open(path, {
      onExisting: "append",
      onNotice: (message) => notices.push(message),
    });
    second.gap({ ...GAP, symbol: "ETHUSDT", stream: 1 });
    second.close();
    assert.deepEqual(notices, []);
    const rows: TradeFileRow[] = [];
    for await (const batch of readRowBatches(path)) rows.push(...batch);
    assert.deepEqual(
      rows.map((row) => row.type === "gap" ? `gap ${row.count}` : row.seq),
      ["gap null", 1, 2, "gap 4", 7, 8, 9, 10, "gap 4"],
    );
    const { stream: _, ...recorded } = GAP;
    assert.deepEqual(rows[3], { type: "gap", line: 4, ...recorded });
    assert.deepEqual(rows[0], {
      type: "gap",
      line: 1,
      exchange: "binance",
      symbol: "BTCUSDT",
      cause: "producer restart",
      firstSeq: null,
      lastSeq: null,
      count: null,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test.tempFiles("TradeRecorder csv: gaps are counted (of its stream, or before its first trade), said once, never written", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "BTCUSDT-trades-2024-01-01.csv");
    const notices: string[] = [];
    const recorder = await TradeRecorder.open(path, {
      format: "csv",
      onNotice: (message) => notices.push(message),
    });
    const trades = records(4).map((t) => ({ ...t, side: Side.Buy }));
    recorder.gap({ ...GAP, count: null }); // no stream yet: counted
    recordAll(recorder, trades.slice(0, 2));
    recorder.gap(GAP);
    recorder.gap({ ...GAP, exchange: "other" }); // another stream: not this file's
    recordAll(recorder, trades.slice(2));
    recorder.close();
    assert.equal(recorder.gapsLeftOut, 2);
    assert.equal(recorder.gaps, 0);
    assert.equal(recorder.lines, 4);
    assert.deepEqual(notices, [
      `--record ${path}: an unknown number of binance BTCUSDT trades are missing (overwritten), and the csv recording has no room to say so: gaps are left out of it, counted and reported at the end (record ndjson to keep them)`,
    ]);
    const rows = await readAll(path, { format: "binance-csv" });
    assert.deepEqual(
      rows.map((row) => row.tradeId),
      trades.map((t) => t.tradeId),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
