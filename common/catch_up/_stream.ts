/**
 * One stream of a catch-up subscription, as the history's and the live
 * feed's streams map to it, what the subscription delivers to, and the
 * stream's loss reports.
 *
 * @module
 */

import type { TradeOrigin } from "../wire/codec.ts";
import type {
  FeedEvent,
  LossCause,
  OnTick,
  SubscribeOptions,
  TradeGap,
} from "../transport/feed.ts";
import { streamName } from "../transport/feed_events.ts";
import type { Seam } from "./_seam.ts";
import type { StoredTrade } from "./_stored_cut.ts";

/** What one subscription delivers to, shared by its streams. */
export interface Delivery {
  /** Receives the trades. */
  readonly onTick: OnTick;
  /** The subscription's options. */
  readonly options: SubscribeOptions;
  /** When it started (performance.now()). */
  readonly start: number;
  /** Trades it delivers at most (Infinity: no limit). */
  readonly limit: number;
  /** Ends both subscriptions. */
  readonly stop: () => void;
  /** Ends the history subscription alone. */
  readonly stopHistory: () => void;
  /** Aborted when the history subscription ends. */
  readonly historySignal: AbortSignal;
  /** Trades delivered. */
  delivered: number;
  /** Streams switched to live. */
  caughtUp: number;
  /** Counts a gap of `stream` (its index is set) and passes it on. */
  readonly lost: (stream: Stream, gap: TradeGap) => void;
  /** Since when the history has had nothing pending (undefined: it has). */
  historyIdleSince?: number;
}

/** One stream of the subscription, as the two feeds' streams map to it. */
export interface Stream {
  /** Its index in the subscription. */
  readonly index: number;
  /** Its exchange and symbol. */
  readonly origin: TradeOrigin;
  /** Where its delivery passes from the history to the live feed. */
  readonly seam: Seam;
  /** Trades delivered. */
  received: number;
  /** Trades lost (the gaps passed on), in all and by cause. */
  lost: number;
  /** {@linkcode Stream.lost} by cause. */
  lostBy: Partial<Record<LossCause, number>>;
  /** `lost` as last reported in a "lost" event. */
  reportedLost: number;
  /** `lostBy` as last reported in a "lost" event. */
  reportedLostBy: Partial<Record<LossCause, number>>;
  /** When the history was last seen to have brought a trade of it (performance.now(), at a settle tick). */
  historyAt: number;
  /** `seam.replayed` at the last settle tick. */
  replayedSeen: number;
  /** When the live feed last reported its reader behind (performance.now()). */
  behindAt: number;
  /**
   * Since when (performance.now(), at a settle tick) its switch has been
   * held by trades of the live run older than the history's last of another
   * run (`Seam.waitsForRing`); undefined: it is not.
   */
  olderSince?: number;
  /** Whether the live feed told its ring's producer dead or closed (since its last ring attached). */
  producerGone?: boolean;
  /**
   * Its latest stored trade, read once for a durable start (null: none
   * stored; undefined: not read yet).
   */
  cut?: StoredTrade | null;
  /** History trades stored late given up on since their last report (`Seam`'s `late`). */
  late?: number;
  /** Its index in the history (-1: not announced there). */
  historyIndex: number;
  /** Its index in the live feed (-1: not announced there). */
  liveIndex: number;
}

/**
 * A "lost" event from the trades `stream` lost since its last report, by
 * its own counters (what it passed on as gaps), or undefined when none.
 */
export function lossReport(stream: Stream): FeedEvent | undefined {
  const lost = stream.lost - stream.reportedLost;
  if (lost <= 0) return undefined;
  stream.reportedLost = stream.lost;
  const lostBy: Partial<Record<LossCause, number>> = {};
  for (const [cause, count] of Object.entries(stream.lostBy)) {
    const key = cause as LossCause;
    const more = (count ?? 0) - (stream.reportedLostBy[key] ?? 0);
    if (more > 0) lostBy[key] = more;
  }
  stream.reportedLostBy = { ...stream.lostBy };
  const { exchange, symbol } = stream.origin;
  return {
    kind: "lost",
    exchange,
    symbol,
    stream: stream.index,
    message: `${
      streamName(stream.origin)
    }: ${lost} trades lost (${stream.lost} in total since the catch-up started)`,
    lostBy,
  };
}

/**
 * A "lost" event: `count` held live trades of the old run `epoch` of
 * `stream` given up on before the switch: a fifth producer restart, or
 * (`unsure`) a durable start that cannot tell which of them were stored.
 */
export function evictionReport(
  stream: Stream,
  run: { epoch: number; count: number; unsure?: boolean },
): FeedEvent {
  const { exchange, symbol } = stream.origin;
  const why = run.unsure
    ? "a durable start: JetStream stored trades of that run, acknowledged in an earlier run, and cannot tell which of these it did not; use a time start, --catch-up SINCE, to get them): lost if JetStream never stored them"
    : "more than 4 producer restarts while catching up, and the history did not bring them): lost";
  return {
    kind: "lost",
    exchange,
    symbol,
    stream: stream.index,
    message: `${
      streamName(stream.origin)
    }: ${run.count} held live trades of run ${run.epoch} given up on (${why}`,
    lostBy: { "given up": run.count },
  };
}

/**
 * A "lost" event: `count` history trades of `stream` given up on, stored
 * after later ones of their run (`SeamOutput.late`).
 */
export function lateReport(stream: Stream, count: number): FeedEvent {
  const { exchange, symbol } = stream.origin;
  return {
    kind: "lost",
    exchange,
    symbol,
    stream: stream.index,
    message: `${
      streamName(stream.origin)
    }: ${count} history trades given up on (JetStream stored them after later trades of their run: a publish retried after a later one of the symbol went through; delivering them would break the order): lost`,
    lostBy: { "given up": count },
  };
}
