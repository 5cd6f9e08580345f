/**
 * The NATS feed's own metric families (its connection and the consumer's
 * backlog and re-creations) and its cause of loss, which it reports through
 * `TradeFeed.metrics` and `TradeFeed.lossCauses`.
 *
 * @module
 */

import type { MetricFamily } from "../metrics/exposition.ts";
import { counter, gauge } from "../metrics/registry.ts";
import type { LossCause } from "../transport/feed.ts";
import type { NatsConnectionCounters } from "./connection.ts";
import { natsConnectionFamilies } from "./connection_metrics.ts";

/** The one cause of loss a NATS feed counts: trades the stream no longer held. */
export const NATS_FEED_LOSS_CAUSES: readonly LossCause[] = [
  "stream limit or deleted",
];

/** What {@linkcode natsFeedFamilies} reads of a NATS feed. */
export interface NatsFeedReadings {
  /** The connection's state and reconnect counts. */
  readonly connection: Readonly<NatsConnectionCounters>;
  /** Times the durable consumer was found deleted and created again. */
  readonly consumerRecreated: number;
  /** The consumer's backlog: not yet delivered, and not yet acknowledged. */
  backlog(): { pending: number; ackPending: number };
}

/** The feed's families, after the ones every feed has. */
export function natsFeedFamilies(feed: NatsFeedReadings): MetricFamily[] {
  const backlog = feed.backlog();
  return [
    ...natsConnectionFamilies(feed.connection),
    gauge({
      name: "marketbus_nats_consumer_pending_messages",
      help: "Messages in the stream the consumer has not received yet.",
    }, backlog.pending),
    gauge({
      name: "marketbus_nats_consumer_ack_pending_messages",
      help: "Messages delivered to the consumer and not acknowledged yet.",
    }, backlog.ackPending),
    counter({
      name: "marketbus_nats_consumer_recreated_total",
      help:
        "Times the durable consumer was found deleted and created again with its deliver policy.",
    }, feed.consumerRecreated),
  ];
}
