// The final summary of `deno task live`: gaps delivered as data are counted
// by cause per stream and in total, and the summary line names them only
// when there are some.

import assert from "node:assert/strict";
import type {
  GapCause,
  StreamStats,
  TradeFeed,
} from "../common/transport/feed.ts";
import { captureLog } from "../tests/_capture_log.ts";
import { reportSummary, summarize } from "./live_report.ts";
import { TradeStats } from "./trade_stats.ts";

const BTC = { exchange: "binance", symbol: "BTCUSDT" };
const ETH = { exchange: "binance", symbol: "ETHUSDT" };

/** A feed whose rows are `rows`. */
function feed(rows: StreamStats[]): TradeFeed {
  return {
    name: "ipc",
    subscribeTrades: () => Promise.resolve(),
    stats: () => rows,
    status: () => ({ connected: true, idle: false, detail: "" }),
    lossCauses: ["overwritten"],
    metrics: () => [],
  };
}

function row(stream: typeof BTC, lost: number): StreamStats {
  return {
    ...stream,
    received: 0,
    lost,
    lostBy: lost > 0 ? { overwritten: lost } : {},
    invalid: 0,
    lag: 0,
    restarts: 0,
    state: "alive",
  };
}

Deno.test("summarize and reportSummary: gaps by cause per stream and in total, said in the summary line", () => {
  const stats = new TradeStats([BTC, ETH]);
  const gap = (stream: number, cause: GapCause, count: number | null) =>
    stats.gap({
      ...(stream === 0 ? BTC : ETH),
      stream,
      cause,
      firstSeq: null,
      lastSeq: null,
      count,
    });
  gap(0, "overwritten", 4);
  gap(1, "overwritten", 3);
  gap(1, "reconnect", null);
  const summary = summarize(feed([row(BTC, 4), row(ETH, 3)]), stats, 1000);
  assert.deepEqual(summary.gapsBy, { overwritten: 2, reconnect: 1 });
  assert.deepEqual(summary.exchanges.binance.BTCUSDT.gapsBy, {
    overwritten: 1,
  });
  assert.deepEqual(summary.exchanges.binance.ETHUSDT.gapsBy, {
    overwritten: 1,
    reconnect: 1,
  });
  const { log, lines } = captureLog();
  assert.equal(reportSummary(summary, log), true, "trades were lost");
  assert.match(
    lines[0],
    /^info: stopped after 1\.0s: received 0, lost 7, invalid 0, gaps 0, gap events \(2 overwritten, 1 reconnect\), latency /,
  );
  assert.equal(
    lines[1],
    "error: incomplete: 7 trades lost (7 overwritten); exit status 1",
  );
});

Deno.test("reportSummary: no gap events, no mention of them", () => {
  const stats = new TradeStats([BTC]);
  const summary = summarize(feed([row(BTC, 0)]), stats, 500);
  assert.deepEqual(summary.gapsBy, {});
  const { log, lines } = captureLog();
  assert.equal(reportSummary(summary, log), false);
  assert.match(lines[0], /, gaps 0, latency /);
});

Deno.test("summarize and reportSummary: trades the snapshot stands for are counted skipped per stream and in total, said in the summary line, not an incomplete run", () => {
  const stats = new TradeStats([BTC, ETH]);
  const summary = summarize(
    feed([{ ...row(BTC, 0), skipped: 9 }, row(ETH, 0)]),
    stats,
    1000,
  );
  assert.equal(summary.skipped, 9);
  assert.equal(summary.exchanges.binance.BTCUSDT.skipped, 9);
  assert.equal(summary.exchanges.binance.ETHUSDT.skipped, 0);
  const { log, lines } = captureLog();
  assert.equal(reportSummary(summary, log), false);
  assert.match(
    lines[0],
    /: received 0, skipped 9 \(the snapshot stands for them\), lost 0, /,
  );
});
