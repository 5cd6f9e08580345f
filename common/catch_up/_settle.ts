/**
 * The settle tick of a catch-up subscription: the streams still catching up
 * whose history is known complete (the history has had nothing pending for
 * `settleMs` and brought nothing of the stream for as long) are switched
 * (`Seam.historyComplete`); for a durable start, past their latest stored
 * trade, read once.
 *
 * @module
 */

import type { TradeFeed } from "../transport/feed.ts";
import type { Delivery, Stream } from "./_stream.ts";
import type { StoredCutReader } from "./_stored_cut.ts";

/** What a settle tick reads, fixed for a subscription. */
export interface SettleContext {
  /** The subscription's streams. */
  readonly streams: readonly Stream[];
  /** The history feed (its status: idle, acknowledged). */
  readonly history: TradeFeed;
  /** A durable start's reader of the latest stored trades (undefined: a time start). */
  readonly stored: StoredCutReader | undefined;
  /** How long, ms, the history must have had nothing of a stream. */
  readonly settleMs: number;
  /** How long, ms, held trades older than the history's last of another run hold a switch. */
  readonly runSettleMs: number;
}

/** One settle tick of `run`; see the module documentation. */
export function settle(run: Delivery, context: SettleContext): void {
  const { streams, stored, settleMs } = context;
  const now = performance.now();
  // When the history last brought a stream trades, as of this tick (no
  // clock read per history trade).
  for (const stream of streams) {
    if (stream.seam.replayed === stream.replayedSeen) continue;
    stream.replayedSeen = stream.seam.replayed;
    stream.historyAt = now;
  }
  const history = context.history.status();
  if (!(history.connected && history.idle)) {
    run.historyIdleSince = undefined;
    return;
  }
  run.historyIdleSince ??= now;
  if (now - run.historyIdleSince < settleMs) return;
  const settled = streams.filter((stream) =>
    !stream.seam.live && now - stream.historyAt >= settleMs
  );
  // A durable start: the streams the history brought nothing of switch
  // past their latest stored trade, read once, when the consumer has
  // acknowledged it (not yet: it may still be on its way in the history).
  // Only they wait for the read (pending or failing), not the others.
  const isUnread = (stream: Stream) =>
    stored !== undefined && stream.seam.replayed === 0 &&
    stream.cut === undefined;
  const unread = settled.filter(isUnread);
  if (unread.length > 0) {
    stored!.read(unread.map((stream) => stream.origin), {
      signal: run.historySignal,
      done: (cuts) => unread.forEach((stream, i) => stream.cut = cuts[i]),
      failed: (message) =>
        run.options.onEvent?.({
          kind: "waiting",
          exchange: "*",
          symbol: "*",
          stream: -1,
          message,
        }),
    });
  }
  const floor = history.acknowledged ?? Infinity;
  for (const stream of settled) {
    if (isUnread(stream)) continue;
    const cut = stream.seam.replayed === 0 ? stream.cut : null;
    if (cut != null && cut.streamSeq > floor) continue;
    const { seam } = stream;
    seam.historyComplete({
      stored: cut,
      // A replaced ring is attached well within it: a run still read
      // after it is the ring's own (its clock behind the history's run),
      // unless its producer is gone (a stale ring: not a newer run).
      runSettled: seam.waitsForRing && stream.olderSince !== undefined &&
        now - stream.olderSince >= context.runSettleMs &&
        !stream.producerGone,
    });
    stream.olderSince = seam.waitsForRing
      ? stream.olderSince ?? now
      : undefined;
  }
}
