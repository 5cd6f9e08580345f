import assert from "node:assert/strict";
import { encodeTrade } from "../../common/wire/codec.ts";
import {
  Side,
  TRADE_RECORD_SIZE,
  TradeFlags,
} from "../../common/wire/trade.ts";
import { READ_PERMISSIONS, testNeeding } from "../../tests/_permissions.ts";
import {
  type InvalidFrame,
  type ParsedFrame,
  type ParsedTrade,
  parseTradeFrame,
} from "./trade_event.ts";

const receivedAt = { seconds: 1_764_196_801, nanos: 123_456_789 };
const RECV_NANOS = 1_764_196_801_123_456_789n;
const FIXTURES = new URL("../../tests/fixtures/binance/", import.meta.url);
/** A test that reads fixtures: skipped, saying why, without --allow-read. */
const test = testNeeding(READ_PERMISSIONS);

interface FrameFields {
  [key: string]: unknown;
}

/** A combined-stream trade frame, with `data` fields overridden or removed (undefined). */
function frame(fields: FrameFields = {}, stream = "btcusdt@trade"): string {
  const data: FrameFields = {
    e: "trade",
    E: 1764196800123,
    s: "BTCUSDT",
    t: 12345,
    p: "0.001",
    q: "100",
    T: 1764196800122,
    m: true,
    M: true,
    ...fields,
  };
  for (const key of Object.keys(data)) {
    if (data[key] === undefined) delete data[key];
  }
  return JSON.stringify({ stream, data });
}

function trade(text: string): ParsedTrade {
  const parsed = parseTradeFrame(text, { receivedAt });
  assert.equal(parsed.kind, "trade", Deno.inspect(parsed));
  return parsed as ParsedTrade;
}

function rejected(text: string, kind: "ignored" | "invalid"): ParsedFrame {
  const parsed = parseTradeFrame(text, { receivedAt });
  assert.equal(parsed.kind, kind, `${text} → ${Deno.inspect(parsed)}`);
  return parsed;
}

Deno.test("parseTradeFrame() parses Binance's documented example", () => {
  const parsed = trade(
    '{"stream":"bnbbtc@trade","data":{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}}',
  );
  assert.deepEqual(parsed, {
    kind: "trade",
    stream: "bnbbtc@trade",
    symbol: "BNBBTC",
    side: Side.Sell,
    flags: 0,
    seq: 0,
    tsEvent: 1_672_515_782_136_000_000n,
    tsRecv: RECV_NANOS,
    priceFixed: 1_000_000n,
    size: 100,
    tradeId: 12345n,
  });
});

Deno.test("parseTradeFrame() keeps prices exact", () => {
  const cases: [string, bigint][] = [
    ["67123.45000000", 67_123_450_000_000n],
    ["0.00000001", 10n],
    ["0.000000001", 1n],
    ["3012.67000000", 3_012_670_000_000n],
    ["1", 1_000_000_000n],
    ["9223372036.854775807", (1n << 63n) - 1n],
    ["0.10000000000000", 100_000_000n],
  ];
  for (const [p, fixed] of cases) {
    assert.equal(trade(frame({ p })).priceFixed, fixed, p);
  }
});

Deno.test("parseTradeFrame() parses quantities", () => {
  assert.equal(trade(frame({ q: "0.00150000" })).size, 0.0015);
  assert.equal(trade(frame({ q: "12345.6789" })).size, 12345.6789);
});

Deno.test("parseTradeFrame() maps the maker flag to the aggressor side", () => {
  assert.equal(trade(frame({ m: true })).side, Side.Sell);
  assert.equal(trade(frame({ m: false })).side, Side.Buy);
});

Deno.test("parseTradeFrame() reads trade ids beyond 2^32 and 2^53 exactly", () => {
  assert.equal(trade(frame({ t: 5_412_345_670 })).tradeId, 5_412_345_670n);
  assert.equal(trade(frame({ t: 2 ** 32 })).tradeId, 4_294_967_296n);
  assert.equal(
    trade(frame({ t: Number.MAX_SAFE_INTEGER })).tradeId,
    9_007_199_254_740_991n,
  );
  assert.equal(trade(frame({ t: 0 })).tradeId, 0n);
  const big = (id: string) => frame({ t: 0 }).replace('"t":0', `"t":${id}`);
  assert.equal(trade(big("9007199254740993")).tradeId, 9_007_199_254_740_993n);
  assert.equal(
    trade(big("9223372036854775807")).tradeId,
    9_223_372_036_854_775_807n,
  );
  assert.equal(
    trade(big("18446744073709551615")).tradeId,
    18_446_744_073_709_551_615n,
  );
  for (const id of ["18446744073709551616", "1e300", "9007199254740993.5"]) {
    const parsed = rejected(big(id), "invalid");
    assert.equal(parsed.kind === "invalid" && parsed.code, "range", id);
  }
});

Deno.test("parseTradeFrame() reads the exact id of data's own t, not of a nested t", () => {
  // Found by the fuzz test: an unchecked field holding an object with its own
  // "e" and "t" (after data's "t") gave its id to the trade.
  const text = frame({ t: 0, M: { e: "x", t: 0 } })
    .replace('"t":0,', '"t":18446744073709551615,')
    .replace('"t":0}', '"t":12193648175749615113}');
  assert.match(text, /"t":18446744073709551615,.*"t":12193648175749615113\}/);
  assert.equal(trade(text).tradeId, 18_446_744_073_709_551_615n);
  // Without an "e" in the nested object, and nested before data's "t".
  const before = JSON.stringify({
    stream: "btcusdt@trade",
    data: { X: { t: 0 }, ...JSON.parse(frame({ t: 0 })).data },
  }).replace('"t":0}', '"t":9007199254740993}')
    .replace('"t":0,', '"t":18446744073709551615,');
  assert.match(before, /"X":\{"t":9007199254740993\}/);
  assert.equal(trade(before).tradeId, 18_446_744_073_709_551_615n);
});

Deno.test("parseTradeFrame() converts the trade time to ns", () => {
  assert.equal(
    trade(frame({ T: 1764196800122 })).tsEvent,
    1_764_196_800_122_000_000n,
  );
  const micro = parseTradeFrame(frame({ T: 1764196800122456 }), {
    receivedAt,
    timeUnit: "microsecond",
  });
  assert.equal(
    micro.kind === "trade" && micro.tsEvent,
    1_764_196_800_122_456_000n,
  );
});

Deno.test("parseTradeFrame() sets the flags it is given", () => {
  const parsed = parseTradeFrame(frame(), {
    receivedAt,
    flags: TradeFlags.Reconnect,
  });
  assert.equal(parsed.kind === "trade" && parsed.flags, TradeFlags.Reconnect);
});

Deno.test("parseTradeFrame() accepts and ignores old and extra fields", () => {
  assert.equal(trade(frame({ b: 88, a: 50 })).tradeId, 12345n);
  assert.equal(trade(frame({ M: undefined, E: undefined })).tradeId, 12345n);
  assert.equal(trade(frame({}, "BTCUSDT@trade")).symbol, "BTCUSDT");
});

Deno.test("parseTradeFrame() records encode as 48-byte trades", () => {
  const parsed = trade(frame({ t: 5_412_345_670, p: "67123.45000000" }));
  const bytes = new Uint8Array(TRADE_RECORD_SIZE);
  assert.equal(encodeTrade(parsed, bytes), TRADE_RECORD_SIZE);
});

test("parseTradeFrame() parses every fixture trade", async () => {
  const text = await Deno.readTextFile(new URL("trades.ndjson", FIXTURES));
  const lines = text.trim().split("\n");
  const trades = lines.map(trade);
  assert.equal(trades.length, 12);
  assert.equal(trades[0].tradeId, 5_412_345_670n);
  assert.equal(trades[0].priceFixed, 67_123_450_000_000n);
  assert.equal(trades[0].side, Side.Sell);
  assert.equal(trades[1].symbol, "ETHUSDT");
  assert.equal(trades[1].side, Side.Buy);
});

test("parseTradeFrame() ignores replies, errors and other events", async () => {
  const text = await Deno.readTextFile(new URL("ignored.ndjson", FIXTURES));
  const codes = text.trim().split("\n").map((line) => {
    const parsed = rejected(line, "ignored");
    return parsed.kind === "ignored" && parsed.code;
  });
  assert.deepEqual(codes, ["response", "event", "error"]);
});

test("parseTradeFrame() rejects garbage without throwing", async () => {
  const text = await Deno.readTextFile(new URL("garbage.txt", FIXTURES));
  const codes = text.trim().split("\n").map((line) => {
    const parsed = rejected(line, "invalid");
    return parsed.kind === "invalid" && parsed.code;
  });
  assert.deepEqual(codes, [
    "json",
    "field",
    "range",
    "field",
    "stream",
    "shape",
    "field",
    "json",
  ]);
});

Deno.test("parseTradeFrame() names the bad field and value", () => {
  const cases: [string, string, string][] = [
    ["", "json", "expected JSON"],
    ["null", "shape", "expected a JSON object"],
    ['"trade"', "shape", "expected a JSON object"],
    ["{}", "shape", "combined-stream frame"],
    ['{"stream":"btcusdt@trade"}', "field", 'Missing field "data"'],
    ['{"stream":1,"data":{}}', "field", 'Invalid field "stream" 1'],
    ['{"stream":"x","data":[]}', "field", 'Invalid field "data" []'],
    [frame({ e: undefined }), "field", 'Missing field "e"'],
    [frame({ s: undefined }), "field", 'Missing field "s"'],
    [frame({ s: "" }), "field", 'Invalid field "s" ""'],
    [frame({ s: "ETHUSDT" }), "stream", 'Invalid stream "btcusdt@trade"'],
    [frame({ t: undefined }), "field", 'Missing field "t"'],
    [frame({ t: "12345" }), "field", 'Invalid field "t" "12345"'],
    [frame({ t: -1 }), "range", "Invalid trade id -1"],
    [frame({ t: 1.5 }), "range", "Invalid trade id 1.5"],
    [frame({ p: undefined }), "field", 'Missing field "p"'],
    [frame({ p: 67123.45 }), "field", 'Invalid field "p" 67123.45'],
    [frame({ p: "0" }), "range", 'Invalid price "0"'],
    [frame({ p: "0.00000000" }), "range", 'Invalid price "0.00000000"'],
    [frame({ p: "-1" }), "range", 'Invalid price "-1"'],
    [frame({ p: "1e5" }), "range", 'Invalid price "1e5"'],
    [frame({ p: "" }), "range", 'Invalid price ""'],
    [frame({ p: "1.0000000001" }), "range", "9 decimal places"],
    [frame({ p: "9223372036.854775808" }), "range", "largest storable"],
    [frame({ q: undefined }), "field", 'Missing field "q"'],
    [frame({ q: 1 }), "field", 'Invalid field "q" 1'],
    [frame({ q: "0" }), "range", 'Invalid size "0"'],
    [frame({ q: "abc" }), "range", 'Invalid size "abc"'],
    [frame({ T: undefined }), "field", 'Missing field "T"'],
    [frame({ T: "1764196800122" }), "field", 'Invalid field "T"'],
    [frame({ T: -1 }), "range", "Invalid trade time -1"],
    [frame({ T: 1.5 }), "range", "Invalid trade time 1.5"],
    [frame({ T: 9_223_372_036_855 }), "range", "before 2262"],
    [frame({ T: 2 ** 60 }), "range", "Invalid trade time"],
    [frame({ m: undefined }), "field", 'Missing field "m"'],
    [frame({ m: 1 }), "field", 'Invalid field "m" 1'],
  ];
  for (const [text, code, reason] of cases) {
    const parsed = rejected(text, "invalid");
    assert.equal(parsed.kind === "invalid" && parsed.code, code, text);
    assert.ok(
      parsed.kind === "invalid" && parsed.reason.includes(reason),
      `${text}: ${JSON.stringify(parsed)} should mention ${reason}`,
    );
  }
});

Deno.test("parseTradeFrame() keeps reasons short for huge frames", () => {
  const parsed = rejected("x".repeat(100_000), "invalid") as InvalidFrame;
  assert.ok(parsed.reason.length < 200, parsed.reason);
});

Deno.test("parseTradeFrame() throws only for a bad receivedAt or flags", () => {
  for (
    const at of [
      { seconds: -1, nanos: 0 },
      { seconds: 1, nanos: 1e9 },
      { seconds: 1.5, nanos: 0 },
      { seconds: 2 ** 40, nanos: 0 },
    ]
  ) {
    assert.throws(
      () => parseTradeFrame(frame(), { receivedAt: at }),
      RangeError,
    );
  }
  assert.throws(
    () => parseTradeFrame(frame(), { receivedAt, flags: 65536 }),
    /Invalid flags 65536: expected an integer from 0 to 65535/,
  );
});
