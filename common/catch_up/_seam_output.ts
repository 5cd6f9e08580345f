/**
 * What a seam (`_seam.ts`) is given and delivers to: its options, those of
 * `Seam.historyComplete`, its output and the gaps it finds itself.
 *
 * @module
 */

import type { TradeView } from "../wire/trade_view.ts";
import type { TradeGap } from "../transport/feed.ts";
import type { StoredCut } from "./_kept_runs.ts";

/** A gap the seam finds itself (its stream's fields are the feed's to add). */
export type SeamGap = Pick<
  TradeGap,
  "cause" | "firstSeq" | "lastSeq" | "count"
>;

/** Options of `Seam`. */
export interface SeamOptions {
  /**
   * The history's start, `ts_recv` ns: a stream switched with no history
   * trade delivered leaves out the held trades received before it.
   *
   * @default {undefined} (a durable consumer's start: every held trade)
   */
  since?: bigint;
  /**
   * The stored cut is the last trade an earlier process delivered (a ring
   * durable): a first trade of another run is told a `producer restart` gap
   * before it, as a run change mid-stream.
   *
   * @default {false}
   */
  continuing?: boolean;
}

/** Options of `Seam.historyComplete`. */
export interface HistoryCompleteOptions {
  /**
   * A durable start: the stream's latest stored trade (acknowledged in an
   * earlier run once the consumer's ack floor passed it); null: none
   * stored (every held trade, of any run, was never stored).
   *
   * @default {undefined} (not read: the kept runs' held trades cannot be told)
   */
  stored?: StoredCut | null;
  /**
   * The live feed has read its run for long enough that a replaced ring
   * would have been attached: held trades older (`ts_recv`) than the
   * history's last trade of another run no longer hold the switch (a clock
   * stepped back between the runs), which then goes on as for a newer run.
   *
   * @default {false}
   */
  runSettled?: boolean;
}

/** What a seam delivers to, and tells about the switch. */
export interface SeamOutput {
  /** Delivers one trade of the stream, of run `epoch`. */
  tick(trade: TradeView, epoch: number): void;
  /** Tells trades missing just before the next trade `tick` gets. */
  gap(gap: SeamGap): void;
  /**
   * Whether the live feed may be switched to now: not while its reader is
   * far behind its writer (lapped after the switch, it would lose trades
   * the history still had).
   */
  mayGoLive(): boolean;
  /**
   * Tells the switch to the live run `epoch`: `replayed` history trades
   * came before it, `lastSeq` the last (or null), of run `lastEpoch`.
   */
  caughtUp(
    replayed: number,
    lastSeq: number | null,
    epoch: number,
    lastEpoch: number | null,
  ): void;
  /**
   * Tells the `count` held trades of a kept run, `epoch`, given up on: it
   * was dropped (more than 4 old runs before the switch) and the history
   * did not bring them (told when the history leaves that run, or at the
   * switch).
   */
  evicted?(epoch: number, count: number): void;
  /**
   * Tells a history trade, `seq`, given up on: of the history's current run,
   * in a range the history skipped (no gap told), stored after later ones
   * (a publish retried after a later message of its symbol went through):
   * delivering it would break the order.
   */
  late?(seq: number): void;
  /**
   * Tells the `count` held trades of the kept old run `epoch` given up on at
   * a durable start: the run had trades stored and acknowledged in an
   * earlier run, and no stored trade tells which of these were not.
   */
  unsure?(epoch: number, count: number): void;
}
