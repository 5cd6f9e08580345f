import assert from "node:assert/strict";
import { encodeMessage } from "../common/wire/codec.ts";
import { Side, type TradeRecord } from "../common/wire/trade.ts";
import { TradeView } from "../common/wire/trade_view.ts";
import { assertThrowsWith } from "../tests/_assert_throws.ts";
import type { Bar } from "./bar.ts";
import { BarBuilder, type BarBuilderOptions } from "./bars.ts";

/** 2024-01-01T00:00:00Z: a whole day, so every interval's bars start here. */
const T0 = 1_704_067_200_000;

/** A builder whose bars land in `bars` and whose wall clock is `clock.wall`. */
function setup(
  symbols: readonly string[],
  options: Partial<BarBuilderOptions> = {},
) {
  const bars: Bar[] = [];
  const clock = { wall: 0, reads: 0 };
  const builder = new BarBuilder(symbols, {
    exchange: "binance",
    intervals: ["1s"],
    onBar: (bar) => bars.push(bar),
    now: () => {
      clock.reads++;
      return clock.wall;
    },
    ...options,
  });
  return { builder, bars, clock };
}

/** An empty bar of `symbol` at `start` (ms after T0) repeating `price`. */
function empty(
  symbol: string,
  start: number,
  price: number,
  interval = "1s",
  intervalMs = 1000,
): Bar {
  return {
    exchange: "binance",
    symbol,
    interval,
    intervalMs,
    start: T0 + start,
    end: T0 + start + intervalMs,
    open: price,
    high: price,
    low: price,
    close: price,
    volume: 0,
    buyVolume: 0,
    sellVolume: 0,
    notional: 0,
    vwap: null,
    trades: 0,
    complete: true,
  };
}

/** `[interval, ms after T0]` of each bar, to check order. */
function starts(bars: Bar[]): [string, number][] {
  return bars.map((bar) => [bar.interval, bar.start - T0]);
}

Deno.test("BarBuilder: bad options are TypeError/RangeError", () => {
  const onBar = () => {};
  const exchange = "binance";
  assertThrowsWith(
    () => new BarBuilder([], { exchange, intervals: [], onBar }),
    TypeError,
    "Invalid intervals []: expected at least one",
  );
  assertThrowsWith(
    () => new BarBuilder([], { exchange, intervals: ["1m", "60s"], onBar }),
    RangeError,
    `Invalid intervals: "60s" repeats "1m" (60000 ms): expected each interval once`,
  );
  assertThrowsWith(
    () => new BarBuilder([], { exchange, intervals: ["7s"], onBar }),
    RangeError,
    `Invalid interval "7s"`,
  );
  assertThrowsWith(
    () => new BarBuilder(["A", "A"], { exchange, intervals: ["1s"], onBar }),
    RangeError,
    `"A" is listed twice`,
  );
  assertThrowsWith(
    () =>
      new BarBuilder([], {
        exchange,
        intervals: ["1s"],
        onBar,
        maxEmptyBars: -1,
      }),
    RangeError,
    "Invalid maxEmptyBars -1: expected an integer >= 0",
  );
  assertThrowsWith(
    () =>
      new BarBuilder([], {
        exchange,
        intervals: ["1s"],
        onBar,
        closeDelayMs: NaN,
      }),
    RangeError,
    "Invalid closeDelayMs NaN",
  );
  const { builder } = setup(["A"]);
  assertThrowsWith(
    () => builder.addTrade(1, T0, 1, 1, Side.Buy),
    RangeError,
    "Invalid stream index 1: expected 0 to 0",
  );
  assertThrowsWith(
    () => builder.addTrade(0.5, T0, 1, 1, Side.Buy),
    RangeError,
    "Invalid stream index 0.5",
  );
});

Deno.test("BarBuilder: exact OHLCV, VWAP, buy/sell volume and count; 999 ms stays, the end ms opens the next bar", () => {
  const { builder, bars } = setup(["BTCUSDT"]);
  builder.addTrade(0, T0 + 100, 100.5, 0.5, Side.Buy);
  builder.addTrade(0, T0 + 200, 101, 0.25, Side.Sell);
  builder.addTrade(0, T0 + 300, 99.5, 0.25, Side.Unknown);
  builder.addTrade(0, T0 + 999, 100, 1, Side.Buy);
  assert.equal(bars.length, 0, "the bar is still open at 999 ms");
  builder.addTrade(0, T0 + 1000, 102, 0.5, Side.Sell);
  assert.deepEqual(bars, [{
    exchange: "binance",
    symbol: "BTCUSDT",
    interval: "1s",
    intervalMs: 1000,
    start: T0,
    end: T0 + 1000,
    open: 100.5,
    high: 101,
    low: 99.5,
    close: 100,
    volume: 2,
    buyVolume: 1.5,
    sellVolume: 0.25,
    notional: 200.375, // 50.25 + 25.25 + 24.875 + 100
    vwap: 100.1875,
    trades: 4,
    complete: true,
  }]);
  builder.addTrade(0, T0 + 2000, 103, 0.25, Side.Buy);
  assert.deepEqual(bars[1], {
    ...empty("BTCUSDT", 1000, 102),
    volume: 0.5,
    sellVolume: 0.5,
    notional: 51,
    vwap: 102,
    trades: 1,
  });
  assert.equal(bars.length, 2);
});

Deno.test("BarBuilder: 1s and 1m over the same trades, in order, with the 1m VWAP to 1e-12", () => {
  const { builder, bars } = setup(["ETHUSDT"], { intervals: ["1s", "1m"] });
  builder.addTrade(0, T0 + 500, 10, 1, Side.Buy);
  builder.addTrade(0, T0 + 1500, 12, 0.5, Side.Sell);
  assert.deepEqual(starts(bars), [["1s", 0]]);
  builder.addTrade(0, T0 + 59_999, 8, 0.25, Side.Buy);
  // [1s, 2s) then the 57 empty seconds [2s, 59s).
  assert.equal(bars.length, 59);
  assert.deepEqual(
    starts(bars),
    Array.from({ length: 59 }, (_, i) => ["1s", i * 1000]),
  );
  for (let i = 2; i < 59; i++) {
    assert.deepEqual(bars[i], empty("ETHUSDT", i * 1000, 12));
  }
  builder.addTrade(0, T0 + 60_000, 11, 1, Side.Buy);
  assert.deepEqual(starts(bars.slice(59)), [["1s", 59_000], ["1m", 0]]);
  const minute = bars[60];
  const { vwap, ...rest } = minute;
  assert.deepEqual(rest, {
    exchange: "binance",
    symbol: "ETHUSDT",
    interval: "1m",
    intervalMs: 60_000,
    start: T0,
    end: T0 + 60_000,
    open: 10,
    high: 12,
    low: 8,
    close: 8,
    volume: 1.75,
    buyVolume: 1.25,
    sellVolume: 0.5,
    notional: 18,
    trades: 3,
    complete: true,
  });
  assert.ok(vwap !== null && Math.abs(vwap / (72 / 7) - 1) < 1e-12, `${vwap}`);
  assert.deepEqual(bars[59], {
    ...empty("ETHUSDT", 59_000, 8),
    volume: 0.25,
    buyVolume: 0.25,
    notional: 2,
    vwap: 8,
    trades: 1,
  });
  assert.deepEqual(builder.stats(), [
    { interval: "1s", closed: 60, late: 0, skippedEmpty: 0 },
    { interval: "1m", closed: 1, late: 0, skippedEmpty: 0 },
  ]);
});

Deno.test("BarBuilder: a gap of 3 intervals emits 3 empty bars at the previous close", () => {
  const { builder, bars } = setup(["A"]);
  builder.addTrade(0, T0 + 500, 100.5, 0.5, Side.Buy);
  builder.addTrade(0, T0 + 4250, 101, 0.25, Side.Sell);
  assert.deepEqual(bars, [
    {
      ...empty("A", 0, 100.5),
      volume: 0.5,
      buyVolume: 0.5,
      notional: 50.25,
      vwap: 100.5,
      trades: 1,
    },
    empty("A", 1000, 100.5),
    empty("A", 2000, 100.5),
    empty("A", 3000, 100.5),
  ]);
});

Deno.test("BarBuilder: a gap marks the open bar, the empties closed before the next trade and the bar holding it incomplete; the rest stay complete", () => {
  const { builder, bars } = setup(["A", "B"], { intervals: ["1s", "1m"] });
  builder.addTrade(0, T0 + 500, 10, 1, Side.Buy);
  builder.addTrade(1, T0 + 500, 20, 1, Side.Buy);
  builder.addTrade(0, T0 + 1500, 11, 1, Side.Buy); // closes A [0s, 1s)
  builder.gap(0); // A's trades missing after the one at 1.5 s
  builder.addTrade(0, T0 + 4200, 12, 1, Side.Buy); // closes [1s, 4s)
  builder.addTrade(0, T0 + 5100, 13, 1, Side.Buy); // closes [4s, 5s)
  builder.addTrade(0, T0 + 6100, 14, 1, Side.Buy); // closes [5s, 6s)
  builder.addTrade(1, T0 + 6100, 21, 1, Side.Buy); // B: no gap
  builder.addTrade(0, T0 + 60_100, 15, 1, Side.Buy); // closes A's minute
  const of = (symbol: string, interval: string) =>
    bars.filter((bar) => bar.symbol === symbol && bar.interval === interval)
      .slice(0, 7)
      .map((bar) => [bar.start - T0, bar.trades, bar.complete]);
  assert.deepEqual(of("A", "1s"), [
    [0, 1, true],
    [1000, 1, false], // open when the gap came
    [2000, 0, false], // empties closed before the next trade
    [3000, 0, false],
    [4000, 1, false], // holds the next trade
    [5000, 1, true],
    [6000, 1, true],
  ]);
  assert.deepEqual(of("A", "1m"), [[0, 5, false]]);
  assert.ok(
    bars.filter((bar) => bar.symbol === "B").every((bar) => bar.complete),
    "B's bars are complete",
  );
  assertThrowsWith(
    () => builder.gap(2),
    RangeError,
    "Invalid stream index 2: expected 0 to 1",
  );
});

Deno.test("BarBuilder: bars advance() closes while a gap is pending are incomplete; a gap before a stream's first trade marks its first bar", () => {
  const { builder, bars, clock } = setup(["A", "B"]);
  builder.gap(1); // before B's first trade
  builder.addTrade(0, T0 + 200, 5, 1, Side.Buy);
  builder.gap(0);
  clock.wall = 3050; // clock T0 + 3250: [0s, 3s) close
  builder.advance();
  builder.addTrade(0, T0 + 3300, 6, 1, Side.Buy); // into the open [3s, 4s)
  builder.addTrade(0, T0 + 4300, 7, 1, Side.Buy);
  builder.addTrade(0, T0 + 5300, 8, 1, Side.Buy);
  builder.addTrade(1, T0 + 5400, 9, 1, Side.Buy); // B's first bar
  builder.addTrade(1, T0 + 6400, 9, 1, Side.Buy);
  builder.addTrade(1, T0 + 7400, 9, 1, Side.Buy);
  assert.deepEqual(
    bars.map((bar) => [bar.symbol, bar.start - T0, bar.complete]),
    [
      ["A", 0, false], // open at the gap
      ["A", 1000, false], // empties before the next trade
      ["A", 2000, false],
      ["A", 3000, false], // opened empty while pending, holds the next trade
      ["A", 4000, true],
      ["B", 5000, false], // B's first bar: trades before it are missing
      ["B", 6000, true],
    ],
  );
});

Deno.test("BarBuilder: a late trade after a gap is its next trade: the bars after it are complete", () => {
  const { builder, bars } = setup(["A"]);
  builder.addTrade(0, T0 + 1500, 5, 1, Side.Buy);
  builder.gap(0);
  builder.addTrade(0, T0 + 900, 4, 1, Side.Buy); // late
  builder.addTrade(0, T0 + 2500, 6, 1, Side.Buy);
  builder.addTrade(0, T0 + 3500, 7, 1, Side.Buy);
  assert.deepEqual(
    bars.map((bar) => [bar.start - T0, bar.complete]),
    [[1000, false], [2000, true]],
  );
  assert.equal(builder.counts()[0].late, 1);
});

Deno.test("BarBuilder: late trades are counted per symbol and interval, not folded into closed bars", () => {
  const { builder, bars } = setup(["A", "B"], { intervals: ["1s", "1m"] });
  builder.addTrade(0, T0 + 1500, 10, 1, Side.Buy);
  builder.addTrade(0, T0 + 2500, 11, 1, Side.Buy); // closes 1s [1s, 2s)
  builder.addTrade(0, T0 + 1999, 50, 0.5, Side.Sell); // late for 1s only
  builder.addTrade(0, T0 + 1000, 60, 0.5, Side.Sell); // late for 1s only
  builder.addTrade(0, T0 + 2000, 9, 0.25, Side.Buy); // the open 1s bar's start
  builder.addTrade(1, T0 + 100, 7, 1, Side.Buy); // B's first trade: not late
  assert.deepEqual(starts(bars), [["1s", 1000]]);
  assert.equal(bars[0].trades, 1);
  assert.equal(bars[0].high, 10);
  builder.addTrade(0, T0 + 60_000, 12, 1, Side.Buy);
  const second = bars.find((bar) => bar.start === T0 + 2000)!;
  assert.deepEqual(second, {
    ...empty("A", 2000, 9),
    open: 11,
    high: 11,
    volume: 1.25,
    buyVolume: 1.25,
    notional: 13.25,
    vwap: 10.6,
    trades: 2,
  });
  const minute = bars.find((bar) => bar.interval === "1m")!;
  assert.equal(minute.trades, 5, "the 1m bar was open: nothing late there");
  assert.equal(minute.high, 60);
  assert.equal(minute.volume, 3.25);
  assert.deepEqual(builder.stats(), [
    { interval: "1s", closed: 59, late: 2, skippedEmpty: 0 },
    { interval: "1m", closed: 1, late: 0, skippedEmpty: 0 },
  ]);
  const counts = (
    symbol: string,
    interval: string,
    closed: number,
    late = 0,
  ) => ({
    exchange: "binance",
    symbol,
    interval,
    closed,
    late,
    skippedEmpty: 0,
  });
  assert.deepEqual(builder.counts(), [
    counts("A", "1s", 59, 2),
    counts("A", "1m", 1),
    counts("B", "1s", 0),
    counts("B", "1m", 0),
  ]);
});

Deno.test("BarBuilder: advance closes bars on time by the trade clock, empties keep coming, none before a symbol's first trade", () => {
  const { builder, bars, clock } = setup(["A", "B", "C"]);
  clock.wall = 1e6;
  builder.advance();
  assert.equal(bars.length, 0, "no trade yet");
  clock.wall = 0;
  builder.addTrade(0, T0 + 200, 5, 1, Side.Buy); // seen at wall 0
  clock.wall = 1049; // clock T0 + 1249: [0, 1s) waits for closeDelayMs 250
  builder.advance();
  assert.equal(bars.length, 0);
  clock.wall = 1050;
  builder.advance();
  builder.advance(); // idempotent
  assert.deepEqual(starts(bars), [["1s", 0]]);
  assert.equal(bars[0].trades, 1);
  clock.wall = 2049;
  builder.advance();
  assert.equal(bars.length, 1);
  clock.wall = 5050; // three more whole seconds passed: three empties, no more
  builder.advance();
  assert.deepEqual(bars.slice(1), [
    empty("A", 1000, 5),
    empty("A", 2000, 5),
    empty("A", 3000, 5),
    empty("A", 4000, 5),
  ]);
  builder.addTrade(0, T0 + 5100, 6, 1, Side.Sell); // into the open [5s, 6s)
  builder.addTrade(1, T0 + 5100, 7, 1, Side.Buy); // B's first bar
  clock.wall = 6199; // anchored at T0 + 5100 seen at 5050: clock T0 + 6249
  builder.advance();
  assert.equal(bars.length, 5);
  clock.wall = 6200;
  builder.advance();
  assert.deepEqual(bars.slice(5).map((bar) => [bar.symbol, bar.start - T0]), [
    ["A", 5000],
    ["B", 5000],
  ]);
  assert.equal(bars[5].close, 6);
  assert.equal(bars[6].close, 7);
  assert.ok(!bars.some((bar) => bar.symbol === "C"), "C never traded");
  assert.deepEqual(builder.counts().map((count) => count.closed), [6, 1, 0]);
});

Deno.test("BarBuilder: the trade clock reads now() once per 10 ms of trade time", () => {
  const { builder, bars, clock } = setup(["A"], { closeDelayMs: 0 });
  for (let t = 0; t < 1000; t++) builder.addTrade(0, T0 + t, 1, 1, Side.Buy);
  assert.equal(clock.reads, 100);
  // The last anchor is T0 + 990 at wall 0: the clock is at least the latest
  // trade time, and moves on from the anchor.
  builder.advance();
  assert.equal(bars.length, 0);
  clock.wall = 9;
  builder.advance();
  assert.equal(bars.length, 0, "T0 + 999 < T0 + 1000");
  clock.wall = 10;
  builder.advance();
  assert.deepEqual(starts(bars), [["1s", 0]]);
});

Deno.test("BarBuilder: symbols are independent; addSymbol grows the table and keeps known indices", () => {
  const { builder, bars } = setup(["A"], { intervals: ["1s", "1m"] });
  builder.addTrade(0, T0 + 100, 1, 1, Side.Buy);
  const added = ["B", "C", "D", "E", "F"].map((s) => builder.addSymbol(s));
  assert.deepEqual(added, [1, 2, 3, 4, 5]);
  assert.equal(builder.addSymbol("C"), 2);
  assert.deepEqual(
    builder.streams,
    ["A", "B", "C", "D", "E", "F"].map((symbol) => ({
      exchange: "binance",
      symbol,
    })),
  );
  builder.addTrade(5, T0 + 10_100, 6, 1, Side.Sell);
  builder.addTrade(2, T0 + 20_100, 3, 1, Side.Buy);
  assert.deepEqual(bars.map((bar) => bar.symbol), [], "no symbol's bar ended");
  builder.addTrade(0, T0 + 1100, 2, 1, Side.Buy);
  builder.addTrade(5, T0 + 11_100, 7, 1, Side.Sell);
  assert.deepEqual(bars.map((bar) => [bar.symbol, bar.start - T0, bar.close]), [
    ["A", 0, 1],
    ["F", 10_000, 6],
  ]);
});

Deno.test("BarBuilder: the same symbol on two exchanges is two streams with bars of their own", () => {
  const { builder, bars } = setup([], { exchange: undefined });
  const audx = builder.addSymbol("AUDA", "audx");
  const audy = builder.addSymbol("AUDA", "audy");
  assert.deepEqual([audx, audy], [0, 1]);
  assert.equal(builder.addSymbol("AUDA", "audx"), audx, "known stream");
  // Interleaved, at prices far apart: no bar mixes them.
  for (let i = 0; i < 20; i++) {
    builder.addTrade(audx, T0 + i * 100, 10, 1, Side.Buy);
    builder.addTrade(audy, T0 + i * 100 + 50, 20, 2, Side.Sell);
  }
  builder.addTrade(audx, T0 + 2000, 11, 1, Side.Buy);
  builder.addTrade(audy, T0 + 2000, 21, 1, Side.Buy);
  const own = (exchange: string) =>
    bars.filter((bar) => bar.exchange === exchange).map((bar) => [
      bar.start - T0,
      bar.low,
      bar.high,
      bar.volume,
      bar.trades,
    ]);
  assert.deepEqual(own("audx"), [[0, 10, 10, 10, 10], [1000, 10, 10, 10, 10]]);
  assert.deepEqual(own("audy"), [[0, 20, 20, 20, 10], [1000, 20, 20, 20, 10]]);
  assert.ok(bars.every((bar) => bar.symbol === "AUDA"));
  assert.deepEqual(
    builder.counts().map((row) => [row.exchange, row.symbol, row.closed]),
    [["audx", "AUDA", 2], ["audy", "AUDA", 2]],
  );
});

Deno.test("BarBuilder: each exchange has its own trade clock: an exchange a day behind (a replay) neither closes the other's bars nor has its trades made late", () => {
  const { builder, bars, clock } = setup([], {
    exchange: undefined,
    maxEmptyBars: 5,
  });
  const live = builder.addSymbol("AUDA", "audx");
  const replay = builder.addSymbol("AUDA", "audy");
  const DAY = 86_400_000;
  builder.addTrade(live, T0 + DAY + 100, 10, 1, Side.Buy);
  builder.addTrade(replay, T0 + 100, 20, 1, Side.Buy);
  clock.wall = 1150; // each clock 1150 ms past its first trade
  builder.advance();
  assert.deepEqual(
    bars.map((bar) => [bar.exchange, bar.start - T0, bar.trades]),
    [["audx", DAY, 1], ["audy", 0, 1]],
  );
  // The replay's next trades are on time for its own bars: none late,
  // no empties skipped.
  builder.addTrade(replay, T0 + 1200, 21, 1, Side.Buy);
  builder.addTrade(replay, T0 + 1300, 22, 1, Side.Buy);
  assert.deepEqual(
    builder.counts().map((row) => [row.exchange, row.late, row.skippedEmpty]),
    [["audx", 0, 0], ["audy", 0, 0]],
  );
  clock.wall = 2250;
  builder.advance();
  assert.deepEqual(
    bars.slice(2).map((bar) => [bar.exchange, bar.start - T0, bar.trades]),
    [["audx", DAY + 1000, 0], ["audy", 1000, 2]],
  );
});

Deno.test("BarBuilder: the trade clock closes nothing on advance and never reads now(); a later trade of the stream closes its bars", () => {
  const { builder, bars, clock } = setup(["A", "B"], { clock: "trade" });
  builder.addTrade(0, T0 + 100, 10, 1, Side.Buy);
  builder.addTrade(1, T0 + 100, 20, 1, Side.Buy);
  clock.wall = 86_400_000;
  builder.advance();
  assert.equal(bars.length, 0);
  assert.equal(clock.reads, 0, "no wall clock");
  builder.addTrade(0, T0 + 3100, 11, 1, Side.Buy);
  assert.deepEqual(bars.map((bar) => [bar.symbol, bar.start - T0]), [
    ["A", 0],
    ["A", 1000],
    ["A", 2000],
  ]);
  builder.advance();
  assert.equal(bars.length, 3, "B waits for its own next trade");
  assert.equal(clock.reads, 0);
  assert.throws(
    // @ts-expect-error: not a clock
    () => setup([], { clock: "exchange" }),
    {
      name: "RangeError",
      message: `Invalid clock "exchange": expected "wall" or "trade"`,
    },
  );
});

Deno.test("BarBuilder: symbols need an exchange, in the options or with addSymbol", () => {
  const onBar = () => {};
  assertThrowsWith(
    () => new BarBuilder(["A"], { intervals: ["1s"], onBar }),
    TypeError,
    `Invalid exchange undefined of symbol "A"`,
  );
  const builder = new BarBuilder([], { intervals: ["1s"], onBar });
  assertThrowsWith(
    () => builder.addSymbol("A"),
    TypeError,
    "expected a string",
  );
  assert.equal(builder.addSymbol("A", "binance"), 0);
});

Deno.test("BarBuilder: a gap longer than maxEmptyBars emits no empties, counts them, goes on from the new bar", () => {
  const { builder, bars, clock } = setup(["A"], { maxEmptyBars: 2 });
  builder.addTrade(0, T0 + 500, 1, 1, Side.Buy);
  builder.addTrade(0, T0 + 3500, 2, 1, Side.Buy); // 2 empties: emitted
  assert.deepEqual(starts(bars), [["1s", 0], ["1s", 1000], ["1s", 2000]]);
  builder.addTrade(0, T0 + 7500, 3, 1, Side.Buy); // 3 empties: skipped
  assert.deepEqual(starts(bars.slice(3)), [["1s", 3000]]);
  builder.addTrade(0, T0 + 8200, 4, 1, Side.Buy);
  assert.deepEqual(bars[4], {
    ...empty("A", 7000, 3),
    volume: 1,
    buyVolume: 1,
    notional: 3,
    vwap: 3,
    trades: 1,
  });
  // The clock jumps a day: the open bar closes, the empties are skipped.
  clock.wall = 86_400_000;
  builder.advance();
  assert.equal(bars.length, 6);
  assert.equal(bars[5].start, T0 + 8000);
  assert.equal(bars[5].close, 4);
  // Clock T0 + 86_408_200 (anchored at the last trade, wall 0), less the
  // close delay: [9s, 86_407s) is skipped.
  assert.deepEqual(builder.stats(), [
    { interval: "1s", closed: 6, late: 0, skippedEmpty: 3 + 86_398 },
  ]);
  // The next second closes as usual, empty at the last close.
  clock.wall += 1000;
  builder.advance();
  assert.deepEqual(bars.slice(6), [empty("A", 86_407_000, 4)]);
});

Deno.test("BarBuilder: add(view) equals addTrade with the view's fields", () => {
  const records: TradeRecord[] = [];
  for (let i = 0; i < 200; i++) {
    records.push({
      side: (i % 3) as Side,
      flags: 0,
      seq: i,
      // Sub-ms parts near both ends of the ms, some trades late.
      tsEvent: BigInt(T0) * 1_000_000n + BigInt(i * 37 % 101) * 50_000_000n +
        BigInt(i % 2 === 0 ? 999_999 : 0),
      tsRecv: 0n,
      priceFixed: 100_500_000_000n + BigInt(i % 7) * 250_000_000n,
      size: [0.5, 0.25, 1.5][i % 3],
      tradeId: BigInt(i),
    });
  }
  const intervals = ["100ms", "1s"];
  const viaView = setup(["A", "B"], { intervals });
  const direct = setup(["A", "B"], { intervals });
  const view = new TradeView();
  view.wrap(encodeMessage(records));
  records.forEach((record, i) => {
    viaView.builder.add(view.select(i), i % 2);
    direct.builder.addTrade(
      i % 2,
      Number(record.tsEvent / 1_000_000n),
      Number(record.priceFixed) / 1e9,
      record.size,
      record.side,
    );
  });
  assert.ok(direct.bars.length > 50, `${direct.bars.length}`);
  assert.deepEqual(viaView.bars, direct.bars);
  assert.deepEqual(viaView.builder.counts(), direct.builder.counts());
  assert.ok(direct.builder.stats()[0].late > 0, "some trades are late");
});

Deno.test("BarBuilder: after add returns, every bar the trade closed was emitted, in order; every trade is in a bar or late", () => {
  const symbols = ["A", "B", "C", "D"];
  const intervals = ["100ms", "1s", "1m"];
  const intervalMs = [100, 1000, 60_000];
  const bars: Bar[] = [];
  // End of the last bar emitted, per symbol and interval.
  const lastEnd = symbols.map(() => intervals.map(() => -Infinity));
  let wall = 0;
  const builder = new BarBuilder(symbols, {
    exchange: "binance",
    intervals,
    onBar: (bar) => {
      const k = intervals.indexOf(bar.interval);
      const s = symbols.indexOf(bar.symbol);
      if (lastEnd[s][k] !== -Infinity) assert.equal(bar.start, lastEnd[s][k]);
      lastEnd[s][k] = bar.end;
      bars.push(bar);
    },
    now: () => wall,
  });
  // A deterministic, mostly rising stream with jitter (late trades), pauses,
  // and advance() between trades.
  let seed = 12345;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  let t = T0 + 17;
  const trades = symbols.map(() => 0);
  const late = symbols.map(() => intervals.map(() => 0));
  for (let i = 0; i < 5000; i++) {
    t += Math.floor(random() * 30);
    if (i % 1000 === 999) t += 5000; // a pause
    wall = t - T0 + 40;
    const s = Math.floor(random() * 3); // D never trades
    const at = t - Math.floor(random() * 400);
    builder.addTrade(s, at, 100 + (i % 13), 0.5, (i % 3) as Side);
    trades[s]++;
    intervalMs.forEach((ms, k) => {
      // Either late (older than the open bar, which starts at the last
      // end), or the open bar is the trade's: all before it were emitted.
      if (at < lastEnd[s][k]) late[s][k]++;
      else if (lastEnd[s][k] !== -Infinity) {
        assert.equal(lastEnd[s][k], Math.floor(at / ms) * ms, `trade ${i}`);
      }
    });
    if (i % 7 === 0) builder.advance();
  }
  wall += 200_000; // every bar with trades closes
  builder.advance();
  assert.ok(!bars.some((bar) => bar.symbol === "D"), "D never traded");
  const counts = builder.counts();
  symbols.slice(0, 3).forEach((symbol, s) => {
    intervals.forEach((interval, k) => {
      const own = bars.filter((bar) =>
        bar.symbol === symbol && bar.interval === interval
      );
      const inBars = own.reduce((sum, bar) => sum + bar.trades, 0);
      const volume = own.reduce((sum, bar) => sum + bar.volume, 0);
      const { closed, late: counted } = counts[s * 3 + k];
      assert.equal(counted, late[s][k], `${symbol} ${interval} late`);
      assert.equal(closed, own.length);
      assert.equal(inBars + counted, trades[s], `${symbol} ${interval}`);
      assert.equal(volume, inBars * 0.5);
    });
    assert.ok(late[s][0] > 0 && late[s][2] < late[s][0], `${late[s]}`);
  });
});

Deno.test("BarBuilder: advance leaves a held stream's open bar to trade time, so a gap found later still marks it", () => {
  const { builder, bars, clock } = setup(["A", "B"]);
  clock.wall = 0;
  builder.addTrade(0, T0 + 200, 5, 1, Side.Buy);
  builder.addTrade(1, T0 + 200, 7, 1, Side.Buy);
  clock.wall = 1050;
  builder.advance((stream) => stream === 0); // A's feed still has trades pending
  assert.deepEqual(bars.map((bar) => bar.symbol), ["B"], "B closes on time");
  builder.gap(0);
  builder.addTrade(0, T0 + 1100, 6, 1, Side.Sell); // the trade after the gap closes [0, 1s)
  const a = bars.filter((bar) => bar.symbol === "A" && bar.interval === "1s");
  assert.equal(a.length, 1);
  assert.equal(a[0].trades, 1);
  assert.equal(a[0].complete, false, "the bar the gap spans");
});

Deno.test("BarBuilder: a quiet symbol's bars close on the exchange's trade clock, which the busy symbols move (a replay at speed 10); now() is read per 10 ms of the exchange's trade time, not per symbol", () => {
  const { builder, bars, clock } = setup(["A", "B"]);
  builder.addTrade(1, T0, 20, 1, Side.Buy); // B trades once
  // A trades every 100 ms of trade time, 10 ms of wall time apart.
  for (let i = 1; i <= 20; i++) {
    clock.wall = i * 10;
    builder.addTrade(0, T0 + i * 100, 10, 1, Side.Buy);
    builder.advance();
  }
  // Trade time T0 + 2000 - 250 ms close_delay: B's bars [0, 1s) closed.
  assert.deepEqual(
    bars.filter((bar) => bar.symbol === "B").map((bar) => bar.start - T0),
    [0],
  );
  // 100 symbols trading 1 ms apart over 100 ms: ~10 reads, not 100.
  const many = setup(Array.from({ length: 100 }, (_, i) => `S${i}`));
  for (let i = 0; i < 100; i++) {
    many.builder.addTrade(i, T0 + i, 10, 1, Side.Buy);
  }
  assert.ok(many.clock.reads <= 11, `${many.clock.reads} now() reads`);
});

Deno.test("openBar: the open bar as it stands, the one the next close emits; undefined before a trade or out of range", () => {
  const { builder, bars } = setup(["BTCUSDT", "ETHUSDT"], {
    intervals: ["1s", "1m"],
  });
  assert.equal(builder.openBar(0, 0), undefined, "no trade yet");
  builder.addTrade(0, T0 + 100, 10, 2, Side.Buy);
  builder.addTrade(0, T0 + 900, 12, 1, Side.Sell);
  const open = builder.openBar(0, 0)!;
  assert.deepEqual(
    [open.start, open.open, open.high, open.low, open.close, open.volume],
    [T0, 10, 12, 10, 12, 3],
  );
  assert.equal(open.trades, 2);
  assert.equal(open.interval, "1s");
  assert.equal(builder.openBar(0, 1)!.interval, "1m");
  builder.addTrade(0, T0 + 1_000, 11, 1, Side.Buy);
  assert.deepEqual(
    bars[0],
    open,
    "the bar it closed is the one openBar showed",
  );
  assert.equal(builder.openBar(0, 0)!.start, T0 + 1_000);
  assert.equal(builder.openBar(1, 0), undefined);
  for (const [stream, k] of [[2, 0], [0, 2], [-1, 0], [0, 0.5]]) {
    assert.equal(builder.openBar(stream, k), undefined, `${stream}, ${k}`);
  }
});
