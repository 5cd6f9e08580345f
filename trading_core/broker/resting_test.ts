import assert from "node:assert/strict";
import { type Fill, PaperBroker } from "./mod.ts";
import { feed } from "../../tests/_broker_trades.ts";

const BTC = { exchange: "binance", symbol: "BTCUSDT" } as const;

function broker(maxOpenOrders?: number) {
  const fills: Fill[] = [];
  const paper = new PaperBroker({
    feeBps: 0,
    makerFeeBps: 0,
    maxOpenOrders,
    onFill: (fill) => fills.push(fill),
  });
  return { paper, fills };
}

Deno.test("price-time priority: the best limit fills first, the oldest first within a price", () => {
  const { paper, fills } = broker();
  feed(paper, [{ ms: 0, price: 105 }]);
  paper.submit({ ...BTC, side: "buy", quantity: 1, type: "limit", price: 100 });
  paper.submit({ ...BTC, side: "buy", quantity: 1, type: "limit", price: 101 });
  paper.submit({ ...BTC, side: "buy", quantity: 1, type: "limit", price: 101 });
  paper.submit({ ...BTC, side: "sell", quantity: 1, type: "limit", price: 90 });
  feed(paper, [{ ms: 1, price: 104, size: 5 }]); // due, reaches the sell only
  assert.deepEqual(fills.map((fill) => fill.orderId), ["4"]);
  assert.equal(fills[0].liquidity, "taker"); // it crossed the market
  feed(paper, [{ ms: 2, price: 100.5, size: 1.5 }]);
  assert.deepEqual(fills.map((fill) => fill.orderId), ["4", "2", "3"]);
  assert.deepEqual(fills.slice(1).map((fill) => fill.quantity), [1, 0.5]);
  assert.deepEqual(fills.slice(1).map((fill) => fill.price), [101, 101]);
  assert.equal(fills[1].liquidity, "maker"); // it rested a trade
  feed(paper, [{ ms: 3, price: 99, size: 5 }]);
  assert.deepEqual(fills.map((fill) => fill.orderId), [
    "4",
    "2",
    "3",
    "3",
    "1",
  ]);
  assert.equal(paper.openOrders().length, 0);
});

Deno.test("a market order and limits the trade reaches fill oldest head first", () => {
  const { paper, fills } = broker();
  feed(paper, [{ ms: 0, price: 100 }]);
  paper.submit({ ...BTC, side: "sell", quantity: 1, type: "limit", price: 99 });
  paper.submit({ ...BTC, side: "buy", quantity: 1 });
  paper.submit({ ...BTC, side: "buy", quantity: 1, type: "limit", price: 101 });
  feed(paper, [{ ms: 1, price: 100, size: 10 }]);
  assert.deepEqual(fills.map((fill) => fill.orderId), ["1", "2", "3"]);
});

Deno.test("cancelled orders are skipped and dropped; many cancels leave the fills right", () => {
  const { paper, fills } = broker();
  feed(paper, [{ ms: 0, price: 100 }]);
  for (let i = 0; i < 5000; i++) {
    const id = paper.submit({
      ...BTC,
      side: "buy",
      quantity: 1,
      type: "limit",
      price: 90 + (i % 7),
    });
    if (i % 1000 === 999) feed(paper, [{ ms: 1 + i, price: 100 }]);
    if (i !== 4321) paper.cancel(id);
  }
  assert.equal(paper.openOrders().length, 1);
  feed(paper, [{ ms: 9000, price: 80, size: 10 }]);
  assert.deepEqual(fills.map((fill) => fill.orderId), ["4322"]);
  assert.equal(paper.openOrders().length, 0);
});

Deno.test("max_open_orders: a submit past the cap is a RangeError quoting it and its key; fills and cancels free room", () => {
  const { paper } = broker(2);
  feed(paper, [{ ms: 0, price: 100 }]);
  const first = paper.submit({ ...BTC, side: "buy", quantity: 1 });
  paper.submit({ ...BTC, side: "buy", quantity: 1, type: "limit", price: 1 });
  assert.throws(
    () => paper.submit({ ...BTC, side: "buy", quantity: 1 }),
    (error: unknown) =>
      error instanceof RangeError &&
      /2 are open/.test(error.message) &&
      /trading_core\.broker\.max_open_orders \(--max-open-orders\) is 2/.test(
        error.message,
      ) && !error.message.includes("\n"),
  );
  feed(paper, [{ ms: 1, price: 100 }]); // fills the market order
  assert.equal(paper.cancel(first), false);
  assert.equal(paper.submit({ ...BTC, side: "buy", quantity: 1 }), "3");
  assert.throws(() => new PaperBroker({ maxOpenOrders: 0 }), RangeError);
});
