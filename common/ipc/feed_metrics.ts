/**
 * The ring feed's own metric families (how far each reader is behind its
 * ring, how big that ring is, how often a producer evicted its tethered reader) and its causes of
 * loss, which it reports through `TradeFeed.metrics` and
 * `TradeFeed.lossCauses`.
 *
 * @module
 */

import type { Labels, MetricFamily } from "../metrics/exposition.ts";
import { counter, gauge } from "../metrics/registry.ts";
import type { LossCause, StreamStats } from "../transport/feed.ts";

/** The causes of loss a ring reader counts, in the order of their samples. */
export const RING_FEED_LOSS_CAUSES: readonly LossCause[] = [
  "overwritten",
  "evicted",
  "corrupt slot",
];

/**
 * `marketbus_ring_lag_trades`, `marketbus_ring_capacity_trades` and
 * `marketbus_ring_evictions_total`: the lag, ring size and evictions of row
 * `index` of `rows`, labelled `streams[index]`, for each stream (the
 * capacity only for streams whose ring is attached).
 */
export function ringFeedFamilies(
  rows: readonly StreamStats[],
  streams: readonly Labels[],
): MetricFamily[] {
  return [
    gauge(
      {
        name: "marketbus_ring_lag_trades",
        help:
          "Trades published to the ring and not yet read: a reader a whole ring behind loses trades.",
      },
      streams.map((labels, index) => ({
        labels,
        value: rows[index]?.lag ?? 0,
      })),
    ),
    gauge(
      {
        name: "marketbus_ring_capacity_trades",
        help:
          "Slots of the ring read (its producer's transport.ipc.capacity): a reader this many trades behind loses trades.",
      },
      streams.flatMap((labels, index) => {
        const capacity = rows[index]?.capacity;
        return capacity === undefined ? [] : [{ labels, value: capacity }];
      }),
    ),
    counter(
      {
        name: "marketbus_ring_evictions_total",
        help:
          "Times the producer evicted this tethered reader (it held the ring past its tether timeout, looked dead, or filled the producer's backlog); it re-tethers.",
      },
      streams.map((labels, index) => ({
        labels,
        value: rows[index]?.evictions ?? 0,
      })),
    ),
  ];
}
