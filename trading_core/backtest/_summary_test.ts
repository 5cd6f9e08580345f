import assert from "node:assert/strict";
import type { Position } from "../broker/mod.ts";
import { buildSummary } from "./_summary.ts";

function position(
  exchange: string,
  symbol: string,
  fields: Partial<Position>,
): Position {
  return {
    exchange,
    symbol,
    quantity: 0,
    averagePrice: 0,
    realizedPnl: 0,
    unrealizedPnl: 0,
    fees: 0,
    lastPrice: 0,
    orders: 0,
    fills: 0,
    volume: 0,
    ...fields,
  };
}

Deno.test("buildSummary: totals from the streams and the broker, pnl = equity - balance, symbols sorted by exchange then symbol (a stream ordered but never traded included)", () => {
  const summary = buildSummary({
    streams: [
      { exchange: "binance", symbol: "ETHUSDT" },
      { exchange: "binance", symbol: "BTCUSDT" },
      { exchange: "audx", symbol: "ZED" },
    ],
    trades: [10, 20, 5],
    gaps: [1, 0, 0],
    outliers: [0, 2, 0],
    from: 1000,
    to: 9000,
    badRows: 2,
    duplicates: 3,
    broker: {
      startingBalance: 1000,
      equity: 1012.5,
      orders: 3,
      fills: 4,
      fees: 0.5,
      realizedPnl: 10,
      unrealizedPnl: 2.5,
      positions: () => [
        position("binance", "BTCUSDT", {
          quantity: 1,
          lastPrice: 30,
          orders: 2,
          fills: 3,
          volume: 3,
          fees: 0.4,
          realizedPnl: 10,
          unrealizedPnl: 2.5,
        }),
        position("binance", "AAAUSDT", { orders: 1, fills: 1, fees: 0.1 }),
      ],
    },
    sampleInterval: "1s",
    equity: {
      samples: 8,
      maxDrawdown: 3,
      maxDrawdownRatio: 0.003,
      sharpe: 0.25,
      exposure: 0.5,
      maxGrossExposure: 30,
      minEquity: 997,
      equityBelowZeroAt: null,
    },
  });
  assert.equal(summary.trades, 35);
  assert.equal(summary.gaps, 1);
  assert.equal(summary.outliers, 2);
  assert.equal(summary.pnl, 12.5);
  assert.equal(summary.endingEquity, 1012.5);
  assert.deepEqual(
    summary.symbols.map((s) => [s.exchange, s.symbol, s.trades, s.orders]),
    [
      ["audx", "ZED", 5, 0],
      ["binance", "AAAUSDT", 0, 1],
      ["binance", "BTCUSDT", 20, 2],
      ["binance", "ETHUSDT", 10, 0],
    ],
  );
  assert.deepEqual(summary.symbols[2], {
    exchange: "binance",
    symbol: "BTCUSDT",
    trades: 20,
    gaps: 0,
    outliers: 2,
    orders: 2,
    fills: 3,
    volume: 3,
    fees: 0.4,
    realizedPnl: 10,
    unrealizedPnl: 2.5,
    position: 1,
    lastPrice: 30,
  });
  assert.equal(summary.sharpe, 0.25);
  assert.equal(summary.version, 1);
});
