/**
 * The NATS publisher's own metric families (its connection, in-flight and
 * queued trades, retries, rejections, duplicates, ack latency), which it
 * reports through `TradePublisher.metrics`.
 *
 * @module
 */

import type { Labels, MetricFamily } from "../metrics/exposition.ts";
import type { LatencyHistogram } from "../metrics/latency_histogram.ts";
import { counter, gauge, latencyFamily } from "../metrics/registry.ts";
import type { NatsConnectionCounters } from "./connection.ts";
import { natsConnectionFamilies } from "./connection_metrics.ts";

/** What {@linkcode natsPublisherFamilies} reads of a NATS publisher. */
export interface NatsPublisherReadings {
  /** The connection's state and reconnect counts. */
  readonly connection: Readonly<NatsConnectionCounters>;
  /** Publish → ack latencies, ns. */
  readonly ackLatency: LatencyHistogram;
  /** The counters the families show. */
  stats(): {
    inFlight: number;
    retries: number;
    tradesRejected: number;
    duplicates: number;
    alreadyStored: number;
  };
  /** Trades queued (not yet published), per symbol index. */
  queuedPerSymbol(): number[];
}

/**
 * The publisher's families, after the ones every transport has; `symbols`
 * holds the labels of each symbol index.
 */
export function natsPublisherFamilies(
  publisher: NatsPublisherReadings,
  symbols: readonly Labels[],
): MetricFamily[] {
  const stats = publisher.stats();
  const queued = publisher.queuedPerSymbol();
  return [
    ...natsConnectionFamilies(publisher.connection),
    gauge({
      name: "marketbus_nats_publish_in_flight_messages",
      help: "Messages published to JetStream and awaiting their ack.",
    }, stats.inFlight),
    gauge({
      name: "marketbus_nats_queued_trades",
      help:
        "Trades queued for NATS, not yet published (grows during an outage).",
    }, symbols.map((labels, index) => ({ labels, value: queued[index] ?? 0 }))),
    counter({
      name: "marketbus_nats_publish_retries_total",
      help:
        "Messages published again after a failed or unacknowledged attempt.",
    }, stats.retries),
    counter({
      name: "marketbus_nats_rejected_trades_total",
      help: "Trades in messages JetStream rejected for good: lost.",
    }, stats.tradesRejected),
    counter({
      name: "marketbus_nats_duplicate_acks_total",
      help:
        "Acks saying the message was already stored (a retry after a lost ack; deduplicated).",
    }, stats.duplicates),
    counter({
      name: "marketbus_nats_already_stored_trades_total",
      help:
        "Trades the stream held already on their message's first attempt (an earlier run of the same data within the duplicate window): not stored twice.",
    }, stats.alreadyStored),
    latencyFamily({
      name: "marketbus_nats_publish_ack_latency_seconds",
      help: "Time from publishing a message to its JetStream ack, seconds.",
    }, [{ histogram: publisher.ackLatency }]),
  ];
}
