import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  type Bar,
  type Broker,
  encodeMessage,
  type Fill,
  loadStrategy,
  type Logger,
  type OrderRequest,
  PaperBroker,
  type PaperBrokerOptions,
  Side,
  type StrategyContext,
  StrategyRunner,
  TradeView,
} from "../mod.ts";
import { feed } from "../tests/_broker_trades.ts";
import { READ_PERMISSIONS, testNeeding } from "../tests/_permissions.ts";
import {
  createMaCrossover,
  type MaCrossover,
  type MaCrossoverOptions,
} from "./ma_crossover.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** A test that reads fixtures and the strategy file: skipped, saying why, without --allow-read. */
const test = testNeeding(READ_PERMISSIONS);
const T0 = 1_704_067_200_000;

function context(
  lines: string[],
  intervals = ["1s"],
  broker = new PaperBroker(),
): StrategyContext {
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
    broker,
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

/**
 * A strategy, its context and a paper broker (no fees unless `broker`
 * says) wired as trading_core wires them: the broker sees each trade first
 * and reports fills to `onFill`.
 */
function harness(
  options: MaCrossoverOptions,
  setup: { intervals?: string[]; broker?: PaperBrokerOptions } = {},
) {
  const lines: string[] = [];
  const fills: Fill[] = [];
  let strategy: MaCrossover | undefined = undefined;
  const broker = new PaperBroker({
    feeBps: 0,
    ...setup.broker,
    onFill: (fill) => {
      fills.push(fill);
      strategy!.onFill(fill, ctx);
    },
  });
  const ctx = context(lines, setup.intervals, broker);
  strategy = createMaCrossover(options);
  const run = strategy;
  return {
    strategy: run,
    ctx,
    lines,
    fills,
    broker,
    /** A trade of 10 units at `ms` after T0 (the broker first, then onTrade). */
    trade(ms: number, price: number, symbol = "BTCUSDT", exchange = "binance") {
      feed(broker, [{ ms, price, symbol, exchange, size: 10 }]);
      run.onTrade();
    },
  };
}

/**
 * With fast 2 / slow 4: the spread (fast − slow) is 0 at bar 3, then
 * +0.5, +1.5, +0.5, −2, −2, +0.25, +1.5: crosses up at bar 4, down at bar 7,
 * up at bar 9. Bar 10 is empty (close repeats 11).
 */
const PATH = [10, 10, 10, 10, 12, 14, 10, 8, 8, 11, 11];
const FAST_SLOW: MaCrossoverOptions = { fast: 2, slow: 4 };

/** Drives `h` over PATH on `symbol`: a trade in each bar at its close (none in the empty bar 10), then the bar. */
function runPath(
  h: ReturnType<typeof harness>,
  symbol = "BTCUSDT",
  exchange = "binance",
  path = PATH,
): void {
  path.forEach((close, i) => {
    if (i !== 10) h.trade(i * 1000 + 500, close, symbol, exchange);
    h.strategy.onBar(
      bar(symbol, i, close, { trades: i === 10 ? 0 : 1, exchange }),
      h.ctx,
    );
  });
}

Deno.test("ma_crossover orders on each crossover; the broker fills it at the next trade and the summary comes from the broker", () => {
  const h = harness(FAST_SLOW);
  h.strategy.onStart(h.ctx);
  runPath(h);
  h.trade(11_500, 12.5);
  h.strategy.onStop(h.ctx);
  // Ordered at the closes of bars 4, 7 and 9; filled at the next trades:
  // bar 5's, bar 8's, and (bar 10 is empty) the one at 11.5 s.
  assert.deepEqual(
    h.fills.map((f) => [f.orderId, f.side, f.quantity, f.price, f.time - T0]),
    [["1", "buy", 1, 14, 5500], ["2", "sell", 2, 8, 8500], [
      "3",
      "buy",
      2,
      12.5,
      11_500,
    ]],
  );
  assert.deepEqual(h.lines, [
    "info: ma_crossover on binance BTCUSDT, ETHUSDT: SMA 2/4 of 1s closes, quantity 1, market orders on the paper broker (balance 100000)",
    "debug: paper BUY 1 binance BTCUSDT @ 14 (cross up; order 1, fee 0.00, position +1, realized P&L +0.00)",
    "debug: paper SELL 2 binance BTCUSDT @ 8 (cross down; order 2, fee 0.00, position -1, realized P&L -6.00)",
    "debug: paper BUY 2 binance BTCUSDT @ 12.5 (cross up; order 3, fee 0.00, position +1, realized P&L -10.50)",
    "info: ma_crossover binance BTCUSDT: position +1 @ 12.5, realized P&L -10.50, unrealized +0.00 at 12.5, fees 0.00, orders 3, fills 3",
  ]);
});

Deno.test("ma_crossover keeps symbols apart and ignores other intervals; fees are the broker's", () => {
  const h = harness({ ...FAST_SLOW, quantity: 0.5 }, {
    intervals: ["1s", "1m"],
    broker: { feeBps: 10 },
  });
  h.strategy.onBar(bar("BTCUSDT", 0, 1000, { interval: "1m" }), h.ctx);
  runPath(h);
  // ETHUSDT crosses down once, at bar 4: filled at its next trade, 80.
  [100, 100, 100, 100, 90, 80].forEach((close, i) => {
    h.trade(i * 1000 + 600, close, "ETHUSDT");
    h.strategy.onBar(bar("ETHUSDT", i, close), h.ctx);
  });
  const btc = h.broker.position("binance", "BTCUSDT");
  const eth = h.broker.position("binance", "ETHUSDT");
  // BTCUSDT: bought 0.5 at 14, sold 1 at 8; its last order waits.
  assert.deepEqual([btc.quantity, btc.averagePrice, btc.orders, btc.fills], [
    -0.5,
    8,
    3,
    2,
  ]);
  assert.ok(Math.abs(btc.fees - (0.5 * 14 + 8) * 0.001) < 1e-12);
  assert.deepEqual([eth.quantity, eth.averagePrice, eth.orders], [-0.5, 80, 1]);
  assert.ok(Math.abs(eth.fees - 0.04) < 1e-12);
  assert.deepEqual(h.broker.openOrders().map((o) => [o.symbol, o.quantity]), [
    ["BTCUSDT", 1],
  ]);
  assert.equal(
    h.lines[0],
    "debug: paper BUY 0.5 binance BTCUSDT @ 14 (cross up; order 1, fee 0.01, position +0.5, realized P&L -0.01)",
  );
});

Deno.test("ma_crossover sizes an order by the position and what its open orders will still add", () => {
  // Nothing fills for 10 s of trade time: the orders pile up.
  const h = harness(FAST_SLOW, { broker: { latencyMs: 10_000 } });
  runPath(h);
  assert.deepEqual(
    h.broker.openOrders().map((o) => [o.id, o.side, o.quantity]),
    [["1", "buy", 1], ["2", "sell", 2], ["3", "buy", 2]],
  );
  assert.equal(h.fills.length, 0);
});

Deno.test("ma_crossover keeps one book per (exchange, symbol): the same symbol on two exchanges trades apart", () => {
  const h = harness(FAST_SLOW);
  const ctx = { ...h.ctx, exchange: "*", symbols: ["BTCUSDT"] };
  h.strategy.onStart(ctx);
  runPath(h, "BTCUSDT", "audx");
  // audy stays flat, then falls: one cross down, at 4, filled at 8.
  runPath(h, "BTCUSDT", "audy", [10, 10, 10, 10, 9, 8]);
  assert.deepEqual(
    h.fills.map((f) => [f.exchange, f.side, f.quantity, f.price]),
    [["audx", "buy", 1, 14], ["audx", "sell", 2, 8], ["audy", "sell", 1, 8]],
  );
  assert.equal(
    h.lines[0],
    "info: ma_crossover on every exchange BTCUSDT: SMA 2/4 of 1s closes, quantity 1, market orders on the paper broker (balance 100000)",
  );
  assert.equal(h.broker.position("audx", "BTCUSDT").quantity, -1);
  assert.equal(h.broker.position("audy", "BTCUSDT").quantity, -1);
});

Deno.test("ma_crossover does not trade while the averages warm up or the spread stays on one side", () => {
  const h = harness(FAST_SLOW);
  // Rising from the first bar: fast > slow as soon as both exist, no cross.
  runPath(h, "BTCUSDT", "binance", [1, 2, 3, 4, 5, 6, 7]);
  h.strategy.onStop(h.ctx);
  assert.equal(h.broker.orders, 0);
  assert.deepEqual(h.lines, [
    "info: ma_crossover binance BTCUSDT: position 0 @ 0, realized P&L +0.00, unrealized +0.00 at 7, fees 0.00, orders 0, fills 0",
  ]);
  const idle = harness({});
  idle.strategy.onStop(idle.ctx);
  assert.deepEqual(idle.lines, ["info: ma_crossover: no bars received"]);
});

Deno.test("ma_crossover counts gaps per (exchange, symbol) and names them in its summary", () => {
  const h = harness(FAST_SLOW);
  h.trade(500, 7);
  h.strategy.onBar(bar("BTCUSDT", 0, 7), h.ctx);
  const gap = {
    exchange: "binance",
    symbol: "BTCUSDT",
    stream: 0,
    cause: "overwritten" as const,
    firstSeq: 3,
    lastSeq: 9,
    count: 7,
  };
  h.strategy.onGap(gap);
  h.strategy.onGap({
    ...gap,
    cause: "reconnect",
    firstSeq: null,
    lastSeq: null,
    count: null,
  });
  h.trade(600, 5, "ETHUSDT");
  h.strategy.onBar(bar("ETHUSDT", 0, 5), h.ctx);
  h.strategy.onStop(h.ctx);
  assert.deepEqual(h.lines, [
    "info: ma_crossover binance BTCUSDT: position 0 @ 0, realized P&L +0.00, unrealized +0.00 at 7, fees 0.00, orders 0, fills 0, gaps 2",
    "info: ma_crossover binance ETHUSDT: position 0 @ 0, realized P&L +0.00, unrealized +0.00 at 5, fees 0.00, orders 0, fills 0",
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
  const broker = new PaperBroker({ onFill: (fill) => runner.fill(fill) });
  const runner = new StrategyRunner(strategy, context(lines, ["1s"], broker), {
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
  // As trading_core runs it: the broker sees each trade first.
  const trade = (index: number) => {
    broker.trade(view.select(index), origin, 0);
    runner.trade(view, origin);
  };
  let next = 0;
  for (const b of bars) {
    if (b.trades > 0) trade(next++);
    runner.bar(b);
  }
  trade(next);
  await runner.stop();
  assert.deepEqual([runner.trades, runner.bars, runner.errors], [29, 29, 0]);
  // Default fees (10 bps); each trade is 0.5: an order of 1 fills over two
  // trades, and the sell of 2 gets only the last trade's 0.5.
  assert.deepEqual(lines, [
    "info: ma_crossover on binance BTCUSDT, ETHUSDT: SMA 5/20 of 1s closes, quantity 1, market orders on the paper broker (balance 100000)",
    "debug: paper BUY 0.5 binance BTCUSDT @ 110 (cross up; order 1, fee 0.06, position +0.5, realized P&L -0.06)",
    "debug: paper BUY 0.5 binance BTCUSDT @ 110 (cross up; order 1, fee 0.06, position +1, realized P&L -0.11)",
    "debug: paper SELL 0.5 binance BTCUSDT @ 89.5 (cross down; order 2, fee 0.04, position +0.5, realized P&L -10.40)",
    "info: ma_crossover binance BTCUSDT: position +0.5 @ 110, realized P&L -10.40, unrealized -10.25 at 89.5, fees 0.15, orders 2, fills 3",
  ]);
});

Deno.test("ma_crossover never orders dust: a float leftover of its target counts as on target", () => {
  const orders: OrderRequest[] = [];
  let held = 0;
  const broker = {
    position: () => ({ quantity: held }),
    openOrders: () => [],
    submit: (order: OrderRequest) => String(orders.push(order)),
    balance: 100_000,
  } as unknown as Broker;
  const ctx = { ...context([]), broker };
  const strategy = createMaCrossover({ fast: 1, slow: 2 });
  [100, 100, 101].forEach((close, i) =>
    strategy.onBar(bar("BTCUSDT", i, close), ctx)
  );
  assert.deepEqual(orders.map((o) => [o.side, o.quantity]), [["buy", 1]]);
  held = 0.7 + 0.2 + 0.1 - 1e-16; // filled in parts: 0.9999999999999999
  // A flat bar (spread 0), then a rise: a second "cross up", already on target.
  [101, 102].forEach((close, i) =>
    strategy.onBar(bar("BTCUSDT", 3 + i, close), ctx)
  );
  assert.equal(orders.length, 1);
});

Deno.test("ma_crossover logs a fill at debug level, its quantity and position without float dust", () => {
  const lines: string[] = [];
  const strategy = createMaCrossover({ fast: 1, slow: 2 });
  strategy.onFill!({
    orderId: "1",
    exchange: "binance",
    symbol: "BTCUSDT",
    side: "buy",
    quantity: 0.19236999999999999,
    price: 100,
    fee: 0,
    liquidity: "taker",
    time: 0,
    tsEvent: 0n,
    tradeId: 1n,
    position: 0.006199999999999928,
    realizedPnl: 0,
    tag: "cross up",
  }, context(lines));
  assert.deepEqual(lines, [
    "debug: paper BUY 0.19237 binance BTCUSDT @ 100 (cross up; order 1, fee 0.00, position +0.0062, realized P&L +0.00)",
  ]);
});
