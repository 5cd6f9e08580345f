// Tests of the zero-copy TradeView against decodeTrades and the wire vectors.

import assert from "node:assert/strict";
import vectors from "./testdata/wire_vectors.json" with { type: "json" };
import {
  decodeTrades,
  encodeMessage,
  RecordOffset,
  WireFormatError,
} from "./codec.ts";
import { TradeView } from "./trade_view.ts";
import { Side, type Trade } from "./trade.ts";

type Vector = (typeof vectors)[number];

function fromHex(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  }
  return bytes;
}

function originOf(v: Vector) {
  return { exchange: v.exchange, symbol: v.symbol };
}

/** The getters of the selected record, in the shape of a Trade. */
function fieldsOf(view: TradeView, v: Vector): Trade {
  return {
    exchange: v.exchange,
    symbol: v.symbol,
    side: view.side,
    flags: view.flags,
    seq: view.seq,
    tsEvent: view.tsEvent,
    tsRecv: view.tsRecv,
    priceFixed: view.priceFixed,
    price: view.price,
    size: view.size,
    tradeId: view.tradeId,
  };
}

const multi = vectors.find((v) => v.records.length === 2)!;
const single = vectors.find((v) => v.name === "btcusdt_buy")!;

Deno.test("TradeView: a new view holds no records", () => {
  const view = new TradeView();
  assert.equal(view.count, 0);
  assert.throws(() => view.select(0), RangeError);
});

Deno.test("TradeView: wrap/count/select/getters equal decodeTrades on the multi-record vector", () => {
  const message = fromHex(multi.hex);
  const expected = decodeTrades(message, originOf(multi));
  const view = new TradeView();
  assert.equal(view.wrap(message), 2);
  assert.equal(view.count, 2);
  assert.equal(view.index, 0, "wrap selects record 0");
  assert.deepEqual(fieldsOf(view, multi), expected[0]);
  for (let i = 0; i < view.count; i++) {
    assert.equal(view.select(i), view, "select returns the view");
    assert.equal(view.index, i);
    assert.deepEqual(fieldsOf(view, multi), expected[i]);
    assert.deepEqual(view.toTrade(originOf(multi)), expected[i]);
  }
  // Spot-check against the vector itself (seq wraps from 2^32-1 to 0).
  assert.equal(view.select(0).seq, 0xffff_ffff);
  assert.equal(view.select(1).seq, 0);
  assert.equal(view.tradeId, BigInt(multi.records[1].trade_id));
  assert.equal(view.priceFixed, BigInt(multi.records[1].price_fixed));
});

for (const v of vectors) {
  Deno.test(`TradeView: vector ${v.name} reads like decodeTrades`, () => {
    const message = fromHex(v.hex);
    const expected = decodeTrades(message, originOf(v));
    const view = new TradeView();
    assert.equal(view.wrap(message), v.records.length);
    for (let i = 0; i < view.count; i++) {
      view.select(i);
      assert.deepEqual(fieldsOf(view, v), expected[i]);
    }
  });
}

Deno.test("TradeView: wraps a message that is a view into a bigger buffer", () => {
  const outer = new Uint8Array(13 + 96 + 11).fill(0xee);
  outer.set(fromHex(multi.hex), 13);
  const message = outer.subarray(13, 13 + 96);
  const view = new TradeView();
  assert.equal(view.wrap(message), 2);
  const expected = decodeTrades(message, originOf(multi));
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(view.select(i).toTrade(originOf(multi)), expected[i]);
  }
});

Deno.test("TradeView: reads the bytes in place (zero copy)", () => {
  const message = fromHex(single.hex);
  const view = new TradeView();
  view.wrap(message);
  new DataView(message.buffer).setUint32(RecordOffset.Seq, 12345, true);
  assert.equal(view.seq, 12345);
});

Deno.test("TradeView: select out of range throws RangeError", () => {
  const view = new TradeView();
  view.wrap(fromHex(multi.hex));
  for (const index of [-1, 2, 3, 1.5, NaN, Infinity, -Infinity]) {
    assert.throws(
      () => view.select(index),
      (error: unknown) =>
        error instanceof RangeError &&
        error.message.includes(`Invalid record index ${index}`) &&
        error.message.includes("holds 2 record(s)"),
    );
  }
  assert.equal(view.index, 0, "a failed select keeps the selection");
  view.wrap(fromHex(single.hex));
  assert.equal(view.count, 1);
  assert.throws(() => view.select(1), RangeError);
});

Deno.test("TradeView: re-wrapping resets the selection", () => {
  const view = new TradeView();
  view.wrap(fromHex(multi.hex));
  view.select(1);
  assert.equal(view.wrap(fromHex(single.hex)), 1);
  assert.equal(view.index, 0);
  assert.equal(view.tradeId, BigInt(single.records[0].trade_id));
});

Deno.test("TradeView: wrap of a bad message throws WireFormatError and leaves count 0", () => {
  const bad: [string, Uint8Array][] = [
    ["empty", new Uint8Array(0)],
    ["47 bytes", fromHex(single.hex).subarray(0, 47)],
    ["49 bytes", new Uint8Array(49)],
    ["95 bytes", fromHex(multi.hex).subarray(0, 95)],
  ];
  const badVersion = fromHex(multi.hex);
  badVersion[48] = 2; // record 1 has version 2
  bad.push(["version 2 in record 1", badVersion]);
  const badSide = fromHex(multi.hex);
  badSide[1] = 3;
  bad.push(["side 3 in record 0", badSide]);

  for (const [what, message] of bad) {
    const view = new TradeView();
    view.wrap(fromHex(multi.hex));
    view.select(1);
    assert.throws(() => view.wrap(message), WireFormatError, what);
    assert.equal(view.count, 0, what);
    assert.equal(view.index, 0, what);
    assert.throws(() => view.select(0), RangeError, what);
  }
  const view = new TradeView();
  assert.throws(
    () => view.wrap(badVersion),
    (error: unknown) =>
      error instanceof WireFormatError && error.recordIndex === 1,
  );
  assert.throws(
    () => view.wrap(new Uint8Array(47)),
    (error: unknown) =>
      error instanceof WireFormatError &&
      error.message.includes("47 bytes received"),
  );
});

Deno.test("TradeView: tsEventMs is floor(tsEvent / 1e6) exactly, without bigint", () => {
  const times = [
    0n,
    1n,
    999_999n,
    1_000_000n,
    1_000_001n,
    1_704_067_200_000_000_000n, // an exact ms
    1_704_067_200_999_999_999n, // one ns before a second
    1_704_067_201_000_000_000n,
    4_294_967_295n, // low half full
    4_294_967_296n, // 2^32: high half 1
    (1n << 53n) - 1n,
    (1n << 53n) + 999_999n,
    9_223_372_036_854_775_807n, // max i64
    9_223_372_036_854_000_000n,
    9_223_372_036_853_999_999n,
  ];
  for (let i = 0; i < 1000; i++) {
    // A spread of large times whose sub-ms part is near both ends.
    const ms = 1_700_000_000_000n + BigInt(i) * 7_000_000_007n;
    times.push(ms * 1_000_000n + BigInt((i * 1_234_567) % 1_000_000));
    times.push(ms * 1_000_000n + 999_999n - BigInt(i % 3));
  }
  const records = times.map((tsEvent) => ({
    side: Side.Buy,
    flags: 0,
    seq: 1,
    tsEvent,
    tsRecv: 0n,
    priceFixed: 1n,
    size: 1,
    tradeId: 1n,
  }));
  const view = new TradeView();
  view.wrap(encodeMessage(records));
  times.forEach((tsEvent, i) => {
    view.select(i);
    assert.equal(view.tsEventMs, Number(tsEvent / 1_000_000n), `${tsEvent}`);
  });
});

Deno.test("TradeView: tsEventMsFractional keeps the sub-ms part, and is tsEventMs for a whole ms", () => {
  const view = new TradeView();
  for (
    const tsEvent of [
      1_704_067_200_010_000_000n,
      1_704_067_200_010_500_000n,
      1_704_067_200_010_000_250n,
      0n,
    ]
  ) {
    view.wrap(encodeMessage([{
      side: Side.Buy,
      flags: 0,
      seq: 1,
      tsEvent,
      tsRecv: tsEvent,
      priceFixed: 1n,
      size: 1,
      tradeId: 1n,
    }]));
    const expected = Number(tsEvent / 1_000_000n) +
      Number(tsEvent % 1_000_000n) / 1e6;
    assert.ok(
      Math.abs(view.tsEventMsFractional - expected) < 3e-4,
      `${tsEvent}`,
    );
    if (tsEvent % 1_000_000n === 0n) {
      assert.equal(view.tsEventMsFractional, view.tsEventMs);
    }
  }
});
