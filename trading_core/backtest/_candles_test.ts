import assert from "node:assert/strict";
import type { Bar } from "../bar.ts";
import { CandleKeeper } from "./_candles.ts";

function bar(
  symbol: string,
  minute: number,
  price: number,
  interval = "1m",
): Bar {
  const intervalMs = interval === "1m" ? 60_000 : 1000;
  const start = minute * intervalMs;
  return {
    exchange: "binance",
    symbol,
    interval,
    intervalMs,
    start,
    end: start + intervalMs,
    open: price,
    high: price + 2,
    low: price - 1,
    close: price + 1,
    volume: 1,
    buyVolume: 1,
    sellVolume: 0,
    notional: price,
    vwap: price,
    trades: 1,
    complete: true,
  };
}

Deno.test("CandleKeeper: keeps the coarsest interval's bars per symbol, sorted by exchange then symbol", () => {
  const keeper = new CandleKeeper(["1s", "1m"]);
  assert.equal(keeper.interval, "1m");
  keeper.bar(bar("ETHUSDT", 0, 10));
  keeper.bar(bar("BTCUSDT", 0, 20));
  keeper.bar(bar("BTCUSDT", 0, 99, "1s")); // not the coarsest
  keeper.bar(bar("BTCUSDT", 1, 21));
  const series = keeper.series();
  assert.deepEqual(
    series.map((s) => [s.symbol, s.interval, s.candles.length]),
    [
      ["BTCUSDT", "1m", 2],
      ["ETHUSDT", "1m", 1],
    ],
  );
  assert.deepEqual(series[0].candles[1], {
    time: 60_000,
    open: 21,
    high: 23,
    low: 20,
    close: 22,
    volume: 1,
  });
});

Deno.test("CandleKeeper: past maxCandles, neighbours merge into candles twice as long: whole run kept, OHLCV exact", () => {
  const keeper = new CandleKeeper(["1m"], { maxCandles: 4 });
  for (let minute = 0; minute < 9; minute++) {
    keeper.bar(bar("BTCUSDT", minute, 100 + minute));
  }
  const [series] = keeper.series();
  // 9 minutes: 5 two-minute candles > 4, so four-minute ones: [0,4) [4,8) [8,12).
  assert.equal(series.interval, "4m");
  assert.deepEqual(series.candles, [
    { time: 0, open: 100, high: 105, low: 99, close: 104, volume: 4 },
    { time: 240_000, open: 104, high: 109, low: 103, close: 108, volume: 4 },
    { time: 480_000, open: 108, high: 110, low: 107, close: 109, volume: 1 },
  ]);
});
