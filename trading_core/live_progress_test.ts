// Tests of live's progress lines: a line per stream up to the threshold;
// above it one summary line (streams, trades, loss, gaps, the slowest stream
// over the interval, the worst lag in the transport's own unit, caught-up
// streams) and a line to keep per stream that lost trades or gapped since
// the last line, the worst first, capped. Recording reads the wall clock
// through libc, hence ffiTest.

import assert from "node:assert/strict";
import { encodeMessage, type TradeOrigin } from "../common/wire/codec.ts";
import { Side } from "../common/wire/trade.ts";
import { TradeView } from "../common/wire/trade_view.ts";
import type { StreamStats } from "../common/transport/feed.ts";
import { ffiTest } from "../tests/_permissions.ts";
import { LiveProgress } from "./live_progress.ts";
import { SUMMARY_WIDTH } from "./_progress_text.ts";
import { TradeStats } from "./trade_stats.ts";

const NS_PER_MS = 1_000_000n;

/** A view of one trade with `seq`, received `ageMs` ago. */
function trade(seq: number, ageMs = 0): TradeView {
  const tsRecv = (BigInt(Date.now()) - BigInt(ageMs)) * NS_PER_MS;
  const view = new TradeView();
  view.wrap(encodeMessage([{
    side: Side.Buy,
    flags: 0,
    seq,
    tsEvent: tsRecv,
    tsRecv,
    priceFixed: 100_000_000_000n,
    size: 1,
    tradeId: BigInt(seq),
  }]));
  return view;
}

/** `count` streams S0, S1, … on `exchange`. */
function streams(count: number, exchange = "binance"): TradeOrigin[] {
  return Array.from(
    { length: count },
    (_, i) => ({ exchange, symbol: `S${i}` }),
  );
}

/** The feed's rows of `stats`: `lost` and `lag` per stream index (default 0). */
function rows(
  stats: TradeStats,
  options: { lost?: number[]; lag?: number[]; lagOf?: string } = {},
): StreamStats[] {
  return stats.streams.map(({ exchange, symbol }, i) => ({
    exchange,
    symbol,
    received: stats.figures(i).received,
    lost: options.lost?.[i] ?? 0,
    lostBy: {},
    invalid: 0,
    lag: options.lag?.[i] ?? 0,
    ...options.lagOf !== undefined && { lagOf: options.lagOf },
    restarts: 0,
    state: "alive",
  }));
}

/** Records trades `from`..`to` of every stream of `stats`, received `ageMs` ago. */
function feedAll(stats: TradeStats, from: number, to: number, ageMs = 0): void {
  for (let stream = 0; stream < stats.streams.length; stream++) {
    for (let seq = from; seq <= to; seq++) {
      stats.record(trade(seq, ageMs), stream);
    }
  }
}

ffiTest("at or below the threshold: a line per stream, as before", () => {
  const stats = new TradeStats(streams(8));
  feedAll(stats, 1, 3);
  const progress = new LiveProgress(stats, { summaryAbove: 8 });
  const lines = progress.lines(rows(stats), 1);
  assert.equal(lines.length, 8);
  assert.match(
    lines[0].text,
    /^binance S0 3 \(3\/s\) last 100 lost 0 gaps 0 lag 0 latency p50 .* \[alive\]$/,
  );
  assert.ok(lines.every((line) => !line.keep));
});

ffiTest(
  "above the threshold: one summary line with the totals, the interval's rate and no line per stream",
  () => {
    const stats = new TradeStats(streams(12));
    const progress = new LiveProgress(stats, { summaryAbove: 8 });
    feedAll(stats, 1, 10);
    const first = progress.lines(rows(stats), 2);
    assert.equal(first.length, 1);
    assert.match(
      first[0].text,
      /^12\/12 streams \| trades 120 \+120 at 60\/s, avg 60\/s \| lost 0 \| gaps 0 \| slowest S\d+ p99 \S+ \| lag 0$/,
    );
    // The next interval: half the streams trade.
    for (let stream = 0; stream < 6; stream++) {
      for (let seq = 11; seq <= 20; seq++) stats.record(trade(seq), stream);
    }
    const [second] = progress.lines(rows(stats), 2);
    assert.match(
      second.text,
      /^6\/12 streams \| trades 180 \+60 at 30\/s, avg 45\/s \|/,
    );
    assert.deepEqual(
      { ...second.fields, slowest: undefined },
      {
        streams: 12,
        activeStreams: 6,
        received: 180,
        receivedInterval: 60,
        rate: 30,
        averageRate: 45,
        lost: 0,
        lostInterval: 0,
        gaps: 0,
        gapsInterval: 0,
        slowest: undefined,
        lag: [{ lag: 0 }], // no stream lags: none named
      },
    );
  },
);

ffiTest(
  "the slowest stream is the one with the highest p99 over the interval, not since the start",
  () => {
    const stats = new TradeStats(streams(10));
    const progress = new LiveProgress(stats, { summaryAbove: 8 });
    feedAll(stats, 1, 20, 1);
    for (let seq = 21; seq <= 40; seq++) stats.record(trade(seq, 900), 3); // S3 slow
    const [first] = progress.lines(rows(stats), 1);
    assert.match(first.text, /slowest S3 p99 \d{3}\.\d\dms \|/);
    assert.ok(
      (first.fields!.slowest as { latencyP99Ns: number }).latencyP99Ns > 850e6,
    );
    // Then S3 is fast, S7 slowish: since the start S3's p99 is still ~900 ms.
    feedAll(stats, 41, 60, 1);
    for (let seq = 61; seq <= 80; seq++) stats.record(trade(seq, 60), 7);
    const [second] = progress.lines(rows(stats), 1);
    assert.ok(stats.figures(3).latency.percentile(99) > 800e6);
    assert.match(second.text, /slowest S7 p99 \d\d\.\d\dms \|/);
    assert.equal(
      (second.fields!.slowest as { symbol: string }).symbol,
      "S7",
    );
    // No trade in the next interval: no slowest.
    assert.match(progress.lines(rows(stats), 1)[0].text, /\| slowest - \|/);
  },
);

ffiTest(
  "the worst lag: a ring stream's own, naming the stream; a NATS consumer's, naming the consumer and no stream",
  () => {
    const stats = new TradeStats(streams(10));
    const progress = new LiveProgress(stats, { summaryAbove: 8 });
    const lag = [3, 0, 0, 0, 0, 0, 0, 250, 4, 0];
    const [ring] = progress.lines(rows(stats, { lag }), 1);
    assert.match(ring.text, /\| lag S7 250$/);
    assert.deepEqual(ring.fields!.lag, [
      { lag: 250, exchange: "binance", symbol: "S7" },
    ]);
    const nats = { lag: Array(10).fill(70), lagOf: "consumer trading-core-1" };
    const [consumer] = progress.lines(rows(stats, nats), 1);
    assert.match(consumer.text, /\| lag consumer trading-core-1 70 msgs$/);
    assert.doesNotMatch(consumer.text, /S\d/);
    assert.deepEqual(consumer.fields!.lag, [
      { lag: 70, consumer: "consumer trading-core-1" },
    ]);
  },
);

ffiTest(
  "a stream that lost trades or gapped gets a line to keep, once per occurrence, with its counts since the last line",
  () => {
    const stats = new TradeStats(streams(10));
    const progress = new LiveProgress(stats, { summaryAbove: 8 });
    feedAll(stats, 1, 5);
    progress.lines(rows(stats), 1);
    const lost = Array(10).fill(0);
    lost[4] = 120;
    stats.record(trade(9), 2); // S2 skips 6..8: a gap
    const lines = progress.lines(rows(stats, { lost }), 2);
    assert.equal(lines.length, 3, lines.map((l) => l.text).join("\n"));
    assert.match(lines[0].text, /\| lost 120 \+120 \| gaps 1 \+1 \|/);
    assert.deepEqual(lines.slice(1).map((line) => [line.text, line.keep]), [
      [
        "binance S4: +120 lost in the last 2.0s (120 lost, 0 gaps in all) [alive]",
        true,
      ],
      [
        "binance S2: +1 gap in the last 2.0s (0 lost, 1 gap in all) [alive]",
        true,
      ],
    ]);
    assert.deepEqual(lines[1].fields, {
      exchange: "binance",
      symbol: "S4",
      lostInterval: 120,
      gapsInterval: 0,
      lost: 120,
      gaps: 0,
      state: "alive",
    });
    // Nothing new: the summary alone, its totals still saying it.
    const next = progress.lines(rows(stats, { lost }), 2);
    assert.equal(next.length, 1);
    assert.match(next[0].text, /\| lost 120 \| gaps 1 \|/);
    lost[4] = 125;
    const again = progress.lines(rows(stats, { lost }), 2);
    assert.equal(again.length, 2);
    assert.match(
      again[1].text,
      /^binance S4: \+5 lost in the last 2\.0s \(125 lost/,
    );
  },
);

ffiTest(
  "a storm across 300 streams: 10 lines to keep, the worst first, then one line for the rest",
  () => {
    const stats = new TradeStats(streams(300));
    const progress = new LiveProgress(stats, { summaryAbove: 8 });
    progress.lines(rows(stats), 1);
    const lost = Array.from({ length: 300 }, (_, i) => i === 290 ? 1000 : 10);
    const lines = progress.lines(rows(stats, { lost }), 1);
    assert.equal(lines.length, 1 + 10 + 1);
    assert.ok(lines.slice(1).every((line) => line.keep));
    assert.ok(!lines[0].keep && lines[0].text.length <= SUMMARY_WIDTH);
    assert.doesNotMatch(lines[0].text, /…/, "short names are not cut");
    assert.match(lines[1].text, /^binance S290: \+1,000 lost/);
    assert.match(lines[2].text, /^binance S0: \+10 lost/);
    assert.equal(
      lines[11].text,
      "…and 290 more streams with losses or gaps in the last 1.0s: +2,900 lost",
    );
    assert.deepEqual(lines[11].fields, {
      moreStreams: 290,
      lostInterval: 2900,
      gapsInterval: 0,
    });
    const capped = new LiveProgress(stats, { summaryAbove: 8, maxListed: 2 });
    assert.equal(capped.lines(rows(stats, { lost }), 1).length, 1 + 2 + 1);
  },
);

ffiTest("with a catch-up, the summary says how many streams caught up", () => {
  const stats = new TradeStats(streams(10));
  const caught = [
    true,
    true,
    false,
    true,
    false,
    false,
    true,
    true,
    true,
    true,
  ];
  const progress = new LiveProgress(stats, {
    summaryAbove: 8,
    caughtUp: () => caught,
  });
  const [line] = progress.lines(rows(stats), 1);
  assert.match(line.text, /\| 7 caught up$/);
  assert.equal(line.fields!.caughtUp, 7);
});

ffiTest(
  "threshold 0: the summary even for one stream; several exchanges: streams named with their exchange",
  () => {
    const stats = new TradeStats([...streams(1), ...streams(1, "coinbase")]);
    const progress = new LiveProgress(stats, { summaryAbove: 0 });
    feedAll(stats, 1, 3, 5);
    const [line] = progress.lines(rows(stats, { lag: [0, 9] }), 1);
    assert.match(
      line.text,
      /^2\/2 streams \|.* slowest (binance|coinbase) S0 p99 \S+ \| lag coinbase S0 9$/,
    );
  },
);

ffiTest("long names are cut so that the summary stays within its width", () => {
  const long = (exchange: string) =>
    Array.from({ length: 10 }, (_, i) => ({
      exchange,
      symbol: `${"VERYLONGSYMBOLNAME".repeat(3)}${i}`,
    }));
  const stats = new TradeStats([
    ...long("exchange-one"),
    ...long("exchange-two"),
  ]);
  const progress = new LiveProgress(stats, {
    summaryAbove: 8,
    caughtUp: () => Array(20).fill(true),
  });
  feedAll(stats, 1, 1_000);
  const lag = Array.from({ length: 20 }, (_, i) => i * 1_000_000);
  const [line] = progress.lines(rows(stats, { lag }), 1);
  assert.ok(
    line.text.length <= SUMMARY_WIDTH,
    `${line.text.length}: ${line.text}`,
  );
  assert.match(line.text, /\| slowest exchan\S*… p99 \S+ \|/);
  assert.match(line.text, /\| lag exchan\S*… 19,000,000 \| 20 caught up$/);
  // The JSON fields keep the whole names.
  assert.equal(
    (line.fields!.lag as { symbol: string }[])[0].symbol,
    `${"VERYLONGSYMBOLNAME".repeat(3)}9`,
  );
});

ffiTest(
  "from per-stream lines to the summary (a wildcard meets more streams): the first summary counts losses since the last line",
  () => {
    const stats = new TradeStats(streams(2));
    const progress = new LiveProgress(stats, { summaryAbove: 2 });
    feedAll(stats, 1, 3);
    const lost = [0, 40, 0];
    assert.equal(progress.lines(rows(stats, { lost }), 1).length, 2);
    stats.add({ exchange: "binance", symbol: "S2" });
    lost[1] = 45;
    const lines = progress.lines(rows(stats, { lost }), 1);
    assert.match(lines[0].text, /^0\/3 streams \|.*\| lost 45 \+5 \|/);
    assert.match(lines[1].text, /^binance S1: \+5 lost/);
  },
);
