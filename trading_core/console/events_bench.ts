/**
 * The console's server side per tick, at 300 streams: reading and
 * serialising the table (every row changed, the worst case, and none), and
 * a whole tick of the events for 20 clients (20 charts, and all on one),
 * with the bars and tapes they watch; and what a trade costs the read loop:
 * the tape of a stream nobody watches, and of a watched one.
 * `deno bench --allow-ffi trading_core/console/events_bench.ts` (TradeStats
 * reads the wall clock through libc).
 *
 * @module
 */

import { Side } from "../../common/wire/trade.ts";
import { benchTrades } from "../../tests/_bench_trades.ts";
import { consoleEvents, tradeView } from "../../tests/_console_trades.ts";
import type { ChartWatch } from "./events.ts";
import { TradeTape } from "./tape.ts";
import { ConsoleTable } from "./table.ts";

const STREAMS = 300;
const origins = Array.from({ length: STREAMS }, (_, i) => ({
  exchange: i % 2 === 0 ? "binance" : "kraken",
  symbol: `S${i}USDT`,
}));
const setup = consoleEvents(origins);
const { stats, rows } = setup;
const table = new ConsoleTable({ feed: { stats: () => rows }, stats });
let seq = 0;
let now = 0;
let ts = Date.now();

/** One more trade on every stream, 1 ms of trade time later. */
function tradeEverywhere(): void {
  ts += 1;
  for (let stream = 0; stream < STREAMS; stream++) {
    setup.trade(stream, ts, 100 + (seq++ % 7));
  }
}

// Latency percentiles need samples: a few per stream.
for (let i = 0; i < 3; i++) tradeEverywhere();

Deno.bench(
  `table: refresh + serialise, ${STREAMS} streams, every row changed`,
  (b) => {
    tradeEverywhere();
    b.start();
    table.refresh(now += 250);
    b.end();
  },
);

Deno.bench(
  `table: refresh + serialise, ${STREAMS} streams, nothing changed`,
  (b) => {
    table.refresh(now += 250); // rates settle
    b.start();
    table.refresh(now += 1);
    b.end();
  },
);

const spread: ChartWatch[] = Array.from({ length: 20 }, (_, i) => ({
  request: { exchange: origins[i].exchange, symbol: origins[i].symbol, k: 0 },
  stream: -1,
  full: true,
}));
const same: ChartWatch[] = Array.from({ length: 20 }, () => ({
  request: { exchange: origins[0].exchange, symbol: origins[0].symbol, k: 0 },
  stream: -1,
  full: true,
}));
for (const watch of [...spread, ...same]) setup.events.snapshot(watch);

for (
  const [name, watches] of [["20 charts", spread], ["1 chart", same]] as const
) {
  Deno.bench(
    `events.tick: ${STREAMS} streams, 20 clients on ${name}, every row changed`,
    (b) => {
      tradeEverywhere();
      b.start();
      setup.events.tick(watches, now += 250);
      b.end();
    },
  );
}

/** Trades per iteration of the tape benches. */
const TRADES = 100_000;
const view = benchTrades(TRADES, { stepNs: 1_000_000n });
const tape = new TradeTape();
tape.watch(1);
tradeView(1, { side: Side.Buy }); // warm the codec

Deno.bench(`tape.record: ${TRADES} trades of a stream nobody watches`, (b) => {
  b.start();
  for (let i = 0; i < TRADES; i++) tape.record(view.select(i), 0);
  b.end();
});

Deno.bench(`tape.record: ${TRADES} trades of a watched stream`, (b) => {
  b.start();
  for (let i = 0; i < TRADES; i++) tape.record(view.select(i), 1);
  b.end();
});
