// The reader's defences against corrupt files (issue 13, items 2, 3, 16):
// CSV time units from the magnitude, the strict row grammar, implausible
// rows, rows of another exchange, and a corrupt gzip stream that must fail
// before a single row comes out.

import assert from "node:assert/strict";
import { gzipBytes, seededRandom } from "../../tests/_fuzz.ts";
import {
  TEMP_FILE_PERMISSIONS,
  testNeeding,
} from "../../tests/_permissions.ts";
import {
  readTradeFile,
  type ReadTradeFileOptions,
  type ReplayRow,
  type TimeUnit,
  TradeFileMerger,
  TradeFileReadError,
  TradeFileRowError,
} from "./mod.ts";
import { PlausibilityCheck, REANCHOR_AFTER } from "./_plausibility.ts";

const test = testNeeding(TEMP_FILE_PERMISSIONS);
const HEADER = "id,price,qty,quote_qty,time,is_buyer_maker,is_best_match";

/** A Binance CSV row with a consistent quote_qty. */
function row(id: number, price: string, qty: string, time: string): string {
  return `${id},${price},${qty},${
    (Number(price) * Number(qty)).toFixed(8)
  },${time},False,True`;
}

interface Read {
  rows: ReplayRow[];
  bad: [number, string][];
  units: [TimeUnit, number][];
  error?: unknown;
}

/** Writes `text` (gzipped when the name ends in .gz) to a temp file and reads it. */
async function readText(
  text: string | Uint8Array,
  options: ReadTradeFileOptions & { name?: string } = {},
): Promise<Read> {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/${options.name ?? "BTCUSDT-trades-2024-01-01.csv"}`;
  const result: Read = { rows: [], bad: [], units: [] };
  try {
    const bytes = typeof text === "string"
      ? new TextEncoder().encode(text)
      : text;
    await Deno.writeFile(
      path,
      path.endsWith(".gz") && typeof text === "string"
        ? await gzipBytes(bytes)
        : bytes,
    );
    for await (
      const row of readTradeFile(path, {
        onError: "skip",
        plausibility: true,
        onBadRow: (line, reason) => result.bad.push([line, reason]),
        onTimeUnit: (unit, line) => result.units.push([unit, line]),
        ...options,
      })
    ) result.rows.push(row);
  } catch (error) {
    result.error = error;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return result;
}

test("CSV times: the unit (s, ms, µs, ns) comes from the first row's magnitude, and is told once", async () => {
  const cases: [TimeUnit, string, string][] = [
    ["s", "1704067200", "1704067201"],
    ["ms", "1704067200000", "1704067200001"],
    ["µs", "1704067200000000", "1704067200000001"],
    ["ns", "1704067200000000000", "1704067200000000001"],
  ];
  for (const [unit, first, second] of cases) {
    const { rows, bad, units } = await readText(
      [HEADER, row(1, "100.5", "2", first), row(2, "100.5", "2", second)]
        .join("\n"),
    );
    assert.deepEqual(bad, [], unit);
    assert.deepEqual(units, [[unit, 2]], unit);
    const scale = { s: 1_000_000_000n, ms: 1_000_000n, "µs": 1_000n, ns: 1n }[
      unit
    ];
    assert.deepEqual(
      rows.map((r) => r.tsEvent),
      [BigInt(first) * scale, BigInt(second) * scale],
      unit,
    );
    assert.equal(rows[0].tsEvent / 1_000_000_000n, 1704067200n, unit);
  }
});

test("CSV times: a row of another magnitude than the file's unit is implausible, and says the unit", async () => {
  const { rows, bad } = await readText(
    [
      row(1, "100.5", "2", "1704067200000"),
      row(2, "100.5", "2", "1704067200"), // s in a file of ms: 1970
      row(3, "100.5", "2", "1704067201000"),
    ].join("\n"),
  );
  assert.deepEqual(rows.map((r) => r.tradeId), [1n, 3n]);
  assert.deepEqual(bad.map(([line]) => line), [2]);
  assert.match(
    bad[0][1],
    /implausible time 1970-01-20T17:21:07\.200Z: before 2000-01-01 \(this file's times are in milliseconds\)/,
  );
});

test("CSV times: an implausible first time does not decide the unit", async () => {
  const { rows, bad, units } = await readText(
    [
      row(1, "100.5", "2", "17040672000"), // an extra digit: 2510 in s
      row(2, "100.5", "2", "1704067200001"),
    ].join("\n"),
  );
  assert.deepEqual(units, [["ms", 2]]);
  assert.deepEqual(rows.map((r) => r.tradeId), [2n]);
  assert.deepEqual(bad.map(([line]) => line), [1]);
});

test("CSV grammar: signs, exponents, leading zeros, a wrong quote_qty, is_best_match and the header's column count are bad rows", async () => {
  const good = row(1, "42066.5", "0.5", "1704067200000");
  const lines = [
    HEADER,
    good,
    "2,42066.5,+0.5,21033.25000000,1704067200001,False,True",
    "3,042066.5,0.5,21033.25000000,1704067200001,False,True",
    "4,4.20665e4,0.5,21033.25000000,1704067200001,False,True",
    "5,82066.5,0.5,21033.25000000,1704067200001,False,True", // a flipped 4
    "6,42066.5,0.5,21033.25000000,1704067200001,False,Tru",
    "07,42066.5,0.5,21033.25000000,1704067200001,False,True",
    "8,42066.5,0.5,21033.25000000,1704067200001,False",
    "9,42066.5,0.5,21033.25000000,01704067200001,False,True",
    row(10, "42066.5", "0.5", "1704067200002"),
  ];
  const { rows, bad } = await readText(lines.join("\n"));
  assert.deepEqual(rows.map((r) => r.tradeId), [1n, 10n]);
  assert.deepEqual(bad.map(([line]) => line), [3, 4, 5, 6, 7, 8, 9, 10]);
  assert.match(bad[0][1], /size "\+0\.5"/);
  assert.match(bad[1][1], /price "042066\.5"/);
  assert.match(bad[2][1], /price "4\.20665e4"/);
  assert.match(bad[3][1], /quote_qty 21033\.25000000 is not price × qty/);
  assert.match(bad[4][1], /is_best_match "Tru"/);
  assert.match(bad[5][1], /trade id "07"/);
  assert.match(bad[6][1], /6 fields found, expected 7/);
  assert.match(bad[7][1], /time "01704067200001"/);
});

test("CSV grammar: a header naming another 4th column (base_qty) is not checked against price × qty", async () => {
  const { rows, bad } = await readText(
    [
      "id,price,qty,base_qty,time,is_buyer_maker",
      "1,42066.5,10,0.02377,1704067200000,False",
    ].join("\n"),
  );
  assert.deepEqual(bad, []);
  assert.equal(rows.length, 1);
});

test("plausibility: times before 2000 or a day ahead, out of order, repeated ids, price jumps are flagged", async () => {
  const lines = [
    row(10, "42066.5", "1", "1704067200000"),
    row(11, "42066.5", "1", "946684799999"), // 1999
    row(12, "42066.5", "1", String(Date.now() + 2 * 86_400_000)),
    row(13, "42066.5", "1", "1704067199999"), // before line 1
    row(10, "42066.5", "1", "1704067200001"), // id repeated
    row(14, "82066.5", "1", "1704067200001"), // ×1.95
    row(15, "28000", "1", "1704067200001"), // ÷1.5
    row(99_000_000_000, "42066.5", "1", "1704067200001"), // id × 10^9
    row(16, "42066.6", "1", "1704067200001"),
  ];
  const { rows, bad } = await readText(lines.join("\n"));
  assert.deepEqual(rows.map((r) => r.tradeId), [10n, 16n]);
  assert.deepEqual(bad.map(([line]) => line), [2, 3, 4, 5, 6, 7, 8]);
  assert.match(
    bad[0][1],
    /implausible time 1999-12-31T23:59:59\.999Z: before 2000-01-01/,
  );
  assert.match(bad[1][1], /more than a day in the future/);
  assert.match(
    bad[2][1],
    /out of time order: 2023-12-31T23:59:59\.999Z is before 2024-01-01T00:00:00\.000Z of line 1/,
  );
  assert.match(bad[3][1], /trade id 10 is not above 10 of line 1/);
  assert.match(
    bad[4][1],
    /implausible price: 82066\.5 is more than ×1\.5 away from 42066\.5 of line 1/,
  );
  assert.match(bad[5][1], /implausible price/);
  assert.match(bad[6][1], /implausible trade id 99000000000/);
});

test("plausibility: with on_error stop, the first implausible row stops before it is yielded", async () => {
  const { rows, error } = await readText(
    [
      row(1, "42066.5", "1", "1704067200000"),
      row(2, "42066.5", "1", "1704067100000"),
      row(3, "42066.5", "1", "1704067200001"),
    ].join("\n"),
    { onError: "stop" },
  );
  assert.deepEqual(rows.map((r) => r.tradeId), [1n]);
  assert.ok(error instanceof TradeFileRowError, String(error));
  assert.equal(error.line, 2);
  assert.match(error.message, /:2: out of time order/);
});

test("plausibility: one trade 3 h ahead mid-file costs REANCHOR_AFTER rows under skip, not the rest of the file; under stop the message names the row it contradicts", async () => {
  const t0 = 1704067200000;
  const lines = Array.from({ length: 20 }, (_, i) =>
    row(
      100 + i,
      "42066.5",
      "1",
      String(t0 + i * 1000 + (i === 9 ? 3 * 3_600_000 : 0)),
    ));
  const { rows, bad } = await readText(lines.join("\n"));
  assert.equal(REANCHOR_AFTER, 3);
  assert.deepEqual(bad.map(([line]) => line), [11, 12, 13]);
  assert.equal(
    rows.length,
    20 - REANCHOR_AFTER,
    "the 3 h row is kept: TradeProcessing's clock rule judges it",
  );
  assert.match(bad[2][1], /agree with each other/);
  const stopped = await readText(lines.join("\n"), { onError: "stop" });
  assert.ok(stopped.error instanceof TradeFileRowError);
  assert.equal(stopped.error.line, 11);
  assert.match(
    stopped.error.message,
    /:11: out of time order: 2024-01-01T00:00:10\.000Z is before 2024-01-01T03:00:09\.000Z of line 10, the last accepted row of BTCUSDT/,
  );
});

Deno.test("plausibility: a market that jumps re-anchors after 3 agreeing rows, so do times after a row ahead; ids never do", () => {
  const check = new PlausibilityCheck(Date.parse("2024-06-01"));
  const at = (line: number, price: bigint, id: number, ms = line) =>
    check.check({
      exchange: "binance",
      symbol: "X",
      line,
      tsEvent: (1704067200000n + BigInt(ms)) * 1_000_000n,
      priceFixed: price,
      tradeId: BigInt(id),
    });
  assert.equal(at(1, 100n, 1), undefined);
  assert.match(at(2, 300n, 2)!, /implausible price/);
  assert.match(at(3, 301n, 3)!, /implausible price/);
  assert.match(at(4, 302n, 4)!, /agree with each other/);
  assert.equal(at(5, 303n, 5), undefined);
  // Rows back in time that agree with each other (the accepted row was
  // ahead) re-anchor after 3 too.
  assert.match(at(6, 303n, 6, 0)!, /out of time order/);
  assert.match(at(7, 303n, 7, 0)!, /out of time order/);
  assert.match(at(8, 303n, 8, 1)!, /out of time order.*agree with each other/);
  assert.equal(at(9, 303n, 9, 2), undefined);
  // Repeated ids never re-anchor, however many rows agree.
  for (let line = 10; line < 16; line++) {
    assert.match(at(line, 303n, 9, 3)!, /trade id 9 is not above 9/);
  }
  assert.equal(at(16, 303n, 16, 3), undefined);
  // Rows back in time that disagree with each other (ids going back) do not.
  assert.match(at(17, 303n, 30, 0)!, /out of time order/);
  assert.match(at(18, 303n, 29, 0)!, /out of time order/);
  assert.match(at(19, 303n, 28, 0)!, /out of time order/);
  assert.equal(at(20, 303n, 20, 4), undefined);
  // Symbols (and exchanges) are separate.
  assert.equal(
    check.check({
      exchange: "other",
      symbol: "X",
      line: 13,
      tsEvent: 1704067200000n * 1_000_000n,
      priceFixed: 1n,
      tradeId: 1n,
    }),
    undefined,
  );
});

test("NDJSON: a row of another exchange than the one given is a bad row", async () => {
  const ndjson = (exchange: string, id: number) =>
    JSON.stringify({
      exchange,
      symbol: "BTCUSDT",
      tsEvent: `${1704067200000000000n + BigInt(id)}`,
      price: "42066.5",
      size: "1",
      side: "buy",
      tradeId: `${id}`,
    });
  const { rows, bad } = await readText(
    [ndjson("binance", 1), ndjson("kraken", 2), ndjson("binance", 3)].join(
      "\n",
    ),
    { name: "capture.ndjson", exchange: "binance" },
  );
  assert.deepEqual(rows.map((r) => r.tradeId), [1n, 3n]);
  assert.deepEqual(bad, [
    [2, 'exchange "kraken" is not the configured "binance"'],
  ]);
});

test("corrupt gzip: 20,000 rows with 10 bytes flipped mid-file yield no row at all, under skip and stop", async () => {
  const random = seededRandom(13);
  const lines = [HEADER];
  let cents = 4_206_650;
  for (let i = 0; i < 20_000; i++) {
    cents += random.range(-3, 3);
    lines.push(
      row(
        3355546431 + i,
        (cents / 100).toFixed(8),
        (random.range(1, 99_999_999) / 1e8).toFixed(8),
        String(1704067200000 + i * 3),
      ),
    );
  }
  const gzipped = await gzipBytes(
    new TextEncoder().encode(lines.join("\n") + "\n"),
  );
  const middle = gzipped.length >> 1;
  for (let k = 0; k < 10; k++) {
    gzipped[middle + random.int(2000)] ^= 1 << random.int(8);
  }
  for (const onError of ["skip", "stop"] as const) {
    const { rows, bad, error } = await readText(gzipped, {
      name: "BTCUSDT-trades-2024-01-01.csv.gz",
      onError,
    });
    assert.equal(rows.length, 0, `${onError}: rows yielded`);
    assert.deepEqual(bad, [], onError);
    assert.ok(error instanceof TradeFileReadError, `${onError}: ${error}`);
    assert.match(
      error.message,
      /^Cannot read trade file ".*BTCUSDT-trades-2024-01-01\.csv\.gz" after line \d+: corrupt/,
    );
    assert.ok(error.line! > 1000, `line ${error.line}`);
    assert.ok(!error.message.includes("\n"));
  }
});

test("plausibility in the merger: a 3 h-ahead trade mid-file costs REANCHOR_AFTER bad rows under skip, the first row ahead too", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const t0 = 1704067200000;
    const file = async (name: string, ahead: number) => {
      const lines = Array.from({ length: 20 }, (_, i) =>
        row(
          100 + i,
          "42066.5",
          "1",
          String(t0 + i * 1000 + (i === ahead ? 3 * 3_600_000 : 0)),
        ));
      await Deno.writeTextFile(`${dir}/${name}`, lines.join("\n") + "\n");
      return `${dir}/${name}`;
    };
    for (const ahead of [9, 0]) {
      const path = await file(
        `BTCUSDT-trades-2024-01-0${1 + ahead % 2}.csv`,
        ahead,
      );
      const bad: number[] = [];
      const merger = await TradeFileMerger.open([path], {
        onError: "skip",
        onBadRow: (_path, line) => bad.push(line),
      });
      let count = 0;
      try {
        for await (const batch of merger) count += batch.streams.length;
      } finally {
        await merger.close();
      }
      assert.deepEqual(
        bad,
        [ahead + 2, ahead + 3, ahead + 4],
        `row ${ahead + 1} ahead`,
      );
      assert.equal(count, 20 - REANCHOR_AFTER);
      await Deno.remove(path);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
