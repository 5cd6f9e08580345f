/**
 * The feed of a backtest: the merged batches into the processing, in order
 * (per record the gap lines before it, the gaps its flags announce, then the
 * trade), counting trades and gaps per stream.
 *
 * @module
 */

import type { GapCause } from "../../common/transport/feed.ts";
import type {
  MergedGap,
  TradeFileMerger,
} from "../../common/trade_file/mod.ts";
import { TradeView } from "../../common/wire/trade_view.ts";
import {
  flaggedGaps,
  GAP_FLAGS,
  seqAfterGap,
  type TradeProcessing,
} from "../processing.ts";

/** Longest time the feed runs without letting timers and signals in, ms (plus one trade's handling). */
const YIELD_EVERY_MS = 50;
/** Trades between two looks at the clock (a look costs ~50 ns). */
const CHECK_EVERY = 64;
/**
 * The merged batches into the processing, in order: per record, the gap
 * lines before it, the gaps its flags announce, then the trade. Counts
 * trades and gaps per stream; `from` and `to` leave clock outliers out.
 */
export class Feed {
  readonly #merger: TradeFileMerger;
  readonly #processing: TradeProcessing;
  readonly #view = new TradeView();
  /** Trades per stream index. */
  readonly counts: number[] = [];
  /** Gaps per stream index. */
  readonly gapCounts: number[] = [];
  /** Each stream's last seq (undefined: unknown), for the gaps a trade's flags announce. */
  readonly #lastSeq: (number | undefined)[] = [];
  /** Trades processed. */
  trades = 0;
  /** Trade time of the first trade, ms. */
  from: number | null = null;
  /** Latest trade time (clock outliers left out), ms. */
  to: number | null = null;

  /** A feed of `merger`'s batches into `processing`. */
  constructor(merger: TradeFileMerger, processing: TradeProcessing) {
    this.#merger = merger;
    this.#processing = processing;
  }

  /** Reads every batch until the end, `signal` aborts or `failed()` says so. */
  async run(signal: AbortSignal, failed: () => boolean): Promise<void> {
    const streams = this.#merger.streams;
    const processing = this.#processing;
    const view = this.#view;
    const counts = this.counts;
    const lastSeq = this.#lastSeq;
    let yieldAt = performance.now() + YIELD_EVERY_MS;
    for await (const batch of this.#merger) {
      const count = batch.streams.length;
      if (count > 0) view.wrap(batch.records);
      const gaps = batch.gaps;
      let g = 0;
      for (let i = 0; i < count; i++) {
        while (g < gaps.length && gaps[g].before === i) this.#gap(gaps[g++]);
        const stream = batch.streams[i];
        if (stream >= counts.length) this.#addStreams();
        const trade = view.select(i);
        const origin = streams[stream];
        if ((trade.flags & GAP_FLAGS) !== 0) {
          const at = { origin, stream, lastSeq: lastSeq[stream] };
          for (const gap of flaggedGaps(trade, at)) {
            this.#deliver(gap.stream, gap);
          }
        }
        lastSeq[stream] = trade.seq;
        counts[stream]++;
        if (processing.trade(trade, origin, stream)) {
          const ms = trade.tsEventMs;
          this.from ??= ms;
          if (this.to === null || ms > this.to) this.to = ms;
        }
        if (failed()) {
          this.trades += i + 1;
          return;
        }
        // Reads the page cache serves settle as microtasks, and a slow
        // strategy may take long over one batch: without a turn of the
        // event loop every YIELD_EVERY_MS, within a batch too, neither a
        // signal nor the progress timer would run. The batch stays valid
        // until the next one is asked for.
        if ((i & (CHECK_EVERY - 1)) === CHECK_EVERY - 1 || i === count - 1) {
          if (performance.now() >= yieldAt) {
            await new Promise((resolve) => setTimeout(resolve, 0));
            yieldAt = performance.now() + YIELD_EVERY_MS;
            if (signal.aborted) {
              this.trades += i + 1;
              return;
            }
          }
        }
      }
      while (g < gaps.length) this.#gap(gaps[g++]);
      this.trades += count;
      if (signal.aborted || failed()) return;
    }
  }

  /** Tells the processing of the streams the merger met since the last call, in index order. */
  #addStreams(): void {
    const streams = this.#merger.streams;
    for (let s = this.counts.length; s < streams.length; s++) {
      const index = this.#processing.addStream(streams[s]);
      if (index !== s) {
        throw new Error(`stream ${s} became bar stream ${index}: out of step`);
      }
      this.counts.push(0);
      this.gapCounts.push(0);
      this.#lastSeq.push(undefined);
    }
  }

  #gap(merged: MergedGap): void {
    if (merged.stream >= this.counts.length) this.#addStreams();
    const { gap, stream } = merged;
    this.#deliver(stream, {
      ...gap,
      stream,
      cause: gap.cause as GapCause, // kept as recorded
    });
  }

  #deliver(stream: number, gap: Parameters<TradeProcessing["gap"]>[1]): void {
    this.gapCounts[stream]++;
    this.#lastSeq[stream] = seqAfterGap(gap, this.#lastSeq[stream]);
    this.#processing.gap(stream, gap);
  }
}
