import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  type Bar,
  encodeMessage,
  loadStrategy,
  type Logger,
  PaperBroker,
  Side,
  type StrategyContext,
  StrategyRunner,
  type Trade,
  TradeView,
} from "../mod.ts";
import { READ_PERMISSIONS, testNeeding } from "../tests/_permissions.ts";
import {
  createMaCrossover,
  type MaCrossoverOptions,
  type PaperOrder,
} from "./ma_crossover.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** A test that reads fixtures and the strategy file: skipped, saying why, without --allow-read. */
const test = testNeeding(READ_PERMISSIONS);
const T0 = 1_704_067_200_000;

function context(lines: string[], intervals = ["1s"]): StrategyContext {
  const at = (level: string) => (message: string) =>
    lines.push(`${level}: ${message}`);
  const log: Logger = {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
  };
  return {
    exchange: "binance",
    symbols: ["BTCUSDT", "ETHUSDT"],
    intervals,
    log,
    broker: new PaperBroker(),
  };
}

/** Bar `index` (1 s each from T0) closing at `close`; `trades` 0 makes it empty. */
function bar(
  symbol: string,
  index: number,
  close: number,
  options: { interval?: string; trades?: number; exchange?: string } = {},
): Bar {
  const { interval = "1s", trades = 1, exchange = "binance" } = options;
  const intervalMs = interval === "1s" ? 1000 : 60_000;
  const start = T0 + index * intervalMs;
  const volume = trades === 0 ? 0 : 1;
  return {
    exchange,
    symbol,
    interval,
    intervalMs,
    start,
    end: start + intervalMs,
    open: close,
    high: close,
    low: close,
    close,
    volume,
    buyVolume: volume,
    sellVolume: 0,
    notional: close * volume,
    vwap: trades === 0 ? null : close,
    trades,
    complete: true,
  };
}

function trade(symbol: string, price: number, exchange = "binance"): Trade {
  return {
    exchange,
    symbol,
    side: Side.Buy,
    flags: 0,
    seq: 1,
    tsEvent: 0n,
    tsRecv: 0n,
    priceFixed: BigInt(price * 1e9),
    size: 1,
    tradeId: 1n,
    price,
  };
}

/**
 * With fast 2 / slow 4: the spread (fast − slow) is 0 at bar 3, then
 * +0.5, +1.5, +0.5, −2, −2, +0.25, +1.5: crosses up at bar 4, down at bar 7,
 * up at bar 9. Bar 10 is empty (close repeats 11).
 */
const PATH = [10, 10, 10, 10, 12, 14, 10, 8, 8, 11, 11];
const FAST_SLOW: MaCrossoverOptions = { fast: 2, slow: 4 };

function order(
  index: number,
  side: "BUY" | "SELL",
  quantity: number,
  price: number,
  rest: { fee?: number; position: number; realizedPnl: number },
  symbol = "BTCUSDT",
  exchange = "binance",
): PaperOrder {
  return {
    exchange,
    symbol,
    side,
    quantity,
    price,
    time: T0 + (index + 1) * 1000,
    fee: rest.fee ?? 0,
    position: rest.position,
    realizedPnl: rest.realizedPnl,
  };
}

Deno.test("ma_crossover trades each crossover at the bar's close and keeps the paper P&L", () => {
  const lines: string[] = [];
  const ctx = context(lines);
  const strategy = createMaCrossover(FAST_SLOW);
  strategy.onStart(ctx);
  PATH.forEach((close, i) =>
    strategy.onBar(bar("BTCUSDT", i, close, { trades: i === 10 ? 0 : 1 }), ctx)
  );
  strategy.onTrade(trade("BTCUSDT", 12.5));
  strategy.onStop(ctx);
  assert.deepEqual(strategy.orders, [
    order(4, "BUY", 1, 12, { position: 1, realizedPnl: 0 }),
    order(7, "SELL", 2, 8, { position: -1, realizedPnl: -4 }),
    order(9, "BUY", 2, 11, { position: 1, realizedPnl: -7 }),
  ]);
  assert.deepEqual(strategy.positions(), [{
    exchange: "binance",
    symbol: "BTCUSDT",
    position: 1,
    averagePrice: 11,
    realizedPnl: -7,
    unrealizedPnl: 1.5,
    markPrice: 12.5,
    fees: 0,
    orders: 3,
  }]);
  assert.deepEqual(lines, [
    "info: ma_crossover on binance BTCUSDT, ETHUSDT: SMA 2/4 of 1s closes, quantity 1, fee 0/unit (paper)",
    "info: paper BUY 1 binance BTCUSDT @ 12 (position +1, realized P&L +0.00, unrealized +0.00)",
    "info: paper SELL 2 binance BTCUSDT @ 8 (position -1, realized P&L -4.00, unrealized +0.00)",
    "info: paper BUY 2 binance BTCUSDT @ 11 (position +1, realized P&L -7.00, unrealized +0.00)",
    "info: ma_crossover binance BTCUSDT: position +1 @ 11, realized P&L -7.00, unrealized +1.50 at 12.5, fees 0.00, orders 3",
  ]);
});

Deno.test("ma_crossover keeps symbols apart, ignores other intervals, charges fees and marks at the last trade", () => {
  const lines: string[] = [];
  const ctx = context(lines, ["1s", "1m"]);
  const strategy = createMaCrossover({
    ...FAST_SLOW,
    quantity: 0.5,
    feePerUnit: 0.25,
  });
  // ETHUSDT crosses down once, at bar 4.
  const eth = [100, 100, 100, 100, 90, 80];
  PATH.forEach((close, i) => {
    if (i === 4) strategy.onTrade(trade("BTCUSDT", 12.5));
    strategy.onBar(bar("BTCUSDT", i, close), ctx);
    strategy.onBar(bar("BTCUSDT", i, 1000 * (i % 2), { interval: "1m" }), ctx);
    if (i < eth.length) strategy.onBar(bar("ETHUSDT", i, eth[i]), ctx);
    if (i === 4) strategy.onTrade(trade("BTCUSDT", 11.5));
  });
  strategy.onTrade(trade("ETHUSDT", 85));
  assert.deepEqual(strategy.orders, [
    order(4, "BUY", 0.5, 12, {
      fee: 0.125,
      position: 0.5,
      realizedPnl: -0.125,
    }),
    order(4, "SELL", 0.5, 90, {
      fee: 0.125,
      position: -0.5,
      realizedPnl: -0.125,
    }, "ETHUSDT"),
    order(7, "SELL", 1, 8, { fee: 0.25, position: -0.5, realizedPnl: -2.375 }),
    order(9, "BUY", 1, 11, { fee: 0.25, position: 0.5, realizedPnl: -4.125 }),
  ]);
  assert.deepEqual(strategy.positions(), [{
    exchange: "binance",
    symbol: "BTCUSDT",
    position: 0.5,
    averagePrice: 11,
    realizedPnl: -4.125,
    unrealizedPnl: 0.25,
    markPrice: 11.5,
    fees: 0.625,
    orders: 3,
  }, {
    exchange: "binance",
    symbol: "ETHUSDT",
    position: -0.5,
    averagePrice: 90,
    realizedPnl: -0.125,
    unrealizedPnl: 2.5,
    markPrice: 85,
    fees: 0.125,
    orders: 1,
  }]);
  // Marked at the trade before the bar (12.5), not at the close (12).
  assert.equal(
    lines[0],
    "info: paper BUY 0.5 binance BTCUSDT @ 12 (position +0.5, realized P&L -0.13, unrealized +0.25)",
  );
});

Deno.test("ma_crossover keeps one book per (exchange, symbol): the same symbol on two exchanges trades apart", () => {
  const lines: string[] = [];
  const ctx = { ...context(lines), exchange: "*", symbols: ["BTCUSDT"] };
  const strategy = createMaCrossover(FAST_SLOW);
  strategy.onStart(ctx);
  // audx follows PATH; audy stays flat, then falls: one cross down, at 4.
  const flat = [10, 10, 10, 10, 9, 8];
  PATH.forEach((close, i) => {
    strategy.onBar(bar("BTCUSDT", i, close, { exchange: "audx" }), ctx);
    if (i < flat.length) {
      strategy.onBar(bar("BTCUSDT", i, flat[i], { exchange: "audy" }), ctx);
    }
  });
  strategy.onTrade(trade("BTCUSDT", 12.5, "audx"));
  strategy.onTrade(trade("BTCUSDT", 7, "audy"));
  assert.deepEqual(strategy.orders, [
    order(4, "BUY", 1, 12, { position: 1, realizedPnl: 0 }, "BTCUSDT", "audx"),
    order(4, "SELL", 1, 9, { position: -1, realizedPnl: 0 }, "BTCUSDT", "audy"),
    order(
      7,
      "SELL",
      2,
      8,
      { position: -1, realizedPnl: -4 },
      "BTCUSDT",
      "audx",
    ),
    order(9, "BUY", 2, 11, { position: 1, realizedPnl: -7 }, "BTCUSDT", "audx"),
  ]);
  assert.deepEqual(
    strategy.positions().map((
      p,
    ) => [p.exchange, p.symbol, p.position, p.markPrice]),
    [["audx", "BTCUSDT", 1, 12.5], ["audy", "BTCUSDT", -1, 7]],
  );
  assert.equal(
    lines[0],
    "info: ma_crossover on every exchange BTCUSDT: SMA 2/4 of 1s closes, quantity 1, fee 0/unit (paper)",
  );
  assert.equal(
    lines[2],
    "info: paper SELL 1 audy BTCUSDT @ 9 (position -1, realized P&L +0.00, unrealized +0.00)",
  );
});

Deno.test("ma_crossover does not trade while the averages warm up or the spread stays on one side", () => {
  const lines: string[] = [];
  const ctx = context(lines);
  const strategy = createMaCrossover(FAST_SLOW);
  // Rising from the first bar: fast > slow as soon as both exist, no cross.
  [1, 2, 3, 4, 5, 6, 7].forEach((close, i) =>
    strategy.onBar(bar("BTCUSDT", i, close), ctx)
  );
  strategy.onStop(ctx);
  assert.deepEqual(strategy.orders, []);
  assert.deepEqual(lines, [
    "info: ma_crossover binance BTCUSDT: position 0 @ 0, realized P&L +0.00, unrealized +0.00 at 7, fees 0.00, orders 0",
  ]);
  const idle = createMaCrossover();
  const idleLines: string[] = [];
  idle.onStop(context(idleLines));
  assert.deepEqual(idleLines, [
    "info: ma_crossover: no trades or bars received",
  ]);
});

Deno.test("ma_crossover counts gaps per (exchange, symbol) and names them in its summary", () => {
  const lines: string[] = [];
  const ctx = context(lines);
  const strategy = createMaCrossover(FAST_SLOW);
  strategy.onBar(bar("BTCUSDT", 0, 7), ctx);
  const gap = {
    exchange: "binance",
    symbol: "BTCUSDT",
    stream: 0,
    cause: "overwritten" as const,
    firstSeq: 3,
    lastSeq: 9,
    count: 7,
  };
  strategy.onGap(gap);
  strategy.onGap({
    ...gap,
    cause: "reconnect",
    firstSeq: null,
    lastSeq: null,
    count: null,
  });
  strategy.onBar(bar("ETHUSDT", 0, 5), ctx);
  strategy.onStop(ctx);
  assert.deepEqual(lines, [
    "info: ma_crossover binance BTCUSDT: position 0 @ 0, realized P&L +0.00, unrealized +0.00 at 7, fees 0.00, orders 0, gaps 2",
    "info: ma_crossover binance ETHUSDT: position 0 @ 0, realized P&L +0.00, unrealized +0.00 at 5, fees 0.00, orders 0",
  ]);
});

Deno.test("ma_crossover refuses to start without bars of its interval", () => {
  const strategy = createMaCrossover({ interval: "5s" });
  assert.throws(
    () => strategy.onStart(context([], ["1s", "1m"])),
    new Error(
      'ma_crossover needs bars of interval "5s" but live builds "1s", "1m": configure that interval or pass createMaCrossover({ interval })',
    ),
  );
  assert.throws(
    () => strategy.onStart(context([], [])),
    new Error(
      'ma_crossover needs bars of interval "5s" but live builds none: configure that interval or pass createMaCrossover({ interval })',
    ),
  );
});

Deno.test("createMaCrossover validates its options", () => {
  const cases: [MaCrossoverOptions, Error][] = [
    [
      { interval: "" },
      new TypeError(
        'Invalid interval "": expected a configured bar interval, e.g. "1s"',
      ),
    ],
    [
      { fast: 0 },
      new RangeError(
        "Invalid fast 0: expected a positive whole number of bars",
      ),
    ],
    [
      { fast: 2.5 },
      new RangeError(
        "Invalid fast 2.5: expected a positive whole number of bars",
      ),
    ],
    [
      { slow: -3 },
      new RangeError(
        "Invalid slow -3: expected a positive whole number of bars",
      ),
    ],
    [
      { fast: 20 },
      new RangeError(
        "Invalid averages: fast 20 must be less than slow 20",
      ),
    ],
    [
      { fast: 8, slow: 4 },
      new RangeError(
        "Invalid averages: fast 8 must be less than slow 4",
      ),
    ],
    [
      { quantity: 0 },
      new RangeError(
        "Invalid quantity 0: expected a positive number",
      ),
    ],
    [
      { quantity: NaN },
      new RangeError(
        "Invalid quantity NaN: expected a positive number",
      ),
    ],
    [
      { feePerUnit: -0.1 },
      new RangeError(
        "Invalid feePerUnit -0.1: expected a number >= 0",
      ),
    ],
  ];
  for (const [options, error] of cases) {
    assert.throws(() => createMaCrossover(options), error);
  }
});

test("the default ma_crossover runs under StrategyRunner on fixture bars and trades", async () => {
  const bars: Bar[] = (await Deno.readTextFile(
    `${ROOT}tests/fixtures/strategy/btcusdt_1s_bars.ndjson`,
  )).trim().split("\n").map((line) => JSON.parse(line));
  const lines: string[] = [];
  const strategy = await loadStrategy("strategies/ma_crossover.ts", {
    cwd: ROOT,
  });
  const runner = new StrategyRunner(strategy, context(lines), {
    onError: (error) => assert.fail(String(error)),
  });
  // One trade per non-empty bar at its close, then a last trade at 89.5.
  const prices = [
    ...bars.filter((b) => b.trades > 0).map((b) => b.close),
    89.5,
  ];
  const message = encodeMessage(prices.map((price, i) => ({
    side: Side.Sell,
    flags: 0,
    seq: i + 1,
    tsEvent: BigInt(T0 + i * 1000) * 1_000_000n + 500_000_000n,
    tsRecv: BigInt(T0 + i * 1000) * 1_000_000n + 500_100_000n,
    priceFixed: BigInt(price * 10) * 100_000_000n,
    size: 0.5,
    tradeId: BigInt(i + 1),
  })));
  const view = new TradeView();
  view.wrap(message);
  const origin = { exchange: "binance", symbol: "BTCUSDT" };
  await runner.start();
  let next = 0;
  for (const b of bars) {
    if (b.trades > 0) runner.trade(view.select(next++), origin);
    runner.bar(b);
  }
  runner.trade(view.select(next), origin);
  await runner.stop();
  assert.deepEqual([runner.trades, runner.bars, runner.errors], [29, 29, 0]);
  assert.deepEqual(lines, [
    "info: ma_crossover on binance BTCUSDT, ETHUSDT: SMA 5/20 of 1s closes, quantity 1, fee 0/unit (paper)",
    "info: paper BUY 1 binance BTCUSDT @ 110 (position +1, realized P&L +0.00, unrealized +0.00)",
    "info: paper SELL 2 binance BTCUSDT @ 90 (position -1, realized P&L -20.00, unrealized +0.00)",
    "info: ma_crossover binance BTCUSDT: position -1 @ 90, realized P&L -20.00, unrealized +0.50 at 89.5, fees 0.00, orders 2",
  ]);
});
