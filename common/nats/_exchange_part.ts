/**
 * One part of an `ExchangeStreamsFeed` (`exchange_feed.ts`): the
 * {@linkcode NatsFeed} of one exchange stream, its stream indexes mapped to
 * the merged ones, and the readings of all parts summed for `/metrics`.
 *
 * @module
 */

import type {
  FeedEvent,
  OnTick,
  SubscribeOptions,
  TradeGap,
} from "../transport/feed.ts";
import type { NatsConnectionCounters } from "./connection.ts";
import type { NatsFeed } from "./feed.ts";
import type { NatsFeedReadings } from "./feed_metrics.ts";

/** One exchange stream's feed, running. */
export class Part {
  /** The stream it reads. */
  readonly stream: string;
  /** Its feed. */
  readonly feed: NatsFeed;
  /** Settles when its subscription ends; rejects with its failure. */
  done: Promise<void> = Promise.resolve();
  /** Whether its subscription failed. */
  failed = false;
  /** Merged index of each of its stream indexes. */
  #merged: number[] = [];

  /** A part of `feed`, reading `stream`. */
  constructor(stream: string, feed: NatsFeed) {
    this.stream = stream;
    this.feed = feed;
  }

  /** Stream indexes of this part announced so far. */
  get count(): number {
    return this.#merged.length;
  }

  /**
   * Subscribes its feed with `options`, its indexes mapped through
   * `announce` (its next stream index → the merged one). Its failure stops
   * every part (`stop`).
   */
  run(
    symbols: readonly string[],
    onTick: OnTick,
    how: {
      options: SubscribeOptions;
      stop: AbortController;
      announce: (local: number) => number;
    },
  ): void {
    const { options, stop } = how;
    const merged = this.#merged;
    const index = (local: number) => local < 0 ? local : merged[local] ?? local;
    this.done = this.feed.subscribeTrades(
      symbols,
      (trade, origin, local) => onTick(trade, origin, merged[local]),
      {
        signal: stop.signal,
        limit: options.limit,
        onStream: (origin, local) => {
          merged[local] = how.announce(local);
          options.onStream?.(origin, merged[local]);
        },
        onGap: options.onGap &&
          ((gap: TradeGap) =>
            options.onGap!({ ...gap, stream: index(gap.stream) })),
        onEvent: options.onEvent &&
          ((event: FeedEvent) =>
            options.onEvent!({ ...event, stream: index(event.stream) })),
        onEpoch: options.onEpoch &&
          ((local, epoch) => options.onEpoch!(merged[local], epoch)),
        skip: options.skip &&
          ((trade, local, place) => options.skip!(trade, merged[local], place)),
      },
    ).catch((error) => {
      this.failed = true;
      stop.abort();
      throw error;
    });
    // Handled at once: a failure while parts are still being started is
    // awaited later (`subscribeTrades`), never an unhandled rejection.
    this.done.catch(() => {});
  }
}

/** The readings of `feeds` summed, for the NATS consumer families. */
export function mergedReadings(feeds: readonly NatsFeed[]): NatsFeedReadings {
  const connection: NatsConnectionCounters = {
    connected: feeds.length > 0 && feeds.every((f) => f.connection.connected),
    disconnects: 0,
    reconnects: 0,
  };
  let consumerRecreated = 0;
  let pending = 0;
  let ackPending = 0;
  for (const feed of feeds) {
    connection.disconnects += feed.connection.disconnects;
    connection.reconnects += feed.connection.reconnects;
    consumerRecreated += feed.consumerRecreated;
    const backlog = feed.backlog();
    pending += backlog.pending;
    ackPending += backlog.ackPending;
  }
  return {
    connection,
    consumerRecreated,
    backlog: () => ({ pending, ackPending }),
  };
}
