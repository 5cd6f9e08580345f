/**
 * The ring feed's own metric family (how far each reader is behind its
 * ring) and its causes of loss, which it reports through
 * `TradeFeed.metrics` and `TradeFeed.lossCauses`.
 *
 * @module
 */

import type { Labels, MetricFamily } from "../metrics/exposition.ts";
import { gauge } from "../metrics/registry.ts";
import type { LossCause, StreamStats } from "../transport/feed.ts";

/** The causes of loss a ring reader counts, in the order of their samples. */
export const RING_FEED_LOSS_CAUSES: readonly LossCause[] = [
  "overwritten",
  "corrupt slot",
];

/**
 * `marketbus_ring_lag_trades`: the lag of row `index` of `rows`, labelled
 * `streams[index]`, for each stream.
 */
export function ringFeedFamilies(
  rows: readonly StreamStats[],
  streams: readonly Labels[],
): MetricFamily[] {
  return [gauge(
    {
      name: "marketbus_ring_lag_trades",
      help:
        "Trades published to the ring and not yet read: a reader a whole ring behind loses trades.",
    },
    streams.map((labels, index) => ({ labels, value: rows[index]?.lag ?? 0 })),
  )];
}
