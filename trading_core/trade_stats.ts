/**
 * What trading_core learns from the trades it receives, per (exchange,
 * symbol) stream: counts, sequence gaps, the gaps delivered as data by
 * cause, the last price and the one-way latency from ts_recv. Each stream
 * has its publisher's own seq: the same symbol on two exchanges is two
 * sequences.
 *
 * @module
 */

import type { TradeOrigin } from "../common/wire/codec.ts";
import { readWallClock } from "../common/runtime/clock.ts";
import {
  LatencyHistogram,
  type LatencySummary,
} from "../common/metrics/latency_histogram.ts";
import type { TradeView } from "../common/wire/trade_view.ts";
import type { GapCause, TradeGap } from "../common/transport/feed.ts";
import { seqAfterGap } from "./processing.ts";

/** One stream's figures. */
export interface StreamFigures {
  /** Trades seen. */
  received: number;
  /**
   * Sequence discontinuities (a jump or a step back in the stream's seq),
   * each counted once: a jump a gap event explained counts at that event,
   * not again at the trade after it.
   */
  gaps: number;
  /** Trades the discontinuities skipped over (forward jumps only). */
  skipped: number;
  /** Gap events delivered ({@linkcode TradeStats.gap}), by cause; causes with none are absent. */
  gapsBy: Partial<Record<GapCause, number>>;
  /** Seq of the last trade, or undefined before the first. */
  lastSeq: number | undefined;
  /** Price of the last trade. */
  lastPrice: number | undefined;
  /** Receive-to-delivery latency, ns (sampled in big batches, see {@linkcode TradeStats.record}). */
  latency: LatencyHistogram;
}

const TWO_32 = 2 ** 32;

/** In batches bigger than this, latency is sampled on every this-many-th trade. */
export const LATENCY_EVERY = 8;

/**
 * Counts trades per (exchange, symbol) stream, by stream index, and measures
 * their latency from ts_recv to delivery.
 */
export class TradeStats {
  #streams: TradeOrigin[] = [];
  #figures: StreamFigures[] = [];
  #clock = { seconds: 0, nanos: 0 };
  #firstAtMs = 0;
  #lastAtMs = 0;

  /** Creates trackers for `streams` (index = position; more come with {@linkcode add}). */
  constructor(streams: readonly TradeOrigin[] = []) {
    for (const stream of streams) this.add(stream);
    // The first clock read loads libc through FFI (a dlopen, ~5 ms): now,
    // not in the first trade's callback.
    readWallClock(this.#clock);
  }

  /** Streams tracked, by index. */
  get streams(): readonly Readonly<TradeOrigin>[] {
    return this.#streams;
  }

  /**
   * Starts tracking one more stream (e.g. one a wildcard subscription just
   * met) and returns its index.
   */
  add(stream: TradeOrigin): number {
    this.#streams.push({ exchange: stream.exchange, symbol: stream.symbol });
    this.#figures.push({
      received: 0,
      gaps: 0,
      skipped: 0,
      gapsBy: {},
      lastSeq: undefined,
      lastPrice: undefined,
      latency: new LatencyHistogram(),
    });
    return this.#streams.length - 1;
  }

  /**
   * Records one delivered trade of stream index `stream`. The trade's view
   * tells where it sits in its batch: latency is measured for every trade of
   * batches up to {@linkcode LATENCY_EVERY} trades, and for every
   * {@linkcode LATENCY_EVERY}th (and the last) trade of bigger ones, which
   * only arrive when the consumer is behind. The clock read is the costliest
   * step (an FFI call), so sampling keeps the full path near the bare ring's
   * speed.
   */
  record(trade: TradeView, stream: number): void {
    const figures = this.#figures[stream];
    const seq = trade.seq;
    const last = figures.lastSeq;
    if (last !== undefined && seq !== (last + 1) % TWO_32) {
      countBreak(figures, last, seq);
    }
    figures.lastSeq = seq;
    figures.received++;
    const count = trade.count;
    const index = trade.index;
    const isLast = index === count - 1;
    if (isLast) figures.lastPrice = trade.price;
    if (count <= LATENCY_EVERY || index % LATENCY_EVERY === 0 || isLast) {
      const clock = readWallClock(this.#clock);
      this.#lastAtMs = clock.seconds * 1000 + clock.nanos / 1e6;
      if (this.#firstAtMs === 0) this.#firstAtMs = this.#lastAtMs;
      figures.latency.record(trade.recvAgeNanos(clock.seconds, clock.nanos));
    }
  }

  /**
   * Records a gap event of stream index `gap.stream`, delivered before the
   * trade that follows it, and counts it by cause. When it names its last
   * missing seq, the jump to past it is one discontinuity, counted here: the
   * trade after it continues from `gap.lastSeq` (a seq jump the gap does not
   * explain still counts there). A `producer restart` gap starts a new
   * sequence (the new run numbers from its own start, wherever a feed tells
   * it: the catch-up's seam has no `restarted` event); another gap of unknown
   * seqs (a reconnect) leaves the seq checks as they are.
   */
  gap(gap: TradeGap): void {
    const figures = this.#figures[gap.stream];
    figures.gapsBy[gap.cause] = (figures.gapsBy[gap.cause] ?? 0) + 1;
    const last = figures.lastSeq;
    const next = seqAfterGap(gap, last);
    if (
      gap.cause !== "producer restart" && last !== undefined &&
      next !== undefined && next !== last
    ) {
      countBreak(figures, last, (next + 1) % TWO_32);
    }
    figures.lastSeq = next;
  }

  /** Forgets a stream's last seq: the next trade starts a new sequence (producer restart). */
  restart(stream: number): void {
    this.#figures[stream].lastSeq = undefined;
  }

  /** Figures of stream index `stream`. */
  figures(stream: number): Readonly<StreamFigures> {
    return this.#figures[stream];
  }

  /** Trades seen over all streams. */
  get received(): number {
    let total = 0;
    for (const figures of this.#figures) total += figures.received;
    return total;
  }

  /** Wall-clock ms from the first to the last trade recorded (0 before two trades). */
  get activeMs(): number {
    return this.#lastAtMs - this.#firstAtMs;
  }

  /** Gaps over all streams. */
  get gaps(): number {
    let total = 0;
    for (const figures of this.#figures) total += figures.gaps;
    return total;
  }

  /** Gap events over all streams, by cause; causes with none are absent. */
  get gapsBy(): Partial<Record<GapCause, number>> {
    const total: Partial<Record<GapCause, number>> = {};
    for (const figures of this.#figures) {
      for (const [cause, count] of Object.entries(figures.gapsBy)) {
        const key = cause as GapCause;
        total[key] = (total[key] ?? 0) + count;
      }
    }
    return total;
  }

  /** Latency over all streams. */
  latency(): LatencySummary {
    const all = new LatencyHistogram();
    for (const figures of this.#figures) all.merge(figures.latency);
    return all.summary();
  }
}

/** Counts the discontinuity from seq `last` to `seq` (not `last + 1`). */
function countBreak(figures: StreamFigures, last: number, seq: number): void {
  figures.gaps++;
  const jump = (seq - last - 1 + TWO_32) % TWO_32;
  if (jump < TWO_32 / 2) figures.skipped += jump;
}
