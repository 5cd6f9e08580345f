/**
 * The console's table: one row per (exchange, symbol) stream, read from what
 * `live` already keeps (its {@linkcode TradeStats}, the feed's
 * `stats()`, a catch-up's progress) once per tick, never per trade. Each
 * row is serialised once per tick and compared with the one sent before,
 * so an update carries only the rows that changed.
 *
 * @module
 */

import type { StreamStats, TradeFeed } from "../../common/transport/feed.ts";
import type { CatchUpProgress } from "../metrics.ts";
import type { TradeStats } from "../trade_stats.ts";

/** What the table reads: `live`'s own counters. */
export interface TableSources {
  /** The transport read (its per-stream lag, loss and state). */
  feed: Pick<TradeFeed, "stats">;
  /** Per-stream counts and latency, by stream index. */
  stats: TradeStats;
  /** With `--catch-up`: whether each stream reached live. */
  catchUp?: Pick<CatchUpProgress, "caughtUp">;
}

/**
 * The fields of a row after its stream index, in order: the `rows` arrays
 * of the events (docs/console.md) and the page's `td[data-field]` cells.
 */
export const ROW_FIELDS = [
  "trades",
  "rate",
  "last",
  "lost",
  "gaps",
  "lag",
  "p50",
  "p99",
  "state",
  "caught_up",
] as const;

/** The totals over every stream: `{"trades", "rate", "lost", "gaps"}`. */
export interface TableTotals {
  /** Trades received. */
  trades: number;
  /** Trades per second over the last second, null before two ticks. */
  rate: number | null;
  /** Trades lost. */
  lost: number;
  /** Sequence gaps. */
  gaps: number;
}

/** One tick of the table, serialised: JSON texts ready to be put into events. */
export interface TableTick {
  /** `[[index, exchange, symbol], …]` of the streams new since the last tick (all of them on the first). */
  streams: string;
  /** `[[index, …ROW_FIELDS], …]` of the rows that changed since the last tick. */
  rows: string;
  /** The totals, {@linkcode TableTotals}. */
  totals: string;
  /** Whether anything changed: new streams, changed rows or totals. */
  changed: boolean;
}

/** The rate window: trades per second are measured over at least this long, ms. */
export const RATE_WINDOW_MS = 1_000;

/** Counts of every stream at one tick, for the rates. */
interface Sample {
  atMs: number;
  counts: Float64Array;
}

/**
 * The table of every stream, refreshed once per tick: {@linkcode refresh}
 * reads the sources and tells what changed; {@linkcode snapshot} gives the
 * whole table as of the last refresh (for a client that just connected).
 */
export class ConsoleTable {
  readonly #sources: TableSources;
  /** Each row's JSON as last refreshed. */
  #rows: string[] = [];
  /** Each stream's `[index, exchange, symbol]` JSON. */
  #names: string[] = [];
  #totals = "";
  #samples: Sample[] = [];
  /** Per stream: the latency sample count its p50/p99 were read at, and them. */
  #latency: { count: number; p50: number | null; p99: number | null }[] = [];

  /** A table over `sources`; empty until the first {@linkcode refresh}. */
  constructor(sources: TableSources) {
    this.#sources = sources;
  }

  /** Streams known at the last refresh. */
  get size(): number {
    return this.#rows.length;
  }

  /** The `[exchange, symbol]` of stream index `stream`, undefined when unknown. */
  stream(stream: number): { exchange: string; symbol: string } | undefined {
    return this.#sources.stats.streams[stream];
  }

  /**
   * Reads every stream's figures at `nowMs` (a monotonic clock, for the
   * rates) and returns what changed since the last refresh.
   */
  refresh(nowMs: number): TableTick {
    const { stats, feed, catchUp } = this.#sources;
    const streams = stats.streams;
    const rows = feed.stats();
    const caughtUp = catchUp?.caughtUp();
    const counts = new Float64Array(streams.length);
    for (let i = 0; i < streams.length; i++) {
      counts[i] = stats.figures(i).received;
    }
    const base = this.#baseline(nowMs, { atMs: nowMs, counts });
    const newNames: string[] = [];
    for (let i = this.#names.length; i < streams.length; i++) {
      const { exchange, symbol } = streams[i];
      this.#names.push(JSON.stringify([i, exchange, symbol]));
      newNames.push(this.#names[i]);
    }
    const changed: string[] = [];
    const totals: TableTotals = { trades: 0, rate: null, lost: 0, gaps: 0 };
    for (let i = 0; i < streams.length; i++) {
      const rate = rateOf(counts, base, { index: i, nowMs });
      const row = this.#row(i, { rate, feed: rows[i], caughtUp });
      if (row !== this.#rows[i]) {
        this.#rows[i] = row;
        changed.push(row);
      }
      totals.trades += counts[i];
      totals.lost += rows[i]?.lost ?? 0;
      totals.gaps += stats.figures(i).gaps;
      if (rate !== null) totals.rate = (totals.rate ?? 0) + rate;
    }
    // Summed rates carry float noise: to 0.1 like each one.
    if (totals.rate !== null) totals.rate = Math.round(totals.rate * 10) / 10;
    const totalsJson = JSON.stringify(totals);
    const totalsChanged = totalsJson !== this.#totals;
    this.#totals = totalsJson;
    return {
      streams: `[${newNames.join(",")}]`,
      rows: `[${changed.join(",")}]`,
      totals: totalsJson,
      changed: newNames.length > 0 || changed.length > 0 || totalsChanged,
    };
  }

  /** The whole table as of the last refresh, every stream and row. */
  snapshot(): TableTick {
    return {
      streams: `[${this.#names.join(",")}]`,
      rows: `[${this.#rows.join(",")}]`,
      totals: this.#totals === "" ? "null" : this.#totals,
      changed: true,
    };
  }

  /**
   * The sample the rates are measured from: the latest one at least
   * {@linkcode RATE_WINDOW_MS} old (else the oldest kept); `now` is kept
   * for the next ticks. Undefined on the first tick.
   */
  #baseline(nowMs: number, now: Sample): Sample | undefined {
    const samples = this.#samples;
    let keep = 0;
    // Drop samples older than the newest one that is a window old.
    for (let i = samples.length - 1; i >= 0; i--) {
      if (nowMs - samples[i].atMs >= RATE_WINDOW_MS) {
        keep = i;
        break;
      }
    }
    if (keep > 0) samples.splice(0, keep);
    let base: Sample | undefined = samples[0];
    // Older than two windows: ticks stopped (no page open) in between, and
    // a rate over the idle time would be wrong: start over from now.
    if (base !== undefined && nowMs - base.atMs > 2 * RATE_WINDOW_MS) {
      samples.length = 0;
      base = undefined;
    }
    samples.push(now);
    return base;
  }

  /** Row `i` as JSON: `[i, …ROW_FIELDS]`. */
  #row(
    i: number,
    at: {
      rate: number | null;
      feed: StreamStats | undefined;
      caughtUp: boolean[] | undefined;
    },
  ): string {
    const figures = this.#sources.stats.figures(i);
    const { p50, p99 } = this.#percentiles(i);
    const { feed } = at;
    return JSON.stringify([
      i,
      figures.received,
      at.rate,
      figures.lastPrice ?? null,
      feed?.lost ?? null,
      figures.gaps,
      feed?.lag ?? null,
      p50,
      p99,
      feed?.state ?? "",
      at.caughtUp === undefined ? null : at.caughtUp[i] === true,
    ]);
  }

  /** Stream `i`'s latency p50 and p99, ns (null before a sample), read again only when it has new samples. */
  #percentiles(i: number): { p50: number | null; p99: number | null } {
    const histogram = this.#sources.stats.figures(i).latency;
    const known = this.#latency[i];
    if (known !== undefined && known.count === histogram.count) return known;
    const empty = histogram.count === 0;
    const read = {
      count: histogram.count,
      p50: empty ? null : Math.round(histogram.percentile(50)),
      p99: empty ? null : Math.round(histogram.percentile(99)),
    };
    this.#latency[i] = read;
    return read;
  }
}

/** Stream `index`'s trades per second since `base`, to 0.1; null without a base or time. */
function rateOf(
  counts: Float64Array,
  base: Sample | undefined,
  at: { index: number; nowMs: number },
): number | null {
  if (base === undefined) return null;
  const seconds = (at.nowMs - base.atMs) / 1000;
  if (!(seconds > 0)) return null;
  // A stream new since the base started from 0.
  const before = at.index < base.counts.length ? base.counts[at.index] : 0;
  return Math.round((counts[at.index] - before) / seconds * 10) / 10;
}
