/**
 * {@linkcode NatsPublisher}'s counters and its progress fragment.
 *
 * @module
 */

import type { LatencySummary } from "../metrics/latency_histogram.ts";
import { formatBytes, formatCount, formatNanos } from "../runtime/format.ts";
import type { PublisherStats } from "../transport/publisher.ts";

/** Counters of {@linkcode NatsPublisher}. */
export interface NatsPublisherStats extends PublisherStats {
  /** Trades in acknowledged messages. */
  tradesSent: number;
  /** Messages JetStream rejected for good. */
  publishErrors: number;
  /** Trades in those messages: lost. */
  tradesRejected: number;
  /** Messages published again after a failed attempt. */
  retries: number;
  /** Trades dropped, oldest first, because the queue was full (or sent after close). */
  dropped: number;
  /** Messages JetStream or the server refused for their size, sent again as smaller ones. */
  splits: number;
  /** Trades per message at most now: `batchMaxTrades`, or fewer to fit the size limits. */
  tradesPerMessage: number;
  /** Acks that said the message was already stored (a retry after a lost ack, or data an earlier run stored). */
  duplicates: number;
  /**
   * Trades in messages the stream held already on their first attempt: the
   * same data stored by an earlier run within the duplicate window, not
   * stored twice. Counted in `tradesSent` too.
   */
  alreadyStored: number;
  /** Publishes awaiting their ack now. */
  inFlight: number;
  /** Trades queued, not yet published. */
  queueDepth: number;
  /** Publish → ack latency, ns. */
  ackLatency: LatencySummary;
}

/**
 * The progress fragment of `stats`: trades and messages acknowledged, in
 * flight, queued, dropped, already stored (when any), retries, errors, ack
 * latency; then `state` (e.g. ` (closed)`, or empty).
 */
export function publisherSummary(
  stats: NatsPublisherStats,
  state: string,
): string {
  const { ackLatency } = stats;
  return `nats ${formatCount(stats.tradesSent)} trades in ${
    formatCount(stats.messagesSent)
  } msgs ${formatBytes(stats.bytesSent)} in flight ${stats.inFlight} queued ${
    formatCount(stats.queueDepth)
  } (${(stats.bufferUtilization * 100).toFixed(0)}%) dropped ${
    formatCount(stats.dropped)
  }${
    stats.alreadyStored > 0
      ? ` already stored ${formatCount(stats.alreadyStored)}`
      : ""
  } retries ${stats.retries} errors ${stats.publishErrors} ack p50 ${
    formatNanos(ackLatency.p50)
  } p99 ${formatNanos(ackLatency.p99)}${state}`;
}
