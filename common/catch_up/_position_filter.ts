/**
 * The history of a ring durable's restart: a JetStream replay from a time
 * just before the earliest stored position, each stream's trades up to its
 * position left out (delivered before the restart). A trade of the
 * position's run is left out when its `seq` is at or before the position's;
 * a trade of another run when it was received at or before it (a run that
 * ended before). The first trade past the position ends the filtering of
 * its stream.
 *
 * @module
 */

import type { Labels, MetricFamily } from "../metrics/exposition.ts";
import type { TradeOrigin } from "../wire/codec.ts";
import type {
  FeedStatus,
  LossCause,
  OnTick,
  StreamStats,
  SubscribeOptions,
  TradeFeed,
} from "../transport/feed.ts";
import type { Position } from "./durable_position.ts";

/** A history feed leaving out what a durable delivered before its restart. */
export class PositionFilter implements TradeFeed {
  readonly #feed: TradeFeed;
  readonly #position: (origin: TradeOrigin) => Position | undefined;
  /** History trades left out, delivered before the restart. */
  skipped = 0;

  /** Filters `feed` by the position `position` gives of each stream (none: nothing left out). */
  constructor(
    feed: TradeFeed,
    position: (origin: TradeOrigin) => Position | undefined,
  ) {
    this.#feed = feed;
    this.#position = position;
  }

  /** The filtered feed's name. */
  get name(): string {
    return this.#feed.name;
  }

  /** The filtered feed's causes of loss. */
  get lossCauses(): readonly LossCause[] {
    return this.#feed.lossCauses;
  }

  /** Subscribes the filtered feed, leaving out each stream's trades up to its position. */
  subscribeTrades(
    symbols: readonly string[],
    onTick: OnTick,
    options: SubscribeOptions = {},
  ): Promise<void> {
    const positions: (Position | undefined)[] = [];
    const epochs: number[] = [];
    return this.#feed.subscribeTrades(
      symbols,
      (trade, origin, stream, epoch) => {
        const position = positions[stream];
        if (position !== undefined) {
          const before = epochs[stream] === position.epoch
            ? ((trade.seq - position.seq) | 0) <= 0
            : trade.tsRecv <= position.tsRecv;
          if (before) {
            this.skipped++;
            return;
          }
          positions[stream] = undefined; // past it: nothing more to leave out
        }
        onTick(trade, origin, stream, epoch);
      },
      {
        ...options,
        onStream: (origin, index) => {
          positions[index] = this.#position(origin);
          options.onStream?.(origin, index);
        },
        onEpoch: (index, epoch) => {
          epochs[index] = epoch;
          options.onEpoch?.(index, epoch);
        },
      },
    );
  }

  /** The filtered feed's counters. */
  stats(): StreamStats[] {
    return this.#feed.stats();
  }

  /** The filtered feed's status. */
  status(): FeedStatus {
    return this.#feed.status();
  }

  /** The filtered feed's metric families. */
  metrics(streams: readonly Labels[]): MetricFamily[] {
    return this.#feed.metrics(streams);
  }
}
