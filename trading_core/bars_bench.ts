/**
 * Cost of {@linkcode BarBuilder.add} per trade: 2 intervals (1s, 1m), 3
 * symbols, trades 1 ms apart (each one moves the trade clock, the worst case
 * for it), so a 1s bar closes every ~333 trades per symbol; the same with 100
 * symbols (the wall clock is read per 10 ms of the exchange's trade time, not
 * per symbol), and with the `"trade"` clock. One iteration is
 * {@linkcode TRADES} trades: divide the time by it for ns/trade.
 * `deno bench trading_core/bars_bench.ts`.
 *
 * @module
 */

import { benchTrades } from "../tests/_bench_trades.ts";
import type { Bar } from "./bar.ts";
import { BarBuilder } from "./bars.ts";

/** Trades per iteration. */
const TRADES = 100_000;
const view = benchTrades(TRADES, { stepNs: 1_000_123n });
let sink = 0;
const onBar = (bar: Bar) => {
  sink += bar.trades;
};

Deno.bench(`BarBuilder.add: ${TRADES} trades, 3 symbols, 1s + 1m`, (b) => {
  // A new builder each time: trade time must move forward.
  const bars = new BarBuilder(["BTCUSDT", "ETHUSDT", "SOLUSDT"], {
    exchange: "binance",
    intervals: ["1s", "1m"],
    onBar,
  });
  b.start();
  for (let i = 0; i < TRADES; i++) bars.add(view.select(i), i % 3);
  b.end();
});

const SYMBOLS_100 = Array.from({ length: 100 }, (_, i) => `S${i}USDT`);
for (const clock of ["wall", "trade"] as const) {
  Deno.bench(
    `BarBuilder.add: ${TRADES} trades, 100 symbols, 1s + 1m, clock ${clock}`,
    (b) => {
      const bars = new BarBuilder(SYMBOLS_100, {
        exchange: "binance",
        intervals: ["1s", "1m"],
        clock,
        onBar,
      });
      b.start();
      for (let i = 0; i < TRADES; i++) bars.add(view.select(i), i % 100);
      b.end();
    },
  );
}

Deno.bench(`baseline: select + read the 4 fields of ${TRADES} trades`, (b) => {
  b.start();
  for (let i = 0; i < TRADES; i++) {
    view.select(i);
    sink += view.tsEventMs + view.price + view.size + view.side;
  }
  b.end();
});

globalThis.addEventListener("unload", () => {
  if (Number.isNaN(sink)) console.log(sink);
});
