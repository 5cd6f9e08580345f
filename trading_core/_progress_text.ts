/**
 * The text and JSON fields of `live`'s progress summary line and of its
 * lines for the streams with losses or gaps (`live_progress.ts`).
 *
 * @module
 */

import {
  formatCount,
  formatNanos,
  formatRate,
  plural,
} from "../common/runtime/format.ts";
import type { ProgressLine } from "../common/runtime/progress.ts";
import type { StreamStats } from "../common/transport/feed.ts";
import type { TradeOrigin } from "../common/wire/codec.ts";
import type { TradeStats } from "./trade_stats.ts";

/** The longest summary line wanted: long names are cut to keep it there. */
export const SUMMARY_WIDTH = 160;
/** A name is never cut shorter than this (with its "…"). */
const MIN_NAME = 8;

/**
 * The worst lag of one kind: a stream's own reader's (a ring: trades, with
 * its exchange and symbol unless no stream lags) or a consumer's (NATS:
 * pending messages, with the consumer).
 */
export interface WorstLag {
  /** Trades (a stream's own) or messages (a consumer's) not read yet. */
  lag: number;
  /** The lagging stream's exchange, with its symbol. */
  exchange?: string;
  /** The lagging stream's symbol. */
  symbol?: string;
  /** The consumer whose pending messages `lag` counts. */
  consumer?: string;
}

/** A stream that lost trades or gapped since the last line. */
export interface StreamTrouble {
  /** Its index. */
  stream: number;
  /** Trades lost since the last line. */
  lost: number;
  /** Gaps since the last line. */
  gaps: number;
}

/** What the summary line says. */
export interface ProgressSummary {
  /** Streams known. */
  streams: number;
  /** Streams that received a trade over the interval. */
  active: number;
  /** Trades received in all. */
  received: number;
  /** Trades received over the interval. */
  receivedInterval: number;
  /** The interval, s. */
  seconds: number;
  /** Trades per second since the first line's start. */
  averageRate: number;
  /** Trades lost in all. */
  lost: number;
  /** Trades lost over the interval. */
  lostInterval: number;
  /** Gaps in all. */
  gaps: number;
  /** Gaps over the interval. */
  gapsInterval: number;
  /** The stream with the highest p99 latency over the interval; null when no trade was sampled. */
  slowest: (TradeOrigin & { p99Ns: number }) | null;
  /** The worst lag of each kind there is. */
  lag: WorstLag[];
  /** With a catch-up: the streams that reached live. */
  caughtUp?: number;
}

/** `ETHUSDT`, or `binance ETHUSDT` when the streams are on several exchanges. */
function streamName(origin: TradeOrigin, exchanges: number): string {
  return exchanges > 1 ? `${origin.exchange} ${origin.symbol}` : origin.symbol;
}

/** `12 +3`: a total and what the interval added, when it added any. */
function withInterval(total: number, interval: number): string {
  return interval > 0
    ? `${formatCount(total)} +${formatCount(interval)}`
    : formatCount(total);
}

/** `name`, cut to `length` characters with "…" when longer. */
function cut(name: string, length: number): string {
  return name.length <= length ? name : `${name.slice(0, length - 1)}…`;
}

/**
 * The summary as one line of about {@linkcode SUMMARY_WIDTH} characters at
 * most (longer names are cut, down to {@linkcode MIN_NAME}), with its
 * figures as fields. `exchanges` is how
 * many exchanges the streams are on: with one, streams go by symbol alone.
 */
export function summaryLine(
  summary: ProgressSummary,
  options: { exchanges: number },
): ProgressLine {
  const s = summary;
  const rate = s.seconds > 0 ? s.receivedInterval / s.seconds : 0;
  const slowest = s.slowest && streamName(s.slowest, options.exchanges);
  const lags = s.lag.map((lag) => ({
    lag,
    name: lag.consumer ??
      (lag.symbol === undefined ? "" : streamName(
        { exchange: lag.exchange ?? "", symbol: lag.symbol },
        options.exchanges,
      )),
  }));
  const text = (limit: number) =>
    [
      `${formatCount(s.active)}/${formatCount(s.streams)} streams`,
      `trades ${withInterval(s.received, s.receivedInterval)} at ${
        formatRate(rate)
      }, avg ${formatRate(s.averageRate)}`,
      `lost ${withInterval(s.lost, s.lostInterval)}`,
      `gaps ${withInterval(s.gaps, s.gapsInterval)}`,
      slowest === null
        ? "slowest -"
        : `slowest ${cut(slowest, limit)} p99 ${formatNanos(s.slowest!.p99Ns)}`,
      ...lags.map(({ lag, name }) =>
        lag.consumer !== undefined
          ? `lag ${cut(name, limit)} ${formatCount(lag.lag)} msgs`
          : name === ""
          ? `lag ${formatCount(lag.lag)}`
          : `lag ${cut(name, limit)} ${formatCount(lag.lag)}`
      ),
      ...s.caughtUp === undefined
        ? []
        : [`${formatCount(s.caughtUp)} caught up`],
    ].join(" | ");
  // Cut the names (the only long parts) just enough.
  const names = [slowest ?? "", ...lags.map(({ name }) => name)];
  let limit = Math.max(...names.map((name) => name.length));
  let line = text(limit);
  while (line.length > SUMMARY_WIDTH && limit > MIN_NAME) line = text(--limit);
  return { text: line, fields: summaryFields(s, rate) };
}

/** The summary's JSON fields. */
function summaryFields(s: ProgressSummary, rate: number) {
  return {
    streams: s.streams,
    activeStreams: s.active,
    received: s.received,
    receivedInterval: s.receivedInterval,
    rate: Math.round(rate),
    averageRate: Math.round(s.averageRate),
    lost: s.lost,
    lostInterval: s.lostInterval,
    gaps: s.gaps,
    gapsInterval: s.gapsInterval,
    slowest: s.slowest && {
      exchange: s.slowest.exchange,
      symbol: s.slowest.symbol,
      latencyP99Ns: s.slowest.p99Ns,
    },
    lag: s.lag,
    ...s.caughtUp !== undefined && { caughtUp: s.caughtUp },
  };
}

/** `+3 lost, +1 gap` (the parts that are not zero). */
function changes(lost: number, gaps: number): string {
  return [
    ...lost > 0 ? [`+${formatCount(lost)} lost`] : [],
    ...gaps > 0 ? [`+${formatCount(gaps)} ${plural(gaps, "gap")}`] : [],
  ].join(", ");
}

/**
 * A line to keep for each of `troubles`, the most trades lost and gaps
 * first (then by stream index), at most `maxListed`, and one more line for
 * the rest.
 */
export function attentionLines(
  troubles: StreamTrouble[],
  context: {
    stats: TradeStats;
    counters: readonly StreamStats[];
    seconds: number;
    maxListed: number;
  },
): ProgressLine[] {
  const { stats, counters, maxListed } = context;
  const over = `in the last ${context.seconds.toFixed(1)}s`;
  troubles.sort((a, b) =>
    b.lost + b.gaps - (a.lost + a.gaps) || a.stream - b.stream
  );
  const lines: ProgressLine[] = troubles.slice(0, maxListed).map((t) => {
    const { exchange, symbol } = stats.streams[t.stream];
    const row = counters[t.stream];
    const lost = row?.lost ?? 0;
    const gaps = stats.figures(t.stream).gaps;
    const state = row?.state ?? "waiting";
    return {
      text: `${exchange} ${symbol}: ${changes(t.lost, t.gaps)} ${over} (${
        formatCount(lost)
      } lost, ${formatCount(gaps)} ${plural(gaps, "gap")} in all) [${state}]`,
      fields: {
        exchange,
        symbol,
        lostInterval: t.lost,
        gapsInterval: t.gaps,
        lost,
        gaps,
        state,
      },
      keep: true,
    };
  });
  const rest = troubles.slice(maxListed);
  if (rest.length > 0) {
    const lost = rest.reduce((sum, t) => sum + t.lost, 0);
    const gaps = rest.reduce((sum, t) => sum + t.gaps, 0);
    lines.push({
      text: `…and ${formatCount(rest.length)} more ${
        plural(rest.length, "stream")
      } with losses or gaps ${over}: ${changes(lost, gaps)}`,
      fields: {
        moreStreams: rest.length,
        lostInterval: lost,
        gapsInterval: gaps,
      },
      keep: true,
    });
  }
  return lines;
}
