// trading_core's metric families label every per-stream sample with the
// stream's own exchange and symbol: the same symbol on two exchanges is two
// samples, never summed into one row of the configured exchange. Recording
// trades reads the wall clock through libc, hence ffiTest.

import assert from "node:assert/strict";
import { encodeMessage } from "../common/wire/codec.ts";
import type { MetricFamily } from "../common/metrics/mod.ts";
import { Side } from "../common/wire/trade.ts";
import { TradeView } from "../common/wire/trade_view.ts";
import { ffiTest } from "../tests/_permissions.ts";
import type { BarCounts } from "./bars.ts";
import type {
  GapCause,
  StreamStats,
  TradeFeed,
} from "../common/transport/feed.ts";
import {
  RING_FEED_LOSS_CAUSES,
  ringFeedFamilies,
} from "../common/ipc/feed_metrics.ts";
import { liveFamilies, liveHealth } from "./metrics.ts";
import { FlowWatch } from "../common/runtime/flow_watch.ts";
import type { TradeProcessing } from "./processing.ts";
import { TradeStats } from "./trade_stats.ts";

const AUDX = { exchange: "audx", symbol: "AUDA" };
const AUDY = { exchange: "audy", symbol: "AUDA" };

/** A ring feed whose rows are `rows` (by stream index, then a "*" row). */
function source(rows: StreamStats[]): TradeFeed {
  return {
    name: "ipc",
    subscribeTrades: () => Promise.resolve(),
    stats: () => rows,
    status: () => ({ connected: true, idle: false, detail: "" }),
    lossCauses: RING_FEED_LOSS_CAUSES,
    metrics: (streams) => ringFeedFamilies(rows, streams),
  };
}

function row(
  stream: { exchange: string; symbol: string },
  counters: Partial<StreamStats>,
): StreamStats {
  return {
    ...stream,
    received: 0,
    lost: 0,
    lostBy: {},
    invalid: 0,
    lag: 0,
    restarts: 0,
    state: "alive",
    ...counters,
  };
}

/** `count` trades with seqs 1, 2, … recorded on `stream`. */
function record(stats: TradeStats, stream: number, count: number): void {
  const now = BigInt(Date.now()) * 1_000_000n;
  const view = new TradeView();
  view.wrap(encodeMessage(Array.from({ length: count }, (_, i) => ({
    side: Side.Buy,
    flags: 0,
    seq: i + 1,
    tsEvent: now,
    tsRecv: now,
    priceFixed: 1_000_000_000n,
    size: 1,
    tradeId: BigInt(i + 1),
  }))));
  for (let i = 0; i < count; i++) stats.record(view.select(i), stream);
}

/** `[exchange, symbol, value]` of each sample of family `name`. */
function values(
  families: MetricFamily[],
  name: string,
): [string, string, number][] {
  const family = families.find((f) => f.name === name);
  assert.ok(family, `no family ${name}`);
  return family.samples.map((sample) => [
    sample.labels?.exchange ?? "",
    sample.labels?.symbol ?? "",
    "value" in sample ? sample.value : sample.count,
  ]);
}

ffiTest(
  "liveFamilies: every per-stream sample carries its own exchange and symbol; the same symbol on two exchanges is two samples",
  () => {
    const stats = new TradeStats([AUDX, AUDY]);
    record(stats, 0, 5);
    record(stats, 1, 3);
    const counts = (stream: typeof AUDX, closed: number): BarCounts => ({
      ...stream,
      interval: "1s",
      closed,
      late: 0,
      skippedEmpty: 0,
    });
    const processing = {
      counts: () => [counts(AUDX, 2), counts(AUDY, 1)],
      strategyCalls: { trades: 0, bars: 0, gaps: 0, fills: 0, errors: 0 },
    } as unknown as TradeProcessing;
    const families = liveFamilies({
      feed: source([
        row(AUDX, { lost: 1, lag: 7, restarts: 1, skipped: 6 }),
        row(AUDY, { lost: 2, lag: 9 }),
        row({ exchange: "*", symbol: "*" }, { invalid: 4 }),
      ]),
      stats,
      processing,
    });
    assert.deepEqual(values(families, "marketbus_trades_received_total"), [
      ["audx", "AUDA", 5],
      ["audy", "AUDA", 3],
    ]);
    assert.deepEqual(values(families, "marketbus_trades_skipped_total"), [
      ["audx", "AUDA", 6],
      ["audy", "AUDA", 0],
    ]);
    assert.deepEqual(values(families, "marketbus_trades_lost_total"), [
      ["audx", "AUDA", 1],
      ["audy", "AUDA", 2],
    ]);
    assert.deepEqual(values(families, "marketbus_sequence_gaps_total"), [
      ["audx", "AUDA", 0],
      ["audy", "AUDA", 0],
    ]);
    assert.deepEqual(values(families, "marketbus_producer_restarts_total"), [
      ["audx", "AUDA", 1],
      ["audy", "AUDA", 0],
    ]);
    assert.deepEqual(values(families, "marketbus_ring_lag_trades"), [
      ["audx", "AUDA", 7],
      ["audy", "AUDA", 9],
    ]);
    assert.deepEqual(values(families, "marketbus_invalid_records_total"), [
      ["audx", "AUDA", 0],
      ["audy", "AUDA", 0],
      ["*", "*", 4],
    ]);
    assert.deepEqual(
      values(families, "marketbus_end_to_end_latency_seconds"),
      [["audx", "AUDA", 5], ["audy", "AUDA", 3]],
    );
    assert.deepEqual(values(families, "marketbus_bars_closed_total"), [
      ["audx", "AUDA", 2],
      ["audy", "AUDA", 1],
    ]);
    assert.deepEqual(
      values(families, "marketbus_bars_skipped_empty_total").map((v) =>
        v.slice(0, 2)
      ),
      [["audx", "AUDA"], ["audy", "AUDA"]],
    );
  },
);

ffiTest(
  "liveFamilies: marketbus_gaps_total counts the gaps delivered per stream and cause, every cause of the feed, reconnect and source with a sample; the strategy's onGap calls",
  () => {
    const stats = new TradeStats([AUDX, AUDY]);
    record(stats, 0, 2);
    const gap = (cause: GapCause, count: number | null) =>
      stats.gap({
        ...AUDX,
        stream: 0,
        cause,
        firstSeq: null,
        lastSeq: null,
        count,
      });
    gap("overwritten", 5);
    gap("overwritten", 1);
    gap("reconnect", null);
    gap("producer restart", null);
    const processing = {
      counts: () => [],
      strategyCalls: { trades: 2, bars: 0, gaps: 4, fills: 0, errors: 0 },
    } as unknown as TradeProcessing;
    const families = liveFamilies({ feed: source([]), stats, processing });
    const family = families.find((f) => f.name === "marketbus_gaps_total");
    assert.ok(family);
    assert.equal(family.type, "counter");
    const samples = family.samples.map((sample) =>
      `${Object.values(sample.labels ?? {}).join(" ")}=${
        "value" in sample ? sample.value : "?"
      }`
    );
    const want = (stream: typeof AUDX, values: Record<string, number>) =>
      Object.entries(values).map(([cause, value]) =>
        `ipc ${stream.exchange} ${stream.symbol} ${cause}=${value}`
      );
    const none = Object.fromEntries(
      [...RING_FEED_LOSS_CAUSES, "reconnect", "source"].map((c) => [c, 0]),
    );
    assert.deepEqual(samples, [
      ...want(AUDX, {
        ...none,
        overwritten: 2,
        reconnect: 1,
        "producer restart": 1,
      }),
      ...want(AUDY, none),
    ]);
    assert.deepEqual(
      families.find((f) => f.name === "marketbus_strategy_calls_total")
        ?.samples.map((s) => [s.labels?.hook, "value" in s ? s.value : -1]),
      [["onTrade", 2], ["onBar", 0], ["onGap", 4], ["onFill", 0]],
    );
  },
);

Deno.test("--catch-up: marketbus_caught_up per stream, and /healthz fails its caught_up check while a stream replays history or, not live, holds live trades; not while it only waits for its first live trade", () => {
  const stats = new TradeStats();
  stats.add(AUDX);
  stats.add(AUDY);
  const live = [true, false];
  let replaying = true;
  const holding = [false, false];
  const state = {
    feed: source([row(AUDX, {}), row(AUDY, {})]),
    stats,
    processing: undefined,
    catchUp: {
      caughtUp: () => live,
      replaying: () => replaying,
      holding: () => holding,
    },
  };
  assert.deepEqual(values(liveFamilies(state), "marketbus_caught_up"), [
    ["audx", "AUDA", 1],
    ["audy", "AUDA", 0],
  ]);
  const flow = new FlowWatch(() => 0, { sampleMs: 0 });
  const before = liveHealth(state, { flow, staleAfterMs: 1000 });
  assert.equal(before.ok, false);
  assert.deepEqual(before.checks.find((c) => c.name === "caught_up"), {
    name: "caught_up",
    ok: false,
    detail: "catching up: AUDA",
  });
  // A quiet symbol, or a stopped publisher: nothing left to replay.
  replaying = false;
  const quiet = liveHealth(state, { flow, staleAfterMs: 1000 });
  assert.deepEqual(quiet.checks.find((c) => c.name === "caught_up"), {
    name: "caught_up",
    ok: true,
    detail: "history replayed, switching at the first live trade: AUDA",
  });
  // Live trades held, not switched (e.g. a clock stepped back): it fails.
  holding[1] = true;
  const stuck = liveHealth(state, { flow, staleAfterMs: 1000 });
  assert.deepEqual(stuck.checks.find((c) => c.name === "caught_up"), {
    name: "caught_up",
    ok: false,
    detail:
      "history replayed, live trades held, not switched yet (the settle delay, a reader behind, a replaced ring, the latest stored trades): AUDA",
  });
  replaying = true;
  live[1] = true;
  const after = liveHealth(state, { flow, staleAfterMs: 1000 });
  assert.equal(after.checks.find((c) => c.name === "caught_up")?.ok, true);
  // Without --catch-up: neither the gauge nor the check.
  const plain = { ...state, catchUp: undefined };
  assert.equal(
    liveFamilies(plain).some((f) => f.name === "marketbus_caught_up"),
    false,
  );
  assert.equal(
    liveHealth(plain, { flow, staleAfterMs: 1000 }).checks.some((c) =>
      c.name === "caught_up"
    ),
    false,
  );
});
