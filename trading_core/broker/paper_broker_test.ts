import assert from "node:assert/strict";
import { formatFillLine } from "./fill_line.ts";
import { type Fill, PaperBroker, type PaperBrokerOptions } from "./mod.ts";
import { feed, T0 } from "../../tests/_broker_trades.ts";
import { TradeFlags } from "../../common/wire/trade.ts";
import golden from "./testdata/golden_fills.json" with { type: "json" };

const BTC = { exchange: "binance", symbol: "BTCUSDT" } as const;
const ETH = { exchange: "binance", symbol: "ETHUSDT" } as const;

/** A broker with no fees unless `options` sets them, and the fills it reports. */
function broker(options: PaperBrokerOptions = {}) {
  const fills: Fill[] = [];
  const paper = new PaperBroker({
    feeBps: 0,
    makerFeeBps: 0,
    ...options,
    onFill: (fill) => fills.push(fill),
  });
  return { paper, fills };
}

function close(actual: number, expected: number, what = "value"): void {
  assert.ok(
    Math.abs(actual - expected) < 1e-9 * Math.max(1, Math.abs(expected)),
    `${what}: ${actual} is not ${expected}`,
  );
}

Deno.test("a market order fills against the next trade, not the one it was placed at", () => {
  const { paper, fills } = broker({ feeBps: 10 });
  feed(paper, [{ ms: 0, price: 100 }]);
  const id = paper.submit({ ...BTC, side: "buy", quantity: 0.5 });
  assert.equal(id, "1");
  assert.equal(fills.length, 0);
  feed(paper, [{ ms: 10, price: 101, size: 2 }]);
  assert.equal(fills.length, 1);
  const [fill] = fills;
  assert.equal(fill.orderId, "1");
  assert.equal(fill.side, "buy");
  assert.equal(fill.quantity, 0.5);
  assert.equal(fill.price, 101);
  close(fill.fee, 0.5 * 101 * 0.001, "taker fee");
  assert.equal(fill.liquidity, "taker");
  assert.equal(fill.time, T0 + 10);
  assert.equal(fill.tsEvent, BigInt(T0 + 10) * 1_000_000n);
  assert.equal(fill.tradeId, 1001n);
  assert.equal(fill.position, 0.5);
  close(fill.realizedPnl, -fill.fee, "realized P&L after the fee");
  close(paper.balance, 100_000 - 50.5 - fill.fee, "balance");
  assert.deepEqual(paper.openOrders(), []);
  assert.equal(paper.orders, 1);
  assert.equal(paper.fills, 1);
  close(paper.fees, fill.fee, "fees");
});

Deno.test("order ids count up per broker", () => {
  const a = broker().paper;
  const b = broker().paper;
  assert.equal(a.submit({ ...BTC, side: "buy", quantity: 1 }), "1");
  assert.equal(a.submit({ ...ETH, side: "sell", quantity: 1 }), "2");
  assert.equal(b.submit({ ...BTC, side: "buy", quantity: 1 }), "1");
});

Deno.test("latency: an order fills only from trades at least the latency past its stream's last trade, in trade time", () => {
  const { paper, fills } = broker({ latencyMs: 100 });
  feed(paper, [{ ms: 1000, price: 100 }]);
  paper.submit({ ...BTC, side: "buy", quantity: 1 });
  assert.equal(paper.openOrders()[0].fillableFrom, T0 + 1100);
  feed(paper, [
    { ms: 1050, price: 101 },
    { ms: 1099, price: 102 },
    { ms: 1100, price: 103 },
  ]);
  assert.deepEqual(fills.map((f) => [f.price, f.time]), [[103, T0 + 1100]]);
});

Deno.test("an order placed before its stream's first trade fills from that trade on (latency counted from it)", () => {
  const { paper, fills } = broker({ latencyMs: 5 });
  paper.submit({ ...BTC, side: "buy", quantity: 1 });
  assert.equal(paper.openOrders()[0].fillableFrom, null);
  feed(paper, [{ ms: 0, price: 100 }, { ms: 4, price: 101 }, {
    ms: 5,
    price: 102,
  }]);
  assert.deepEqual(fills.map((f) => f.price), [102]);
});

Deno.test("an order placed from onFill counts its latency from the trade that filled", () => {
  const times: number[] = [];
  const paper: PaperBroker = new PaperBroker({
    feeBps: 0,
    latencyMs: 10,
    onFill: (fill) => {
      times.push(fill.time - T0);
      if (fill.orderId === "1") {
        paper.submit({ ...BTC, side: "sell", quantity: 1 });
        assert.equal(paper.openOrders()[0].fillableFrom, fill.time + 10);
      }
    },
  });
  feed(paper, [{ ms: 0, price: 100 }]);
  paper.submit({ ...BTC, side: "buy", quantity: 1 });
  feed(paper, [{ ms: 5, price: 100 }, { ms: 10, price: 100 }, {
    ms: 19,
    price: 100,
  }, { ms: 20, price: 100 }]);
  assert.deepEqual(times, [10, 20]);
});

Deno.test("a trade of another stream never fills an order", () => {
  const { paper, fills } = broker();
  feed(paper, [{ ms: 0, price: 100 }, { ms: 0, price: 10, symbol: "ETHUSDT" }]);
  paper.submit({ ...ETH, side: "sell", quantity: 1 });
  feed(paper, [{ ms: 1, price: 100 }, { ms: 2, price: 101 }]);
  assert.equal(fills.length, 0);
  feed(paper, [{ ms: 3, price: 11, symbol: "ETHUSDT" }]);
  assert.deepEqual(fills.map((f) => [f.symbol, f.price]), [["ETHUSDT", 11]]);
  assert.equal(paper.position("binance", "ETHUSDT").quantity, -1);
  assert.equal(paper.position("binance", "BTCUSDT").quantity, 0);
});

Deno.test("slippage moves a market order's price against it: a buy pays more, a sell gets less", () => {
  const { paper, fills } = broker({ slippageBps: 10, feeBps: 5 });
  feed(paper, [{ ms: 0, price: 100 }]);
  paper.submit({ ...BTC, side: "buy", quantity: 1 });
  feed(paper, [{ ms: 1, price: 200 }]);
  paper.submit({ ...BTC, side: "sell", quantity: 1 });
  feed(paper, [{ ms: 2, price: 300 }]);
  close(fills[0].price, 200.2, "buy price");
  close(fills[1].price, 299.7, "sell price");
  close(fills[0].fee, 200.2 * 5e-4, "fee on the slipped notional");
  close(fills[1].realizedPnl, 99.5 - 200.2 * 5e-4 - 299.7 * 5e-4);
});

Deno.test("partial fills: a market order takes at most each trade's size, one fill per trade", () => {
  const { paper, fills } = broker();
  feed(paper, [{ ms: 0, price: 100 }]);
  const id = paper.submit({ ...BTC, side: "buy", quantity: 3 });
  feed(paper, [{ ms: 1, price: 100, size: 1 }]);
  assert.deepEqual(paper.openOrders().map((o) => [o.id, o.filled]), [[id, 1]]);
  feed(paper, [{ ms: 2, price: 102, size: 1.5 }, {
    ms: 3,
    price: 104,
    size: 2,
  }, { ms: 4, price: 105, size: 2 }]);
  assert.deepEqual(fills.map((f) => [f.quantity, f.price, f.position]), [
    [1, 100, 1],
    [1.5, 102, 2.5],
    [0.5, 104, 3],
  ]);
  assert.deepEqual(paper.openOrders(), []);
  const position = paper.position("binance", "BTCUSDT");
  close(position.averagePrice, (100 + 153 + 52) / 3, "average price");
  assert.equal(position.fills, 3);
  assert.equal(position.orders, 1);
  assert.equal(position.volume, 3);
});

Deno.test("partial fills: due orders share a trade's size oldest first", () => {
  const { paper, fills } = broker();
  feed(paper, [{ ms: 0, price: 100 }]);
  paper.submit({ ...BTC, side: "buy", quantity: 1 });
  paper.submit({ ...BTC, side: "sell", quantity: 1 });
  feed(paper, [{ ms: 1, price: 100, size: 1.5 }, { ms: 2, price: 101 }]);
  assert.deepEqual(fills.map((f) => [f.orderId, f.quantity, f.price]), [
    ["1", 1, 100],
    ["2", 0.5, 100],
    ["2", 0.5, 101],
  ]);
});

Deno.test("float crumbs of partial fills close the order and the position", () => {
  const { paper, fills } = broker();
  feed(paper, [{ ms: 0, price: 100 }]);
  paper.submit({ ...BTC, side: "buy", quantity: 0.3 });
  feed(paper, [{ ms: 1, price: 100, size: 0.1 }, {
    ms: 2,
    price: 100,
    size: 0.2,
  }, { ms: 3, price: 100 }]);
  assert.equal(fills.length, 2);
  assert.deepEqual(paper.openOrders(), []);
  paper.submit({ ...BTC, side: "sell", quantity: 0.1 });
  paper.submit({ ...BTC, side: "sell", quantity: 0.2 });
  feed(paper, [{ ms: 4, price: 100 }]);
  const position = paper.position("binance", "BTCUSDT");
  assert.equal(position.quantity, 0);
  assert.equal(position.averagePrice, 0);
});

Deno.test("a limit buy fills at its price when a trade prints at or below it, maker fee", () => {
  const { paper, fills } = broker({ feeBps: 10, makerFeeBps: 2 });
  feed(paper, [{ ms: 0, price: 100 }]);
  paper.submit({ ...BTC, side: "buy", quantity: 2, type: "limit", price: 99 });
  feed(paper, [{ ms: 1, price: 100 }, { ms: 2, price: 99.5 }]);
  assert.equal(fills.length, 0);
  assert.equal(paper.openOrders()[0].price, 99);
  feed(paper, [{ ms: 3, price: 99, size: 1 }, { ms: 4, price: 98 }]);
  assert.deepEqual(fills.map((f) => [f.quantity, f.price, f.liquidity]), [
    [1, 99, "maker"],
    [1, 99, "maker"],
  ]);
  close(fills[0].fee, 99 * 2e-4, "maker fee");
});

Deno.test("a limit sell fills at its price when a trade prints at or above it", () => {
  const { paper, fills } = broker();
  feed(paper, [{ ms: 0, price: 100 }]);
  paper.submit({
    ...BTC,
    side: "sell",
    quantity: 1,
    type: "limit",
    price: 101,
    tag: "take profit",
  });
  feed(paper, [{ ms: 1, price: 100.5 }, { ms: 2, price: 103 }]);
  assert.deepEqual(fills.map((f) => [f.price, f.tag, f.position]), [
    [101, "take profit", -1],
  ]);
});

Deno.test("flipping long to short realizes the P&L of the long and opens the short at the fill price", () => {
  const { paper, fills } = broker({ feeBps: 10 });
  feed(paper, [{ ms: 0, price: 100 }]);
  paper.submit({ ...BTC, side: "buy", quantity: 2 });
  feed(paper, [{ ms: 1, price: 100, size: 5 }]);
  paper.submit({ ...BTC, side: "sell", quantity: 3 });
  feed(paper, [{ ms: 2, price: 110, size: 5 }]);
  const fees = 200 * 0.001 + 330 * 0.001;
  const p = paper.position("binance", "BTCUSDT");
  assert.equal(p.quantity, -1);
  assert.equal(p.averagePrice, 110);
  close(p.realizedPnl, 20 - fees, "realized: (110 − 100) × 2, net of fees");
  close(fills[1].realizedPnl, p.realizedPnl);
  close(p.fees, fees, "fees");
  feed(paper, [{ ms: 3, price: 105 }]);
  const marked = paper.position("binance", "BTCUSDT");
  assert.equal(marked.lastPrice, 105);
  close(marked.unrealizedPnl, 5, "short 1 from 110 marked at 105");
  // A partial reduce keeps the average price.
  paper.submit({ ...BTC, side: "buy", quantity: 0.5 });
  feed(paper, [{ ms: 4, price: 100 }]);
  const reduced = paper.position("binance", "BTCUSDT");
  assert.equal(reduced.quantity, -0.5);
  assert.equal(reduced.averagePrice, 110);
  close(reduced.realizedPnl, 20 - fees + 5 - 50 * 0.001);
});

Deno.test("cancel removes what is left of an open order; false when it is not open", () => {
  const { paper, fills } = broker();
  feed(paper, [{ ms: 0, price: 100 }]);
  const limit = paper.submit({
    ...BTC,
    side: "buy",
    quantity: 1,
    type: "limit",
    price: 90,
  });
  const market = paper.submit({ ...BTC, side: "buy", quantity: 2 });
  feed(paper, [{ ms: 1, price: 100, size: 1 }]);
  assert.deepEqual(paper.openOrders().map((o) => [o.id, o.filled]), [
    [limit, 0],
    [market, 1],
  ]);
  assert.equal(paper.cancel(market), true);
  assert.equal(paper.cancel(market), false);
  assert.equal(paper.cancel("99"), false);
  assert.equal(paper.cancel(limit), true);
  feed(paper, [{ ms: 2, price: 80, size: 10 }]);
  assert.equal(fills.length, 1);
  assert.deepEqual(paper.openOrders(), []);
  assert.equal(paper.position("binance", "BTCUSDT").quantity, 1);
});

Deno.test("openOrders filters by exchange and symbol, oldest first", () => {
  const { paper } = broker();
  paper.submit({ ...BTC, side: "buy", quantity: 1 });
  paper.submit({ ...ETH, side: "sell", quantity: 2, type: "limit", price: 5 });
  paper.submit({
    exchange: "kraken",
    symbol: "BTCUSDT",
    side: "buy",
    quantity: 3,
  });
  assert.deepEqual(paper.openOrders().map((o) => o.id), ["1", "2", "3"]);
  assert.deepEqual(paper.openOrders("binance").map((o) => o.id), ["1", "2"]);
  assert.deepEqual(paper.openOrders("binance", "ETHUSDT"), [{
    id: "2",
    exchange: "binance",
    symbol: "ETHUSDT",
    side: "sell",
    type: "limit",
    quantity: 2,
    filled: 0,
    price: 5,
    fillableFrom: null,
  }]);
  assert.deepEqual(paper.openOrders(undefined, "BTCUSDT").map((o) => o.id), [
    "1",
    "3",
  ]);
});

Deno.test("balance and equity: equity − starting balance = realized + unrealized P&L", () => {
  const { paper } = broker({
    startingBalance: 1000,
    feeBps: 10,
    slippageBps: 3,
  });
  feed(paper, [{ ms: 0, price: 100 }, { ms: 0, price: 10, symbol: "ETHUSDT" }]);
  paper.submit({ ...BTC, side: "buy", quantity: 3 });
  paper.submit({ ...ETH, side: "sell", quantity: 20 });
  feed(paper, [{ ms: 1, price: 101, size: 10 }, {
    ms: 1,
    price: 9,
    size: 50,
    symbol: "ETHUSDT",
  }]);
  paper.submit({ ...BTC, side: "sell", quantity: 1 });
  feed(paper, [{ ms: 2, price: 104, size: 10 }, {
    ms: 3,
    price: 11,
    symbol: "ETHUSDT",
  }]);
  const positions = paper.positions();
  assert.deepEqual(positions.map((p) => [p.symbol, p.quantity]), [
    ["BTCUSDT", 2],
    ["ETHUSDT", -20],
  ]);
  const realized = positions.reduce((sum, p) => sum + p.realizedPnl, 0);
  const unrealized = positions.reduce((sum, p) => sum + p.unrealizedPnl, 0);
  close(paper.realizedPnl, realized);
  close(paper.unrealizedPnl, unrealized);
  close(paper.equity - paper.startingBalance, realized + unrealized, "P&L");
  close(paper.equity, paper.balance + 2 * 104 + -20 * 11, "equity");
  close(
    paper.balance,
    1000 - 3 * 101 * 1.0003 + 20 * 9 * 0.9997 + 104 * 0.9997 - paper.fees,
    "cash",
  );
});

/** A fixed run of trades and orders (market and limit, slippage, latency, partial fills); its fill lines, equity and balance. */
function goldenRun(): string[] {
  const { paper, fills } = broker({
    feeBps: 7.5,
    makerFeeBps: 2,
    slippageBps: 1.3,
    latencyMs: 2,
  });
  for (let i = 0; i < 200; i++) {
    if (i % 7 === 0) {
      paper.submit({
        ...BTC,
        side: i % 2 === 0 ? "buy" : "sell",
        quantity: 0.37,
      });
    }
    if (i % 11 === 0) {
      paper.submit({
        ...BTC,
        side: i % 22 === 0 ? "buy" : "sell",
        quantity: 0.2,
        type: "limit",
        price: 100 + (i % 5) / 10,
      });
    }
    feed(paper, [{ ms: i, price: 100 + ((i * 37) % 13) / 10, size: 0.25 }]);
  }
  return [
    ...fills.map(formatFillLine),
    `equity ${paper.equity}`,
    `balance ${paper.balance}`,
  ];
}

Deno.test("determinism: a fixed run gives the committed fills, byte for byte (testdata/golden_fills.json)", () => {
  // To update after a deliberate change of the fill model: print
  // JSON.stringify(goldenRun(), null, 2) into the file and review the diff.
  const lines = goldenRun();
  assert.ok(lines.length > 50);
  assert.deepEqual(lines, golden);
});

Deno.test("a position never traded is flat", () => {
  const { paper } = broker();
  assert.deepEqual(paper.position("binance", "XRPUSDT"), {
    exchange: "binance",
    symbol: "XRPUSDT",
    quantity: 0,
    averagePrice: 0,
    realizedPnl: 0,
    unrealizedPnl: 0,
    fees: 0,
    lastPrice: 0,
    orders: 0,
    fills: 0,
    volume: 0,
  });
  assert.deepEqual(paper.positions(), []);
  assert.equal(paper.equity, 100_000);
});

Deno.test("bad orders throw, quoting the value; no id is used up", () => {
  const { paper } = broker();
  const bad: [unknown, ErrorConstructor, RegExp][] = [
    [null, TypeError, /Invalid order null/],
    [{ ...BTC, side: "long", quantity: 1 }, TypeError, /side "long"/],
    [{ ...BTC, side: "buy", quantity: 0 }, RangeError, /quantity 0:/],
    [{ ...BTC, side: "buy", quantity: -1 }, RangeError, /quantity -1:/],
    [{ ...BTC, side: "buy", quantity: NaN }, RangeError, /quantity NaN:/],
    [{ ...BTC, side: "buy", quantity: "1" }, TypeError, /quantity "1":/],
    [
      { ...BTC, side: "buy", quantity: 1, type: "stop" },
      TypeError,
      /type "stop"/,
    ],
    [
      { ...BTC, side: "buy", quantity: 1, type: "limit" },
      TypeError,
      /no price/,
    ],
    [
      { ...BTC, side: "buy", quantity: 1, type: "limit", price: -5 },
      RangeError,
      /price -5:/,
    ],
    [
      { ...BTC, side: "buy", quantity: 1, price: 5 },
      TypeError,
      /market order price 5/,
    ],
    [
      { exchange: "Binance", symbol: "BTCUSDT", side: "buy", quantity: 1 },
      TypeError,
      /exchange "Binance"/,
    ],
    [
      { exchange: "binance", symbol: "btcusdt", side: "buy", quantity: 1 },
      TypeError,
      /symbol "btcusdt"/,
    ],
    [{ ...BTC, side: "buy", quantity: 1, tag: 5 }, TypeError, /tag 5/],
  ];
  for (const [order, type, message] of bad) {
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => paper.submit(order as any),
      (error: Error) => error instanceof type && message.test(error.message),
      JSON.stringify(order),
    );
  }
  assert.equal(paper.orders, 0);
  assert.equal(paper.submit({ ...BTC, side: "buy", quantity: 1 }), "1");
});

Deno.test("options out of range throw a RangeError naming the option", () => {
  assert.throws(() => new PaperBroker({ feeBps: -1 }), /feeBps -1/);
  assert.throws(
    () => new PaperBroker({ makerFeeBps: 2000 }),
    /makerFeeBps 2000/,
  );
  assert.throws(() => new PaperBroker({ slippageBps: NaN }), /slippageBps NaN/);
  assert.throws(() => new PaperBroker({ latencyMs: -5 }), /latencyMs -5/);
  assert.throws(
    () => new PaperBroker({ startingBalance: Infinity }),
    /startingBalance Infinity/,
  );
  // The same ranges as [trading_core.broker] (BROKER_LIMITS).
  assert.throws(
    () => new PaperBroker({ startingBalance: -1 }),
    /startingBalance -1: expected a number from 0 to 1000000000000000/,
  );
  assert.throws(
    () => new PaperBroker({ latencyMs: 86_400_000 }),
    /latencyMs 86400000: expected a number from 0 to 3600000/,
  );
  const defaults = new PaperBroker();
  assert.equal(defaults.startingBalance, 100_000);
  assert.equal(defaults.balance, 100_000);
});

Deno.test("a limit order through the market fills at the trade price (no worse than its limit) as a taker; one that rested fills at its limit as a maker", () => {
  const { paper, fills } = broker({ feeBps: 10, makerFeeBps: 2 });
  feed(paper, [{ ms: 0, price: 100 }]);
  paper.submit({ ...BTC, side: "buy", quantity: 1, type: "limit", price: 200 });
  paper.submit({ ...BTC, side: "sell", quantity: 1, type: "limit", price: 50 });
  feed(paper, [{ ms: 1, price: 100, size: 5 }]);
  assert.deepEqual(fills.map((f) => [f.orderId, f.price, f.liquidity]), [
    ["1", 100, "taker"],
    ["2", 100, "taker"],
  ]);
  close(fills[0].fee, 100 * 1e-3, "taker fee");
  close(paper.equity, 100_000 - 2 * 100 * 1e-3, "equity: only the fees lost");
  // With slippage, a marketable limit pays at most its limit.
  const slipped = broker({ slippageBps: 100 });
  feed(slipped.paper, [{ ms: 0, price: 100 }]);
  slipped.paper.submit({
    ...BTC,
    side: "buy",
    quantity: 1,
    type: "limit",
    price: 100.5,
  });
  feed(slipped.paper, [{ ms: 1, price: 100 }]);
  assert.deepEqual(slipped.fills.map((f) => [f.price, f.liquidity]), [
    [100.5, "taker"],
  ]);
  // A partly filled marketable limit rests: the rest is a maker at its limit.
  const partial = broker();
  feed(partial.paper, [{ ms: 0, price: 100 }]);
  partial.paper.submit({
    ...BTC,
    side: "buy",
    quantity: 2,
    type: "limit",
    price: 101,
  });
  feed(partial.paper, [{ ms: 1, price: 100 }, { ms: 2, price: 99 }]);
  assert.deepEqual(partial.fills.map((f) => [f.price, f.liquidity]), [
    [100, "taker"],
    [101, "maker"],
  ]);
});

Deno.test("no dust: a trade's float leftover fills nothing, an order closes when what is left is a crumb of it", () => {
  const { paper, fills } = broker();
  feed(paper, [{ ms: 0, price: 100 }]);
  paper.submit({ ...BTC, side: "buy", quantity: 0.7 });
  paper.submit({ ...BTC, side: "buy", quantity: 0.2 });
  paper.submit({ ...BTC, side: "buy", quantity: 5 });
  feed(paper, [{ ms: 1, price: 100, size: 0.9 }]);
  assert.deepEqual(fills.map((f) => f.orderId), ["1", "2"]);
  assert.equal(paper.fills, 2);
  assert.equal(paper.openOrders()[0].filled, 0);
  // An order whose remainder would be a crumb of it takes it all.
  const crumb = broker();
  feed(crumb.paper, [{ ms: 0, price: 100 }]);
  crumb.paper.submit({ ...BTC, side: "buy", quantity: 1 });
  feed(crumb.paper, [
    { ms: 1, price: 100, size: 0.7 },
    { ms: 2, price: 100, size: 0.2 },
    { ms: 3, price: 100, size: 0.1 },
  ]);
  assert.equal(crumb.fills.length, 3);
  assert.deepEqual(crumb.paper.openOrders(), []);
  close(crumb.paper.position("binance", "BTCUSDT").quantity, 1, "position");
});

Deno.test("a position is snapped to flat only under a crumb of the closing order, not of a large position", () => {
  const { paper } = broker();
  feed(paper, [{ ms: 0, price: 1 }]);
  paper.submit({ ...BTC, side: "buy", quantity: 1e10 });
  feed(paper, [{ ms: 1, price: 1, size: 1e10 }]);
  paper.submit({ ...BTC, side: "sell", quantity: 1e10 - 5 });
  feed(paper, [{ ms: 2, price: 1, size: 1e10 }]);
  assert.equal(paper.position("binance", "BTCUSDT").quantity, 5);
});

Deno.test("a late trade does not move the stream's clock back (outliers ahead are kept from the broker by TradeProcessing)", () => {
  const late = broker({ latencyMs: 100 });
  feed(late.paper, [{ ms: 1000, price: 100 }, { ms: 0, price: 100 }]);
  late.paper.submit({ ...BTC, side: "buy", quantity: 1 });
  assert.equal(late.paper.openOrders()[0].fillableFrom, T0 + 1100);
  feed(late.paper, [{ ms: 1001, price: 100 }, { ms: 1100, price: 100 }]);
  assert.deepEqual(late.fills.map((f) => f.time - T0), [1100]);
});

Deno.test("latency is counted to the ns, not in whole ms", () => {
  const { paper, fills } = broker({ latencyMs: 0.5 });
  feed(paper, [{ ms: 0, price: 100 }]);
  paper.submit({ ...BTC, side: "buy", quantity: 1 });
  feed(paper, [{ ms: 0.499, price: 101 }]);
  assert.equal(fills.length, 0);
  feed(paper, [{ ms: 0.8, price: 102 }]);
  assert.deepEqual(fills.map((f) => f.price), [102]);
  const ms = broker({ latencyMs: 1 });
  feed(ms.paper, [{ ms: 0.999, price: 100 }]);
  ms.paper.submit({ ...BTC, side: "buy", quantity: 1 });
  feed(ms.paper, [{ ms: 1.001, price: 101 }]);
  assert.equal(ms.fills.length, 0);
});

Deno.test("onFill sees the broker as of its fill; a cancel from it stops a later fill of the same trade", () => {
  const seen: [string, number, boolean][] = [];
  const paper: PaperBroker = new PaperBroker({
    feeBps: 0,
    onFill: (fill) => {
      const held = paper.position("binance", "BTCUSDT").quantity;
      seen.push([
        fill.orderId,
        held,
        fill.orderId === "1" && paper.cancel("2"),
      ]);
    },
  });
  feed(paper, [{ ms: 0, price: 100 }]);
  paper.submit({ ...BTC, side: "buy", quantity: 1 });
  paper.submit({ ...BTC, side: "buy", quantity: 1 });
  feed(paper, [{ ms: 1, price: 100, size: 5 }]);
  assert.deepEqual(seen, [["1", 1, true]]);
  assert.equal(paper.fills, 1);
});

Deno.test("a trade flagged Redelivered or Snapshot fills nothing and moves no clock", () => {
  const { paper, fills } = broker();
  feed(paper, [{ ms: 0, price: 100 }]);
  paper.submit({ ...BTC, side: "buy", quantity: 1 });
  feed(paper, [
    { ms: 1, price: 90, flags: TradeFlags.Redelivered },
    { ms: 2, price: 80, flags: TradeFlags.Snapshot },
  ]);
  assert.equal(fills.length, 0);
  assert.equal(paper.position("binance", "BTCUSDT").lastPrice, 100);
  feed(paper, [{ ms: 3, price: 101 }]);
  assert.deepEqual(fills.map((f) => f.price), [101]);
});
