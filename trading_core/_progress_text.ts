/**
 * The text and JSON fields of `live`'s progress summary line and of its
 * lines for the streams with losses or gaps (`live_progress.ts`).
 *
 * @module
 */

import {
  ellipsize,
  formatCount,
  formatNanos,
  formatRate,
  plural,
} from "../common/runtime/format.ts";
import type { ProgressLine } from "../common/runtime/progress.ts";
import type { StreamStats } from "../common/transport/feed.ts";
import { streamName } from "../common/transport/mod.ts";
import type { TradeOrigin } from "../common/wire/codec.ts";
import { byCause } from "./live_report.ts";
import type { TradeStats } from "./trade_stats.ts";

/** The longest summary line logged (off a terminal; on one, the terminal's width). */
export const SUMMARY_WIDTH = 160;
/** Names are cut to this many characters when the line is still too long without the trades. */
const NAME_CUT = 24;
/** On a terminal too narrow for one line, the summary takes this many at most. */
const MAX_BLOCK_LINES = 3;

/** The ring stream whose own reader is furthest behind. */
export interface StreamLag {
  /** Its lag, trades. */
  trades: number;
  /** The stream; undefined when no stream lags. */
  origin?: TradeOrigin;
}

/** The NATS consumer furthest behind. */
export interface ConsumerLagFigure {
  /** Its pending messages; null when not known (it is not connected). */
  pending: number | null;
  /** The durable consumer's name; undefined for an ordered one. */
  durable?: string;
  /** The JetStream stream it reads. */
  stream: string;
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
  /** Streams not live, by state (`stalled`, `dead`, `waiting`, `reconnecting`, …); none when every one is. */
  notLive: Record<string, number>;
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
  /**
   * The stream with the highest p99 latency over the interval (with a
   * catch-up, among the streams caught up); null when no trade was sampled.
   */
  slowest: (TradeOrigin & { p99Ns: number }) | null;
  /** The ring stream furthest behind; undefined when no stream is read from a ring. */
  streamLag?: StreamLag;
  /** The NATS consumer furthest behind; undefined when there is none. */
  consumerLag?: ConsumerLagFigure;
  /** With a catch-up: the streams that reached live. */
  caughtUp?: number;
}

/** `12 +3`: a total and what the interval added, when it added any. */
function withInterval(total: number, interval: number): string {
  return interval > 0
    ? `${formatCount(total)} +${formatCount(interval)}`
    : formatCount(total);
}

/** `298/300 streams (52 caught up, 2 stalled)`. */
function streamsText(s: ProgressSummary): string {
  const states = Object.entries(s.notLive)
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([state, count]) => `${formatCount(count)} ${state}`);
  if (s.caughtUp !== undefined) {
    states.unshift(`${formatCount(s.caughtUp)} caught up`);
  }
  const counts = `${formatCount(s.active)}/${formatCount(s.streams)} streams`;
  return states.length === 0 ? counts : `${counts} (${states.join(", ")})`;
}

/** `lag binance S1 16 trades, consumer rvp 1,200 msgs` (`?` when not known). */
function lagText(s: ProgressSummary, cut: (name: string) => string): string {
  const parts: string[] = [];
  const own = s.streamLag;
  if (own !== undefined) {
    const name = own.origin && cut(streamName(own.origin));
    parts.push(`${name ? `${name} ` : ""}${formatCount(own.trades)} trades`);
  }
  const consumer = s.consumerLag;
  if (consumer !== undefined) {
    const who = consumer.durable === undefined
      ? `ordered consumer on ${consumer.stream}`
      : `consumer ${consumer.durable}`;
    const pending = consumer.pending === null
      ? "?"
      : formatCount(consumer.pending);
    parts.push(`${cut(who)} ${pending} msgs`);
  }
  return parts.length === 0 ? "lag -" : `lag ${parts.join(", ")}`;
}

/** How much of the trades field to say: all, without `avg`, without `+N` either, none. */
type TradesDetail = 0 | 1 | 2 | 3;

/** `trades 12,345 +678 at 339/s, avg 300/s`, shorter by `detail`. */
function tradesText(s: ProgressSummary, detail: TradesDetail): string[] {
  if (detail === 3) return [];
  const rate = s.seconds > 0 ? s.receivedInterval / s.seconds : 0;
  const total = detail === 2
    ? formatCount(s.received)
    : withInterval(s.received, s.receivedInterval);
  const avg = detail === 0 ? `, avg ${formatRate(s.averageRate)}` : "";
  return [`trades ${total} at ${formatRate(rate)}${avg}`];
}

/** The summary's fields as text, in order of importance. */
function summaryParts(
  s: ProgressSummary,
  detail: TradesDetail,
  nameLimit: number,
): string[] {
  const cut = (name: string) => ellipsize(name, nameLimit);
  return [
    streamsText(s),
    `lost ${withInterval(s.lost, s.lostInterval)}`,
    `gaps ${withInterval(s.gaps, s.gapsInterval)}`,
    lagText(s, cut),
    s.slowest === null
      ? "slowest -"
      : `slowest ${cut(streamName(s.slowest))} p99 ${
        formatNanos(s.slowest.p99Ns)
      }`,
    ...tradesText(s, detail),
  ];
}

/** `parts` joined with " | " into lines of `width` characters at most (a part longer than that cut). */
function pack(parts: readonly string[], width: number): string[] {
  const lines: string[] = [];
  for (const part of parts) {
    const last = lines.at(-1);
    if (last !== undefined && last.length + 3 + part.length <= width) {
      lines[lines.length - 1] = `${last} | ${part}`;
    } else lines.push(ellipsize(part, width));
  }
  return lines;
}

/** The shorter forms tried in turn until one fits: less of the trades, then names cut. */
const FORMS: readonly [TradesDetail, number][] = [
  [0, Infinity],
  [1, Infinity],
  [2, Infinity],
  [2, NAME_CUT],
  [3, NAME_CUT],
];

/**
 * The summary: the streams and their states, losses, gaps, lag and the
 * slowest stream first, then the trades and rates. Logged (no
 * `options.width`), one line of {@linkcode SUMMARY_WIDTH} characters at
 * most: to fit, the average rate goes first, then the interval's `+N`,
 * then long names are cut, then the trades go, and at last the end is cut
 * ("…"). On a terminal `options.width` wide, one line if it fits, else its
 * fields over up to {@linkcode MAX_BLOCK_LINES} lines, shortened the same
 * way until they fit. The fields (on the first line) keep everything.
 */
export function summaryLines(
  summary: ProgressSummary,
  options: { width?: number } = {},
): ProgressLine[] {
  const fields = summaryFields(summary);
  const width = options.width ?? SUMMARY_WIDTH;
  const most = options.width === undefined ? 1 : MAX_BLOCK_LINES;
  let lines: string[] = [];
  for (const [detail, names] of FORMS) {
    lines = pack(summaryParts(summary, detail, names), width);
    const line = lines.join(" | ");
    if (line.length <= width) lines = [line];
    if (lines.length <= most) break;
  }
  if (lines.length > most) {
    lines = most === 1
      ? [ellipsize(lines.join(" | "), width)]
      : lines.slice(0, most);
  }
  return lines.map((text, i) => i === 0 ? { text, fields } : { text });
}

/** The summary's JSON fields: flat, each always there (null: none, or not known). */
function summaryFields(s: ProgressSummary) {
  const own = s.streamLag;
  const consumer = s.consumerLag;
  return {
    streams: s.streams,
    activeStreams: s.active,
    notLive: s.notLive,
    received: s.received,
    receivedInterval: s.receivedInterval,
    rate: Math.round(s.seconds > 0 ? s.receivedInterval / s.seconds : 0),
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
    lagTrades: own?.trades ?? null,
    lagStream: own?.origin
      ? { exchange: own.origin.exchange, symbol: own.origin.symbol }
      : null,
    consumerPending: consumer?.pending ?? null,
    consumer: consumer?.durable ?? null,
    consumerKind: consumer === undefined
      ? null
      : consumer.durable === undefined
      ? "ordered"
      : "durable",
    consumerStream: consumer?.stream ?? null,
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
 * A line to keep for each of `troubles` (left as given), the most trades
 * lost and gaps first (then by stream index), at most `maxListed`, and one
 * more line for the rest.
 */
export function attentionLines(
  troubles: readonly StreamTrouble[],
  context: {
    stats: TradeStats;
    counters: readonly StreamStats[];
    seconds: number;
    maxListed: number;
  },
): ProgressLine[] {
  const { stats, counters, maxListed } = context;
  const over = `in the last ${context.seconds.toFixed(1)}s`;
  const sorted = [...troubles].sort((a, b) =>
    b.lost + b.gaps - (a.lost + a.gaps) || a.stream - b.stream
  );
  const lines: ProgressLine[] = sorted.slice(0, maxListed).map((t) => {
    const origin = stats.streams[t.stream];
    const row = counters[t.stream];
    const lost = row?.lost ?? 0;
    const lostBy = row?.lostBy ?? {};
    const causes = lost > 0 && byCause(lostBy) !== ""
      ? ` (${byCause(lostBy)})`
      : "";
    const gaps = stats.figures(t.stream).gaps;
    const state = row?.state ?? "waiting";
    return {
      text: `${streamName(origin)}: ${changes(t.lost, t.gaps)} ${over} (${
        formatCount(lost)
      } lost${causes}, ${formatCount(gaps)} ${
        plural(gaps, "gap")
      } in all) [${state}]`,
      fields: {
        exchange: origin.exchange,
        symbol: origin.symbol,
        lostInterval: t.lost,
        gapsInterval: t.gaps,
        lost,
        lostBy,
        gaps,
        state,
      },
      keep: true,
    };
  });
  const rest = sorted.slice(maxListed);
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
