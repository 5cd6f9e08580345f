// The candles the console keeps: every closed bar of the known streams and
// intervals (the last CANDLES_KEPT), by live's stream indexes, and the open
// bar read from the bar builder.

import assert from "node:assert/strict";
import type { Bar } from "../bar.ts";
import { BarBuilder } from "../bars.ts";
import { Side } from "../../common/wire/trade.ts";
import { CANDLES_KEPT, CandleStore } from "./candles.ts";

const BTC = { exchange: "binance", symbol: "BTCUSDT" };
const ETH = { exchange: "binance", symbol: "ETHUSDT" };

function bar(start: number, close: number, origin = BTC, interval = "1s"): Bar {
  return {
    ...origin,
    interval,
    intervalMs: 1000,
    start,
    end: start + 1000,
    open: close - 1,
    high: close + 1,
    low: close - 2,
    close,
    volume: 3,
    buyVolume: 2,
    sellVolume: 1,
    notional: 3 * close,
    vwap: close,
    trades: 4,
    complete: close % 2 === 0,
  };
}

Deno.test("CandleStore: keeps closed bars by stream and interval as candles; leaves out unknown ones", () => {
  const store = new CandleStore(["1s", "1m"]);
  store.addStream(BTC);
  store.addStream(ETH);
  store.bar(bar(1_000, 10));
  store.bar(bar(2_000, 11));
  store.bar(bar(60_000, 12, ETH, "1m"));
  store.bar(bar(3_000, 13, { exchange: "kraken", symbol: "BTCUSD" }));
  store.bar(bar(3_000, 13, BTC, "5m"));
  assert.equal(store.find("binance", "ETHUSDT"), 1);
  assert.equal(store.find("kraken", "BTCUSD"), undefined);
  assert.equal(store.intervalIndex("1m"), 1);
  assert.deepEqual(store.since(0, 0), [
    [1_000, 9, 11, 8, 10, 3, 4, 1],
    [2_000, 10, 12, 9, 11, 3, 4, 0],
  ]);
  assert.deepEqual(store.since(0, 0, 1).map((c) => c[0]), [2_000]);
  assert.equal(store.closed(0, 0), 2);
  assert.deepEqual(store.since(1, 1).map((c) => c[4]), [12]);
  assert.deepEqual(store.since(1, 0), []);
  assert.equal(store.open(0, 0), null, "no builder yet");
});

Deno.test("CandleStore: past CANDLES_KEPT bars the oldest go; since() counts from the first bar ever", () => {
  const store = new CandleStore(["1s"]);
  store.addStream(BTC);
  for (let i = 0; i < CANDLES_KEPT + 10; i++) store.bar(bar(i * 1000, i));
  const kept = store.since(0, 0);
  assert.equal(kept.length, CANDLES_KEPT);
  assert.equal(kept[0][0], 10_000);
  assert.deepEqual(
    store.since(0, 0, CANDLES_KEPT + 8).map((c) => c[4]),
    [CANDLES_KEPT + 8, CANDLES_KEPT + 9],
  );
});

Deno.test("CandleStore: the open bar comes from the builder, found by name when its indexes differ", () => {
  const store = new CandleStore(["1s", "1m"]);
  const builder = new BarBuilder([], {
    intervals: ["1s", "1m"],
    onBar: store.bar,
    clock: "trade",
  });
  // The builder met ETH first: its indexes are not the console's.
  builder.addSymbol("ETHUSDT", "binance");
  builder.addSymbol("BTCUSDT", "binance");
  store.addStream(BTC);
  store.addStream(ETH);
  store.builder = builder;
  assert.equal(store.open(0, 0), null, "no trade yet");
  builder.addTrade(1, 61_500, 100, 2, Side.Buy);
  builder.addTrade(1, 61_700, 103, 1, Side.Sell);
  assert.deepEqual(store.open(0, 0), [61_000, 100, 103, 100, 103, 3, 2, 1]);
  assert.deepEqual(store.open(0, 1)?.[0], 60_000);
  assert.equal(store.open(1, 0), null);
  builder.addTrade(1, 62_000, 99, 1, Side.Buy); // closes the 1 s bar
  assert.deepEqual(store.since(0, 0).map((c) => c[4]), [103]);
  assert.equal(store.open(5, 0), null, "unknown stream");
});
