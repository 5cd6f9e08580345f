/**
 * The history of a ring durable's restart: a JetStream replay from a time
 * just before the earliest stored position, each stream's trades up to its
 * position left out (delivered before the restart), and what the history
 * no longer holds past it told. The first trade past the position ends the
 * filtering of its stream:
 *
 * - of the position's run, `seq` at or before the position's is left out;
 *   the first past it follows with no gap when it is the next `seq`, else
 *   behind an exact `stream limit or deleted` gap (JetStream discarded
 *   them by its limits while the consumer was down);
 * - of another run once the position's run was seen (JetStream keeps the
 *   order it stored them in): a later run, delivered whole behind a
 *   `producer restart` gap (the position's run's tail is not in the
 *   history), whatever its clock says;
 * - of another run before the position's run was seen: a run before it
 *   (left out) when received at or before the position, else a later run
 *   (the position's run purged or never stored past it): a restart gap.
 *   Only here do clocks compare (a later run whose clock is behind the
 *   position's, with the position's run purged, is taken for an older one):
 *   the trades so left out are counted, and when the first trade past the
 *   position comes with the position's run still unseen (so they may have
 *   been of a later run), they are given up on (a `given up` gap, counted
 *   lost, and a warning says why) before its restart gap. Once the
 *   position's run shows up, they were of an earlier run: not counted.
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
  TradeGap,
} from "../transport/feed.ts";
import type { TradeView } from "../wire/trade_view.ts";
import { NO_EPOCH } from "../wire/run_epoch.ts";
import { streamName } from "../transport/feed_events.ts";
import type { Position } from "./durable_position.ts";

/** A gap the filter tells before a trade (its stream's fields added). */
type FilterGap = Pick<TradeGap, "cause" | "firstSeq" | "lastSeq" | "count">;

/** A later run: how many of the position's run are missing is unknown. */
const RESTART: FilterGap = {
  cause: "producer restart",
  firstSeq: null,
  lastSeq: null,
  count: null,
};

/**
 * Where history `trade`, of run `run`, stands against `position` (`seen`:
 * the history brought the position's run already): null when it was
 * delivered before the restart, else the gap before it (undefined: none).
 * See the module documentation.
 */
function passed(
  position: Position,
  run: number,
  seen: boolean,
  trade: TradeView,
): FilterGap | null | undefined {
  if (run === position.epoch) {
    const ahead = (trade.seq - position.seq) | 0;
    if (ahead <= 0) return null;
    if (ahead === 1) return undefined;
    const first = (position.seq + 1) >>> 0;
    return {
      cause: "stream limit or deleted",
      firstSeq: first,
      lastSeq: (trade.seq - 1) >>> 0,
      count: ahead - 1,
    };
  }
  if (!seen && trade.tsRecv <= position.tsRecv) return null; // an older run
  return RESTART;
}

/** A history feed leaving out what a durable delivered before its restart. */
export class PositionFilter implements TradeFeed {
  readonly #feed: TradeFeed;
  readonly #position: (origin: TradeOrigin) => Position | undefined;
  readonly #warn: (message: string) => void;

  /**
   * Filters `feed` by the position `position` gives of each stream (none:
   * nothing left out); `options.warn` tells the trades given up on.
   */
  constructor(
    feed: TradeFeed,
    position: (origin: TradeOrigin) => Position | undefined,
    options: { warn?: (message: string) => void } = {},
  ) {
    this.#feed = feed;
    this.#position = position;
    this.#warn = options.warn ?? (() => {});
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
    /** Whether the history brought a trade of the position's run. */
    const seen: boolean[] = [];
    /** Trades of other runs left out by `ts_recv` while that run was unseen. */
    const byClock: number[] = [];
    return this.#feed.subscribeTrades(
      symbols,
      (trade, origin, stream, epoch) => {
        const position = positions[stream];
        if (position !== undefined) {
          const run = epochs[stream] ?? NO_EPOCH;
          if (run === position.epoch) seen[stream] = true;
          const gap = passed(position, run, seen[stream] === true, trade);
          if (gap === null) {
            // Delivered before the restart; by its clock only: counted.
            if (run !== position.epoch && !seen[stream]) {
              byClock[stream] = (byClock[stream] ?? 0) + 1;
            }
            return;
          }
          positions[stream] = undefined; // past it: nothing more to leave out
          const unsure = seen[stream] ? 0 : byClock[stream] ?? 0;
          if (unsure > 0) {
            this.#warn(
              `${
                streamName(origin)
              }: ${unsure} history trades of another run than the durable's position (run ${position.epoch}, absent from the history: purged?) were left out as received at or before it, but a later run whose clock is behind cannot be told apart: given up on (lost if they were of a later run)`,
            );
            options.onGap?.({
              cause: "given up",
              firstSeq: null,
              lastSeq: null,
              count: unsure,
              ...origin,
              stream,
            });
          }
          if (gap !== undefined) {
            options.onGap?.({ ...gap, ...origin, stream });
          }
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
