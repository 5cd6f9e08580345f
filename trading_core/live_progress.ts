/**
 * `live`'s progress: a line per (exchange, symbol) stream while there are
 * few ({@linkcode LiveProgressOptions.summaryAbove} or fewer); with more,
 * one summary line (streams and those not live, losses, gaps, the worst
 * lag, the slowest stream over the interval, trades and rates) and, for
 * each stream that lost trades or gapped since the last line, a line to
 * keep (a warning, never erased by a redraw), the worst first, at most
 * {@linkcode LiveProgressOptions.maxListed} of them and one line for the
 * rest.
 *
 * @module
 */

import { DEFAULT_PROGRESS_SUMMARY_ABOVE } from "../common/config/mod.ts";
import { type LatencyMark, latencyMark } from "../common/metrics/mod.ts";
import type {
  ProgressContext,
  ProgressLine,
} from "../common/runtime/progress.ts";
import type { StreamStats } from "../common/transport/feed.ts";
import { progressLines } from "./live_report.ts";
import type { TradeStats } from "./trade_stats.ts";
import {
  attentionLines,
  type ConsumerLagFigure,
  type ProgressSummary,
  type StreamLag,
  type StreamTrouble,
  summaryLines,
} from "./_progress_text.ts";

/**
 * Streams listed with their losses or gaps per progress line at most, by default.
 *
 * @default {10}
 */
export const MAX_LISTED = 10;

/** A stream's state while it is live (a catch-up's replay is counted as such: `caughtUp` says how far it is). */
const LIVE_STATES: ReadonlySet<string> = new Set([
  "alive",
  "connected",
  "live",
  "catching up",
]);

/** Options of {@linkcode LiveProgress}. */
export interface LiveProgressOptions {
  /**
   * Above this many streams, the summary form; at or below it, a line per
   * stream (`trading_core.progress_summary_above`).
   *
   * @default {8}
   */
  summaryAbove?: number;
  /**
   * Streams listed with their losses or gaps per summary at most.
   *
   * @default {10}
   */
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
   * `counters` (its `stats()`): a line per stream, or the summary form (as
   * wide as `context.width`, a terminal's, when given).
   */
  lines(
    counters: readonly StreamStats[],
    seconds: number,
    context: ProgressContext = {},
  ): ProgressLine[] {
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
      for (let index = 0; index < count; index++) this.#p99(index);
      return lines;
    }
    const summary = this.#summary(counters, seconds);
    const troubles = this.#troubles(counters);
    return [
      ...summaryLines(summary, { width: context.width }),
      ...attentionLines(troubles, {
        stats: this.#stats,
        counters,
        seconds,
        maxListed: this.#maxListed,
      }),
    ];
  }

  /** Stream `index`'s p99 latency since the last line; moves its mark along. */
  #p99(index: number): number {
    return this.#stats.figures(index).latency.intervalPercentile(
      this.#marks[index] ??= latencyMark(),
      99,
    );
  }

  /**
   * The summary's figures; moves the received counts and latency marks
   * along. With a catch-up, the slowest stream is one caught up: a stream
   * still replaying its history would win with the age of its trades.
   */
  #summary(counters: readonly StreamStats[], seconds: number): ProgressSummary {
    const stats = this.#stats;
    const streams = stats.streams;
    const caughtUp = this.#caughtUp?.();
    let active = 0;
    let slowest: ProgressSummary["slowest"] = null;
    for (let index = 0; index < streams.length; index++) {
      const figures = stats.figures(index);
      if (figures.received > (this.#received[index] ?? 0)) active++;
      this.#received[index] = figures.received;
      const p99 = this.#p99(index);
      if (caughtUp !== undefined && caughtUp[index] !== true) continue;
      if (p99 > 0 && (slowest === null || p99 > slowest.p99Ns)) {
        slowest = { ...streams[index], p99Ns: p99 };
      }
    }
    const before = { ...this.#total };
    const total = this.#totals(counters);
    return {
      streams: streams.length,
      active,
      notLive: notLive(counters, streams.length),
      received: total.received,
      receivedInterval: total.received - before.received,
      seconds,
      averageRate: this.#seconds > 0 ? total.received / this.#seconds : 0,
      lost: total.lost,
      lostInterval: total.lost - before.lost,
      gaps: total.gaps,
      gapsInterval: total.gaps - before.gaps,
      slowest,
      ...worstLag(counters, stats),
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
}

/** The streams of the first `count` rows that are not live, by state (its words before any "("). */
function notLive(
  counters: readonly StreamStats[],
  count: number,
): Record<string, number> {
  const states: Record<string, number> = {};
  for (let index = 0; index < count; index++) {
    const state = (counters[index]?.state ?? "waiting").split(" (")[0];
    if (!LIVE_STATES.has(state)) states[state] = (states[state] ?? 0) + 1;
  }
  return states;
}

/**
 * The worst lag of each kind among the rows of `stats`' streams: a ring
 * stream's own reader lag (trades), naming the stream (none when it is 0);
 * a consumer's pending messages (the same on every row it reads), not
 * known while it is not connected, which is worst.
 */
function worstLag(
  counters: readonly StreamStats[],
  stats: Pick<TradeStats, "streams">,
): { streamLag?: StreamLag; consumerLag?: ConsumerLagFigure } {
  let own: StreamLag | undefined;
  let ownIndex = -1;
  let consumer: ConsumerLagFigure | undefined;
  const count = Math.min(counters.length, stats.streams.length);
  for (let index = 0; index < count; index++) {
    const row = counters[index];
    const of = row.lagOf;
    if (of === undefined) {
      if (own === undefined || row.lag > own.trades) {
        own = { trades: row.lag };
        ownIndex = index;
      }
      continue;
    }
    const pending = of.current ? row.lag : null;
    if (consumer === undefined || worse(pending, consumer.pending)) {
      const durable = of.durable;
      consumer = {
        pending,
        ...durable !== undefined && { durable },
        stream: of.stream,
      };
    }
  }
  // No stream lags: none to name.
  if (own !== undefined && own.trades > 0) {
    own.origin = stats.streams[ownIndex];
  }
  return {
    ...own && { streamLag: own },
    ...consumer && { consumerLag: consumer },
  };
}

/** Whether pending count `a` is worse than `b`: not known (null) is worst, then the most. */
function worse(a: number | null, b: number | null): boolean {
  if (b === null) return false;
  return a === null || a > b;
}
