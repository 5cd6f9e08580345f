// The final summary of `deno task live`: gaps delivered as data are counted
// by cause per stream and in total, and the summary line names them only
// when there are some.

import assert from "node:assert/strict";
import type {
  GapCause,
  StreamStats,
  TradeFeed,
} from "../common/transport/feed.ts";
import { captureLog } from "../tests/_capture_log.ts";
import { feed as feedTrades } from "../tests/_broker_trades.ts";
import { PaperBroker } from "./broker/mod.ts";
import { brokerLines, reportSummary, summarize } from "./live_report.ts";
import { TradeStats } from "./trade_stats.ts";

const BTC = { exchange: "binance", symbol: "BTCUSDT" };
const ETH = { exchange: "binance", symbol: "ETHUSDT" };

/** A feed whose rows are `rows`. */
function feed(rows: StreamStats[]): TradeFeed {
  return {
    name: "ipc",
    subscribeTrades: () => Promise.resolve(),
    stats: () => rows,
    status: () => ({ connected: true, idle: false, detail: "" }),
    lossCauses: ["overwritten"],
    metrics: () => [],
  };
}

function row(stream: typeof BTC, lost: number): StreamStats {
  return {
    ...stream,
    received: 0,
    lost,
    lostBy: lost > 0 ? { overwritten: lost } : {},
    invalid: 0,
    lag: 0,
    restarts: 0,
    state: "alive",
  };
}

Deno.test("summarize and reportSummary: gaps by cause per stream and in total, said in the summary line", () => {
  const stats = new TradeStats([BTC, ETH]);
  const gap = (stream: number, cause: GapCause, count: number | null) =>
    stats.gap({
      ...(stream === 0 ? BTC : ETH),
      stream,
      cause,
      firstSeq: null,
      lastSeq: null,
      count,
    });
  gap(0, "overwritten", 4);
  gap(1, "overwritten", 3);
  gap(1, "reconnect", null);
  const summary = summarize(feed([row(BTC, 4), row(ETH, 3)]), stats, 1000);
  assert.deepEqual(summary.gapsBy, { overwritten: 2, reconnect: 1 });
  assert.deepEqual(summary.exchanges.binance.BTCUSDT.gapsBy, {
    overwritten: 1,
  });
  assert.deepEqual(summary.exchanges.binance.ETHUSDT.gapsBy, {
    overwritten: 1,
    reconnect: 1,
  });
  const { log, lines } = captureLog();
  assert.equal(reportSummary(summary, log), true, "trades were lost");
  assert.match(
    lines[0],
    /^info: stopped after 1\.0s: received 0, lost 7, invalid 0, gaps 0, gap events \(2 overwritten, 1 reconnect\), latency /,
  );
  assert.equal(
    lines[1],
    "error: incomplete: 7 trades lost (7 overwritten); exit status 1",
  );
});

Deno.test("summarize and reportSummary: the paper broker's orders, fills, fees and P&L, in total and per symbol", () => {
  const broker = new PaperBroker({ startingBalance: 1000, feeBps: 10 });
  feedTrades(broker, [{ ms: 0, price: 100 }]);
  broker.submit({ ...BTC, side: "buy", quantity: 2 });
  broker.submit({ ...ETH, side: "sell", quantity: 1 });
  feedTrades(broker, [
    { ms: 1, price: 100, size: 5 },
    {
      ms: 2,
      price: 10,
      symbol: "ETHUSDT",
    },
    { ms: 3, price: 9, symbol: "ETHUSDT" },
    { ms: 4, price: 105 },
  ]);
  const stats = new TradeStats([BTC]);
  const summary = summarize(feed([row(BTC, 0)]), stats, 500, { broker });
  assert.equal(summary.broker?.orders, 2);
  assert.equal(summary.broker?.fills, 2);
  assert.deepEqual(
    summary.broker?.symbols.map((p) => [p.symbol, p.quantity]),
    [["BTCUSDT", 2], ["ETHUSDT", -1]],
  );
  const { log, lines } = captureLog();
  assert.equal(reportSummary(summary, log), false);
  assert.deepEqual(lines.slice(1), [
    "info: paper broker: 2 orders, 2 fills, fees 0.21, P&L +10.79 (realized -0.21, unrealized +11.00), equity 1010.79 from 1000.00",
    "info: paper binance BTCUSDT: 1 order, 1 fill, position 2 @ 100, fees 0.20, realized -0.20, unrealized +10.00 at 105",
    "info: paper binance ETHUSDT: 1 order, 1 fill, position -1 @ 10, fees 0.01, realized -0.01, unrealized +1.00 at 9",
  ]);
  assert.equal(summarize(feed([row(BTC, 0)]), stats, 500).broker, undefined);
});

Deno.test("reportSummary: orders left open are counted, per symbol too (one for a symbol that never traded); quantities without float noise", () => {
  const broker = new PaperBroker({ startingBalance: 1000, feeBps: 0 });
  feedTrades(broker, [{ ms: 0, price: 100 / 3 }]);
  broker.submit({ ...BTC, side: "buy", quantity: 0.1 });
  broker.submit({ ...BTC, side: "buy", quantity: 0.2 });
  broker.submit({
    exchange: "binance",
    symbol: "BTCUSD",
    side: "buy",
    quantity: 1,
  });
  feedTrades(broker, [{ ms: 1, price: 100 / 3, size: 1 }]);
  const summary = summarize(feed([row(BTC, 0)]), new TradeStats([BTC]), 500, {
    broker,
  });
  assert.equal(summary.broker?.openOrders, 1);
  const { log, lines } = captureLog();
  reportSummary(summary, log);
  assert.match(
    lines[1],
    /^info: paper broker: 3 orders, 2 fills, 1 order left open, /,
  );
  assert.match(
    lines[2],
    /^info: paper binance BTCUSDT: 2 orders, 2 fills, position 0\.3 @ 33\.333333333,/,
  );
  assert.match(
    lines[3],
    /^info: paper binance BTCUSD: 1 order, 0 fills, 1 order left open, position 0 @ 0,/,
  );
});

Deno.test("summarize and reportSummary: clock outliers per stream, those with any, one warning each; absent when no bars are built", () => {
  const stats = new TradeStats([BTC, ETH]);
  const summary = summarize(feed([row(BTC, 0), row(ETH, 0)]), stats, 500, {
    outliers: (stream) => stream === 1 ? 2 : 0,
  });
  assert.deepEqual(summary.outliers, { binance: { ETHUSDT: 2 } });
  const { log, lines } = captureLog();
  reportSummary(summary, log);
  assert.deepEqual(lines.filter((line) => line.includes("outliers")), [
    "warn: binance ETHUSDT: 2 clock outliers kept out of bars and broker (more than trading_core.bars.max_clock_jump ahead of the symbol's clock)",
  ]);
  assert.equal(summarize(feed([row(BTC, 0)]), stats, 500).outliers, undefined);
});

Deno.test("reportSummary: no gap events, no mention of them", () => {
  const stats = new TradeStats([BTC]);
  const summary = summarize(feed([row(BTC, 0)]), stats, 500);
  assert.deepEqual(summary.gapsBy, {});
  const { log, lines } = captureLog();
  assert.equal(reportSummary(summary, log), false);
  assert.match(lines[0], /, gaps 0, latency /);
});

Deno.test("summarize and reportSummary: trades the snapshot stands for are counted skipped per stream and in total, said in the summary line, not an incomplete run", () => {
  const stats = new TradeStats([BTC, ETH]);
  const summary = summarize(
    feed([{ ...row(BTC, 0), skipped: 9 }, row(ETH, 0)]),
    stats,
    1000,
  );
  assert.equal(summary.skipped, 9);
  assert.equal(summary.exchanges.binance.BTCUSDT.skipped, 9);
  assert.equal(summary.exchanges.binance.ETHUSDT.skipped, 0);
  const { log, lines } = captureLog();
  assert.equal(reportSummary(summary, log), false);
  assert.match(
    lines[0],
    /: received 0, skipped 9 \(the snapshot stands for them\), lost 0, /,
  );
});

Deno.test("brokerLines with listed: the first streams with orders, then one line for the rest (their totals, the first names, how many had no orders)", () => {
  const position = (symbol: string, orders: number) => ({
    exchange: "binance",
    symbol,
    quantity: orders,
    averagePrice: 10,
    realizedPnl: -0.5 * orders,
    unrealizedPnl: orders,
    fees: 0.5 * orders,
    lastPrice: 11,
    orders,
    fills: orders,
    volume: orders,
    openOrders: 0,
  });
  const symbols = Array.from(
    { length: 300 },
    (_, i) => position(`S${i}`, i % 100 === 7 ? 2 : 0),
  );
  const broker = {
    orders: 6,
    fills: 6,
    fees: 3,
    startingBalance: 1000,
    balance: 997,
    equity: 1003,
    realizedPnl: -3,
    unrealizedPnl: 6,
    openOrders: 0,
    symbols,
  };
  assert.equal(brokerLines(broker).length, 301, "all, unless listed");
  assert.deepEqual(brokerLines(broker, { listed: 2 }).slice(1), [
    "paper binance S7: 2 orders, 2 fills, position 2 @ 10, fees 1.00, realized -1.00, unrealized +2.00 at 11",
    "paper binance S107: 2 orders, 2 fills, position 2 @ 10, fees 1.00, realized -1.00, unrealized +2.00 at 11",
    "paper: 298 more streams (binance S0, binance S1, binance S2, …): 2 orders, 2 fills, fees 1.00, realized -1.00, unrealized +2.00; 297 of them with no orders",
  ]);
});
