/**
 * `deno task serve`: publishes synthetic trades into the configured
 * transports, prints progress, and shuts down cleanly on SIGINT/SIGTERM.
 *
 * @module
 */

import { type Config, ConfigError } from "../common/config/mod.ts";
import { delay } from "../common/runtime/delay.ts";
import { formatCount, formatRate } from "../common/runtime/format.ts";
import {
  LibcUnavailableError,
  OsError,
  RingInUseError,
  RingTruncatedError,
} from "../common/ipc/mod.ts";
import type { Logger } from "../common/runtime/log.ts";
import { requireNetPermission } from "../common/nats/connection.ts";
import {
  type MetricsServer,
  MetricsServerError,
  startMetricsEndpoint,
} from "../common/metrics/mod.ts";
import { roleOutput, startProgress } from "../common/runtime/progress.ts";
import { shutdownSignal } from "../common/runtime/shutdown.ts";
import { RingPublisher } from "../common/ipc/ring_publisher.ts";
import { serveFamilies, serveHealth, type ServeState } from "./metrics.ts";
import { NatsPublisher } from "../common/nats/publisher.ts";
import { type PublishCounters, publishTrades } from "./pipeline.ts";
import {
  TradeFileReadError,
  TradeFileRowError,
} from "../common/trade_file/mod.ts";
import { NothingReplayedError } from "./replay/source.ts";
import { describeSource, openSource } from "./source_setup.ts";
import type { TradePublisher } from "../common/transport/publisher.ts";

const ROLE = "data_manager";
/** How long rings stay after a source ended by itself, ms. */
const RING_LINGER_MS = 100;
/** Why NATS drops when the ring is among the transports, and what to do. */
const RING_DROPS =
  "; with the ring among the transports NATS never slows the source down: raise queue_max_trades, or publish to NATS alone (--no-ipc), where the source waits for room";

/** Options of {@linkcode serve}. */
export interface ServeOptions {
  /** Stops publishing when aborted (in addition to SIGINT/SIGTERM). */
  signal?: AbortSignal;
}

function openIpc(config: Config, log: Logger): RingPublisher {
  const { dataManager, transport } = config;
  const ipc = RingPublisher.open(dataManager.symbols, {
    exchange: dataManager.exchange,
    shmPathPrefix: transport.ipc.shmPathPrefix,
    capacity: transport.ipc.capacity,
    heartbeatIntervalMs: transport.ipc.heartbeatIntervalMs,
  });
  for (const { name, reason } of ipc.replaced) {
    log.warn(`replaced stale ring ${name}: ${reason}`);
  }
  log.info(
    `IPC rings ${ipc.segments.join(", ")} (${
      formatCount(transport.ipc.capacity)
    } slots each)`,
  );
  return ipc;
}

/** Opens the enabled transports, or returns the exit status after saying why it could not. */
async function openTransports(
  config: Config,
  log: Logger,
): Promise<TradePublisher[] | number> {
  const { dataManager, transport } = config;
  if (!transport.ipc.enabled && !transport.nats.enabled) {
    log.error(
      "no transport enabled: enable transport.ipc (--ipc) or transport.nats (--nats)",
    );
    return 2;
  }
  const opened: TradePublisher[] = [];
  try {
    // Before any ring exists: a denied host would fail only once connecting.
    if (transport.nats.enabled) requireNetPermission(transport.nats.servers);
    if (transport.ipc.enabled) opened.push(openIpc(config, log));
    if (transport.nats.enabled) {
      const nats = await NatsPublisher.open(dataManager.symbols, {
        exchange: dataManager.exchange,
        config: transport.nats,
        log,
      });
      log.info(
        `NATS ${
          transport.nats.servers.join(",")
        } stream ${transport.nats.jetstream.streamName} subjects ${
          nats.subjects.join(", ")
        }`,
      );
      opened.push(nats);
    }
    return opened;
  } catch (error) {
    for (const transport of opened) await transport.close();
    if (
      error instanceof RingInUseError ||
      error instanceof LibcUnavailableError || error instanceof OsError ||
      error instanceof ConfigError
    ) {
      log.error(error.message);
      return 1;
    }
    throw error;
  }
}

function statsLine(
  counters: PublishCounters,
  transports: readonly TradePublisher[],
  rate: number,
): string {
  const parts = transports.map((transport) => transport.summary());
  return `${formatCount(counters.trades)} trades (${formatRate(rate)}) | ${
    parts.join(" | ")
  }`;
}

/** The figures of a progress line, as JSON log fields. */
function progressFields(
  counters: PublishCounters,
  transports: readonly TradePublisher[],
  rate: number,
): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    trades: counters.trades,
    rate: Math.round(rate),
  };
  for (const transport of transports) {
    fields[transport.name] = transport.stats();
  }
  return fields;
}

/** Runs the publisher with a validated config; returns the exit status. */
export async function serve(
  config: Config,
  options: ServeOptions = {},
): Promise<number> {
  const output = roleOutput(ROLE, config.log);
  const { log } = output;
  const { dataManager } = config;
  // Before any ring or stream exists: a source that cannot start leaves none.
  const source = await openSource(config, log);
  if (typeof source === "number") return source;
  const opened = await openTransports(config, log);
  if (typeof opened === "number") return opened;
  const transports = opened;
  const shutdown = shutdownSignal({
    signal: options.signal,
    onSignal: (signal) => log.info(`${signal}: stopping`),
  });
  log.info(
    `publishing ${source.kind} ${dataManager.exchange} ${
      dataManager.symbols.join(",")
    } (${describeSource(config)}${
      dataManager.maxTrades
        ? `, ${formatCount(dataManager.maxTrades)} trades`
        : ""
    })`,
  );
  const counters: PublishCounters = {
    trades: 0,
    perSymbol: new Array(dataManager.symbols.length).fill(0),
  };
  const state: ServeState = {
    exchange: dataManager.exchange,
    source,
    counters,
    transports,
  };
  let endpoint: MetricsServer | undefined;
  try {
    endpoint = startMetricsEndpoint(dataManager.metrics, {
      section: "data_manager.metrics",
      collect: () => serveFamilies(state),
      flowing: () => counters.trades,
      health: (flow) =>
        serveHealth(state, {
          flow,
          staleAfterMs: dataManager.metrics.staleAfterMs,
        }),
      log,
    });
  } catch (error) {
    if (!(error instanceof MetricsServerError)) throw error;
    log.error(error.message);
    shutdown.dispose();
    for (const transport of transports) await transport.close();
    return 1;
  }
  const started = performance.now();
  let lastTrades = 0;
  const progress = startProgress((seconds) => {
    const rate = (counters.trades - lastTrades) / seconds;
    lastTrades = counters.trades;
    return [{
      text: `${statsLine(counters, transports, rate)} | ${source.summary()}`,
      fields: progressFields(counters, transports, rate),
    }];
  }, {
    intervalMs: config.log.progressIntervalMs,
    log,
    status: output.status,
  });
  // A NATS transport that cannot go on (credentials refused, stream
  // settings the server will not take) stops the whole publisher.
  let status = 0;
  const stopped = new AbortController();
  for (const transport of transports) {
    if (!(transport instanceof NatsPublisher)) continue;
    // The transport has logged why; stop and exit 1.
    transport.failed().then(() => {
      status = 1;
      stopped.abort();
    });
  }
  try {
    await publishTrades(source, transports, {
      signal: AbortSignal.any([shutdown.signal, stopped.signal]),
      counters,
      limit: dataManager.maxTrades,
      // With the ring among the transports, NATS drops (counted, and the
      // run exits 1) rather than slow the ring down; alone, it makes the
      // source wait.
      backpressure: !config.transport.ipc.enabled,
    });
  } catch (error) {
    if (error instanceof RingTruncatedError) {
      // A ring another process truncated: writing on would be SIGBUS.
      log.error(error.message);
    } else if (
      // A replay that cannot go on: a bad row with on_error = "stop", a file
      // that cannot be read to its end, or one that published nothing.
      error instanceof TradeFileRowError ||
      error instanceof TradeFileReadError ||
      error instanceof NothingReplayedError
    ) {
      log.error(`${source.kind}: ${error.message}`);
    } else throw error;
    status = 1;
  } finally {
    progress.stop();
    // A source that ended by itself (a short file, --max-trades) may finish
    // within milliseconds: keep the rings a moment so that consumers waiting
    // for them (they look every few ms) can attach and drain them.
    const lingerStart = performance.now();
    if (!shutdown.signal.aborted && config.transport.ipc.enabled) {
      await delay(RING_LINGER_MS);
    }
    let idle = performance.now() - lingerStart;
    for (const transport of transports) {
      const closing = performance.now();
      await transport.close();
      // Unmapping a ring is teardown, not publishing (~120 ms for 512 MiB);
      // NATS's close is its flush, which delivering includes.
      if (!(transport instanceof NatsPublisher)) {
        idle += performance.now() - closing;
      }
    }
    // Any trade NATS gave up on (dropped, handed over after close, rejected,
    // not acknowledged) makes the run fail, each way on one line saying how
    // many and why; the advice on the queue goes with queue-full drops only.
    for (const transport of transports) {
      if (!(transport instanceof NatsPublisher)) continue;
      for (const loss of transport.losses()) {
        const ring = loss.kind === "dropped" && config.transport.ipc.enabled;
        log.error(ring ? `${loss.text}${RING_DROPS}` : loss.text);
        status = 1;
      }
    }
    // Publishing and flushing time: the linger is a courtesy to consumers.
    const seconds = (performance.now() - started - idle) / 1000;
    const rate = counters.trades / seconds;
    log.info(
      `stopped after ${seconds.toFixed(1)}s: ${
        statsLine(counters, transports, rate)
      } | ${source.summary()}`,
      { seconds, ...progressFields(counters, transports, rate) },
    );
    await endpoint?.close();
    // Only now: a repeated signal (deno task forwards one too) arriving
    // while the rings linger, NATS flushes or the rings are unmapped must not
    // kill the process half way.
    shutdown.dispose();
  }
  return status;
}
