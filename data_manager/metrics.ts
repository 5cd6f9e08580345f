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
  type Labels,
  type MetricFamily,
  processFamilies,
  type Sample,
} from "../common/metrics/mod.ts";
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

/**
 * The publisher's metric families: those of the source and of every
 * transport, then each transport's own, then the source's own.
 */
export function serveFamilies(state: ServeState): MetricFamily[] {
  const { transports, source } = state;
  const symbols = source.symbols.map((symbol): Labels => ({
    exchange: state.exchange,
    symbol,
  }));
  return [
    ...processFamilies("data_manager"),
    counter(
      {
        name: "marketbus_source_trades_total",
        help: "Trades taken from the source and handed to the transports.",
      },
      perSymbol(state, state.counters.perSymbol, { source: source.kind }),
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
    ...transports.flatMap((transport) => ownFamilies(transport, symbols)),
    ...(source.metrics?.() ?? []),
  ];
}

/** A transport's own families. */
function ownFamilies(
  transport: TradePublisher,
  symbols: readonly Labels[],
): MetricFamily[] {
  return transport.metrics?.(symbols) ?? [];
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
