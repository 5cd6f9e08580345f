/**
 * Cost of {@linkcode PaperBroker.trade} per trade: 3 streams, trades 1 ms
 * apart. "idle" has no open order (the hot path: every trade of a backtest
 * whose strategy is flat); "resting limit" keeps one limit order per stream
 * that no trade reaches; "10k resting" holds 10,000 limit orders (the
 * default `max_open_orders`) on one stream, buys below and sells above
 * every trade (a trade should look only at the best of each). One iteration is
 * {@linkcode TRADES} trades: divide the time by it for ns/trade.
 * `deno bench trading_core/broker/broker_bench.ts`.
 *
 * @module
 */

import { benchTrades } from "../../tests/_bench_trades.ts";
import { PaperBroker } from "./mod.ts";

/** Trades per iteration. */
const TRADES = 100_000;
const view = benchTrades(TRADES);
const ORIGINS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"].map((symbol) => ({
  exchange: "binance",
  symbol,
}));

function run(broker: PaperBroker): void {
  for (let i = 0; i < TRADES; i++) {
    const stream = i % 3;
    broker.trade(view.select(i), ORIGINS[stream], stream);
  }
}

const idle = new PaperBroker();
Deno.bench("PaperBroker.trade, no open order (per 100k trades)", () => {
  run(idle);
});

const resting = new PaperBroker();
for (const { exchange, symbol } of ORIGINS) {
  resting.submit({
    exchange,
    symbol,
    side: "buy",
    quantity: 1,
    type: "limit",
    price: 1,
  });
}
Deno.bench(
  "PaperBroker.trade, one resting limit per stream (per 100k trades)",
  () => {
    run(resting);
  },
);

const crowded = new PaperBroker();
for (let i = 0; i < 10_000; i++) {
  const buy = i % 2 === 0;
  crowded.submit({
    exchange: "binance",
    symbol: "BTCUSDT",
    side: buy ? "buy" : "sell",
    quantity: 1,
    type: "limit",
    price: buy ? 1 + i : 1e9 + i,
  });
}
Deno.bench(
  "PaperBroker.trade, 10k resting limits on one stream (per 100k trades)",
  () => {
    run(crowded);
  },
);

Deno.bench("TradeView.select alone (the loop's floor, per 100k trades)", () => {
  for (let i = 0; i < TRADES; i++) view.select(i);
});
