// The console's table: rows read from live's own counters once per tick, only
// the changed ones sent, rates over the last second, totals, the latency
// percentiles, the snapshot as of the last tick. TradeStats reads the wall
// clock through libc, hence ffiTest.

import assert from "node:assert/strict";
import { ffiTest } from "../../tests/_permissions.ts";
import { liveCounters, tradeView } from "../../tests/_console_trades.ts";
import { ConsoleTable, ROW_FIELDS } from "./table.ts";

const BTC = { exchange: "binance", symbol: "BTCUSDT" };
const ETH = { exchange: "binance", symbol: "ETHUSDT" };

ffiTest(
  "ConsoleTable: the first tick sends every stream and row; rows hold the figures in ROW_FIELDS order",
  () => {
    const { stats, rows, feed } = liveCounters([BTC, ETH]);
    stats.record(tradeView(1, { price: 42_000.5 }), 0);
    rows[0] = { ...rows[0], lost: 3, lag: 7, state: "alive" };
    rows[1] = { ...rows[1], state: "waiting" };
    const table = new ConsoleTable({ feed, stats });
    const tick = table.refresh(1_000);
    assert.equal(tick.changed, true);
    assert.deepEqual(JSON.parse(tick.streams), [
      [0, "binance", "BTCUSDT"],
      [1, "binance", "ETHUSDT"],
    ]);
    const [btc, eth] = JSON.parse(tick.rows);
    assert.equal(btc.length, 1 + ROW_FIELDS.length);
    const field = (row: unknown[], name: typeof ROW_FIELDS[number]) =>
      row[1 + ROW_FIELDS.indexOf(name)];
    assert.equal(field(btc, "trades"), 1);
    assert.equal(field(btc, "rate"), null, "no rate before a second tick");
    assert.equal(field(btc, "last"), 42_000.5);
    assert.equal(field(btc, "lost"), 3);
    assert.equal(field(btc, "gaps"), 0);
    assert.equal(field(btc, "lag"), 7);
    assert.equal(typeof field(btc, "p50"), "number");
    assert.equal(field(btc, "state"), "alive");
    assert.equal(field(btc, "caught_up"), null, "no catch-up: unknown");
    assert.equal(field(eth, "last"), null);
    assert.equal(field(eth, "p50"), null, "no sample: unknown");
    assert.equal(field(eth, "state"), "waiting");
    assert.deepEqual(JSON.parse(tick.totals), {
      trades: 1,
      rate: null,
      lost: 3,
      gaps: 0,
    });
  },
);

ffiTest(
  "ConsoleTable: a tick sends only the rows that changed, nothing when nothing did; new streams come once",
  () => {
    const { stats, rows, feed } = liveCounters([BTC, ETH]);
    const table = new ConsoleTable({ feed, stats });
    table.refresh(0);
    table.refresh(1_000); // the rates become known: every row changes
    const quiet = table.refresh(1_250);
    assert.equal(quiet.rows, "[]");
    assert.equal(quiet.streams, "[]");
    assert.equal(quiet.changed, false);
    stats.record(tradeView(1), 1);
    const one = table.refresh(1_500);
    assert.deepEqual(JSON.parse(one.rows).map((row: number[]) => row[0]), [1]);
    rows[0] = { ...rows[0], lag: 5 };
    const lagged = JSON.parse(table.refresh(1_750).rows);
    assert.deepEqual(lagged.find((row: number[]) => row[0] === 0)?.[6], 5);
    const SOL = { exchange: "kraken", symbol: "SOLUSD" };
    stats.add(SOL);
    const added = table.refresh(2_000);
    assert.deepEqual(JSON.parse(added.streams), [[2, "kraken", "SOLUSD"]]);
    assert.equal(table.size, 3);
    assert.equal(table.refresh(2_250).streams, "[]");
  },
);

ffiTest(
  "ConsoleTable: the rate is trades per second since the latest tick at least a second old",
  () => {
    const { stats, feed } = liveCounters([BTC]);
    const table = new ConsoleTable({ feed, stats });
    const rate = (atMs: number) => JSON.parse(table.refresh(atMs).rows)[0]?.[2];
    table.refresh(0);
    for (let seq = 1; seq <= 100; seq++) stats.record(tradeView(seq), 0);
    assert.equal(rate(500), 200, "half a second: from the first tick");
    for (let seq = 101; seq <= 150; seq++) stats.record(tradeView(seq), 0);
    // The tick at 500 is a second old: 50 trades since.
    assert.equal(rate(1_500), 50);
    for (let seq = 151; seq <= 180; seq++) stats.record(tradeView(seq), 0);
    // From the tick at 1,500: 30 trades in 1.1 s.
    assert.equal(rate(2_600), 27.3);
    assert.equal(JSON.parse(table.refresh(2_750).totals).rate, 24);
  },
);

ffiTest(
  "ConsoleTable: after ticks stopped (no page open) the rate starts over instead of averaging over the idle time",
  () => {
    const { stats, feed } = liveCounters([BTC]);
    const table = new ConsoleTable({ feed, stats });
    const rate = (atMs: number) => JSON.parse(table.refresh(atMs).rows)[0]?.[2];
    table.refresh(0);
    for (let seq = 1; seq <= 3000; seq++) stats.record(tradeView(seq), 0);
    assert.equal(rate(1_000), 3000);
    // No tick for 5 s (nobody watched), no trade either: not 3000 / 6 s.
    const idle = rate(6_000);
    assert.ok(idle === null || idle === 0, `rate after idle: ${idle}`);
    assert.equal(rate(7_000), 0, "a second later: measured from the restart");
  },
);

ffiTest(
  "ConsoleTable: caught_up follows the catch-up per stream; the snapshot is every row as of the last tick",
  () => {
    const { stats, feed } = liveCounters([BTC, ETH]);
    let live = [false, true];
    const table = new ConsoleTable({
      feed,
      stats,
      catchUp: { caughtUp: () => live },
    });
    const first = JSON.parse(table.refresh(0).rows);
    assert.deepEqual(first.map((row: unknown[]) => row.at(-1)), [false, true]);
    live = [true, true];
    stats.record(tradeView(1), 0);
    const snapshot = table.snapshot();
    assert.deepEqual(
      JSON.parse(snapshot.rows).map((row: unknown[]) => row.at(-1)),
      [false, true],
      "the snapshot is the last tick's, not now's",
    );
    table.refresh(250);
    const after = JSON.parse(table.snapshot().rows);
    assert.deepEqual(after.map((row: unknown[]) => row.at(-1)), [true, true]);
    assert.equal(after[0][1], 1);
    assert.equal(JSON.parse(table.snapshot().streams).length, 2);
  },
);

ffiTest(
  "ConsoleTable: p50 and p99 are the stats histogram's own percentiles (the figures /metrics exports), not any other",
  () => {
    const { stats, feed } = liveCounters([BTC]);
    const now = Date.now();
    // Latencies spread from 1 to 200 ms: p50, p90 and p99 all differ.
    for (let i = 1; i <= 200; i++) {
      stats.record(tradeView(i, { tsMs: now - i }), 0);
    }
    const table = new ConsoleTable({ feed, stats });
    const [row] = JSON.parse(table.refresh(1_000).rows);
    const field = (name: typeof ROW_FIELDS[number]) =>
      row[1 + ROW_FIELDS.indexOf(name)];
    const latency = stats.figures(0).latency;
    assert.equal(field("p50"), Math.round(latency.percentile(50)));
    assert.equal(field("p99"), Math.round(latency.percentile(99)));
    assert.notEqual(
      Math.round(latency.percentile(99)),
      Math.round(latency.percentile(90)),
      "the data tells p99 from p90",
    );
    assert.notEqual(
      Math.round(latency.percentile(50)),
      Math.round(latency.percentile(60)),
      "the data tells p50 from p60",
    );
  },
);
