// Tests of trading_core's per-(exchange, symbol) figures: counts, sequence
// gaps and the trades they skipped, the u32 seq wrap, producer restarts, the
// same symbol on two exchanges, and latency from ts_recv. Recording reads the
// wall clock through libc, hence ffiTest.

import assert from "node:assert/strict";
import { encodeMessage, type TradeOrigin } from "../common/wire/codec.ts";
import { Side } from "../common/wire/trade.ts";
import { TradeView } from "../common/wire/trade_view.ts";
import { delay } from "../common/runtime/delay.ts";
import { ffiTest } from "../tests/_permissions.ts";
import { LIVENESS_MS } from "../tests/_until.ts";
import type { GapCause, TradeGap } from "../common/transport/feed.ts";
import { LATENCY_EVERY, TradeStats } from "./trade_stats.ts";

const TWO_32 = 2 ** 32;
const NS_PER_MS = 1_000_000n;

/** A view of one trade with `seq`, received `ageMs` ago (negative: in the future). */
function trade(seq: number, options: { ageMs?: number; price?: number } = {}) {
  const tsRecv = (BigInt(Date.now()) - BigInt(options.ageMs ?? 0)) * NS_PER_MS;
  const view = new TradeView();
  view.wrap(encodeMessage([{
    side: Side.Buy,
    flags: 0,
    seq,
    tsEvent: tsRecv,
    tsRecv,
    priceFixed: BigInt(options.price ?? 100) * 1_000_000_000n,
    size: 1,
    tradeId: BigInt(seq),
  }]));
  return view;
}

function recordSeqs(stats: TradeStats, stream: number, seqs: number[]): void {
  for (const seq of seqs) stats.record(trade(seq), stream);
}

/** The streams of `symbols` on Binance. */
function binance(...symbols: string[]): TradeOrigin[] {
  return symbols.map((symbol) => ({ exchange: "binance", symbol }));
}

ffiTest("before any trade: nothing received, no last seq or price", () => {
  const stats = new TradeStats(binance("BTCUSDT", "ETHUSDT"));
  assert.deepEqual(stats.streams, binance("BTCUSDT", "ETHUSDT"));
  assert.equal(stats.received, 0);
  assert.equal(stats.gaps, 0);
  const figures = stats.figures(1);
  assert.equal(figures.received, 0);
  assert.equal(figures.lastSeq, undefined);
  assert.equal(figures.lastPrice, undefined);
  assert.equal(figures.latency.count, 0);
  assert.equal(stats.latency().count, 0);
});

ffiTest(
  "consecutive seqs: counted per symbol, no gaps, last seq and price kept",
  () => {
    const stats = new TradeStats(binance("BTCUSDT", "ETHUSDT"));
    recordSeqs(stats, 0, [1, 2, 3]);
    stats.record(trade(1, { price: 3000 }), 1);
    stats.record(trade(4, { price: 60_000 }), 0);
    assert.equal(stats.received, 5);
    assert.equal(stats.gaps, 0);
    const btc = stats.figures(0);
    assert.equal(btc.received, 4);
    assert.equal(btc.lastSeq, 4);
    assert.equal(btc.lastPrice, 60_000);
    assert.equal(stats.figures(1).lastPrice, 3000);
    assert.equal(stats.figures(1).gaps, 0);
  },
);

ffiTest("a forward jump is one gap counting what it skipped", () => {
  const stats = new TradeStats(binance("BTCUSDT"));
  recordSeqs(stats, 0, [1, 2, 5, 6, 106]);
  const figures = stats.figures(0);
  assert.equal(figures.gaps, 2);
  assert.equal(figures.skipped, 2 + 99);
  assert.equal(figures.received, 5);
  assert.equal(stats.gaps, 2);
});

/** A gap event of BTCUSDT (stream 0): seqs `firstSeq` to `lastSeq` missing. */
function gap(
  cause: GapCause,
  firstSeq: number | null,
  lastSeq: number | null,
): TradeGap {
  return {
    exchange: "binance",
    symbol: "BTCUSDT",
    stream: 0,
    cause,
    firstSeq,
    lastSeq,
    count: firstSeq === null || lastSeq === null
      ? null
      : (lastSeq - firstSeq + 1 + TWO_32) % TWO_32,
  };
}

ffiTest(
  "a seq jump a gap event explained counts once, at the event; counted by cause",
  () => {
    const stats = new TradeStats(binance("BTCUSDT"));
    recordSeqs(stats, 0, [1, 2]);
    stats.gap(gap("overwritten", 3, 9));
    recordSeqs(stats, 0, [10, 11]);
    const figures = stats.figures(0);
    assert.deepEqual(
      [figures.gaps, figures.skipped, figures.received, figures.lastSeq],
      [1, 7, 4, 11],
    );
    // The same jump without the event: one gap too.
    const bare = new TradeStats(binance("BTCUSDT"));
    recordSeqs(bare, 0, [1, 2, 10, 11]);
    assert.deepEqual([bare.figures(0).gaps, bare.figures(0).skipped], [1, 7]);
    stats.gap(gap("overwritten", 12, 12));
    stats.gap(gap("stream limit or deleted", 13, 20));
    recordSeqs(stats, 0, [21]);
    assert.deepEqual([figures.gaps, figures.skipped], [3, 16]);
    assert.deepEqual(figures.gapsBy, {
      overwritten: 2,
      "stream limit or deleted": 1,
    });
    assert.deepEqual(stats.gapsBy, figures.gapsBy);
  },
);

ffiTest(
  "a jump the gap event does not explain still counts at the trade; a gap of unknown seqs leaves the checks",
  () => {
    const stats = new TradeStats(binance("BTCUSDT", "ETHUSDT"));
    recordSeqs(stats, 0, [1, 2]);
    stats.gap(gap("overwritten", 3, 4));
    recordSeqs(stats, 0, [8]); // 5 to 7 missing too: a second break
    const figures = stats.figures(0);
    assert.deepEqual([figures.gaps, figures.skipped], [2, 2 + 3]);
    stats.gap(gap("reconnect", null, null));
    recordSeqs(stats, 0, [9]); // seq goes on across a reconnect: no break
    assert.equal(figures.gaps, 2);
    stats.gap(gap("producer restart", null, null));
    stats.restart(0);
    recordSeqs(stats, 0, [1]);
    assert.equal(figures.gaps, 2);
    stats.gap({ ...gap("source", 2, 2), stream: 1, symbol: "ETHUSDT" });
    recordSeqs(stats, 1, [3]); // the first trade after a gap: no break
    assert.equal(stats.figures(1).gaps, 0);
    assert.deepEqual(stats.gapsBy, {
      overwritten: 1,
      reconnect: 1,
      "producer restart": 1,
      source: 1,
    });
  },
);

ffiTest(
  "a producer restart gap alone (the catch-up's seam, no restarted event) starts a new sequence: no break at the new run's first seq, lower or higher",
  () => {
    const stats = new TradeStats(binance("BTCUSDT"));
    recordSeqs(stats, 0, [4, 5]);
    stats.gap(gap("producer restart", null, null));
    recordSeqs(stats, 0, [1, 2]);
    stats.gap(gap("producer restart", null, null));
    recordSeqs(stats, 0, [90, 91]);
    const figures = stats.figures(0);
    assert.deepEqual([figures.gaps, figures.skipped], [0, 0]);
    assert.deepEqual(figures.gapsBy, { "producer restart": 2 });
  },
);

ffiTest("a step back or a repeat is a gap that skips nothing", () => {
  const stats = new TradeStats(binance("BTCUSDT"));
  recordSeqs(stats, 0, [10, 11, 7, 7, 8]);
  const figures = stats.figures(0);
  assert.equal(figures.gaps, 2); // 11 -> 7 and 7 -> 7
  assert.equal(figures.skipped, 0);
  assert.equal(figures.lastSeq, 8);
});

ffiTest("the first trade never counts as a gap, whatever its seq", () => {
  const stats = new TradeStats(binance("BTCUSDT"));
  recordSeqs(stats, 0, [123_456]);
  assert.equal(stats.figures(0).gaps, 0);
  assert.equal(stats.figures(0).skipped, 0);
});

ffiTest(
  "seq wraps from 2^32 - 1 to 0 without a gap; a jump across the wrap counts what it skipped",
  () => {
    const stats = new TradeStats(binance("BTCUSDT", "ETHUSDT"));
    recordSeqs(stats, 0, [TWO_32 - 2, TWO_32 - 1, 0, 1]);
    assert.equal(stats.figures(0).gaps, 0);
    assert.equal(stats.figures(0).lastSeq, 1);
    recordSeqs(stats, 1, [TWO_32 - 1, 5]); // 0..4 missing
    assert.equal(stats.figures(1).gaps, 1);
    assert.equal(stats.figures(1).skipped, 5);
    recordSeqs(stats, 1, [TWO_32 - 3]); // back across the wrap
    assert.equal(stats.figures(1).gaps, 2);
    assert.equal(stats.figures(1).skipped, 5);
  },
);

ffiTest(
  "restart(): the symbol's next trade starts a new sequence; others keep theirs",
  () => {
    const stats = new TradeStats(binance("BTCUSDT", "ETHUSDT"));
    recordSeqs(stats, 0, [1, 2, 3]);
    recordSeqs(stats, 1, [1, 2]);
    stats.restart(0);
    assert.equal(stats.figures(0).lastSeq, undefined);
    assert.equal(stats.figures(0).received, 3, "counts survive a restart");
    recordSeqs(stats, 0, [1, 2]);
    recordSeqs(stats, 1, [1]); // ETHUSDT was not restarted: 2 -> 1 is a gap
    assert.equal(stats.figures(0).gaps, 0);
    assert.equal(stats.figures(0).received, 5);
    assert.equal(stats.figures(1).gaps, 1);
  },
);

ffiTest(
  "latency: each trade's age since ts_recv, per symbol and over all",
  () => {
    const stats = new TradeStats(binance("BTCUSDT", "ETHUSDT"));
    stats.record(trade(1, { ageMs: 5 }), 0);
    stats.record(trade(2, { ageMs: 5 }), 0);
    stats.record(trade(1, { ageMs: 50 }), 1);
    const btc = stats.figures(0).latency;
    assert.equal(btc.count, 2);
    // At least the age given (ts_recv is whole ms in the past), and far less
    // than a second more; the histogram is within 3.2 %.
    assert.ok(btc.summary().max >= 5e6, `max ${btc.summary().max}`);
    assert.ok(btc.percentile(50) >= 5e6 * 0.968, `p50 ${btc.percentile(50)}`);
    assert.ok(btc.summary().max < 5e6 + 1e9);
    const all = stats.latency();
    assert.equal(all.count, 3);
    assert.ok(all.max >= 50e6 && all.max < 50e6 + 1e9, `max ${all.max}`);
    assert.equal(all.negative, 0);
  },
);

ffiTest(
  "activeMs: wall time from the first to the last trade recorded",
  async () => {
    const stats = new TradeStats(binance("BTCUSDT", "ETHUSDT"));
    assert.equal(stats.activeMs, 0);
    stats.record(trade(1), 0);
    assert.equal(stats.activeMs, 0, "one trade");
    await delay(30);
    stats.record(trade(1), 1);
    // Timers never fire early; 1 ms of slack for the clocks' rounding.
    assert.ok(stats.activeMs >= 29, `${stats.activeMs}`);
    assert.ok(stats.activeMs < LIVENESS_MS);
  },
);

ffiTest("latency: a ts_recv in the future counts as negative", () => {
  const stats = new TradeStats(binance("BTCUSDT"));
  stats.record(trade(1, { ageMs: -60_000 }), 0);
  const latency = stats.latency();
  assert.equal(latency.count, 1);
  assert.equal(latency.negative, 1);
  assert.equal(latency.max, 0);
});

ffiTest(
  "in a big batch latency is sampled every LATENCY_EVERY trades and on the last; counts, gaps and the last price cover every trade",
  () => {
    const tsRecv = BigInt(Date.now()) * NS_PER_MS;
    const records = Array.from({ length: 64 }, (_, i) => ({
      side: Side.Sell,
      flags: 0,
      seq: i + 1,
      tsEvent: tsRecv,
      tsRecv,
      priceFixed: BigInt(1000 + i) * 1_000_000_000n,
      size: 1,
      tradeId: BigInt(i + 1),
    }));
    const view = new TradeView();
    const stats = new TradeStats(binance("BTCUSDT"));
    const count = view.wrap(encodeMessage(records));
    for (let i = 0; i < count; i++) stats.record(view.select(i), 0);
    const figures = stats.figures(0);
    assert.equal(figures.received, 64);
    assert.equal(figures.gaps, 0);
    assert.equal(figures.lastSeq, 64);
    assert.equal(figures.lastPrice, 1063);
    // indices 0, 8, …, 56 and the last (63)
    assert.equal(figures.latency.count, 64 / LATENCY_EVERY + 1);
    // a small batch: every trade
    const small = view.wrap(encodeMessage(records.slice(0, LATENCY_EVERY)));
    const before = figures.latency.count;
    for (let i = 0; i < small; i++) stats.record(view.select(i), 0);
    assert.equal(figures.latency.count - before, LATENCY_EVERY);
  },
);

ffiTest(
  "add() tracks a stream met later (wildcard subscriptions) at the next index",
  () => {
    const stats = new TradeStats(binance("BTCUSDT"));
    assert.equal(stats.add({ exchange: "binance", symbol: "DOGEUSDT" }), 1);
    assert.deepEqual(stats.streams, binance("BTCUSDT", "DOGEUSDT"));
    stats.record(trade(1), 1);
    assert.equal(stats.figures(1).received, 1);
    assert.equal(stats.figures(0).received, 0);
    assert.equal(stats.received, 1);
  },
);

ffiTest(
  "the same symbol on two exchanges is two streams: interleaved independent seqs give no gap, each counted on its own",
  () => {
    const stats = new TradeStats();
    const audx = stats.add({ exchange: "audx", symbol: "AUDA" });
    const audy = stats.add({ exchange: "audy", symbol: "AUDA" });
    assert.deepEqual([audx, audy], [0, 1]);
    // As a stream of two publishers interleaves them: 1, 1, 2, 3, 2, 4, …
    let x = 0, y = 0;
    for (let i = 0; i < 300; i++) {
      if (i % 3 === 2 && y < 99) stats.record(trade(++y), audy);
      else stats.record(trade(++x), audx);
    }
    assert.equal(stats.gaps, 0);
    assert.deepEqual(
      [stats.figures(audx).received, stats.figures(audx).lastSeq],
      [x, x],
    );
    assert.deepEqual(
      [stats.figures(audy).received, stats.figures(audy).lastSeq],
      [y, y],
    );
    assert.equal(stats.received, 300);
    // A restart of one exchange's publisher leaves the other's sequence.
    stats.restart(audy);
    recordSeqs(stats, audy, [1]);
    recordSeqs(stats, audx, [x + 1]);
    assert.equal(stats.gaps, 0);
    recordSeqs(stats, audx, [1]);
    assert.equal(stats.figures(audx).gaps, 1);
    assert.equal(stats.figures(audy).gaps, 0);
  },
);
