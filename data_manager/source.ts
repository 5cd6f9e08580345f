/**
 * What every trade source of data_manager (synthetic, Binance, replay, and
 * the ones users add) offers the publishing pipeline, and what the pipeline
 * offers it. Sources never see the transports.
 *
 * @module
 */

import type { MetricFamily } from "../common/metrics/mod.ts";

/** The publishing pipeline, as a source sees it. */
export interface TradeSink {
  /**
   * Publishes one complete 48-byte record (everything but `seq`, which the
   * sink stamps) of symbol index `symbol`, found at byte 0 of `record`.
   */
  publish(symbol: number, record: Uint8Array): void;
  /**
   * The source handed over what it has for now. Transports may defer part
   * of each publish (the ring's commit, which wakes sleeping consumers)
   * until the source's synchronous code ends: a source that blocks the
   * thread between trades (a paced generator sleeping until the next due
   * time) calls it before it blocks; one that awaits needs not. Optional:
   * `sink.flush?.()`.
   */
  flush?(): Promise<void> | undefined;
  /**
   * Resolves when the transports can take more without dropping, or returns
   * undefined when they can now. A source that can wait (a file, a
   * generator) awaits it every few dozen trades; a live stream cannot wait
   * and ignores it.
   */
  room(): Promise<void> | undefined;
  /**
   * Says that `count` (≥ 1) trades of symbol index `symbol` are missing
   * before its next {@linkcode publish}, for a reason the source knows (a
   * gap line of a replayed recording): the sink skips `count` seqs, so the
   * next record's `seq` skips exactly them, and sets `TradeFlags.Gap` on it.
   * A source that does not know how many are missing calls nothing and sets
   * `TradeFlags.Reconnect` on the next record itself.
   */
  gap(symbol: number, count: number): void;
}

/** A trade source. */
export interface TradeSource {
  /** `"synthetic"`, `"binance"`, `"replay"`, … */
  readonly kind: string;
  /** Symbols, in the index order used with {@linkcode TradeSink.publish}. */
  readonly symbols: readonly string[];
  /** Delivers trades to `sink` until the source is exhausted or `signal` aborts. */
  run(sink: TradeSink, options: { signal: AbortSignal }): Promise<void>;
  /** A short progress fragment (rates, state, counters of its own). */
  summary(): string;
  /**
   * True while the source publishes nothing by design (a replay waiting for
   * its next trade's original time, or finished), so `/healthz` does not
   * call the silence a failure. Sources that should always flow omit it.
   */
  idle?(): boolean;
  /**
   * The source's own metric families (a live stream's reconnects), after the
   * transports' ones. Sources with none omit it.
   */
  metrics?(): MetricFamily[];
}

/** Exit status of a source that cannot start because of its config (flags, keys). */
export const EXIT_USAGE = 2;
/** Exit status of a source that cannot start at run time (a file, a permission). */
export const EXIT_RUNTIME = 1;

/** A source that cannot start: the one-line reason and the exit status. */
export class SourceProblem {
  /** `message` is the one line to log, `status` the exit status. */
  constructor(readonly message: string, readonly status: number) {}
}
