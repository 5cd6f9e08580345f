/**
 * trading_core's `/metrics` and `/healthz`: trades received, lost and late
 * per (exchange, symbol) stream, labelled with each stream's own exchange,
 * gaps by cause, the consumer's lag, end-to-end latency, bars and the
 * strategy, read from the counters the read loop already keeps.
 *
 * @module
 */

import { TRADE_RECORD_SIZE } from "../common/wire/trade.ts";
import type { FlowWatch } from "../common/runtime/flow_watch.ts";
import {
  counter,
  gauge,
  type HealthReport,
  type Labels,
  latencyFamily,
  type MetricFamily,
  processFamilies,
  type Sample,
} from "../common/metrics/mod.ts";
import type { GapCause, TradeFeed } from "../common/transport/feed.ts";
import type { BarCounts } from "./bars.ts";
import type { TradeProcessing } from "./processing.ts";
import type { TradeStats } from "./trade_stats.ts";

/** What the consumer's metrics and health are read from. */
export interface LiveState {
  /** The transport read. */
  feed: TradeFeed;
  /** Per-stream counts and latency, by the feed's stream indexes. */
  stats: TradeStats;
  /** Bars and strategy, when used. */
  processing: TradeProcessing | undefined;
  /** With `--catch-up`: the catch-up feed's progress. */
  catchUp?: CatchUpProgress;
}

/** Where a catch-up stands (a `CatchUpFeed`). */
export interface CatchUpProgress {
  /** Whether each stream (by index) reached live. */
  caughtUp(): boolean[];
  /** Whether the history still has trades to replay (or cannot tell: not connected). */
  replaying(): boolean;
  /** Whether each stream (by index), not live yet, holds live trades it has not delivered. */
  holding(): boolean[];
}

/** Gap causes with a sample on every stream even before their first gap, besides the feed's causes of loss. */
const CONSUMER_GAP_CAUSES: readonly GapCause[] = ["reconnect", "source"];

/**
 * The causes of `marketbus_gaps_total` for a stream that counted `seen`:
 * the feed's causes of loss, reconnect and source, then any other it saw
 * (e.g. a ring's producer restart).
 */
function gapCauses(
  feed: TradeFeed,
  seen: Partial<Record<GapCause, number>>,
): GapCause[] {
  const causes = new Set<GapCause>([
    ...feed.lossCauses,
    ...CONSUMER_GAP_CAUSES,
  ]);
  for (const cause of Object.keys(seen)) causes.add(cause as GapCause);
  return [...causes];
}

/**
 * The consumer's metric families: those of every feed, then the feed's own,
 * then bars and the strategy.
 */
export function liveFamilies(state: LiveState): MetricFamily[] {
  const { stats, feed } = state;
  const transport = feed.name;
  // By stream index, then maybe the "*" row of messages of no known stream.
  const rows = feed.stats();
  const labels = (stream: { exchange: string; symbol: string }): Labels => ({
    transport,
    exchange: stream.exchange,
    symbol: stream.symbol,
  });
  const byStream = (value: (index: number) => number) =>
    stats.streams.map((stream, index): Sample => ({
      labels: labels(stream),
      value: value(index),
    }));
  const families: MetricFamily[] = [
    ...processFamilies("trading_core"),
    counter({
      name: "marketbus_trades_received_total",
      help: "Trades delivered to trading_core.",
    }, byStream((index) => stats.figures(index).received)),
    counter({
      name: "marketbus_trades_skipped_total",
      help:
        "Trades not delivered because the snapshot stands for them (--snapshot): received + skipped + lost = published.",
    }, byStream((index) => rows[index]?.skipped ?? 0)),
    counter({
      name: "marketbus_received_bytes_total",
      help: "Trade record bytes delivered to trading_core (48 per trade).",
    }, [{
      labels: { transport },
      value: stats.received * TRADE_RECORD_SIZE,
    }]),
    counter({
      name: "marketbus_trades_lost_total",
      help:
        "Trades published but never delivered (overwritten or unreadable in the ring, gone from the NATS stream).",
    }, byStream((index) => rows[index]?.lost ?? 0)),
    counter(
      {
        name: "marketbus_trades_lost_by_cause_total",
        help:
          "marketbus_trades_lost_total by cause: overwritten or corrupt slot (ring), stream limit or deleted (NATS).",
      },
      stats.streams.flatMap((stream, index) =>
        feed.lossCauses.map((cause): Sample => ({
          labels: { ...labels(stream), cause },
          value: rows[index]?.lostBy[cause] ?? 0,
        }))
      ),
    ),
    counter(
      {
        name: "marketbus_invalid_records_total",
        help: "Records or messages that failed validation and were skipped.",
      },
      rows.map((row) => ({ labels: labels(row), value: row.invalid })),
    ),
    counter({
      name: "marketbus_sequence_gaps_total",
      help:
        "Discontinuities in the publisher sequence of an (exchange, symbol).",
    }, byStream((index) => stats.figures(index).gaps)),
    gapsFamily(state, labels),
    counter({
      name: "marketbus_producer_restarts_total",
      help: "Publisher restarts seen on an (exchange, symbol).",
    }, byStream((index) => rows[index]?.restarts ?? 0)),
    endToEndFamily(state, labels),
    ...feed.metrics(stats.streams.map(labels)),
  ];
  if (state.catchUp) families.push(caughtUpFamily(state, labels));
  if (state.processing) families.push(...processingFamilies(state));
  return families;
}

/** `marketbus_end_to_end_latency_seconds`: ts_recv to delivery, per stream. */
function endToEndFamily(
  state: LiveState,
  labels: (stream: { exchange: string; symbol: string }) => Labels,
): MetricFamily {
  const { stats } = state;
  return latencyFamily(
    {
      name: "marketbus_end_to_end_latency_seconds",
      help:
        "Time from data_manager receiving a trade (ts_recv) to its delivery here, seconds (sampled in big batches).",
    },
    stats.streams.map((stream, index) => ({
      labels: labels(stream),
      histogram: stats.figures(index).latency,
    })),
  );
}

/** `marketbus_gaps_total`: the gaps delivered per stream, by cause. */
function gapsFamily(
  state: LiveState,
  labels: (stream: { exchange: string; symbol: string }) => Labels,
): MetricFamily {
  const { stats, feed } = state;
  return counter(
    {
      name: "marketbus_gaps_total",
      help:
        "Gaps delivered in order with the trades (trades missing from a stream), by cause.",
    },
    stats.streams.flatMap((stream, index) => {
      const seen = stats.figures(index).gapsBy;
      return gapCauses(feed, seen).map((cause): Sample => ({
        labels: { ...labels(stream), cause },
        value: seen[cause] ?? 0,
      }));
    }),
  );
}

/** `marketbus_caught_up`: 1 once a catch-up stream reads live, 0 while it replays its history. */
function caughtUpFamily(
  state: LiveState,
  labels: (stream: { exchange: string; symbol: string }) => Labels,
): MetricFamily {
  const live = state.catchUp!.caughtUp();
  return gauge(
    {
      name: "marketbus_caught_up",
      help:
        "1 once the stream switched from its JetStream history to the ring (--catch-up), 0 while catching up.",
    },
    state.stats.streams.map((stream, index) => ({
      labels: labels(stream),
      value: live[index] ? 1 : 0,
    })),
  );
}

function processingFamilies(state: LiveState): MetricFamily[] {
  const processing = state.processing!;
  const counts = processing.counts();
  const labels = (row: BarCounts) => ({
    exchange: row.exchange,
    symbol: row.symbol,
    interval: row.interval,
  });
  const calls = processing.strategyCalls;
  return [
    counter({
      name: "marketbus_bars_closed_total",
      help: "Bars closed (empty intervals included).",
    }, counts.map((row) => ({ labels: labels(row), value: row.closed }))),
    counter({
      name: "marketbus_late_trades_total",
      help:
        "Trades older than their stream's open bar, left out of every bar of that interval.",
    }, counts.map((row) => ({ labels: labels(row), value: row.late }))),
    counter(
      {
        name: "marketbus_bars_skipped_empty_total",
        help:
          "Empty bars not emitted because a gap in trade time was longer than the builder's limit.",
      },
      counts.map((row) => ({ labels: labels(row), value: row.skippedEmpty })),
    ),
    counter(
      {
        name: "marketbus_clock_outliers_total",
        help:
          "Trades more than trading_core.bars.max_clock_jump ahead of their stream's clock, unconfirmed: kept out of bars and broker.",
      },
      // One row per stream: each interval's row carries the same figure.
      counts.filter((row) => row.interval === counts[0].interval).map((
        row,
      ) => ({
        labels: { exchange: row.exchange, symbol: row.symbol },
        value: row.outliers ?? 0,
      })),
    ),
    counter({
      name: "marketbus_strategy_calls_total",
      help: "Trades, bars, gaps and paper fills handed to the strategy.",
    }, [
      { labels: { hook: "onTrade" }, value: calls.trades },
      { labels: { hook: "onBar" }, value: calls.bars },
      { labels: { hook: "onGap" }, value: calls.gaps },
      { labels: { hook: "onFill" }, value: calls.fills },
    ]),
    counter({
      name: "marketbus_strategy_errors_total",
      help: "Errors thrown by the strategy (the first one stops trading_core).",
    }, calls.errors),
  ];
}

/**
 * Healthy when the transport is connected (rings attached to live
 * producers; NATS up with its consumer) and trades arrived within
 * `staleAfterMs`, or the feed has nothing to deliver by design.
 */
export function liveHealth(
  state: LiveState,
  options: { flow: FlowWatch; staleAfterMs: number },
): HealthReport {
  const status = state.feed.status();
  const since = options.flow.sinceChange();
  const flowing = since !== undefined && since < options.staleAfterMs;
  const checks = [
    { name: state.feed.name, ok: status.connected, detail: status.detail },
    ...catchUpCheck(state),
    {
      name: "data",
      ok: flowing || status.idle,
      detail: flowing
        ? `${state.stats.received} trades, the last ${Math.round(since)} ms ago`
        : status.idle
        ? "nothing to deliver: the source is idle"
        : since === undefined
        ? "no trade received yet"
        : `no trade for ${(since / 1000).toFixed(1)} s`,
    },
  ];
  return { ok: checks.every((check) => check.ok), checks };
}

/**
 * With `--catch-up`, a readiness check: it fails (503) while a stream still
 * replays history the history has, or, not live yet, holds live trades it
 * has not delivered (the settle delay, a reader reported behind, a replaced
 * ring not attached, the latest stored trades not read yet), naming them;
 * it passes once every stream is live or waits for its first live trade
 * with the history replayed (it then switches at that trade).
 */
function catchUpCheck(
  state: LiveState,
): { name: string; ok: boolean; detail: string }[] {
  if (state.catchUp === undefined) return [];
  const live = state.catchUp.caughtUp();
  const holding = state.catchUp.holding();
  const symbols = (which: (index: number) => boolean) =>
    state.stats.streams.filter((_, index) => which(index))
      .map((stream) => stream.symbol).join(", ");
  const behind = symbols((index) => !live[index]);
  const held = symbols((index) => !live[index] && holding[index]);
  const replaying = behind !== "" && state.catchUp.replaying();
  return [{
    name: "caught_up",
    ok: !replaying && held === "",
    detail: behind === ""
      ? "caught up: every stream reads the ring"
      : replaying
      ? `catching up: ${behind}`
      : held !== ""
      ? `history replayed, live trades held, not switched yet (the settle delay, a reader behind, a replaced ring, the latest stored trades): ${held}`
      : `history replayed, switching at the first live trade: ${behind}`,
  }];
}
