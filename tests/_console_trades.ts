/**
 * Trades and live's counters for the console's tests: a trade view of one
 * trade, a real {@linkcode TradeStats} with a stand-in for the feed's
 * `stats()` rows, and the console's events over them with real bars and tape.
 *
 * @module
 */

import { encodeMessage, type TradeOrigin } from "../common/wire/codec.ts";
import { Side } from "../common/wire/trade.ts";
import { TradeView } from "../common/wire/trade_view.ts";
import type { StreamStats } from "../common/transport/feed.ts";
import { TradeStats } from "../trading_core/trade_stats.ts";
import type { TradeFeed } from "../common/transport/feed.ts";
import { BarBuilder } from "../trading_core/bars.ts";
import {
  CandleStore,
  ConsoleEvents,
  ConsoleTable,
  TradeTape,
  TransportWatch,
} from "../trading_core/console/mod.ts";

const BTC = { exchange: "binance", symbol: "BTCUSDT" };
const ETH = { exchange: "binance", symbol: "ETHUSDT" };

/** A view of one trade: `seq`, at `tsMs` (default now), `price`, `size`, `side`. */
export function tradeView(
  seq: number,
  options: { tsMs?: number; price?: number; size?: number; side?: Side } = {},
): TradeView {
  const ts = BigInt(options.tsMs ?? Date.now()) * 1_000_000n;
  const view = new TradeView();
  view.wrap(encodeMessage([{
    side: options.side ?? Side.Buy,
    flags: 0,
    seq,
    tsEvent: ts,
    tsRecv: ts,
    priceFixed: BigInt(Math.round((options.price ?? 100) * 1e9)),
    size: options.size ?? 1,
    tradeId: BigInt(seq),
  }]));
  return view;
}

/** A feed row of `origin` (what `TradeFeed.stats()` gives). */
export function feedRow(
  origin: TradeOrigin,
  row: Partial<StreamStats> = {},
): StreamStats {
  return {
    ...origin,
    received: 0,
    lost: 0,
    lostBy: {},
    invalid: 0,
    lag: 0,
    restarts: 0,
    state: "alive",
    ...row,
  };
}

/** A real TradeStats of `streams` and the feed rows beside it, which a test changes. */
export function liveCounters(streams: TradeOrigin[]): {
  stats: TradeStats;
  rows: StreamStats[];
  feed: { stats(): StreamStats[] };
} {
  const stats = new TradeStats(streams);
  const rows = streams.map((origin) => feedRow(origin));
  return { stats, rows, feed: { stats: () => rows } };
}

/** Events over real counters, bars and tape, for `streams`; `trade()` delivers one as live would. */
export function consoleEvents(
  streams: TradeOrigin[] = [BTC, ETH],
) {
  const { stats, rows, feed } = liveCounters(streams);
  const candles = new CandleStore(["1s", "1m"]);
  const tape = new TradeTape();
  const builder = new BarBuilder([], {
    intervals: ["1s", "1m"],
    onBar: candles.bar,
    clock: "trade",
  });
  for (const origin of streams) {
    candles.addStream(origin);
    builder.addSymbol(origin.symbol, origin.exchange);
  }
  candles.builder = builder;
  const tradeFeed = {
    name: "ipc",
    stats: feed.stats,
    status: () => ({ connected: true, idle: false, detail: "3 rings" }),
    metrics: () => [],
  } as unknown as TradeFeed;
  const transport = new TransportWatch(tradeFeed, () => stats.streams, {
    nats: false,
  });
  const events = new ConsoleEvents(
    { table: new ConsoleTable({ feed, stats }), candles, tape, transport },
    { updatesPerSecond: 4, bars: "console" },
  );
  let seq = 0;
  const trade = (stream: number, tsMs: number, price: number) => {
    const view = tradeView(++seq, { tsMs, price });
    stats.record(view, stream);
    builder.add(view, stream);
    tape.record(view, stream);
  };
  return { events, stats, rows, candles, tape, trade };
}
