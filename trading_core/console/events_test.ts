// The console's events: the snapshot (meta, the whole table, the chart whole,
// the transport view), then per tick only what changed; one text per distinct
// chart, shared; the stream a client asked for followed once it appears; the
// tape of streams nobody watches left alone. TradeStats reads the wall clock
// through libc, hence ffiTest.

import assert from "node:assert/strict";
import { ffiTest } from "../../tests/_permissions.ts";
import { consoleEvents as setup } from "../../tests/_console_trades.ts";
import type { ChartWatch } from "./events.ts";

const BTC = { exchange: "binance", symbol: "BTCUSDT" };

/** The JSON of an SSE event text, checking its name. */
function data(text: string | undefined, name: string) {
  assert.ok(text !== undefined, `no ${name} event`);
  const match = /^event: (\w+)\ndata: (.*)\n\n$/s.exec(text);
  assert.ok(match, `not one SSE event: ${text}`);
  assert.equal(match[1], name);
  assert.ok(!match[2].includes("\n"), "one data line");
  return JSON.parse(match[2]);
}

const watch = (request: ChartWatch["request"]): ChartWatch => ({
  request,
  stream: -1,
  full: true,
});

ffiTest(
  "ConsoleEvents: a snapshot holds meta, every stream, the chart of the first stream whole and the transport view",
  () => {
    const { events, trade } = setup();
    trade(0, 1_000, 100);
    trade(0, 2_500, 101); // closes the 1 s bar of 1,000
    const snapshot = data(events.snapshot(watch({ k: 0 })), "snapshot");
    assert.deepEqual(snapshot.meta, {
      version: 1,
      intervals: ["1s", "1m"],
      updates_per_second: 4,
      bars: "console",
    });
    assert.deepEqual(snapshot.table.streams, [
      [0, "binance", "BTCUSDT"],
      [1, "binance", "ETHUSDT"],
    ]);
    assert.equal(snapshot.table.rows.length, 2);
    assert.equal(snapshot.table.totals.trades, 2);
    assert.equal(snapshot.chart.exchange, "binance");
    assert.equal(snapshot.chart.symbol, "BTCUSDT");
    assert.equal(snapshot.chart.interval, "1s");
    assert.equal(snapshot.chart.full, true);
    assert.deepEqual(snapshot.chart.bars.map((b: number[]) => b[0]), [1_000]);
    assert.equal(snapshot.chart.open[0], 2_000);
    assert.deepEqual(
      snapshot.chart.tape,
      [],
      "not watched before: no tape yet",
    );
    assert.equal(snapshot.chart.note, null);
    assert.deepEqual(snapshot.transport, {
      feed: "ipc",
      detail: "3 rings",
      connected: true,
      rings: null,
      nats: null,
    });
  },
);

ffiTest(
  "ConsoleEvents: a tick carries what changed since the last; two clients on one chart share the same text",
  () => {
    const { events, trade } = setup();
    trade(0, 1_000, 100);
    const a = watch({ exchange: "binance", symbol: "BTCUSDT", k: 0 });
    const b = watch({ exchange: "binance", symbol: "BTCUSDT", k: 0 });
    const c = watch({ exchange: "binance", symbol: "ETHUSDT", k: 1 });
    for (const w of [a, b, c]) events.snapshot(w);
    events.tick([a, b, c], 5_000); // the rates become known
    trade(0, 1_500, 102);
    trade(0, 2_100, 103); // closes the bar of 1,000
    const [ua, ub, uc] = events.tick([a, b, c], 10_000);
    assert.equal(ua, ub, "the same text for the same chart");
    const update = data(ua, "update");
    assert.equal(update.chart.full, false);
    assert.deepEqual(update.chart.bars.map((bar: number[]) => bar[4]), [102]);
    assert.deepEqual(update.chart.open.slice(0, 5), [
      2_000,
      103,
      103,
      103,
      103,
    ]);
    assert.deepEqual(update.chart.tape.map((e: number[]) => e[3]), [102, 103]);
    assert.deepEqual(update.table.rows.map((row: number[]) => row[0]), [0]);
    assert.equal(update.table.totals.trades, 3);
    assert.equal(
      update.transport,
      undefined,
      "the transport view did not change",
    );
    const eth = data(uc, "update");
    assert.equal(eth.chart, undefined, "ETH had no trade: no chart part");
    assert.deepEqual(eth.table, update.table, "the table part is shared");
    trade(0, 2_200, 104);
    const [next] = events.tick([a, b, c], 10_250);
    const later = data(next, "update");
    assert.deepEqual(later.chart.bars, [], "no bar closed since the last tick");
    assert.deepEqual(later.chart.tape.map((e: number[]) => e[3]), [104]);
  },
);

ffiTest(
  "ConsoleEvents: a stream asked for before it exists is followed once it appears, whole; the tape runs only while watched",
  () => {
    const SOL = { exchange: "kraken", symbol: "SOLUSD" };
    const { events, stats, candles, tape, trade } = setup([BTC]);
    const w = watch({ exchange: "kraken", symbol: "SOLUSD", k: 0 });
    const first = data(events.snapshot(w), "snapshot");
    assert.equal(first.chart.exchange, "kraken");
    assert.match(first.chart.note, /has not met this stream/);
    assert.equal(w.stream, -1);
    events.tick([w], 1_000); // the rates become known
    const [quiet] = events.tick([w], 1_250);
    assert.equal(quiet, undefined, "nothing changed, nothing sent");
    stats.add(SOL);
    candles.addStream(SOL);
    assert.equal(tape.watched(1), false);
    const [found] = events.tick([w], 1_500);
    const update = data(found, "update");
    assert.equal(update.chart.full, true);
    assert.equal(update.chart.note, null);
    assert.deepEqual(update.table.streams, [[1, "kraken", "SOLUSD"]]);
    assert.equal(w.stream, 1);
    assert.equal(tape.watched(1), true);
    trade(0, 1_000, 5); // BTC: nobody watches it
    assert.deepEqual(tape.since(0, 0), []);
    events.release(w);
    assert.equal(tape.watched(1), false);
  },
);

ffiTest(
  "ConsoleEvents: no stream yet: the chart says so; the first one is charted when it comes",
  () => {
    const { events, stats, candles } = setup([]);
    const w = watch({ k: 1 });
    const snapshot = data(events.snapshot(w), "snapshot");
    assert.equal(snapshot.chart.exchange, null);
    assert.equal(snapshot.chart.interval, "1m");
    assert.match(snapshot.chart.note, /no stream yet/);
    stats.add(BTC);
    candles.addStream(BTC);
    const update = data(events.tick([w], 1_000)[0], "update");
    assert.equal(update.chart.symbol, "BTCUSDT");
    assert.equal(update.chart.full, true);
  },
);
