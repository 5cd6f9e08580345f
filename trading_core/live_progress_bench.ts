/**
 * Cost of one progress report of `live` at 300 (exchange, symbol) streams:
 * the line per stream (`progressLines`, two percentiles over each stream's
 * whole histogram, 300 lines formatted) against the summary form
 * ({@linkcode LiveProgress}: the p99 over the interval of each stream, one
 * line), with 10 fresh trades per stream recorded before each report
 * (outside the timing); the summary again when every stream also holds an
 * hour-old trade (a catch-up's first trades: the scan starts at the top
 * bucket), and in a loss storm (every stream lost trades: 11 lines to keep).
 * `deno bench --allow-ffi trading_core/live_progress_bench.ts`.
 *
 * @module
 */

import { encodeMessage, type TradeOrigin } from "../common/wire/codec.ts";
import type { StreamStats } from "../common/transport/feed.ts";
import { Side } from "../common/wire/trade.ts";
import { TradeView } from "../common/wire/trade_view.ts";
import { LiveProgress } from "./live_progress.ts";
import { progressLines } from "./live_report.ts";
import { TradeStats } from "./trade_stats.ts";

const STREAMS = 300;
/** Trades recorded per stream before each report. */
const TRADES = 10;
const NS_PER_MS = 1_000_000n;

const origins: TradeOrigin[] = Array.from({ length: STREAMS }, (_, i) => ({
  exchange: "binance",
  symbol: `S${i}USDT`,
}));

/** A message of {@linkcode TRADES} trades from `seq`, received `ageMs` ago. */
function trades(seq: number, ageMs: number): TradeView {
  const tsRecv = (BigInt(Date.now()) - BigInt(ageMs)) * NS_PER_MS;
  const view = new TradeView();
  view.wrap(encodeMessage(Array.from({ length: TRADES }, (_, i) => ({
    side: Side.Buy,
    flags: 0,
    seq: seq + i,
    tsEvent: tsRecv,
    tsRecv,
    priceFixed: 67_000_000_000_000n,
    size: 0.01,
    tradeId: BigInt(seq + i),
  }))));
  return view;
}

/** Stats of {@linkcode STREAMS} streams, and a function recording the next trades of each. */
function setup(options: { hourOld?: boolean } = {}) {
  const stats = new TradeStats(origins);
  let seq = 1;
  const feed = () => {
    const view = trades(seq, 0);
    for (let stream = 0; stream < STREAMS; stream++) {
      for (let i = 0; i < TRADES; i++) stats.record(view.select(i), stream);
    }
    seq += TRADES;
  };
  if (options.hourOld) {
    const old = trades(seq, 3_600_000);
    for (let stream = 0; stream < STREAMS; stream++) {
      stats.record(old.select(0), stream);
    }
    seq += TRADES;
  }
  return { stats, feed };
}

/** The feed's rows: `lost` per stream. */
function rows(stats: TradeStats, lost = 0): StreamStats[] {
  return stats.streams.map(({ exchange, symbol }, i) => ({
    exchange,
    symbol,
    received: stats.figures(i).received,
    lost,
    lostBy: {},
    invalid: 0,
    lag: i,
    restarts: 0,
    state: "alive",
  }));
}

let sink = 0;

{
  const { stats, feed } = setup();
  const previous: number[] = [];
  Deno.bench(
    `progress, ${STREAMS} streams: a line per stream (progressLines)`,
    { group: "report", baseline: true },
    (b) => {
      feed();
      const counters = rows(stats);
      b.start();
      sink += progressLines(stats, counters, previous, 1).length;
      b.end();
    },
  );
}

{
  const { stats, feed } = setup();
  const progress = new LiveProgress(stats);
  Deno.bench(
    `progress, ${STREAMS} streams: the summary line (LiveProgress)`,
    { group: "report" },
    (b) => {
      feed();
      const counters = rows(stats);
      b.start();
      sink += progress.lines(counters, 1).length;
      b.end();
    },
  );
}

{
  const { stats, feed } = setup({ hourOld: true });
  const progress = new LiveProgress(stats);
  Deno.bench(
    `progress, ${STREAMS} streams: the summary line, each stream's max an hour`,
    { group: "report" },
    (b) => {
      feed();
      const counters = rows(stats);
      b.start();
      sink += progress.lines(counters, 1).length;
      b.end();
    },
  );
}

{
  const { stats, feed } = setup();
  const progress = new LiveProgress(stats);
  let lost = 0;
  Deno.bench(
    `progress, ${STREAMS} streams: the summary line in a loss storm (every stream lost trades)`,
    { group: "report" },
    (b) => {
      feed();
      lost += 5;
      const counters = rows(stats, lost);
      b.start();
      sink += progress.lines(counters, 1).length;
      b.end();
    },
  );
}

globalThis.addEventListener("unload", () => {
  if (sink < 0) console.log(sink);
});
