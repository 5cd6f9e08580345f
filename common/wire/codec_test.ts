// Tests of the wire format v1 codec against the independent vectors in
// testdata/wire_vectors.json (computed with Python's struct.pack, not with
// this codec). Needs no permissions, except the doc check at the end, which
// is ignored without --allow-read.

import assert from "node:assert/strict";
import vectors from "./testdata/wire_vectors.json" with { type: "json" };
import {
  checkMessage,
  checkRecordBytes,
  checkTradeRecord,
  decodeTrade,
  decodeTrades,
  encodeMessage,
  encodeTrade,
  encodeTrades,
  recordCount,
  RecordOffset,
  WireFormatError,
} from "./codec.ts";
import { formatPrice, parsePrice } from "./fixed_point.ts";
import {
  type Side,
  type Trade,
  TRADE_RECORD_SIZE,
  TradeFlags,
  type TradeRecord,
  WIRE_VERSION,
} from "./trade.ts";
import { assertThrowsWith } from "../../tests/_assert_throws.ts";

type Vector = (typeof vectors)[number];
type VectorRecord = Vector["records"][number];

const MAX_I64 = (1n << 63n) - 1n;
const MAX_U64 = (1n << 64n) - 1n;

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(hex: string): Uint8Array {
  assert.match(hex, /^(?:[0-9a-f]{2})*$/, `bad hex ${hex}`);
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  }
  return bytes;
}

function toRecord(r: VectorRecord): TradeRecord {
  return {
    side: r.side as Side,
    flags: r.flags,
    seq: r.seq,
    tsEvent: BigInt(r.ts_event),
    tsRecv: BigInt(r.ts_recv),
    priceFixed: BigInt(r.price_fixed),
    size: r.size,
    tradeId: BigInt(r.trade_id),
  };
}

function toTrade(v: Vector, r: VectorRecord): Trade {
  return {
    exchange: v.exchange,
    symbol: v.symbol,
    ...toRecord(r),
    // The nearest double to the canonical decimal string.
    price: Number(r.price),
  };
}

/** A record with one field replaced by a (possibly ill-typed) value. */
function withField(
  record: TradeRecord,
  field: keyof TradeRecord,
  value: unknown,
): TradeRecord {
  return { ...record, [field]: value } as unknown as TradeRecord;
}

const single = vectors.find((v) => v.name === "btcusdt_buy")!;
const multi = vectors.find((v) => v.records.length === 2)!;
const base = toRecord(single.records[0]);
const origin = { exchange: "binance", symbol: "BTCUSDT" };

/** The bytes of `v` with `patch` applied to record `index`'s DataView. */
function corrupt(
  v: Vector,
  index: number,
  patch: (view: DataView, at: number) => void,
): Uint8Array {
  const bytes = fromHex(v.hex);
  patch(new DataView(bytes.buffer), index * TRADE_RECORD_SIZE);
  return bytes;
}

// ---------------------------------------------------------------- vectors

Deno.test("vectors: the file covers the required cases", () => {
  assert.ok(vectors.length >= 6);
  const names = new Set(vectors.map((v) => v.name));
  assert.equal(names.size, vectors.length, "vector names are unique");
  for (const v of vectors) {
    assert.match(v.hex, /^[0-9a-f]+$/, `${v.name}: lower-case hex`);
    assert.equal(v.hex.length, 96 * v.records.length, v.name);
    assert.ok(v.records.length >= 1);
  }
  const records = vectors.flatMap((v) => v.records);
  assert.ok(records.some((r) => r.side === 1 && r.price === "67123.45"));
  assert.ok(records.some((r) => r.side === 2 && r.price === "0.00000123"));
  assert.ok(records.some((r) => r.trade_id === "4294967297"));
  assert.ok(records.some((r) => r.trade_id === String(MAX_U64)));
  assert.ok(records.some((r) => r.seq === 0xffff_ffff));
  assert.ok(records.some((r) => r.side === 0 && r.flags === 7));
  assert.ok(records.some((r) => r.price_fixed === String(MAX_I64)));
  assert.ok(vectors.some((v) => v.records.length === 2));
});

Deno.test("vectors: price strings agree with price_fixed", () => {
  assert.equal(parsePrice("67123.45000000"), 67123450000000n);
  for (const v of vectors) {
    for (const r of v.records) {
      assert.equal(parsePrice(r.price), BigInt(r.price_fixed), v.name);
      assert.equal(formatPrice(BigInt(r.price_fixed)), r.price, v.name);
    }
  }
});

for (const v of vectors) {
  Deno.test(`encodeMessage: vector ${v.name} → exact hex`, () => {
    assert.equal(toHex(encodeMessage(v.records.map(toRecord))), v.hex);
  });

  Deno.test(`encodeTrades/encodeTrade: vector ${v.name} → exact hex`, () => {
    const records = v.records.map(toRecord);
    const a = new Uint8Array(v.hex.length / 2);
    assert.equal(encodeTrades(records, a), a.byteLength);
    assert.equal(toHex(a), v.hex);
    const b = new Uint8Array(v.hex.length / 2);
    records.forEach((record, i) => {
      assert.equal(
        encodeTrade(record, b, { offset: i * TRADE_RECORD_SIZE }),
        TRADE_RECORD_SIZE,
      );
    });
    assert.equal(toHex(b), v.hex);
  });

  Deno.test(`decodeTrades: vector ${v.name} → exact fields`, () => {
    const bytes = fromHex(v.hex);
    const origin = { exchange: v.exchange, symbol: v.symbol };
    const trades = decodeTrades(bytes, origin);
    assert.deepEqual(trades, v.records.map((r) => toTrade(v, r)));
    for (const [i, trade] of trades.entries()) {
      assert.equal(typeof trade.priceFixed, "bigint");
      assert.equal(formatPrice(trade.priceFixed), v.records[i].price);
      assert.deepEqual(decodeTrade(bytes, origin, { index: i }), trade);
    }
    assert.equal(recordCount(bytes), v.records.length);
    assert.equal(checkMessage(bytes), v.records.length);
  });

  Deno.test(`decodeTrades: vector ${v.name} inside a bigger buffer`, () => {
    // A message that is a view into a larger buffer (as a ring slot is).
    const outer = new Uint8Array(7 + v.hex.length / 2 + 5).fill(0xee);
    outer.set(fromHex(v.hex), 7);
    const message = outer.subarray(7, 7 + v.hex.length / 2);
    const origin = { exchange: v.exchange, symbol: v.symbol };
    assert.deepEqual(
      decodeTrades(message, origin),
      v.records.map((r) => toTrade(v, r)),
    );
  });
}

Deno.test("decodeTrades: exchange and symbol come from the origin as given", () => {
  const bytes = fromHex(single.hex);
  const trade = decodeTrade(bytes, { exchange: "bybit", symbol: "XYZ" });
  assert.equal(trade.exchange, "bybit");
  assert.equal(trade.symbol, "XYZ");
});

// ---------------------------------------------------------------- round trips

Deno.test("round trip: trade ids above 2^32 up to u64 max", () => {
  const ids = [
    0n,
    1n,
    0xffff_ffffn,
    1n << 32n,
    (1n << 32n) + 1n,
    (1n << 53n) + 1n,
    1n << 63n,
    MAX_U64 - 1n,
    MAX_U64,
  ];
  for (const tradeId of ids) {
    const record = { ...base, tradeId };
    const [trade] = decodeTrades(encodeMessage([record]), origin);
    assert.equal(trade.tradeId, tradeId);
    assert.deepEqual({ ...trade, exchange: 0, symbol: 0, price: 0 }, {
      ...record,
      exchange: 0,
      symbol: 0,
      price: 0,
    });
  }
});

Deno.test("round trip: boundary values of every field", () => {
  const cases: Partial<TradeRecord>[] = [
    { side: 0 },
    { side: 2 },
    { flags: 0 },
    { flags: 0xffff },
    {
      flags: TradeFlags.Synthetic | TradeFlags.Replayed | TradeFlags.Reconnect,
    },
    { seq: 0 },
    { seq: 0xffff_ffff },
    { tsEvent: 0n, tsRecv: 0n },
    { tsEvent: MAX_I64, tsRecv: MAX_I64 },
    { priceFixed: 1n },
    { priceFixed: MAX_I64 },
    { size: Number.MIN_VALUE },
    { size: Number.MAX_VALUE },
    { size: 0.1 + 0.2 },
  ];
  for (const change of cases) {
    const record = { ...base, ...change } as TradeRecord;
    const trade = decodeTrade(encodeMessage([record]), origin);
    const { exchange: _e, symbol: _s, price: _p, ...fields } = trade;
    assert.deepEqual(
      fields,
      record,
      JSON.stringify(change, (_k, v) => typeof v === "bigint" ? `${v}n` : v),
    );
  }
});

Deno.test("round trip: a long message keeps record order", () => {
  const records = Array.from({ length: 100 }, (_, i) => ({
    ...base,
    seq: (0xffff_ffff - 50 + i) % 2 ** 32,
    tradeId: (1n << 32n) + BigInt(i),
    priceFixed: base.priceFixed + BigInt(i),
  }));
  const message = encodeMessage(records);
  assert.equal(message.byteLength, 100 * TRADE_RECORD_SIZE);
  const trades = decodeTrades(message, origin);
  assert.deepEqual(
    trades.map((t) => [t.seq, t.tradeId, t.priceFixed]),
    records.map((r) => [r.seq, r.tradeId, r.priceFixed]),
  );
});

// ---------------------------------------------------------------- placement

Deno.test("encodeTrade: writes at an offset without touching other bytes", () => {
  const buffer = new Uint8Array(200).fill(0xaa);
  assert.equal(encodeTrade(base, buffer, { offset: 37 }), 48);
  assert.equal(toHex(buffer.subarray(37, 85)), single.hex);
  assert.ok(buffer.subarray(0, 37).every((b) => b === 0xaa));
  assert.ok(buffer.subarray(85).every((b) => b === 0xaa));
  // At the very end of the buffer.
  buffer.fill(0xaa);
  encodeTrade(base, buffer, { offset: 152 });
  assert.equal(toHex(buffer.subarray(152)), single.hex);
  assert.ok(buffer.subarray(0, 152).every((b) => b === 0xaa));
});

Deno.test("encodeTrade: offset is relative to a subarray's own start", () => {
  const outer = new Uint8Array(300).fill(0x55);
  const slot = outer.subarray(100, 200);
  encodeTrade(base, slot, { offset: 10 });
  assert.equal(toHex(outer.subarray(110, 158)), single.hex);
  assert.ok(outer.subarray(0, 110).every((b) => b === 0x55));
  assert.ok(outer.subarray(158).every((b) => b === 0x55));
  // Writing past the subarray's end is refused even though `outer` has room.
  assertThrowsWith(
    () => encodeTrade(base, slot, { offset: 60 }),
    RangeError,
    "Buffer too small",
    "offset 60",
    "holds 100",
  );
});

Deno.test("encodeTrades: writes at an offset without touching other bytes", () => {
  const buffer = new Uint8Array(5 + 96 + 3).fill(0xaa);
  assert.equal(
    encodeTrades(multi.records.map(toRecord), buffer, { offset: 5 }),
    96,
  );
  assert.equal(toHex(buffer.subarray(5, 101)), multi.hex);
  assert.ok(buffer.subarray(0, 5).every((b) => b === 0xaa));
  assert.ok(buffer.subarray(101).every((b) => b === 0xaa));
});

Deno.test("encodeTrades: an empty list writes nothing and returns 0", () => {
  const buffer = new Uint8Array(48).fill(0xaa);
  assert.equal(encodeTrades([], buffer), 0);
  assert.ok(buffer.every((b) => b === 0xaa));
});

Deno.test("encodeTrades: writes nothing when any record is invalid", () => {
  const good = multi.records.map(toRecord);
  const bad = [
    withField(good[1], "side", 3),
    withField(good[1], "priceFixed", 0n),
    withField(good[1], "size", NaN),
    withField(good[1], "tradeId", -1n),
    withField(good[1], "seq", 2 ** 32),
  ];
  for (const invalid of bad) {
    for (const records of [[good[0], invalid], [invalid, good[0]]]) {
      const buffer = new Uint8Array(96).fill(0xaa);
      assert.throws(() => encodeTrades(records, buffer), RangeError);
      assert.ok(buffer.every((b) => b === 0xaa), "buffer untouched");
    }
  }
  // Nor when the buffer is too small for all of them.
  const small = new Uint8Array(95).fill(0xaa);
  assertThrowsWith(
    () => encodeTrades(good, small),
    RangeError,
    "Buffer too small: 96 bytes needed at offset 0, buffer holds 95",
  );
  assert.ok(small.every((b) => b === 0xaa));
});

Deno.test("encodeTrade: writes nothing when the record is invalid", () => {
  const buffer = new Uint8Array(48).fill(0xaa);
  assert.throws(
    () => encodeTrade(withField(base, "size", -1), buffer),
    RangeError,
  );
  assert.ok(buffer.every((b) => b === 0xaa));
});

Deno.test("encodeTrade/encodeTrades: buffer too small or bad offset", () => {
  assertThrowsWith(
    () => encodeTrade(base, new Uint8Array(47)),
    RangeError,
    "Buffer too small: 48 bytes needed at offset 0, buffer holds 47",
  );
  assertThrowsWith(
    () => encodeTrade(base, new Uint8Array(48), { offset: 1 }),
    RangeError,
    "Buffer too small: 48 bytes needed at offset 1, buffer holds 48",
  );
  assertThrowsWith(
    () => encodeTrade(base, new Uint8Array(0)),
    RangeError,
    "buffer holds 0",
  );
  assertThrowsWith(
    () => encodeTrades([base, base], new Uint8Array(100), { offset: 5 }),
    RangeError,
    "Buffer too small: 96 bytes needed at offset 5, buffer holds 100",
  );
  for (const offset of [-1, 1.5, NaN, Infinity]) {
    assertThrowsWith(
      () => encodeTrade(base, new Uint8Array(200), { offset }),
      RangeError,
      `Invalid offset ${offset}`,
    );
    assertThrowsWith(
      () => encodeTrades([base], new Uint8Array(200), { offset }),
      RangeError,
      `Invalid offset ${offset}`,
    );
  }
  assertThrowsWith(
    () => encodeTrade(base, new ArrayBuffer(48) as unknown as Uint8Array),
    TypeError,
    "expected a Uint8Array",
  );
});

Deno.test("encodeMessage: rejects an empty list", () => {
  assertThrowsWith(
    () => encodeMessage([]),
    RangeError,
    "0 records given",
  );
});

// ---------------------------------------------------------------- decode rejections

Deno.test("WireFormatError: is an Error with a name and record index", () => {
  const error = new WireFormatError("x", 3);
  assert.ok(error instanceof Error);
  assert.equal(error.name, "WireFormatError");
  assert.equal(error.recordIndex, 3);
  assert.equal(new WireFormatError("y").recordIndex, undefined);
});

Deno.test("decode: rejects lengths that are not a positive multiple of 48", () => {
  for (const length of [0, 1, 47, 49, 95, 97, 480 + 1]) {
    const message = new Uint8Array(length);
    if (length >= 48) message.set(fromHex(single.hex));
    const expected = `${length} bytes received`;
    for (
      const run of [
        () => recordCount(message),
        () => checkMessage(message),
        () => decodeTrades(message, origin),
        () => decodeTrade(message, origin),
      ]
    ) {
      const error = assertThrowsWith(
        run,
        WireFormatError,
        expected,
        "positive multiple of 48",
      );
      assert.equal(error.recordIndex, undefined);
    }
  }
});

/** Each corruption, the text its error must hold. */
const corruptions: [string, (view: DataView, at: number) => void, string][] = [
  ["version 0", (d, at) => d.setUint8(at, 0), "wire version 0, expected 1"],
  ["version 2", (d, at) => d.setUint8(at, 2), "wire version 2, expected 1"],
  ["version 255", (d, at) => d.setUint8(at, 255), "wire version 255"],
  ["side 3", (d, at) => d.setUint8(at + 1, 3), "side 3, expected 0, 1 or 2"],
  ["side 255", (d, at) => d.setUint8(at + 1, 255), "side 255"],
  [
    "price 0",
    (d, at) => d.setBigInt64(at + RecordOffset.Price, 0n, true),
    "price 0 (fixed point), expected greater than 0",
  ],
  [
    "price -1",
    (d, at) => d.setBigInt64(at + RecordOffset.Price, -1n, true),
    "price -1 (fixed point)",
  ],
  [
    "price i64 min",
    (d, at) => d.setBigInt64(at + RecordOffset.Price, -(1n << 63n), true),
    "price -9223372036854775808",
  ],
  [
    "size NaN",
    (d, at) => d.setFloat64(at + RecordOffset.Size, NaN, true),
    "size NaN, expected a finite number greater than 0",
  ],
  [
    "size Infinity",
    (d, at) => d.setFloat64(at + RecordOffset.Size, Infinity, true),
    "size Infinity",
  ],
  [
    "size -Infinity",
    (d, at) => d.setFloat64(at + RecordOffset.Size, -Infinity, true),
    "size -Infinity",
  ],
  [
    "size 0",
    (d, at) => d.setFloat64(at + RecordOffset.Size, 0, true),
    "size 0,",
  ],
  [
    "size -0",
    (d, at) => d.setFloat64(at + RecordOffset.Size, -0, true),
    "size 0,",
  ],
  [
    "size -1.5",
    (d, at) => d.setFloat64(at + RecordOffset.Size, -1.5, true),
    "size -1.5",
  ],
  [
    "tsEvent -1",
    (d, at) => d.setBigInt64(at + RecordOffset.TsEvent, -1n, true),
    "tsEvent -1, expected >= 0",
  ],
  [
    "tsEvent i64 min",
    (d, at) => d.setBigInt64(at + RecordOffset.TsEvent, -(1n << 63n), true),
    "tsEvent -9223372036854775808",
  ],
  [
    "tsRecv -1",
    (d, at) => d.setBigInt64(at + RecordOffset.TsRecv, -1n, true),
    "tsRecv -1, expected >= 0",
  ],
];

for (const [what, patch, text] of corruptions) {
  Deno.test(`decode: rejects ${what} with the record index`, () => {
    // In a single-record message: record 0.
    const one = corrupt(single, 0, patch);
    for (
      const run of [() => decodeTrades(one, origin), () => checkMessage(one)]
    ) {
      const error = assertThrowsWith(
        run,
        WireFormatError,
        "Invalid trade record 0 (byte offset 0)",
        text,
      );
      assert.equal(error.recordIndex, 0);
    }
    const error = assertThrowsWith(
      () => decodeTrade(one, origin),
      WireFormatError,
      text,
    );
    assert.equal(error.recordIndex, 0);
    // In the second record of a two-record message: record 1.
    const two = corrupt(multi, 1, patch);
    const error1 = assertThrowsWith(
      () => decodeTrades(two, origin),
      WireFormatError,
      "Invalid trade record 1 (byte offset 48)",
      text,
    );
    assert.equal(error1.recordIndex, 1);
    assert.equal(
      assertThrowsWith(
        () => decodeTrade(two, origin, { index: 1 }),
        WireFormatError,
        text,
      ).recordIndex,
      1,
    );
    assert.throws(
      () => checkRecordBytes(new DataView(two.buffer), 48),
      WireFormatError,
    );
    // decodeTrade checks only the record it reads.
    assert.deepEqual(
      decodeTrade(two, origin, { index: 0 }),
      toTrade(multi, multi.records[0]),
    );
  });
}

Deno.test("decode: reserved flag bits are ignored by readers", () => {
  const bytes = corrupt(
    single,
    0,
    (d, at) => d.setUint16(at + RecordOffset.Flags, 0xfff8, true),
  );
  assert.equal(decodeTrade(bytes, origin).flags, 0xfff8);
});

Deno.test("decodeTrade: index outside the message is a RangeError", () => {
  const bytes = fromHex(multi.hex);
  for (const index of [-1, 2, 1.5, NaN]) {
    assertThrowsWith(
      () => decodeTrade(bytes, origin, { index }),
      RangeError,
      `Invalid record index ${index}: the message holds 2 record(s)`,
    );
  }
});

Deno.test("decode: the wire version constant is 1 and records are 48 bytes", () => {
  assert.equal(WIRE_VERSION, 1);
  assert.equal(TRADE_RECORD_SIZE, 48);
  assert.deepEqual(RecordOffset, {
    Version: 0,
    Side: 1,
    Flags: 2,
    Seq: 4,
    TsEvent: 8,
    TsRecv: 16,
    Price: 24,
    Size: 32,
    TradeId: 40,
  });
});

// ---------------------------------------------------------------- encode rejections

/** [field, bad value, text its RangeError must hold]. */
const badFields: [keyof TradeRecord, unknown, string][] = [
  ["side", 3, "Invalid trade side 3"],
  ["side", -1, "Invalid trade side -1"],
  ["side", 1.5, "Invalid trade side 1.5"],
  ["side", NaN, "Invalid trade side NaN"],
  ["side", "1", "Invalid trade side 1"],
  ["flags", -1, "Invalid trade flags -1"],
  ["flags", 0x10000, "Invalid trade flags 65536"],
  ["flags", 1.5, "Invalid trade flags 1.5"],
  ["flags", NaN, "Invalid trade flags NaN"],
  ["seq", 2 ** 32, "Invalid trade seq 4294967296"],
  ["seq", -1, "Invalid trade seq -1"],
  ["seq", 1.5, "Invalid trade seq 1.5"],
  ["seq", NaN, "Invalid trade seq NaN"],
  ["seq", Infinity, "Invalid trade seq Infinity"],
  ["tsEvent", -1n, "Invalid trade tsEvent -1"],
  ["tsEvent", 1n << 63n, "Invalid trade tsEvent 9223372036854775808"],
  ["tsEvent", 5, "Invalid trade tsEvent 5"],
  ["tsRecv", -1n, "Invalid trade tsRecv -1"],
  ["tsRecv", 1n << 63n, "Invalid trade tsRecv 9223372036854775808"],
  ["priceFixed", 0n, "Invalid price 0"],
  ["priceFixed", -1n, "Invalid price -1"],
  ["priceFixed", 1n << 63n, "Invalid price 9223372036854775808"],
  ["size", NaN, "Invalid size NaN"],
  ["size", Infinity, "Invalid size Infinity"],
  ["size", -Infinity, "Invalid size -Infinity"],
  ["size", 0, "Invalid size 0"],
  ["size", -0.5, "Invalid size -0.5"],
  ["tradeId", -1n, "Invalid trade tradeId -1"],
  ["tradeId", 1n << 64n, "Invalid trade tradeId 18446744073709551616"],
  ["tradeId", 1, "Invalid trade tradeId 1"],
];

for (const [field, value, text] of badFields) {
  Deno.test(`encode: rejects ${field} ${String(value)} with a RangeError`, () => {
    const record = withField(base, field, value);
    assertThrowsWith(() => checkTradeRecord(record), RangeError, text);
    assertThrowsWith(() => encodeMessage([record]), RangeError, text);
    assertThrowsWith(
      () => encodeTrade(record, new Uint8Array(48)),
      RangeError,
      text,
    );
    assertThrowsWith(
      () => encodeTrades([base, record], new Uint8Array(96)),
      RangeError,
      text,
    );
  });
}

Deno.test("encode: priceFixed that is not a bigint is a TypeError", () => {
  assert.throws(
    () => checkTradeRecord(withField(base, "priceFixed", 67123.45)),
    TypeError,
  );
});

// A length-tracking Uint8Array over a resizable ArrayBuffer changes length
// when the buffer grows: the codec must not keep using a stale DataView.
Deno.test("encode/decode: a Uint8Array over a resizable buffer that grew", () => {
  const buffer = new ArrayBuffer(48, { maxByteLength: 96 });
  const bytes = new Uint8Array(buffer); // length-tracking
  encodeTrade(base, bytes);
  buffer.resize(96);
  assert.equal(bytes.byteLength, 96);
  assert.equal(encodeTrade(base, bytes, { offset: 48 }), 48);
  assert.equal(decodeTrades(bytes, origin).length, 2);
});

// ---------------------------------------------------------------- the doc

const docUrl = new URL("../../docs/wire_format.md", import.meta.url);
const canRead =
  Deno.permissions.querySync({ name: "read", path: docUrl }).state ===
    "granted";

Deno.test({
  name: canRead
    ? "docs/wire_format.md lists every vector's hex and price"
    : "docs/wire_format.md lists every vector's hex and price [skipped: needs --allow-read]",
  ignore: !canRead,
  fn() {
    const doc = Deno.readTextFileSync(docUrl);
    for (const v of vectors) {
      assert.ok(doc.includes(v.name), `doc lacks vector name ${v.name}`);
      assert.ok(doc.includes(v.hex), `doc lacks the hex of ${v.name}`);
      for (const r of v.records) {
        assert.ok(
          doc.includes(r.price),
          `doc lacks the price ${r.price} of ${v.name}`,
        );
        assert.ok(
          doc.includes(r.trade_id),
          `doc lacks the trade id ${r.trade_id} of ${v.name}`,
        );
      }
    }
  },
});
