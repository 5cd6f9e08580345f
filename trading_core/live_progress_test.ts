// Tests of live's progress lines: a line per stream up to the threshold;
// above it one summary line (streams, those caught up and those not live,
// loss, gaps, the worst lag in the transport's own unit, the slowest stream
// over the interval, trades and rates), sized to a terminal's width or 160
// characters, and a line to keep per stream that lost trades or gapped since
// the last line, the worst first, capped. Recording reads the wall clock
// through libc, hence ffiTest.

import assert from "node:assert/strict";
import { encodeMessage, type TradeOrigin } from "../common/wire/codec.ts";
import { Side } from "../common/wire/trade.ts";
import { TradeView } from "../common/wire/trade_view.ts";
import type { ConsumerLag, StreamStats } from "../common/transport/feed.ts";
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

/** The feed's rows of `stats`: `lost`, `lag`, `lagOf` and `state` per stream index (default 0, none, alive). */
function rows(
  stats: TradeStats,
  options: {
    lost?: number[];
    lag?: number[];
    lagOf?: (ConsumerLag | undefined)[];
    state?: string[];
  } = {},
): StreamStats[] {
  return stats.streams.map(({ exchange, symbol }, i) => {
    const lagOf = options.lagOf?.[i];
    const lost = options.lost?.[i] ?? 0;
    return {
      exchange,
      symbol,
      received: stats.figures(i).received,
      lost,
      // As the ring feed says it: every cause, some with none.
      lostBy: { overwritten: lost, evicted: 0, "corrupt slot": 0 },
      invalid: 0,
      lag: options.lag?.[i] ?? 0,
      ...lagOf !== undefined && { lagOf },
      restarts: 0,
      state: options.state?.[i] ?? "alive",
    };
  });
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
  "above the threshold: one summary line, the most important fields first (streams, lost, gaps, lag, slowest, then trades and rates), and no line per stream",
  () => {
    const stats = new TradeStats(streams(12));
    const progress = new LiveProgress(stats, { summaryAbove: 8 });
    feedAll(stats, 1, 10);
    const first = progress.lines(rows(stats), 2);
    assert.equal(first.length, 1);
    assert.match(
      first[0].text,
      /^12\/12 streams \| lost 0 \| gaps 0 \| lag 0 trades \| slowest binance S\d+ p99 \S+ \| trades 120 \+120 at 60\/s, avg 60\/s$/,
    );
    // The next interval: half the streams trade.
    for (let stream = 0; stream < 6; stream++) {
      for (let seq = 11; seq <= 20; seq++) stats.record(trade(seq), stream);
    }
    const [second] = progress.lines(rows(stats), 2);
    assert.match(
      second.text,
      /^6\/12 streams \|.*\| trades 180 \+60 at 30\/s, avg 45\/s$/,
    );
    assert.deepEqual(
      { ...second.fields, slowest: undefined },
      {
        streams: 12,
        activeStreams: 6,
        notLive: {},
        received: 180,
        receivedInterval: 60,
        rate: 30,
        averageRate: 45,
        lost: 0,
        lostInterval: 0,
        gaps: 0,
        gapsInterval: 0,
        slowest: undefined,
        lagTrades: 0, // no stream lags: none named
        lagStream: null,
        consumerPending: null,
        consumer: null,
        consumerKind: null,
        consumerStream: null,
      },
    );
  },
);

ffiTest(
  "the streams not live are counted by state in the summary (stalled, dead, waiting, NATS reconnecting); a catch-up's replay is not one",
  () => {
    const stats = new TradeStats(streams(10));
    const progress = new LiveProgress(stats, { summaryAbove: 8 });
    const state = [
      "stalled",
      "alive",
      "dead",
      "stalled",
      "catching up (3 live trades held, 0 dropped)",
      ...Array(5).fill("alive"),
    ];
    const [line] = progress.lines(rows(stats, { state }), 1);
    assert.match(line.text, /^0\/10 streams \(2 stalled, 1 dead\) \| lost 0/);
    assert.deepEqual(line.fields!.notLive, { stalled: 2, dead: 1 });
    const gone = Array(10).fill("reconnecting");
    const [nats] = progress.lines(rows(stats, { state: gone }), 1);
    assert.match(nats.text, /^0\/10 streams \(10 reconnecting\) \|/);
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
    assert.match(first.text, /\| slowest binance S3 p99 \d{3}\.\d\dms \|/);
    assert.ok(
      (first.fields!.slowest as { latencyP99Ns: number }).latencyP99Ns > 850e6,
    );
    // Then S3 is fast, S7 slowish: since the start S3's p99 is still ~900 ms.
    feedAll(stats, 41, 60, 1);
    for (let seq = 61; seq <= 80; seq++) stats.record(trade(seq, 60), 7);
    const [second] = progress.lines(rows(stats), 1);
    assert.ok(stats.figures(3).latency.percentile(99) > 800e6);
    assert.match(second.text, /\| slowest binance S7 p99 \d\d\.\d\dms \|/);
    assert.equal(
      (second.fields!.slowest as { symbol: string }).symbol,
      "S7",
    );
    // No trade in the next interval: no slowest.
    assert.match(progress.lines(rows(stats), 1)[0].text, /\| slowest - \|/);
  },
);

ffiTest(
  "the worst lag: a ring stream's own, in trades, naming the stream; a NATS consumer's, in messages, naming the consumer and no stream; ? while it is not connected",
  () => {
    const stats = new TradeStats(streams(10));
    const progress = new LiveProgress(stats, { summaryAbove: 8 });
    const lag = [3, 0, 0, 0, 0, 0, 0, 250, 4, 0];
    const [ring] = progress.lines(rows(stats, { lag }), 1);
    assert.match(ring.text, /\| lag binance S7 250 trades \|/);
    assert.deepEqual(
      [ring.fields!.lagTrades, ring.fields!.lagStream],
      [250, { exchange: "binance", symbol: "S7" }],
    );
    const of = { durable: "trading-core-1", stream: "MB", current: true };
    const nats = { lag: Array(10).fill(70), lagOf: Array(10).fill(of) };
    const [consumer] = progress.lines(rows(stats, nats), 1);
    assert.match(consumer.text, /\| lag consumer trading-core-1 70 msgs \|/);
    assert.doesNotMatch(consumer.text, /S\d/);
    const fields = (line: typeof consumer) =>
      [
        "lagTrades",
        "consumerPending",
        "consumer",
        "consumerKind",
        "consumerStream",
      ].map((key) => line.fields![key]);
    assert.deepEqual(fields(consumer), [
      null,
      70,
      "trading-core-1",
      "durable",
      "MB",
    ]);
    // Disconnected: its last figure is not current, never a false 0.
    const stale = { ...of, current: false };
    const [gone] = progress.lines(
      rows(stats, { lag: Array(10).fill(0), lagOf: Array(10).fill(stale) }),
      1,
    );
    assert.match(gone.text, /\| lag consumer trading-core-1 \? msgs \|/);
    assert.deepEqual(fields(gone), [
      null,
      null,
      "trading-core-1",
      "durable",
      "MB",
    ]);
  },
);

ffiTest(
  "several NATS consumers (stream_per_exchange): the most behind is named, wherever its rows are; one not connected is worse than any",
  () => {
    const stats = new TradeStats([
      ...streams(5, "binance"),
      ...streams(5, "coinbase"),
    ]);
    const progress = new LiveProgress(stats, { summaryAbove: 8 });
    const a = { stream: "MB_BINANCE", current: true };
    const b = { stream: "MB_COINBASE", current: true };
    const lagOf = [...Array(5).fill(a), ...Array(5).fill(b)];
    const behind = (first: number, second: number) =>
      progress.lines(
        rows(stats, {
          lag: [...Array(5).fill(first), ...Array(5).fill(second)],
          lagOf,
        }),
        1,
      )[0];
    assert.match(
      behind(70, 500).text,
      /\| lag ordered consumer on MB_COINBASE 500 msgs \|/,
    );
    assert.match(
      behind(500, 70).text,
      /\| lag ordered consumer on MB_BINANCE 500 msgs \|/,
    );
    const line = behind(70, 500);
    assert.deepEqual(
      [line.fields!.consumerKind, line.fields!.consumer],
      ["ordered", null],
    );
    const down = [
      ...Array(5).fill(a),
      ...Array(5).fill({ ...b, current: false }),
    ];
    const [unknown] = progress.lines(
      rows(stats, { lag: Array(10).fill(900), lagOf: down }),
      1,
    );
    assert.match(
      unknown.text,
      /\| lag ordered consumer on MB_COINBASE \? msgs/,
    );
  },
);

ffiTest(
  "a stream that lost trades or gapped gets a line to keep, once per occurrence, with its counts since the last line and its losses' cause",
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
        "binance S4: +120 lost in the last 2.0s (120 lost (120 overwritten), 0 gaps in all) [alive]",
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
      lostBy: { overwritten: 120, evicted: 0, "corrupt slot": 0 },
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

ffiTest(
  "with a catch-up: how many streams caught up, beside the count of streams; the slowest among those caught up only (a replaying stream's latency is its trades' age)",
  () => {
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
    stats.record(trade(1, 5), 0);
    for (let seq = 1; seq <= 20; seq++) stats.record(trade(seq, 60_000), 2); // replayed
    const [line] = progress.lines(rows(stats), 1);
    assert.match(line.text, /^2\/10 streams \(7 caught up\) \|/);
    assert.match(line.text, /\| slowest binance S0 p99 /);
    assert.equal(line.fields!.caughtUp, 7);
  },
);

ffiTest(
  "several exchanges: every stream named with its exchange, as on every other line",
  () => {
    const stats = new TradeStats([...streams(1), ...streams(1, "coinbase")]);
    const progress = new LiveProgress(stats, { summaryAbove: 0 });
    feedAll(stats, 1, 3, 5);
    const [line] = progress.lines(rows(stats, { lag: [0, 9] }), 1);
    assert.match(
      line.text,
      /^2\/2 streams \|.* \| lag coinbase S0 9 trades \| slowest (binance|coinbase) S0 p99 \S+ \| trades/,
    );
  },
);

/** A summary of 20 streams with long names, lagging, caught up, on two exchanges. */
function longSummary(width?: number) {
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
  const lost = Array(20).fill(1_234);
  return progress.lines(rows(stats, { lag, lost }), 1, { width })[0];
}

ffiTest(
  "off a terminal the line stays within 160 characters: the trades go first, then long names are cut, the fields keep them",
  () => {
    const line = longSummary();
    assert.ok(
      line.text.length <= SUMMARY_WIDTH,
      `${line.text.length}: ${line.text}`,
    );
    assert.match(
      line.text,
      /^20\/20 streams \(20 caught up\) \| lost 24,680 \+24,680 \| gaps 0 \| lag exchange-two VERYLONGSY… 19,000,000 trades \| slowest exchange-\S+ VERYLONGSY… p99 [\d.]+\S+$/,
    );
    assert.doesNotMatch(line.text, /trades [\d,]+ (\+[\d,]+ )?at/);
    assert.equal(
      (line.fields!.lagStream as { symbol: string }).symbol,
      `${"VERYLONGSYMBOLNAME".repeat(3)}9`,
    );
  },
);

ffiTest(
  "on an 80-column terminal the summary takes two or three lines of the block, streams, lost, gaps, lag and slowest first; wide, one line",
  () => {
    const stats = new TradeStats(streams(300));
    const progress = new LiveProgress(stats, { summaryAbove: 8 });
    feedAll(stats, 1, 3);
    const lag = Array.from({ length: 300 }, (_, i) => i === 209 ? 16 : 0);
    const lost = Array(300).fill(1_234);
    const state = Array.from(
      { length: 300 },
      (_, i) => i < 2 ? "stalled" : "alive",
    );
    const counters = rows(stats, { lag, lost, state });
    const block = (width: number) =>
      progress.lines(counters, 2, { width })
        .filter((line) => !line.keep)
        .map((line) => line.text);
    const narrow = block(80);
    assert.ok(narrow.length >= 2 && narrow.length <= 3, narrow.join("\n"));
    assert.ok(narrow.every((line) => line.length <= 80), narrow.join("\n"));
    assert.equal(
      narrow[0],
      "300/300 streams (2 stalled) | lost 370,200 +370,200 | gaps 0",
    );
    assert.match(
      narrow[1],
      /^lag binance S209 16 trades \| slowest binance S\d+ p99 \S+/,
    );
    feedAll(stats, 4, 6);
    const wide = block(200);
    assert.equal(wide.length, 1);
    assert.match(wide[0], /\| trades 1,800 \+900 at 450\/s, avg 450\/s$/);
    // Very narrow: three lines, the first fields.
    assert.deepEqual(block(30), [
      "0/300 streams (2 stalled)", // no trade since the last call
      "lost 370,200 | gaps 0",
      "lag binance S209 16 trades",
    ]);
  },
);

ffiTest(
  "from per-stream lines to the summary (a wildcard meets more streams): the first summary counts losses and the slowest stream's p99 since the last line",
  () => {
    const stats = new TradeStats(streams(2));
    const progress = new LiveProgress(stats, { summaryAbove: 2 });
    feedAll(stats, 1, 3, 900); // slow, before the last per-stream line
    const lost = [0, 40, 0];
    assert.equal(progress.lines(rows(stats, { lost }), 1).length, 2);
    stats.add({ exchange: "binance", symbol: "S2" });
    feedAll(stats, 4, 6, 1);
    lost[1] = 45;
    const lines = progress.lines(rows(stats, { lost }), 1);
    assert.match(lines[0].text, /^3\/3 streams \| lost 45 \+5 \|/);
    assert.match(
      lines[0].text,
      /\| slowest binance S\d p99 [\d.]+(ns|µs|ms) \|/,
    );
    assert.ok(
      (lines[0].fields!.slowest as { latencyP99Ns: number }).latencyP99Ns <
        100e6,
      "not the 900 ms of the per-stream interval",
    );
    assert.match(lines[1].text, /^binance S1: \+5 lost/);
  },
);
