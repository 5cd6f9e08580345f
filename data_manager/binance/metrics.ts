/**
 * The Binance source's own metric family: its reconnects by why the
 * connection ended, which it reports through `TradeSource.metrics`.
 *
 * @module
 */

import { counter, type MetricFamily } from "../../common/metrics/mod.ts";
import type { BinanceStreamStats } from "./stream_client.ts";

/**
 * `marketbus_source_reconnects_total` by cause, labelled with the source's
 * `kind`; all 0 before the stream runs (`stats` undefined).
 */
export function binanceSourceFamilies(
  kind: string,
  stats: BinanceStreamStats | undefined,
): MetricFamily[] {
  const byCause = stats?.reconnectsByCause ??
    { dropped: 0, silent: 0, stalled: 0 };
  return [counter(
    {
      name: "marketbus_source_reconnects_total",
      help:
        "Connections of a live source opened again: dropped by the peer, silent for the silence timeout, or a steadily trading symbol stalled.",
    },
    Object.entries(byCause).map(([cause, value]) => ({
      labels: { source: kind, cause },
      value,
    })),
  )];
}
