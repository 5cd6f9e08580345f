/**
 * `live`'s progress: a line per (exchange, symbol) stream while there are
 * few ({@linkcode LiveProgressOptions.summaryAbove} or fewer); with more,
 * one summary line (streams, trades, losses, gaps, the slowest stream over
 * the interval, the worst lag) and, for each stream that lost trades or
 * gapped since the last line, a line to keep (a warning, never erased by a
 * redraw), the worst first, at most {@linkcode LiveProgressOptions.maxListed}
 * of them and one line for the rest.
 *
 * @module
 */

import { DEFAULT_PROGRESS_SUMMARY_ABOVE } from "../common/config/mod.ts";
import {
  type LatencyMark,
  latencyMark,
} from "../common/metrics/latency_histogram.ts";
import type { ProgressLine } from "../common/runtime/progress.ts";
import type { StreamStats } from "../common/transport/feed.ts";
import { progressLines } from "./live_report.ts";
import type { TradeStats } from "./trade_stats.ts";
import {
  attentionLines,
  type ProgressSummary,
  type StreamTrouble,
  summaryLine,
  type WorstLag,
} from "./_progress_text.ts";

/** Streams listed with their losses or gaps per progress line at most, by default. */
export const MAX_LISTED = 10;

/** Options of {@linkcode LiveProgress}. */
export interface LiveProgressOptions {
  /**
   * Above this many streams, the summary form; at or below it, a line per
   * stream (`trading_core.progress_summary_above`).
   *
   * @default {8}
   */
  summaryAbove?: number;
  /** Streams listed with their losses or gaps per summary at most. @default {10} */
  maxListed?: number;
  /** With a catch-up: whether each stream (by index) reached live. */
  caughtUp?: () => readonly boolean[];
}

/** Trades received and lost, and gaps, over every stream. */
interface Totals {
  received: number;
  lost: number;
  gaps: number;
}

/**
 * Turns the figures of a {@linkcode TradeStats} and its feed into progress
 * lines, remembering each stream's figures at the last line: call
 * {@linkcode LiveProgress.lines} once per progress line.
 */
export class LiveProgress {
  #stats: TradeStats;
  #summaryAbove: number;
  #maxListed: number;
  #caughtUp: (() => readonly boolean[]) | undefined;
  /** Per stream at the last line: trades received, lost, gaps; latency. */
  #received: number[] = [];
  #lost: number[] = [];
  #gaps: number[] = [];
  #marks: LatencyMark[] = [];
  /** Totals at the last line. */
  #total: Totals = { received: 0, lost: 0, gaps: 0 };
  /** Seconds since the first line's start. */
  #seconds = 0;

  /** Progress of `stats`. */
  constructor(stats: TradeStats, options: LiveProgressOptions = {}) {
    this.#stats = stats;
    this.#summaryAbove = options.summaryAbove ?? DEFAULT_PROGRESS_SUMMARY_ABOVE;
    this.#maxListed = options.maxListed ?? MAX_LISTED;
    this.#caughtUp = options.caughtUp;
  }

  /**
   * The lines for the `seconds` since the last call, from the feed's
   * `counters` (its `stats()`): a line per stream, or the summary form.
   */
  lines(counters: readonly StreamStats[], seconds: number): ProgressLine[] {
    this.#seconds += seconds;
    const count = this.#stats.streams.length;
    if (count <= this.#summaryAbove) {
      // As before; the other figures move along for a later summary.
      const lines = progressLines(
        this.#stats,
        [...counters],
        this.#received,
        seconds,
      );
      this.#troubles(counters);
      this.#totals(counters);
      return lines;
    }
    const summary = this.#summary(counters, seconds);
    const troubles = this.#troubles(counters);
    return [
      summaryLine(summary, { exchanges: this.#exchanges() }),
      ...attentionLines(troubles, {
        stats: this.#stats,
        counters,
        seconds,
        maxListed: this.#maxListed,
      }),
    ];
  }

  /** The summary's figures; moves the received counts and latency marks along. */
  #summary(counters: readonly StreamStats[], seconds: number): ProgressSummary {
    const stats = this.#stats;
    const streams = stats.streams;
    let active = 0;
    let slowest: ProgressSummary["slowest"] = null;
    for (let index = 0; index < streams.length; index++) {
      const figures = stats.figures(index);
      if (figures.received > (this.#received[index] ?? 0)) active++;
      this.#received[index] = figures.received;
      const p99 = figures.latency.intervalPercentile(
        this.#marks[index] ??= latencyMark(),
        99,
      );
      if (p99 > 0 && (slowest === null || p99 > slowest.p99Ns)) {
        slowest = { ...streams[index], p99Ns: p99 };
      }
    }
    const before = { ...this.#total };
    const total = this.#totals(counters);
    const caughtUp = this.#caughtUp?.();
    return {
      streams: streams.length,
      active,
      received: total.received,
      receivedInterval: total.received - before.received,
      seconds,
      averageRate: this.#seconds > 0 ? total.received / this.#seconds : 0,
      lost: total.lost,
      lostInterval: total.lost - before.lost,
      gaps: total.gaps,
      gapsInterval: total.gaps - before.gaps,
      slowest,
      lag: worstLag(counters, streams.length, stats),
      ...caughtUp && { caughtUp: caughtUp.filter(Boolean).length },
    };
  }

  /** The totals now, remembered for the next line. */
  #totals(counters: readonly StreamStats[]): Totals {
    let lost = 0;
    for (const row of counters) lost += row.lost;
    this.#total = {
      received: this.#stats.received,
      lost,
      gaps: this.#stats.gaps,
    };
    return this.#total;
  }

  /** The streams that lost trades or gapped since the last line; moves their counts along. */
  #troubles(counters: readonly StreamStats[]): StreamTrouble[] {
    const troubles: StreamTrouble[] = [];
    const count = this.#stats.streams.length;
    for (let stream = 0; stream < count; stream++) {
      const lost = counters[stream]?.lost ?? 0;
      const gaps = this.#stats.figures(stream).gaps;
      const trouble = {
        stream,
        lost: lost - (this.#lost[stream] ?? 0),
        gaps: gaps - (this.#gaps[stream] ?? 0),
      };
      this.#lost[stream] = lost;
      this.#gaps[stream] = gaps;
      if (trouble.lost > 0 || trouble.gaps > 0) troubles.push(trouble);
    }
    return troubles;
  }

  /** How many exchanges the streams are on (1: the summary names streams by symbol alone). */
  #exchanges(): number {
    const streams = this.#stats.streams;
    const first = streams[0]?.exchange;
    return streams.some((s) => s.exchange !== first) ? 2 : 1;
  }
}

/**
 * The worst lag of each kind among the first `count` rows: a ring stream's
 * own reader lag (trades), naming the stream (none when it is 0); a
 * consumer's pending messages (the same on every row it reads), naming the
 * consumer.
 */
function worstLag(
  counters: readonly StreamStats[],
  count: number,
  stats: Pick<TradeStats, "streams">,
): WorstLag[] {
  let own: WorstLag | undefined;
  let consumer: WorstLag | undefined;
  for (let index = 0; index < count && index < counters.length; index++) {
    const row = counters[index];
    if (row.lagOf === undefined) {
      if (own === undefined || row.lag > own.lag) {
        own = { lag: row.lag, ...stats.streams[index] };
      }
    } else if (consumer === undefined || row.lag > consumer.lag) {
      consumer = { lag: row.lag, consumer: row.lagOf };
    }
  }
  // No stream lags: none to name.
  if (own?.lag === 0) own = { lag: 0 };
  return [own, consumer].filter((lag) => lag !== undefined);
}
