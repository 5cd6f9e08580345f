/**
 * data_manager's `/metrics` and `/healthz`: what the pipeline took from the
 * source and what each transport delivered, per symbol, read from the
 * counters the hot path already keeps (nothing is recorded per trade).
 *
 * @module
 */

import type { FlowWatch } from "../common/runtime/flow_watch.ts";
import {
  counter,
  gauge,
  type HealthCheck,
  type HealthReport,
  latencyFamily,
  type MetricFamily,
  natsConnectionFamilies,
  processFamilies,
  type Sample,
} from "../common/metrics/mod.ts";
import { BinanceSource } from "./binance/source.ts";
import { NatsPublisher } from "../common/nats/publisher.ts";
import type { PublishCounters } from "./pipeline.ts";
import type { TradeSource } from "./source.ts";
import type { TradePublisher } from "../common/transport/publisher.ts";

/** What the publisher's metrics and health are read from. */
export interface ServeState {
  /** Exchange name. */
  exchange: string;
  /** The source. */
  source: TradeSource;
  /** The pipeline's counters. */
  counters: PublishCounters;
  /** The transports. */
  transports: readonly TradePublisher[];
}

function perSymbol(
  state: ServeState,
  values: readonly number[],
  labels: Record<string, string> = {},
): Sample[] {
  return state.source.symbols.map((symbol, index) => ({
    labels: { ...labels, exchange: state.exchange, symbol },
    value: values[index] ?? 0,
  }));
}

function perTransport(
  transports: readonly TradePublisher[],
  value: (transport: TradePublisher) => number,
): Sample[] {
  return transports.map((transport) => ({
    labels: { transport: transport.name },
    value: value(transport),
  }));
}

/** The publisher's metric families. */
export function serveFamilies(state: ServeState): MetricFamily[] {
  const { transports } = state;
  const families: MetricFamily[] = [
    ...processFamilies("data_manager"),
    counter(
      {
        name: "marketbus_source_trades_total",
        help: "Trades taken from the source and handed to the transports.",
      },
      perSymbol(state, state.counters.perSymbol, { source: state.source.kind }),
    ),
    counter(
      {
        name: "marketbus_trades_sent_total",
        help:
          "Trades delivered by a transport: written to the ring, acknowledged by the JetStream stream.",
      },
      transports.flatMap((transport) =>
        perSymbol(state, transport.sentPerSymbol(), {
          transport: transport.name,
        })
      ),
    ),
    counter({
      name: "marketbus_sent_bytes_total",
      help: "Trade payload bytes delivered by a transport.",
    }, perTransport(transports, (t) => t.stats().bytesSent)),
    counter({
      name: "marketbus_send_errors_total",
      help:
        "Publishes that failed (ring write errors; messages JetStream rejected for good).",
    }, perTransport(transports, (t) => t.stats().sendErrors)),
    counter({
      name: "marketbus_dropped_trades_total",
      help:
        "Trades a transport dropped because its buffer was full (NATS outage queue, oldest first).",
    }, perTransport(transports, (t) => t.stats().bufferOverflows)),
    gauge({
      name: "marketbus_transport_buffer_ratio",
      help:
        "How full a transport's buffer is, 0 to 1 (ring slots holding trades; NATS outage queue).",
    }, perTransport(transports, (t) => t.stats().bufferUtilization)),
  ];
  const nats = transports.find((t) => t instanceof NatsPublisher);
  if (nats) families.push(...natsFamilies(state, nats));
  if (state.source instanceof BinanceSource) {
    families.push(binanceReconnects(state.source));
  }
  return families;
}

/** The live feed's reconnects, by why the connection ended. */
function binanceReconnects(feed: BinanceSource): MetricFamily {
  const byCause = feed.stats?.reconnectsByCause ??
    { dropped: 0, silent: 0, stalled: 0 };
  return counter(
    {
      name: "marketbus_source_reconnects_total",
      help:
        "Connections of a live source opened again: dropped by the peer, silent for the silence timeout, or a steadily trading symbol stalled.",
    },
    Object.entries(byCause).map(([cause, value]) => ({
      labels: { source: feed.kind, cause },
      value,
    })),
  );
}

function natsFamilies(
  state: ServeState,
  nats: NatsPublisher,
): MetricFamily[] {
  const stats = nats.stats();
  return [
    ...natsConnectionFamilies(nats.connection),
    gauge({
      name: "marketbus_nats_publish_in_flight_messages",
      help: "Messages published to JetStream and awaiting their ack.",
    }, stats.inFlight),
    gauge({
      name: "marketbus_nats_queued_trades",
      help:
        "Trades queued for NATS, not yet published (grows during an outage).",
    }, perSymbol(state, nats.queuedPerSymbol())),
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
    }, [{ histogram: nats.ackLatency }]),
  ];
}

/**
 * Healthy when every transport is ready (the ring open; NATS connected with
 * its stream) and trades went out within `staleAfterMs`, or the source is
 * idle by design.
 */
export function serveHealth(
  state: ServeState,
  options: { flow: FlowWatch; staleAfterMs: number },
): HealthReport {
  const checks: HealthCheck[] = state.transports.map((transport) => ({
    name: transport.name,
    ok: transport.ready(),
    detail: transport.summary(),
  }));
  const since = options.flow.sinceChange();
  const idle = state.source.idle?.() ?? false;
  const flowing = since !== undefined && since < options.staleAfterMs;
  checks.push({
    name: "data",
    ok: flowing || idle,
    detail: flowing
      ? `${state.counters.trades} trades, the last ${Math.round(since)} ms ago`
      : idle
      ? `${state.source.kind} source idle by design`
      : since === undefined
      ? "no trade published yet"
      : `no trade for ${(since / 1000).toFixed(1)} s`,
  });
  return { ok: checks.every((check) => check.ok), checks };
}
