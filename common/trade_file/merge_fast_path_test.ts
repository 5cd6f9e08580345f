// The merge's fast path (bytes straight into records) against the readers'
// line parser, which stays the reference: the same files, damaged at random
// (tests/_fuzz.ts), must give the merger exactly the records, streams, gap
// lines and bad rows (line and reason) that readRowBatches gives, for the
// project's NDJSON and Binance CSV, across read-chunk boundaries too.

import assert from "node:assert/strict";
import { encodeTrade } from "../wire/codec.ts";
import { TRADE_RECORD_SIZE } from "../wire/trade.ts";
import { mutate, type Mutation, seededRandom } from "../../tests/_fuzz.ts";
import {
  TEMP_FILE_PERMISSIONS,
  testNeeding,
} from "../../tests/_permissions.ts";
import { readRowBatches, TradeFileMerger } from "./mod.ts";

const test = testNeeding(TEMP_FILE_PERMISSIONS);
const MAX_I64 = (1n << 63n) - 1n;
const KINDS: readonly Mutation[] = [
  "flip bit",
  "set byte",
  "set digit",
  "insert",
  "delete",
  "duplicate line",
];

/** What a read gives, in comparable form. */
interface Outcome {
  records: string[];
  bad: string[];
}

/** The reference: readRowBatches (skip), rows a record cannot hold counted bad as the merger does. */
async function reference(path: string): Promise<Outcome> {
  const records: string[] = [];
  const bad: string[] = [];
  const record = new Uint8Array(TRADE_RECORD_SIZE);
  for await (
    const rows of readRowBatches(path, {
      onError: "skip",
      onBadRow: (line, reason) => bad.push(`${line}: ${reason}`),
    })
  ) {
    for (const row of rows) {
      if (row.type === "gap") {
        records.push(`gap ${JSON.stringify(row).replace(/,"line":\d+/, "")}`);
      } else if (row.tsEvent > MAX_I64 || row.tsRecv > MAX_I64) {
        bad.push(
          `${row.line}: ${
            row.tsEvent > MAX_I64 ? "tsEvent" : "tsRecv"
          } is beyond 2^63 - 1 ns (year 2262), what a record holds`,
        );
      } else {
        encodeTrade(row, record);
        records.push(`${row.exchange}/${row.symbol} ${record.join(",")}`);
      }
    }
  }
  return { records, bad };
}

/** The merger's outcome over `path` alone, parsed by `workers` workers (0: in this thread). */
async function merged(path: string, workers: number): Promise<Outcome> {
  const records: string[] = [];
  const bad: string[] = [];
  const merger = await TradeFileMerger.open([path], {
    workers,
    plausibility: false, // as the reference reads (merge_parity_test.ts checks it on)
    onError: "skip",
    onBadRow: (_, line, reason) => bad.push(`${line}: ${reason}`),
  });
  try {
    for await (const batch of merger) {
      let g = 0;
      const count = batch.streams.length;
      for (let i = 0; i <= count; i++) {
        for (; g < batch.gaps.length && batch.gaps[g].before === i; g++) {
          const { gap } = batch.gaps[g];
          records.push(`gap ${JSON.stringify({ type: "gap", ...gap })}`);
        }
        if (i === count) break;
        const { exchange, symbol } = merger.streams[batch.streams[i]];
        const bytes = batch.records.subarray(
          i * TRADE_RECORD_SIZE,
          (i + 1) * TRADE_RECORD_SIZE,
        );
        records.push(`${exchange}/${symbol} ${bytes.join(",")}`);
      }
    }
  } finally {
    await merger.close();
  }
  return { records, bad };
}

/** Line endings the fast path must treat as the line parser does (a second `\r` is a bad row). */
const ENDINGS = ["\r", "\r\r", " ", "\t", "\r \r"];

/** NDJSON lines: the canonical form with edge values, gap lines, and valid lines in other forms. */
function ndjsonLines(count: number): string[] {
  const random = seededRandom(7);
  const lines: string[] = [];
  const prices = [
    "42283.58",
    "0.000000001",
    "999999.999999999",
    "1000000.5",
    "007.5",
    "5.1000000000",
    "1",
  ];
  const sizes = [
    "0.0012",
    "12",
    "00.5",
    "0.1234567890123",
    "123456789012345678",
    "1e-3",
  ];
  const ts = [
    "1704067200123000000",
    "0001704067200123000000",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "1",
  ];
  for (let i = 0; i < count; i++) {
    const t = i % 17 === 0
      ? random.pick(ts)
      : String(1704067200000000000n + BigInt(i) * 1000n);
    const line = `{"exchange":"${
      random.pick(["binance", "kraken"])
    }","symbol":"${random.pick(["BTCUSDT", "ETHUSDT"])}","seq":${
      random.pick([0, 1, i, 4294967295])
    },"tsEvent":"${t}","tsRecv":"${
      i % 13 === 0 ? random.pick(ts) : t
    }","price":"${i % 5 === 0 ? random.pick(prices) : "42283.58"}","size":"${
      i % 7 === 0 ? random.pick(sizes) : "0.0012"
    }","side":"${
      random.pick(["buy", "sell", "unknown", "Buy", "SELL"])
    }","flags":${random.pick([0, 1, 65535])},"tradeId":"${
      i % 11 === 0 ? random.pick(ts) : 3355546431 + i
    }"}`;
    lines.push(line + (i % 29 === 0 ? random.pick(ENDINGS) : ""));
    if (i % 50 === 0) {
      lines.push(
        `{"type":"gap","exchange":"binance","symbol":"BTCUSDT","cause":"overwritten","firstSeq":${i},"lastSeq":${
          i + 3
        },"count":4}`,
      );
    }
    if (i % 71 === 0) lines.push(line.replace(",", ", ")); // valid, not canonical
    if (i % 97 === 0) lines.push("");
  }
  return lines;
}

/** CSV lines: a header, then rows with edge values; times in ms, or µs if `us`. */
function csvLines(count: number, header: boolean, us = false): string[] {
  const random = seededRandom(8);
  const lines = header
    ? ["id,price,qty,quote_qty,time,is_buyer_maker,is_best_match"]
    : [];
  for (let i = 0; i < count; i++) {
    const price = random.pick([
      "42283.58000000",
      "0.50000000",
      "1234567.1",
      "42283.58",
    ]);
    const qty = random.pick(["0.00120000", "1.00000000", "3", "0.1"]);
    const quote = (Number(price) * Number(qty)).toFixed(8);
    const id = i % 19 === 0
      ? random.pick([
        "0",
        "18446744073709551615",
        "18446744073709551616",
        "12345678901234567890",
      ])
      : String(3355546431 + i);
    const time = i % 23 === 0
      ? random.pick(["1704067200000000", "9223372036854", "1"])
      : us
      ? String(1735689600000000 + 997 * i)
      : String(1704067200000 + i);
    const maker = random.pick(["True", "False", "true", "false", "", "TRUE"]);
    lines.push(
      `${id},${price},${qty},${quote},${time},${maker}${
        random.chance(0.9) ? ",True" : ""
      }${i % 29 === 0 ? random.pick(ENDINGS) : ""}`,
    );
  }
  return lines;
}

/** Asserts the merger and the reference agree on `text`, written to `path`; returns the trades compared. */
async function agree(
  path: string,
  bytes: Uint8Array,
  log: string[],
): Promise<number> {
  await Deno.writeFile(path, bytes);
  const expected = await reference(path);
  const actual = await merged(path, 0);
  // In a worker: the same (the records and bad rows cross threads whole).
  assert.deepEqual(await merged(path, 1), actual, log.join("; "));
  // The reference tells the i64 overflows after its batch's other bad rows.
  const byLine = (a: string, b: string) => parseInt(a) - parseInt(b);
  assert.deepEqual(
    actual.bad.toSorted(byLine),
    expected.bad.toSorted(byLine),
    log.join("; "),
  );
  assert.deepEqual(actual.records, expected.records, log.join("; "));
  return expected.records.length;
}

for (
  const [format, name, lines] of [
    ["NDJSON", "capture.ndjson", ndjsonLines(400)],
    ["CSV", "BTCUSDT-trades-2024-01-01.csv", csvLines(400, true)],
    [
      "CSV with µs times",
      "ETHUSDT-trades-2025-01-01.csv",
      csvLines(400, true, true),
    ],
    [
      "CSV without a header",
      "BTCUSDT-trades-2024-01-02.csv",
      csvLines(400, false),
    ],
  ] as const
) {
  test(`merge fast path: a ${format} file, intact and damaged 150 ways, reads as the line parser reads it`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "marketbus_fast_path_" });
    try {
      const path = `${dir}/${name}`;
      const text = new TextEncoder().encode(lines.join("\n") + "\n");
      const crlf = new TextEncoder().encode(lines.join("\r\n"));
      assert.ok(await agree(path, text, ["intact"]) > 200);
      await agree(path, crlf, ["CRLF, no final newline"]);
      for (let seed = 1; seed <= 150; seed++) {
        const log = [`seed ${seed}`];
        await agree(
          path,
          mutate(text, seededRandom(seed), { kinds: KINDS, log }),
          log,
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

test("merge fast path: lines across read chunks and over-long lines read as the line parser reads them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "marketbus_fast_path_" });
  try {
    const base = ndjsonLines(3000);
    base.splice(1500, 0, `{"exchange":"${"x".repeat(70_000)}"}`);
    base.splice(2500, 0, "é".repeat(40_000));
    const text = new TextEncoder().encode(base.join("\n") + "\n");
    assert.ok(text.length > 600_000);
    const path = `${dir}/big.ndjson`;
    assert.ok(await agree(path, text, ["intact"]) > 1500);
    for (let seed = 1; seed <= 10; seed++) {
      const log = [`seed ${seed}`];
      await agree(
        path,
        mutate(text, seededRandom(seed), { kinds: KINDS, count: 20, log }),
        log,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
