/**
 * `deno task live`: follows the configured symbols, prints progress per
 * (exchange, symbol) stream, and on exit (SIGINT/SIGTERM, or after
 * `--max-trades`) a final summary, optionally as one JSON line.
 *
 * @module
 */

import { type Config, ConfigError } from "../common/config/mod.ts";
import { NatsAuthError, natsPermissionError } from "../common/nats/mod.ts";
import {
  formatCount,
  formatNanos,
  formatRate,
} from "../common/runtime/format.ts";
import {
  LibcUnavailableError,
  OsError,
  RingFormatError,
} from "../common/ipc/mod.ts";
import type { LatencySummary } from "../common/metrics/latency_histogram.ts";
import { createLogger, type Logger } from "../common/runtime/log.ts";
import {
  type MetricsServer,
  MetricsServerError,
  startMetricsEndpoint,
} from "../common/metrics/mod.ts";
import {
  type ProgressLine,
  roleOutput,
  startProgress,
} from "../common/runtime/progress.ts";
import { shutdownSignal } from "../common/runtime/shutdown.ts";
import type {
  FeedEvent,
  LossCause,
  StreamStats,
  TradeFeed,
} from "../common/transport/feed.ts";
import { RingFeed } from "../common/ipc/ring_feed.ts";
import {
  type OutputFileOptions,
  RecordFileError,
  RecordFileExistsError,
  type RecordFormat,
  TradeRecorder,
} from "./recorder.ts";
import { ConsumerConflictError, NatsFeed } from "../common/nats/feed.ts";
import { TradeProcessing } from "./processing.ts";
import { liveFamilies, liveHealth, type LiveState } from "./metrics.ts";
import { StrategyLoadError } from "./strategy.ts";
import { TradeStats } from "./trade_stats.ts";

const ROLE = "trading_core";

/** Options of {@linkcode live}. */
export interface LiveOptions {
  /** Print the final summary as one JSON line on stdout. */
  summaryJson?: boolean;
  /** Stops consuming when aborted (in addition to SIGINT/SIGTERM). */
  signal?: AbortSignal;
  /** Write every delivered trade to this file (`--record`). */
  record?: string;
  /** Format of {@linkcode LiveOptions.record} (`--record-format`, default ndjson). */
  recordFormat?: RecordFormat;
}

/** One (exchange, symbol) stream's figures in the {@linkcode LiveSummary}. */
export interface StreamSummary {
  /** Trades delivered. */
  received: number;
  /** Trades published but never delivered. */
  lost: number;
  /** {@linkcode StreamSummary.lost} by cause; causes with no loss are absent. */
  lostBy: Partial<Record<LossCause, number>>;
  /** Records that failed validation. */
  invalid: number;
  /** Discontinuities in the stream's seq. */
  gaps: number;
  /** Seq of the last trade, null before the first. */
  lastSeq: number | null;
  /** Price of the last trade, null before the first. */
  lastPrice: number | null;
  /** Producer restarts seen. */
  restarts: number;
}

/** The final summary (`--summary-json` prints it as one line). */
export interface LiveSummary {
  /** Transport read. */
  transport: string;
  /** Trades delivered. */
  received: number;
  /** Trades published but never delivered. */
  lost: number;
  /** {@linkcode LiveSummary.lost} by cause; causes with no loss are absent. */
  lostBy: Partial<Record<LossCause, number>>;
  /** Records that failed validation. */
  invalid: number;
  /** Seq discontinuities, each (exchange, symbol) stream on its own. */
  gaps: number;
  /** Wall time consumed, ms. */
  elapsedMs: number;
  /** Ms from the first to the last trade delivered. */
  activeMs: number;
  /** Trades per second between the first and the last trade delivered. */
  ratePerSecond: number;
  /**
   * Per exchange, then symbol: every stream subscribed or met. Invalid
   * messages that named no known stream count only in the totals.
   */
  exchanges: Record<string, Record<string, StreamSummary>>;
  /** One-way latency from ts_recv to delivery, ns. */
  latencyNs: LatencySummary;
}

function summarize(
  source: TradeFeed,
  stats: TradeStats,
  elapsedMs: number,
): LiveSummary {
  // By stream index, then maybe the "*" row of messages of no known stream.
  const rows = source.stats();
  const exchanges: LiveSummary["exchanges"] = {};
  stats.streams.forEach(({ exchange, symbol }, index) => {
    const figures = stats.figures(index);
    const counters = rows[index];
    (exchanges[exchange] ??= {})[symbol] = {
      received: figures.received,
      lost: counters?.lost ?? 0,
      lostBy: lostByCause(counters ? [counters] : []),
      invalid: counters?.invalid ?? 0,
      gaps: figures.gaps,
      lastSeq: figures.lastSeq ?? null,
      lastPrice: figures.lastPrice ?? null,
      restarts: counters?.restarts ?? 0,
    };
  });
  // Over every row the exchange reports, including one for messages that
  // named no known stream.
  const sum = (key: "lost" | "invalid") =>
    rows.reduce((total, row) => total + row[key], 0);
  return {
    transport: source.name,
    received: stats.received,
    lost: sum("lost"),
    lostBy: lostByCause(rows),
    invalid: sum("invalid"),
    gaps: stats.gaps,
    elapsedMs: Math.round(elapsedMs),
    activeMs: Math.round(stats.activeMs * 1000) / 1000,
    ratePerSecond: stats.activeMs > 0
      ? Math.round(stats.received / (stats.activeMs / 1000))
      : 0,
    exchanges,
    latencyNs: stats.latency(),
  };
}

/** Loss by cause, summed over `rows`. */
function lostByCause(
  rows: readonly StreamStats[],
): Partial<Record<LossCause, number>> {
  const total: Partial<Record<LossCause, number>> = {};
  for (const row of rows) {
    for (const [cause, count] of Object.entries(row.lostBy)) {
      if (!count) continue;
      const key = cause as LossCause;
      total[key] = (total[key] ?? 0) + count;
    }
  }
  return total;
}

/** "3 overwritten, 2 corrupt slot", or "" with no loss. */
function describeLoss(lostBy: Partial<Record<LossCause, number>>): string {
  return Object.entries(lostBy)
    .map(([cause, count]) => `${formatCount(count ?? 0)} ${cause}`)
    .join(", ");
}

function progressLines(
  stats: TradeStats,
  counters: StreamStats[],
  previous: number[],
  seconds: number,
): ProgressLine[] {
  return stats.streams.map(({ exchange, symbol }, index) => {
    const figures = stats.figures(index);
    const c = counters[index];
    const rate = (figures.received - (previous[index] ?? 0)) / seconds;
    previous[index] = figures.received;
    const latency = figures.latency;
    const p50 = latency.percentile(50);
    const p99 = latency.percentile(99);
    const price = figures.lastPrice === undefined
      ? "-"
      : String(figures.lastPrice);
    const state = c?.state ?? "waiting";
    return {
      text: `${exchange} ${symbol} ${formatCount(figures.received)} (${
        formatRate(rate)
      }) last ${price} lost ${
        formatCount(c?.lost ?? 0)
      } gaps ${figures.gaps} lag ${formatCount(c?.lag ?? 0)} latency p50 ${
        formatNanos(p50)
      } p99 ${formatNanos(p99)} [${state}]`,
      fields: {
        exchange,
        symbol,
        received: figures.received,
        rate: Math.round(rate),
        lastPrice: figures.lastPrice ?? null,
        lost: c?.lost ?? 0,
        gaps: figures.gaps,
        lag: c?.lag ?? 0,
        latencyP50Ns: p50,
        latencyP99Ns: p99,
        state,
      },
    };
  });
}

function createFeed(config: Config, log: Logger): TradeFeed {
  const source = config.dataSource;
  if (source.type === "nats") {
    return new NatsFeed({
      connection: source.nats.connection,
      consumer: source.nats.consumer,
      streamName: source.nats.streamName,
      subjectPrefix: source.nats.subjectPrefix,
      log,
    });
  }
  return new RingFeed({
    exchange: source.exchange,
    shmPathPrefix: source.ipc.shmPathPrefix,
    wait: source.ipc.wait,
    from: source.ipc.from,
    spinMs: source.ipc.spinMs,
    staleAfterMs: source.ipc.staleAfterMs,
    publisherUid: source.ipc.publisherUid,
  });
}

function logEvent(log: Logger, event: FeedEvent): void {
  const quiet = event.kind === "attached" || event.kind === "waiting" ||
    event.kind === "recovered" || event.kind === "restarted";
  (quiet ? log.info : log.warn)(event.message);
}

/** Runs the consumer with a validated config; returns the exit status. */
export async function live(
  config: Config,
  options: LiveOptions = {},
): Promise<number> {
  const output = roleOutput(ROLE, config.log);
  const { log } = output;
  const source = config.dataSource;
  const { maxTrades } = source;
  // The config decided which keys apply; NATS reads its consumer's own
  // (an undefined exchange: every exchange; no symbols: every symbol).
  const { exchange: exchangeName, symbols } = source.type === "nats"
    ? source.nats.consumer
    : source;
  // A strategy bug, or a failure of the endpoint, stops the consumer.
  const failed = new AbortController();
  let status = 0;
  const fail = (message: string) => {
    log.error(message);
    status = 1;
    failed.abort();
  };
  // --record and --bars-out: an existing file, and a failed write (a full
  // disk), as trading_core.on_existing_file and on_write_error say.
  const { onExistingFile, onWriteError } = config.tradingCore;
  const files: OutputFileOptions = {
    onExisting: onExistingFile,
    onError: ({ message }) => {
      if (onWriteError === "stop") {
        return fail(
          `${message}; stopping (trading_core.on_write_error = "stop")`,
        );
      }
      log.error(
        `${message}; consuming continues without it (trading_core.on_write_error = "continue")`,
      );
      status = 1;
    },
    onNotice: (message) => log.warn(message),
  };
  let processing: TradeProcessing | undefined;
  try {
    processing = await TradeProcessing.open(config.tradingCore, {
      exchange: exchangeName ?? "*",
      symbols,
      strategyLog: createLogger("strategy", {
        ...config.log,
        status: output.status,
      }),
      onStrategyError: fail,
      barsFile: files,
    });
  } catch (error) {
    if (error instanceof StrategyLoadError) {
      log.error(error.message);
      return 2;
    }
    if (error instanceof RecordFileError) {
      log.error(error.message);
      return error instanceof RecordFileExistsError ? 2 : 1;
    }
    throw error;
  }
  if (config.tradingCore.strategy !== undefined) {
    log.info(`strategy ${config.tradingCore.strategy}`);
  }
  if (config.tradingCore.barsOut !== undefined) {
    log.info(
      `writing ${
        config.tradingCore.bars.intervals.join(", ")
      } bars to ${config.tradingCore.barsOut}`,
    );
  }
  let recorder: TradeRecorder | undefined;
  if (options.record !== undefined) {
    try {
      recorder = await TradeRecorder.open(options.record, {
        ...files,
        format: options.recordFormat,
        selection: { exchange: exchangeName, symbols },
      });
    } catch (error) {
      if (!(error instanceof RecordFileError || error instanceof TypeError)) {
        throw error;
      }
      await processing?.stop();
      log.error(error.message);
      // a format the subscription cannot fill, or an existing file, is a
      // usage error
      const usage = error instanceof RecordFileExistsError ||
        error instanceof TypeError;
      return usage ? 2 : 1;
    }
    log.info(`recording to ${options.record} (${recorder.format})`);
  }
  const exchange = createFeed(config, log);
  const stats = new TradeStats();
  const shutdown = shutdownSignal({
    signal: options.signal,
    onSignal: (signal) => log.info(`${signal}: stopping`),
  });
  const state: LiveState = {
    source: exchange,
    stats,
    processing,
  };
  let endpoint: MetricsServer | undefined;
  try {
    endpoint = startMetricsEndpoint(config.tradingCore.metrics, {
      section: "trading_core.metrics",
      collect: () => liveFamilies(state),
      flowing: () => stats.received,
      health: (flow) =>
        liveHealth(state, {
          flow,
          staleAfterMs: config.tradingCore.metrics.staleAfterMs,
        }),
      log,
    });
  } catch (error) {
    if (!(error instanceof MetricsServerError)) throw error;
    log.error(error.message);
    shutdown.dispose();
    await processing?.stop();
    recorder?.close();
    return 1;
  }
  const started = performance.now();
  const previous: number[] = [];
  const progress = startProgress(
    (seconds) => progressLines(stats, exchange.stats(), previous, seconds),
    {
      intervalMs: config.log.progressIntervalMs,
      log,
      status: output.status,
    },
  );
  try {
    // A strategy whose onStart never settles must not hold a SIGINT up.
    const stopping = AbortSignal.any([shutdown.signal, failed.signal]);
    if (await processing?.start({ signal: stopping }) === false) {
      log.warn(
        `strategy ${config.tradingCore.strategy}: onStart had not finished when stopping`,
      );
    }
    await exchange.subscribeTrades(
      symbols,
      (trade, origin, stream) => {
        stats.record(trade, stream);
        recorder?.record(trade, origin);
        processing?.trade(trade, origin, stream);
      },
      {
        signal: stopping,
        limit: maxTrades,
        // In index order: the subscribed streams, then those a wildcard
        // subscription meets, each before its first trade.
        onStream: (origin) => {
          stats.add(origin);
          processing?.addStream(origin);
        },
        onEvent: (event) => {
          if (
            event.stream >= 0 && event.stream < stats.streams.length &&
            (event.kind === "attached" || event.kind === "restarted")
          ) stats.restart(event.stream);
          logEvent(log, event);
        },
      },
    );
  } catch (error) {
    const refused = natsPermissionError(error);
    if (
      !(refused || error instanceof RingFormatError ||
        error instanceof LibcUnavailableError || error instanceof OsError ||
        error instanceof ConsumerConflictError ||
        error instanceof NatsAuthError || error instanceof ConfigError)
    ) throw error;
    log.error((refused ?? error as Error).message);
    status = 1;
  } finally {
    progress.stop();
    await endpoint?.close();
    await processing?.stop();
    if (processing?.barsWritten !== undefined) {
      log.info(
        `wrote ${
          formatCount(processing.barsWritten)
        } bars to ${config.tradingCore.barsOut}`,
      );
    }
    if (recorder) {
      recorder.close();
      log.info(
        `recorded ${formatCount(recorder.lines)} trades to ${recorder.path}`,
      );
      if (recorder.unrecorded > 0) {
        log.warn(
          `${
            formatCount(recorder.unrecorded)
          } trades received are not in ${recorder.path}: writing it failed`,
        );
      }
      const kept = recorder.stream;
      if (recorder.skipped > 0 && kept !== undefined) {
        log.warn(
          `${
            formatCount(recorder.skipped)
          } trades of other (exchange, symbol) streams left out of the csv recording (it holds ${kept.exchange} ${kept.symbol})`,
        );
      }
    }
  }
  const summary = summarize(exchange, stats, performance.now() - started);
  const { latencyNs: latency } = summary;
  log.info(
    `stopped after ${(summary.elapsedMs / 1000).toFixed(1)}s: received ${
      formatCount(summary.received)
    }, lost ${
      formatCount(summary.lost)
    }, invalid ${summary.invalid}, gaps ${summary.gaps}, ` +
      `latency p50 ${formatNanos(latency.p50)} p99 ${
        formatNanos(latency.p99)
      } max ${formatNanos(latency.max)}`,
    {
      received: summary.received,
      lost: summary.lost,
      invalid: summary.invalid,
      gaps: summary.gaps,
      elapsedMs: summary.elapsedMs,
    },
  );
  if (options.summaryJson) console.log(JSON.stringify(summary));
  // No silent loss: trades given up on were counted and logged on the way;
  // the exit status says so too.
  if (summary.lost > 0 || summary.invalid > 0) {
    const parts = [];
    if (summary.lost > 0) {
      parts.push(
        `${formatCount(summary.lost)} trades lost (${
          describeLoss(summary.lostBy)
        })`,
      );
    }
    if (summary.invalid > 0) {
      parts.push(`${formatCount(summary.invalid)} invalid records skipped`);
    }
    log.error(`incomplete: ${parts.join(", ")}; exit status 1`);
    if (status === 0) status = 1;
  }
  // Only now: a repeated signal (deno task forwards one too) arriving during
  // the clean-up above must not kill the process half way.
  shutdown.dispose();
  return status;
}
