import assert from "node:assert/strict";
import { Side, type Trade } from "../wire/trade.ts";
import {
  READ_PERMISSIONS,
  TEMP_FILE_PERMISSIONS,
  testNeeding,
} from "../../tests/_permissions.ts";
import {
  CSV_HEADER,
  detectTradeFormat,
  formatCsvTrade,
  formatNdjsonTrade,
  MAX_LINE_LENGTH,
  readTradeBatches,
  readTradeFile,
  type ReadTradeFileOptions,
  type ReplayRow,
  symbolFromFileName,
  TradeFileReadError,
  TradeFileRowError,
} from "./mod.ts";

const FIXTURES = decodeURIComponent(
  new URL("../../tests/fixtures/replay/", import.meta.url).pathname,
);

/** Tests that read fixtures or write temp files: skipped, saying why, without those permissions. */
const test = {
  fixtures: testNeeding(READ_PERMISSIONS),
  tempFiles: testNeeding(TEMP_FILE_PERMISSIONS),
};

async function readAll(
  path: string,
  options: ReadTradeFileOptions = {},
): Promise<ReplayRow[]> {
  const rows: ReplayRow[] = [];
  for await (const row of readTradeFile(path, options)) rows.push(row);
  return rows;
}

test.fixtures("readTradeFile() reads a Binance CSV with a header exactly", async () => {
  const rows = await readAll(FIXTURES + "BTCUSDT-trades-2024-01-01.csv");
  assert.equal(rows.length, 5);
  assert.deepEqual(rows[0], {
    exchange: "binance",
    symbol: "BTCUSDT",
    line: 2,
    side: Side.Sell,
    flags: 0,
    seq: 0,
    tsEvent: 1704067200000000000n,
    tsRecv: 1704067200000000000n,
    priceFixed: 42283580000000n,
    size: 0.0012,
    tradeId: 3355546431n,
  });
  assert.deepEqual(rows.map((row) => row.priceFixed), [
    42283580000000n,
    42283590000000n,
    42283590000000n,
    42283010000000n,
    42283_000000010n,
  ]);
  assert.deepEqual(rows.map((row) => row.side), [
    Side.Sell,
    Side.Buy,
    Side.Buy,
    Side.Sell,
    Side.Buy,
  ]);
  assert.deepEqual(rows.map((row) => row.size), [
    0.0012,
    0.01,
    0.00025,
    1.5,
    100,
  ]);
  assert.deepEqual(rows.map((row) => row.line), [2, 3, 4, 5, 6]);
  assert.deepEqual(
    rows.map((row) => row.tradeId),
    [3355546431n, 3355546432n, 3355546433n, 3355546434n, 3355546435n],
  );
  assert.equal(rows[2].tsEvent, 1704067200123000000n);
});

test.fixtures("readTradeFile() reads a headerless CSV, symbol from the name or the option", async () => {
  const path = FIXTURES + "ETHUSDT-trades-2024-01-02.csv";
  const rows = await readAll(path);
  assert.deepEqual(rows.map((row) => [row.line, row.symbol, row.tradeId]), [
    [1, "ETHUSDT", 1240000001n],
    [2, "ETHUSDT", 1240000002n],
    [3, "ETHUSDT", 1240000003n],
  ]);
  assert.equal(rows[0].priceFixed, 2352100000000n);
  assert.equal(rows[0].tsEvent, 1704153600001000000n);
  const renamed = await readAll(path, {
    symbol: "ethbtc",
    exchange: "binanceus",
  });
  assert.equal(renamed[0].symbol, "ETHBTC");
  assert.equal(renamed[0].exchange, "binanceus");
});

test.fixtures("readTradeFile() takes times above 10^14 as microseconds", async () => {
  const rows = await readAll(FIXTURES + "BTCUSDT-trades-2025-01-01.csv");
  assert.deepEqual(rows.map((row) => row.tsEvent), [
    1735689600000123000n,
    1735689600001456000n,
    1735689600001999000n,
  ]);
  assert.equal(rows[1].priceFixed, 93576010000000n);
});

test.tempFiles("readTradeFile() gunzips by extension and by magic bytes", async () => {
  const plain = await readAll(FIXTURES + "ETHUSDT-trades-2024-01-02.csv");
  const shipped = await readAll(FIXTURES + "ETHUSDT-trades-2024-01-02.csv.gz");
  assert.deepEqual(shipped, plain);
  const dir = await Deno.makeTempDir();
  try {
    // Gzipped at test time, under a name without .gz: found by magic bytes.
    const bytes = await Deno.readFile(
      FIXTURES + "BTCUSDT-trades-2024-01-01.csv",
    );
    const gzipped = await new Response(
      new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip")),
    ).arrayBuffer();
    const path = `${dir}/BTCUSDT-trades-2024-01-01.csv`;
    await Deno.writeFile(path, new Uint8Array(gzipped));
    assert.deepEqual(
      await readAll(path),
      await readAll(FIXTURES + "BTCUSDT-trades-2024-01-01.csv"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test.fixtures("readTradeFile() skips bad CSV rows, reporting line and reason", async () => {
  const bad: [number, string][] = [];
  const rows = await readAll(FIXTURES + "BTCUSDT-trades-2024-01-03.csv", {
    onError: "skip",
    onBadRow: (line, reason) => bad.push([line, reason]),
  });
  assert.deepEqual(rows.map((row) => [row.line, row.tradeId]), [
    [1, 3355546431n],
    [3, 3355546433n],
    [8, 3355546437n],
  ]);
  assert.deepEqual(bad.map(([line]) => line), [2, 4, 6, 7]);
  assert.match(bad[0][1], /price "abc"/);
  assert.match(bad[1][1], /5 fields found, expected 6 or 7/);
  assert.match(bad[2][1], /size "-1"/);
  assert.match(bad[3][1], /is_buyer_maker "Maybe": expected True or False/);
});

test.fixtures("readTradeFile() stops at the first bad row with its line number", async () => {
  const path = FIXTURES + "BTCUSDT-trades-2024-01-03.csv";
  const rows: ReplayRow[] = [];
  const reported: number[] = [];
  await assert.rejects(
    async () => {
      for await (
        const row of readTradeFile(path, {
          onBadRow: (line) => reported.push(line),
        })
      ) {
        rows.push(row);
      }
    },
    (error: unknown) => {
      assert(error instanceof TradeFileRowError);
      assert.equal(error.name, "TradeFileRowError");
      assert.equal(error.line, 2);
      assert.equal(error.path, path);
      assert.match(error.message, /BTCUSDT-trades-2024-01-03\.csv:2: .*"abc"/);
      return true;
    },
  );
  assert.deepEqual(rows.map((row) => row.line), [1]);
  assert.deepEqual(reported, [2]);
});

test.fixtures("readTradeFile() reads the NDJSON export", async () => {
  const rows = await readAll(FIXTURES + "session.ndjson");
  assert.equal(rows.length, 3);
  assert.deepEqual(rows[1], {
    exchange: "binance",
    symbol: "ETHUSDT",
    line: 2,
    side: Side.Buy,
    flags: 4,
    seq: 1,
    tsEvent: 1704067200001000000n,
    tsRecv: 1704067200003000000n,
    priceFixed: 2352100000000n,
    size: 0.05,
    tradeId: 1240000001n,
  });
  assert.deepEqual(rows.map((row) => row.line), [1, 2, 4]);
  assert.equal(rows[2].tradeId, 3355546432n);
});

test.fixtures("readTradeFile() skips and stops on bad NDJSON rows", async () => {
  const path = FIXTURES + "corrupt.ndjson";
  const bad: [number, string][] = [];
  const rows = await readAll(path, {
    onError: "skip",
    onBadRow: (line, reason) => bad.push([line, reason]),
  });
  assert.deepEqual(rows.map((row) => row.line), [1, 6]);
  assert.equal(rows[0].tsRecv, rows[0].tsEvent);
  assert.deepEqual(bad.map(([line]) => line), [2, 3, 4, 5]);
  assert.match(bad[0][1], /tsEvent 1704067200000000000: expected a string/);
  assert.match(bad[1][1], /not JSON/);
  assert.match(bad[2][1], /price 42283.58: expected a decimal string/);
  assert.match(bad[3][1], /side "left"/);
  await assert.rejects(() => readAll(path), TradeFileRowError, ":2:");
});

test.fixtures("readTradeFile() honours an explicit format", async () => {
  await assert.rejects(
    () =>
      readAll(FIXTURES + "session.ndjson", {
        format: "binance-csv",
        symbol: "BTCUSDT",
      }),
    TradeFileRowError,
  );
  await assert.rejects(
    () =>
      readAll(FIXTURES + "BTCUSDT-trades-2024-01-01.csv", { format: "ndjson" }),
    /:1: not JSON/,
  );
});

test.tempFiles("readTradeFile() rejects a CSV without a symbol and bad options", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/trades.csv`;
    await Deno.copyFile(FIXTURES + "ETHUSDT-trades-2024-01-02.csv", path);
    await assert.rejects(
      () => readAll(path),
      TradeFileReadError,
      "line 1 is a Binance CSV row, and its symbol is unknown",
    );
    await assert.rejects(
      () => readAll(path, { format: "binance-csv" }),
      TypeError,
      "expected a symbol",
    );
    assert.equal((await readAll(path, { symbol: "ETHUSDT" })).length, 3);
    await assert.rejects(
      // deno-lint-ignore no-explicit-any
      () => readAll(path, { onError: "ignore" as any }),
      TypeError,
      'Invalid onError "ignore": expected "skip" or "stop"',
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test.tempFiles("readTradeFile() reads an empty is_buyer_maker (a recorded trade of unknown side) as Side.Unknown", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/BTCUSDT-trades-2024-01-01.csv`;
    await Deno.writeTextFile(
      path,
      "id,price,qty,quote_qty,time,is_buyer_maker,is_best_match\n" +
        "1,100.5,2,201,1704067200000,,True\n" +
        "2,100.5,2,201,1704067200001,True,True\n",
    );
    const rows = await readAll(path);
    assert.deepEqual(rows.map((row) => row.side), [Side.Unknown, Side.Sell]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test.tempFiles("readTradeFile() reports an over-long line and goes on", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/BTCUSDT-trades-2024-01-01.csv`;
    const good = "1,100.5,2,201,1704067200000,False,True\n";
    await Deno.writeTextFile(
      path,
      good + "9".repeat(MAX_LINE_LENGTH * 3) + "\n" + good.replace("1,", "2,"),
    );
    const bad: number[] = [];
    const rows = await readAll(path, {
      onError: "skip",
      onBadRow: (line) => bad.push(line),
    });
    assert.deepEqual(rows.map((row) => [row.line, row.tradeId]), [
      [1, 1n],
      [3, 2n],
    ]);
    assert.deepEqual(bad, [2]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test.tempFiles("readTradeFile() reads lines split across chunks, in order", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/BTCUSDT-trades-2024-01-01.csv.gz`;
    const count = 20_000;
    const lines = [];
    for (let id = 1; id <= count; id++) {
      const price = `100.${String(id).padStart(5, "0")}`;
      lines.push(
        `${id},${price},0.5,${(Number(price) / 2).toFixed(8)},${
          1704067200000 + id
        },${id % 2 === 0 ? "True" : "False"},True`,
      );
    }
    const gzipped = await new Response(
      new Blob([lines.join("\n")]).stream().pipeThrough(
        new CompressionStream("gzip"),
      ),
    ).arrayBuffer();
    await Deno.writeFile(path, new Uint8Array(gzipped));
    let expected = 1n;
    let batches = 0;
    for await (const rows of readTradeBatches(path)) {
      batches++;
      for (const row of rows) {
        assert.equal(row.tradeId, expected);
        assert.equal(row.line, Number(expected));
        assert.equal(row.priceFixed, 100_000_000_000n + expected * 10_000n);
        assert.equal(row.tsEvent, (1704067200000n + expected) * 1_000_000n);
        expected++;
      }
    }
    assert.equal(expected, BigInt(count) + 1n);
    assert(batches > 1, `expected several batches, got ${batches}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test.tempFiles("formatNdjsonTrade() round-trips through readTradeFile()", async () => {
  const trades: Trade[] = [
    {
      exchange: "binance",
      symbol: "BTCUSDT",
      seq: 4294967295,
      side: Side.Sell,
      flags: 6,
      tsEvent: 1704067200123456789n,
      tsRecv: 1704067200123999999n,
      priceFixed: 9223372036854775807n,
      price: 9223372036.854776,
      size: 1.5e-7,
      tradeId: 18446744073709551615n,
    },
    {
      exchange: "binance",
      symbol: "ETHUSDT",
      seq: 0,
      side: Side.Unknown,
      flags: 0,
      tsEvent: 1n,
      tsRecv: 2n,
      priceFixed: 1n,
      price: 1e-9,
      size: 1e21,
      tradeId: 0n,
    },
  ];
  const lines = trades.map(formatNdjsonTrade);
  assert.match(lines[0], /"size":"0.00000015"/);
  assert.match(lines[1], /"price":"0.000000001"/);
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/capture.ndjson`;
    await Deno.writeTextFile(path, lines.join("\n") + "\n");
    const rows = await readAll(path);
    assert.deepEqual(
      rows,
      trades.map(({ price: _, ...record }, index) => ({
        ...record,
        line: index + 1,
      })),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test.tempFiles("formatCsvTrade() writes Binance's layout and round-trips through readTradeFile() (time cut to the ms)", async () => {
  const trades: Trade[] = [
    {
      exchange: "binance",
      symbol: "BTCUSDT",
      seq: 7,
      side: Side.Sell,
      flags: 0,
      tsEvent: 1704067200123456789n,
      tsRecv: 1704067200123999999n,
      priceFixed: 42283580000000n,
      price: 42283.58,
      size: 0.0012,
      tradeId: 3355546431n,
    },
    {
      exchange: "binance",
      symbol: "BTCUSDT",
      seq: 8,
      side: Side.Buy,
      flags: 0,
      tsEvent: 1704067200124000000n,
      tsRecv: 1704067200124000000n,
      priceFixed: 1n,
      price: 1e-9,
      size: 1.5e-7,
      tradeId: 18446744073709551615n,
    },
    {
      exchange: "binance",
      symbol: "BTCUSDT",
      seq: 9,
      side: Side.Unknown,
      flags: 0,
      tsEvent: 1704067200999999999n,
      tsRecv: 1704067201000000000n,
      priceFixed: 9223372036854775807n,
      price: 9223372036.854776,
      size: 1e21,
      tradeId: 0n,
    },
  ];
  const lines = trades.map(formatCsvTrade);
  assert.equal(
    lines[0],
    "3355546431,42283.58,0.0012,50.740296,1704067200123,True,True",
  );
  assert.match(lines[1], /^18446744073709551615,0\.000000001,0\.00000015,/);
  assert.match(lines[2], /,1704067200999,,True$/);
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/BTCUSDT-trades-2024-01-01.csv`;
    await Deno.writeTextFile(path, [CSV_HEADER, ...lines].join("\n") + "\n");
    const rows = await readAll(path);
    assert.deepEqual(
      rows,
      trades.map(({ price: _, tsEvent, ...record }, index) => {
        const ms = tsEvent / 1_000_000n * 1_000_000n;
        return { ...record, seq: 0, tsEvent: ms, tsRecv: ms, line: index + 2 };
      }),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("symbolFromFileName() reads Binance daily and monthly names", () => {
  assert.equal(
    symbolFromFileName("/data/BTCUSDT-trades-2024-01-01.csv.gz"),
    "BTCUSDT",
  );
  assert.equal(symbolFromFileName("ethusdt-trades-2024-01.csv"), "ETHUSDT");
  assert.equal(
    symbolFromFileName("BTCUSDT-aggTrades-2024-01-01.csv"),
    undefined,
  );
  assert.equal(symbolFromFileName("trades.csv"), undefined);
});

test.fixtures("readTradeFile() closes the file when the reader stops early", async () => {
  for (const name of ["session.ndjson", "ETHUSDT-trades-2024-01-02.csv.gz"]) {
    for await (const row of readTradeFile(FIXTURES + name)) {
      assert.equal(row.line, 1);
      break;
    }
  }
  // The test's resource sanitizer fails it if a file stayed open.
});

test.tempFiles("readTradeFile() and detectTradeFormat() fail with a TradeFileReadError naming the file: missing, a directory, bad gzip", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const rows = "1,100.5,2,201,1704067200000,False,True\n".repeat(3000);
    const gzipped = new Uint8Array(
      await new Response(
        new Blob([rows]).stream().pipeThrough(new CompressionStream("gzip")),
      ).arrayBuffer(),
    );
    const files = {
      missing: `${dir}/BTCUSDT-trades-2024-01-01.csv`,
      directory: dir,
      notGzip: `${dir}/BTCUSDT-trades-2024-01-02.csv.gz`,
      corrupt: `${dir}/BTCUSDT-trades-2024-01-03.csv.gz`,
      truncated: `${dir}/BTCUSDT-trades-2024-01-04.csv.gz`,
    };
    await Deno.writeTextFile(files.notGzip, rows);
    await Deno.writeFile(
      files.corrupt,
      new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xde, 0xad, 0xbe]),
    );
    await Deno.writeFile(
      files.truncated,
      gzipped.subarray(0, gzipped.length / 2),
    );
    const expected: Record<keyof typeof files, RegExp> = {
      missing: /: no such file$/,
      directory: /: it is a directory$/,
      notGzip: /: invalid gzip header$/,
      corrupt: /: corrupt deflate stream$/,
      truncated: / after line [1-9]\d*: .*checksum/,
    };
    for (const [what, path] of Object.entries(files)) {
      const pattern = expected[what as keyof typeof files];
      const error = await readAll(path).then(
        () => assert.fail(`${what}: read to its end`),
        (error) => error,
      );
      assert.ok(error instanceof TradeFileReadError, `${what}: ${error}`);
      assert.equal(error.path, path);
      assert.ok(
        error.message.startsWith(
          `Cannot read trade file ${JSON.stringify(path)}`,
        ),
        error.message,
      );
      assert.match(error.message, pattern, what);
      if (what !== "truncated") {
        await assert.rejects(
          () => detectTradeFormat(path),
          TradeFileReadError,
          what,
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test.tempFiles("detectTradeFormat() reads the first non-blank line: NDJSON, CSV, or none", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cases: [string, string, string | undefined][] = [
      ["a.ndjson", '\n  \r\n{"exchange":"binance"}\n', "ndjson"],
      ["a.csv", "\n\nid,price,qty\n", "binance-csv"],
      ["b.csv", "", undefined],
      ["c.csv", "\n \r\n\t\n", undefined],
    ];
    for (const [name, text, format] of cases) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
      assert.equal(await detectTradeFormat(`${dir}/${name}`), format, name);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test.fixtures("detectTradeFormat() sees through gzip", async () => {
  assert.equal(
    await detectTradeFormat(FIXTURES + "ETHUSDT-trades-2024-01-02.csv.gz"),
    "binance-csv",
  );
  assert.equal(await detectTradeFormat(FIXTURES + "session.ndjson"), "ndjson");
});
