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
import type {
  PublisherStats,
  TradePublisher,
} from "../common/transport/publisher.ts";

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

/** A family of one of {@linkcode PublisherStats}, a sample per transport. */
interface TransportStatFamily {
  /** `counter` or `gauge`. */
  family: typeof counter;
  /** Metric name. */
  name: string;
  /** Metric help. */
  help: string;
  /** The stat each transport's sample is. */
  stat: keyof PublisherStats;
}

/** The families of each transport's stats, in exposition order. */
const TRANSPORT_STATS: readonly TransportStatFamily[] = [
  {
    family: counter,
    name: "marketbus_sent_bytes_total",
    help: "Trade payload bytes delivered by a transport.",
    stat: "bytesSent",
  },
  {
    family: counter,
    name: "marketbus_send_errors_total",
    help:
      "Publishes that failed (ring write errors; messages JetStream rejected for good).",
    stat: "sendErrors",
  },
  {
    family: counter,
    name: "marketbus_dropped_trades_total",
    help:
      "Trades a transport dropped because its buffer was full (NATS outage queue, oldest first).",
    stat: "bufferOverflows",
  },
  {
    family: gauge,
    name: "marketbus_transport_buffer_ratio",
    help:
      "How full a transport's buffer is, 0 to 1 (ring slots holding trades; NATS outage queue).",
    stat: "bufferUtilization",
  },
];

/** One family of {@linkcode TRANSPORT_STATS}, read from `transports` now. */
function transportStat(
  transports: readonly TradePublisher[],
  { family, name, help, stat }: TransportStatFamily,
): MetricFamily {
  return family(
    { name, help },
    transports.map((transport) => ({
      labels: { transport: transport.name },
      value: transport.stats()[stat],
    })),
  );
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
    ...TRANSPORT_STATS.map((stats) => transportStat(transports, stats)),
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
