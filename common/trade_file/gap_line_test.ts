// Gap lines of NDJSON recordings: formatNdjsonGap() round-trips through
// readRowBatches() in order with the trades, trade-only readers leave them
// out, and a bad gap line or an unknown `type` is a bad row naming its line.

import assert from "node:assert/strict";
import { Side, type Trade } from "../wire/trade.ts";
import {
  TEMP_FILE_PERMISSIONS,
  testNeeding,
} from "../../tests/_permissions.ts";
import {
  formatNdjsonGap,
  formatNdjsonTrade,
  readRowBatches,
  readTradeBatches,
  readTradeFile,
  type ReadTradeFileOptions,
  type RecordedGap,
  type TradeFileRow,
  TradeFileRowError,
} from "./mod.ts";

const test = testNeeding(TEMP_FILE_PERMISSIONS);

/** Runs `fn` with `lines` written to a temp NDJSON file, removed after. */
async function withFile(
  lines: string[],
  fn: (path: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "marketbus_gap_line_" });
  try {
    const path = `${dir}/session.ndjson`;
    await Deno.writeTextFile(path, lines.join("\n") + "\n");
    await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function readRows(
  path: string,
  options: ReadTradeFileOptions = {},
): Promise<TradeFileRow[]> {
  const rows: TradeFileRow[] = [];
  for await (const batch of readRowBatches(path, options)) rows.push(...batch);
  return rows;
}

function trade(seq: number): Trade {
  return {
    exchange: "binance",
    symbol: "BTCUSDT",
    seq,
    side: Side.Buy,
    flags: 0,
    tsEvent: 1704067200000000000n + BigInt(seq),
    tsRecv: 1704067200000000000n + BigInt(seq),
    priceFixed: 42_000_000000000n,
    price: 42,
    size: 0.5,
    tradeId: 1000n + BigInt(seq),
  };
}

const COUNTED: RecordedGap = {
  exchange: "binance",
  symbol: "BTCUSDT",
  cause: "overwritten",
  firstSeq: 2,
  lastSeq: 1025,
  count: 1024,
};
const UNKNOWN: RecordedGap = {
  exchange: "binance",
  symbol: "BTCUSDT",
  cause: "producer restart",
  firstSeq: null,
  lastSeq: null,
  count: null,
};

test("formatNdjsonGap() writes the documented line and round-trips through readRowBatches() in order; trade readers leave it out", async () => {
  assert.equal(
    formatNdjsonGap(COUNTED),
    '{"type":"gap","exchange":"binance","symbol":"BTCUSDT","cause":"overwritten","firstSeq":2,"lastSeq":1025,"count":1024}',
  );
  assert.equal(
    formatNdjsonGap(UNKNOWN),
    '{"type":"gap","exchange":"binance","symbol":"BTCUSDT","cause":"producer restart","firstSeq":null,"lastSeq":null,"count":null}',
  );
  // Seqs are numbered modulo 2^32, as on the wire.
  assert.match(
    formatNdjsonGap({ ...COUNTED, firstSeq: 2 ** 32, lastSeq: -1 }),
    /"firstSeq":0,"lastSeq":4294967295,/,
  );
  const lines = [
    formatNdjsonTrade(trade(1)),
    formatNdjsonGap(COUNTED),
    formatNdjsonTrade(trade(1026)),
    formatNdjsonGap(UNKNOWN),
    formatNdjsonTrade(trade(1)),
  ];
  await withFile(lines, async (path) => {
    const rows = await readRows(path, { exchange: "binance" });
    assert.deepEqual(
      rows.map((row) => [row.line, row.type]),
      [[1, undefined], [2, "gap"], [3, undefined], [4, "gap"], [5, undefined]],
    );
    assert.deepEqual(rows[1], { type: "gap", line: 2, ...COUNTED });
    assert.deepEqual(rows[3], { type: "gap", line: 4, ...UNKNOWN });
    const row = rows[2];
    assert.ok(row.type === undefined); // narrows to a trade
    assert.equal(row.seq, 1026);
    const trades = [];
    for await (const row of readTradeFile(path)) trades.push(row.line);
    assert.deepEqual(trades, [1, 3, 5]);
    const batched = [];
    for await (const batch of readTradeBatches(path)) {
      batched.push(...batch.map((row) => row.line));
    }
    assert.deepEqual(batched, [1, 3, 5]);
  });
});

test("readRowBatches(): a bad gap line or an unknown type is a bad row with its line; trade lines may say type trade", async () => {
  const gap = JSON.parse(formatNdjsonGap(COUNTED));
  const line = (changes: Record<string, unknown>) =>
    JSON.stringify({ ...gap, ...changes });
  const lines = [
    line({ count: 0 }),
    line({ firstSeq: -1 }),
    line({ lastSeq: 2 ** 32 }),
    line({ count: "3" }),
    line({ cause: "" }),
    line({ exchange: "kraken" }),
    line({ type: "bar" }),
    line({ type: 7 }),
    JSON.stringify({
      ...JSON.parse(formatNdjsonTrade(trade(9))),
      type: "trade",
    }),
    line({ firstSeq: undefined, lastSeq: undefined, count: undefined }),
  ];
  await withFile(lines, async (path) => {
    const bad: [number, string][] = [];
    const rows = await readRows(path, {
      exchange: "binance",
      onError: "skip",
      onBadRow: (line, reason) => bad.push([line, reason]),
    });
    assert.deepEqual(bad, [
      [
        1,
        "gap line: invalid count 0: expected an integer from 1 to 9007199254740991, or null (unknown)",
      ],
      [
        2,
        "gap line: invalid firstSeq -1: expected an integer from 0 to 4294967295, or null (unknown)",
      ],
      [
        3,
        "gap line: invalid lastSeq 4294967296: expected an integer from 0 to 4294967295, or null (unknown)",
      ],
      [
        4,
        'gap line: invalid count "3": expected an integer from 1 to 9007199254740991, or null (unknown)',
      ],
      [5, 'gap line: invalid cause "": expected a non-empty string'],
      [6, 'exchange "kraken" is not the configured "binance"'],
      [
        7,
        'unknown type "bar": expected "gap" (a gap line), or "trade" or none (a trade)',
      ],
      [
        8,
        'unknown type 7: expected "gap" (a gap line), or "trade" or none (a trade)',
      ],
    ]);
    assert.deepEqual(rows.map((row) => [row.line, row.type]), [
      [9, undefined],
      [10, "gap"],
    ]);
    // Absent seqs and count read as unknown.
    assert.deepEqual(rows[1], {
      ...UNKNOWN,
      cause: "overwritten",
      type: "gap",
      line: 10,
    });
    await assert.rejects(
      () => readRows(path),
      (error: unknown) => {
        assert.ok(error instanceof TradeFileRowError);
        assert.equal(
          error.message,
          `Invalid trade at ${path}:1: gap line: invalid count 0: expected an integer from 1 to 9007199254740991, or null (unknown)`,
        );
        return true;
      },
    );
  });
});
